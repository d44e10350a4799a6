//! The `civic-host` binary: parse the command line, load the application, serve until SIGINT or
//! SIGTERM. See `civic-host --help` and the library documentation.

// Native program: measuring time with `Instant::now` is legitimate here (the workspace lint
// is for code that runs on Cloudflare Workers).
#![allow(clippy::disallowed_methods)]

use std::io::Write;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use civic_host::{app, cli, scheduler, server};

fn main() -> ExitCode {
    let (paths, listen, tick) = match cli::parse(std::env::args().skip(1)) {
        Ok(cli::Command::Help) => {
            print!("{}", cli::USAGE);
            return ExitCode::SUCCESS;
        }
        Ok(cli::Command::Run { paths, listen, tick }) => (paths, listen, tick),
        Err(e) => {
            eprintln!("civic-host: {e}\n\n{}", cli::USAGE);
            return ExitCode::from(2);
        }
    };
    match run(paths, listen, tick) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("civic-host: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(paths: app::Paths, listen: std::net::SocketAddr, tick: Option<Duration>) -> anyhow::Result<()> {
    let mut stdout = std::io::stdout();
    let app = app::load(&paths, |name| std::env::var(name).ok(), &mut stdout)?;
    app::spawn_epoch_ticker(&app.engine);
    let runtime =
        tokio::runtime::Builder::new_multi_thread().enable_all().build().context("cannot start the tokio runtime")?;
    let result = runtime.block_on(async {
        let shutdown = shutdown_signal()?;
        let listener =
            tokio::net::TcpListener::bind(listen).await.with_context(|| format!("cannot listen on {listen}"))?;
        let addr = listener.local_addr()?;
        {
            let mut out = stdout.lock();
            out.write_all(server::ready_message(&app, addr).as_bytes())?;
            out.flush()?;
        }
        let app = Arc::new(app);
        if let Some(every) = tick {
            tokio::spawn(scheduler::run(app.clone(), addr, every));
        }
        server::serve(app, listener, shutdown).await
    });
    if result.is_ok() {
        println!("Shutting down");
    }
    runtime.shutdown_timeout(Duration::from_secs(2));
    result
}

/// Registers for SIGINT (Ctrl-C) and SIGTERM now (so a signal that arrives right after the
/// `Serving` line is not missed) and returns a future that resolves on the first of them.
fn shutdown_signal() -> anyhow::Result<impl std::future::Future<Output = ()>> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut terminate = signal(SignalKind::terminate()).context("cannot handle SIGTERM")?;
        let mut interrupt = signal(SignalKind::interrupt()).context("cannot handle SIGINT")?;
        Ok(async move {
            tokio::select! {
                _ = terminate.recv() => {}
                _ = interrupt.recv() => {}
            }
        })
    }
    #[cfg(not(unix))]
    {
        Ok(async {
            let _ = tokio::signal::ctrl_c().await;
        })
    }
}
