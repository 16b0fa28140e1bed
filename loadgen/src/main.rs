//! `loadgen`: see the library docs and docs/benchmarks.md.

use clap::Parser;

fn main() -> anyhow::Result<()> {
    let cli = loadgen::Cli::parse();
    let runtime = match cli.threads {
        1 => tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?,
        n => tokio::runtime::Builder::new_multi_thread()
            .worker_threads(usize::from(n))
            .enable_all()
            .build()?,
    };
    let report = runtime.block_on(loadgen::run(cli))?;
    println!("{report}");
    Ok(())
}
