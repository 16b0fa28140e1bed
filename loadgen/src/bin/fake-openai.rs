//! `fake-openai --port P [--reply-chars N] [--chunk-chars K] [--chunk-ms MS]`: an
//! OpenAI-compatible `/chat/completions` server that streams one fixed reply a few characters at
//! a time, for `loadgen drafts` (see `loadgen::drafts`).

use clap::Parser;

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    backend: loadgen::drafts::BackendArgs,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(loadgen::drafts::serve_backend(&cli.backend))?;
    Ok(())
}
