//! `loadgen`: see the library docs and docs/benchmarks.md.

use clap::Parser;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = loadgen::Cli::parse();
    let report = loadgen::run(cli).await?;
    println!("{report}");
    Ok(())
}
