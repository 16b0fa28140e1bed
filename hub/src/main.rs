//! The `hub` binary: parse configuration, start, wait for a signal, shut down gracefully.

use std::process::ExitCode;

use clap::Parser;
use hub::config::{Cli, Command};
use tracing::info;

/// jemalloc instead of glibc's malloc: the hub allocates and frees small buffers for every frame,
/// and glibc's allocator spent 18 % of the instructions per relayed message. mimalloc was as
/// fast but held more memory per idle connection than the 8 KiB budget (docs/benchmarks.md,
/// "What made it fast").
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let mut runtime = tokio::runtime::Builder::new_multi_thread();
    if let Some(n) = cli.config.workers {
        runtime.worker_threads(usize::from(n));
    }
    match runtime.enable_all().build() {
        Ok(rt) => rt.block_on(start(cli)),
        Err(e) => {
            eprintln!("hub: cannot start the runtime: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn start(cli: Cli) -> ExitCode {
    let filter =
        tracing_subscriber::EnvFilter::try_from_env("TC_LOG").unwrap_or_else(|_| "info".into());
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match cli.config.log_format {
        hub::config::LogFormat::Json => logs.json().init(),
        hub::config::LogFormat::Text => logs.init(),
    }
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("hub: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let config = cli.config;
    if let Some(Command::DevToken { operator }) = cli.command {
        anyhow::ensure!(config.dev, "dev-token needs --dev");
        let hub = hub::server::build(config, None).await?;
        let token = hub::dev::token_for(
            hub.operator_tokens(),
            &operator,
            hub::util::now_secs(),
            12 * 3600,
        )
        .ok_or_else(|| anyhow::anyhow!("unknown demo operator `{operator}`"))?;
        println!("{token}");
        return Ok(());
    }
    let dev = config.dev;
    let has_ui = config.static_dir.is_some();
    let hub = hub::server::build(config, None).await?;
    let running = hub::server::start(hub).await?;
    // Scripts and tests read this line to learn the bound port.
    say(&format!("hub listening on http://{}", running.addr));
    if dev {
        let base = format!("http://{}", running.addr);
        if has_ui {
            say(&format!(
                "  operator dashboard: {base}/  (pick a demo operator)"
            ));
            say(&format!(
                "  demo shop + widget: {base}/dev/demo  (the visitor's side, as a customer's site embeds it)"
            ));
        }
        say(&format!(
            "  demo visitor chat:  {base}/dev/chat  (workspace demo-pro; ?workspace=demo-basic for the Basic plan)"
        ));
    }
    wait_for_signal().await;
    info!("shutting down");
    running.shutdown().await;
    Ok(())
}

/// Print a line for whoever started us; a closed stdout must not take the hub down.
fn say(line: &str) {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}").and_then(|()| out.flush());
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
