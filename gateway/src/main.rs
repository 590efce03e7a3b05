//! The `bizgraph` binary: thin glue over the library crates.

use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, Subcommand};

/// bizgraph: one graph over many OData services.
#[derive(Debug, Parser)]
#[command(name = "bizgraph", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the gateway.
    Serve {
        /// The settings file (TOML).
        #[arg(long, short)]
        config: std::path::PathBuf,
        /// Listen here instead of the settings' `server.listen`.
        #[arg(long)]
        listen: Option<std::net::SocketAddr>,
    },
    /// Work with OData `$metadata` documents.
    Metadata {
        #[command(subcommand)]
        command: MetadataCommand,
    },
}

#[derive(Debug, Subcommand)]
enum MetadataCommand {
    /// Parse a `$metadata` document (a file or an http(s) URL) and summarise it.
    Inspect {
        /// File path or URL of the document.
        source: String,
        /// Print the whole model and its diagnostics as JSON.
        #[arg(long)]
        json: bool,
        /// Timeout for fetching a URL, in seconds.
        #[arg(long, default_value_t = 30)]
        timeout: u64,
    },
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<std::process::ExitCode> {
    match cli.command {
        Command::Serve { config, listen } => serve(&config, listen),
        Command::Metadata {
            command:
                MetadataCommand::Inspect {
                    source,
                    json,
                    timeout,
                },
        } => inspect(&source, json, Duration::from_secs(timeout)),
    }
}

fn inspect(source: &str, json: bool, timeout: Duration) -> anyhow::Result<std::process::ExitCode> {
    let bytes = if source.starts_with("http://") || source.starts_with("https://") {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("starting the async runtime")?;
        runtime.block_on(async {
            let client = bizgraph_gateway::upstream::client(timeout)?;
            bizgraph_gateway::upstream::fetch_metadata(&client, source).await
        })?
    } else {
        std::fs::read(Path::new(source)).with_context(|| format!("reading {source}"))?
    };
    let parsed = bizgraph_metadata::parse(&bytes).with_context(|| format!("parsing {source}"))?;
    if json {
        let document = serde_json::json!({
            "metadata": parsed.metadata,
            "counts": parsed.metadata.counts(),
            "diagnostics": parsed.diagnostics,
        });
        println!(
            "{}",
            serde_json::to_string_pretty(&document).context("rendering JSON")?
        );
    } else {
        print!("{}", bizgraph_gateway::inspect::report(source, &parsed));
    }
    Ok(std::process::ExitCode::SUCCESS)
}

fn serve(
    config: &Path,
    listen: Option<std::net::SocketAddr>,
) -> anyhow::Result<std::process::ExitCode> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("BIZGRAPH_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let settings = bizgraph_config::Settings::load(config)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async {
        let state = bizgraph_gateway::startup::build(
            &settings,
            &bizgraph_gateway::startup::Environment::from_process(),
        )?;
        let address = listen.unwrap_or(settings.server.listen);
        let listener = tokio::net::TcpListener::bind(address)
            .await
            .with_context(|| format!("listening on {address}"))?;
        tracing::info!(address = %listener.local_addr()?, "bizgraph listening");
        let app = bizgraph_gateway::server::app(std::sync::Arc::new(state));
        axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = tokio::signal::ctrl_c().await;
            })
            .await
            .context("serving")?;
        anyhow::Ok(())
    })?;
    Ok(std::process::ExitCode::SUCCESS)
}
