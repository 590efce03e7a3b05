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
