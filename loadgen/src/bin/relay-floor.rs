//! `relay-floor --listen ADDR [--workers N] [--redis-url URL [--persist]]`: the bare relay of `loadgen
//! floor` (see `loadgen::floor`), in a process of its own so its CPU can be read from `/proc`.
//! Its runtime is the hub's: multi-threaded, one worker per core unless told otherwise. With
//! `--redis-url`, nodes sharing that Redis relay to each other through pub/sub.

use clap::Parser;

#[derive(Parser)]
struct Cli {
    #[arg(long)]
    listen: std::net::SocketAddr,
    /// Worker threads (the hub's `--workers`); one per core by default.
    #[arg(long)]
    workers: Option<usize>,
    /// Redis shared with the other nodes, e.g. `redis://127.0.0.1:6390/`.
    #[arg(long)]
    redis_url: Option<String>,
    /// Store every message in that Redis first (`floorp`: see `loadgen::floor`).
    #[arg(long)]
    persist: bool,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let mut runtime = tokio::runtime::Builder::new_multi_thread();
    if let Some(n) = cli.workers {
        runtime.worker_threads(n.max(1));
    }
    runtime.enable_all().build()?.block_on(async {
        let listener = tokio::net::TcpListener::bind(cli.listen).await?;
        loadgen::floor::serve(listener, cli.redis_url.as_deref(), cli.persist).await
    })
}
