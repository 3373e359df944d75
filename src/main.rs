//! The `stagepass` binary: parse arguments, load config, bind, serve.
//! Everything else lives in the library.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use tokio::net::TcpListener;

use stagepass::config;
use stagepass::server::{self, App, Listeners};

/// Exit status for invalid configuration (EX_USAGE from sysexits.h).
const EXIT_CONFIG: u8 = 64;
/// Exit status when a listener cannot be bound (EX_UNAVAILABLE).
const EXIT_BIND: u8 = 69;

const AFTER_HELP: &str = "\
Exit status:
  0   stopped cleanly (SIGTERM or SIGINT), or `check` found the config valid
      (with --files, and every file it names usable)
  64  invalid configuration (every problem is listed with its key path)
  69  a listener could not be bound (stagepass.listen, stagepass.admin.listen)
  1   anything else (the async runtime could not start)

Environment:
  STAGEPASS_CONFIG      the config file when --config is not given
  STAGEPASS_LOG         log filter, e.g. debug or info,stagepass=debug (default info)
  TOKIO_WORKER_THREADS  worker threads (default: one per CPU; one CPU runs single-threaded)
  ${VAR}                any variable a config file names is substituted

Docs: README.md (configuration reference, deployment, security model) and
config.example.yaml (every key, commented) in the source tree.";

#[derive(Parser)]
#[command(
    version,
    about = "Reverse authenticating proxy: OIDC sign-in in front of Backstage and other apps",
    after_help = AFTER_HELP
)]
struct Cli {
    /// Config file; repeat to layer files (later ones deep-merge over earlier ones).
    #[arg(long = "config", short = 'c', env = "STAGEPASS_CONFIG", global = true)]
    config: Vec<PathBuf>,
    /// Log format: json (default) or text.
    #[arg(long, default_value = "json", global = true)]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Validate the config and print the effective config with secrets as
    /// ***. The catalog and key-store files are read at start-up, not here,
    /// unless --files is given.
    Check {
        /// Also read every file the config names (certificates, keys, CA
        /// bundles, the catalog, the key store) as start-up does. Nothing is
        /// bound and nothing is contacted.
        #[arg(long)]
        files: bool,
    },
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum LogFormat {
    Json,
    Text,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if cli.config.is_empty() {
        eprintln!("stagepass: no configuration: pass --config FILE or set STAGEPASS_CONFIG");
        return ExitCode::from(EXIT_CONFIG);
    }
    let loaded = match config::load(&cli.config) {
        Ok(loaded) => loaded,
        Err(problems) => {
            eprintln!("stagepass: invalid configuration:\n{problems}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    if let Some(Command::Check { files }) = cli.command {
        return check(loaded, files);
    }
    let _flush_logs_at_exit = init_tracing(cli.log_format);
    for warning in &loaded.warnings {
        tracing::warn!(key = %warning.path, "{}", warning.message);
    }
    let runtime = match runtime_builder().enable_all().build() {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("stagepass: cannot start the async runtime: {err}");
            return ExitCode::FAILURE;
        }
    };
    runtime.block_on(serve(loaded.config))
}

fn check(loaded: config::Loaded, files: bool) -> ExitCode {
    print!("{}", loaded.redacted_yaml());
    for warning in &loaded.warnings {
        eprintln!("stagepass: warning: {warning}");
    }
    if let Err(problems) = files.then(|| build_once(loaded.config)).transpose() {
        eprintln!("stagepass: invalid configuration:\n{problems}");
        return ExitCode::from(EXIT_CONFIG);
    }
    eprintln!("stagepass: configuration is valid");
    ExitCode::SUCCESS
}

/// Start-up's build, then nothing: the tasks it spawns (IdP discovery, the
/// session store's sync) never run, because the runtime is dropped before
/// anything yields to them.
fn build_once(config: config::Config) -> Result<(), String> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|err| format!("cannot start the async runtime: {err}"))?;
    runtime.block_on(async { App::build(config).map(drop) })
}

/// One CPU (a pinned process, or a container limited to one CPU: Rust reads
/// the cgroup quota) gets the single-threaded scheduler: no work-stealing
/// bookkeeping or cross-thread wake-ups on a core that has no one to share
/// with. More CPUs get one worker each; `TOKIO_WORKER_THREADS` (tokio's own
/// variable) forces the multi-threaded scheduler with that many workers.
fn runtime_builder() -> tokio::runtime::Builder {
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    if cpus == 1 && std::env::var_os("TOKIO_WORKER_THREADS").is_none() {
        tokio::runtime::Builder::new_current_thread()
    } else {
        tokio::runtime::Builder::new_multi_thread()
    }
}

async fn serve(config: config::Config) -> ExitCode {
    let (public_addr, admin_addr) = (config.stagepass.listen, config.stagepass.admin.listen);
    let public_url = config.stagepass.public_url.clone();
    let app = match App::build(config) {
        Ok(app) => app,
        Err(problem) => {
            eprintln!("stagepass: invalid configuration:\n{problem}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    let listeners = match bind(public_addr, admin_addr).await {
        Ok(listeners) => listeners,
        Err(message) => {
            tracing::error!("{message}");
            return ExitCode::from(EXIT_BIND);
        }
    };
    tracing::info!(public = %public_addr, admin = %admin_addr, "stagepass listening; open {public_url}");
    server::run(listeners, app, shutdown_signal()).await;
    tracing::info!("stagepass stopped");
    ExitCode::SUCCESS
}

async fn bind(
    public: std::net::SocketAddr,
    admin: std::net::SocketAddr,
) -> Result<Listeners, String> {
    let public = TcpListener::bind(public)
        .await
        .map_err(|e| format!("cannot listen on {public} (stagepass.listen): {e}"))?;
    let admin = TcpListener::bind(admin)
        .await
        .map_err(|e| format!("cannot listen on {admin} (stagepass.admin.listen): {e}"))?;
    Ok(Listeners { public, admin })
}

/// Resolves on SIGTERM (Kubernetes, docker stop) or SIGINT (Ctrl-C).
async fn shutdown_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).expect("install SIGTERM handler");
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
}

/// Logs go to stdout through a writer thread that writes them in batches
/// (`log_writer`): a request only appends its line. Nothing is dropped; the
/// returned guard writes what is left at exit.
fn init_tracing(format: LogFormat) -> stagepass::log_writer::FlushGuard {
    use tracing_subscriber::EnvFilter;
    let filter =
        EnvFilter::try_from_env("STAGEPASS_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    let (writer, guard) = stagepass::log_writer::BatchWriter::new(std::io::stdout());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        .with_timer(stagepass::log_format::Clock);
    match format {
        LogFormat::Json => builder
            .fmt_fields(tracing_subscriber::fmt::format::JsonFields::new())
            .event_format(stagepass::log_format::JsonLines::new())
            .init(),
        // Colour codes only for a person at a terminal, never into files.
        LogFormat::Text => builder
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()))
            .init(),
    }
    guard
}

#[cfg(test)]
mod tests {
    #[test]
    fn cli_definition_is_consistent() {
        use clap::CommandFactory;
        super::Cli::command().debug_assert();
    }
}
