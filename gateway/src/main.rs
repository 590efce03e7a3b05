//! The `bizgraph` binary: thin glue over the library crates.

use std::path::Path;
use std::time::Duration;

use std::sync::Arc;

use anyhow::Context;
use bizgraph_gateway::server::AppState;
use bizgraph_gateway::startup::Environment;
use clap::{Parser, Subcommand};

/// mimalloc instead of the system allocator: a request allocates many small values (JSON rows,
/// GraphQL values, URL parts) across worker threads, and the system allocator's share of the
/// gateway's CPU time was about a fifth under load (`perf record` during `bench/load.sh`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
    /// Run the gateway on its embedded demo: an S/4-like OData v2 service and a CRM-like v4
    /// service in this process, two users who see different rows, no network needed.
    Demo {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:4000")]
        listen: std::net::SocketAddr,
    },
    /// Load the graph once: resolve destinations, fetch and compose every `$metadata`, print each
    /// source's state and the schema's size. Exits non-zero when anything was left out.
    Check {
        /// The settings file (TOML).
        #[arg(long, short)]
        config: std::path::PathBuf,
    },
    /// Print the composed GraphQL schema (SDL).
    Schema {
        /// The settings file (TOML).
        #[arg(long, short)]
        config: std::path::PathBuf,
    },
    /// Print the backend requests a GraphQL query compiles into, without running them.
    Plan {
        /// The settings file (TOML).
        #[arg(long, short)]
        config: std::path::PathBuf,
        /// The GraphQL query, or @FILE to read it from a file.
        #[arg(long, short)]
        query: String,
        /// Variables as JSON.
        #[arg(long)]
        variables: Option<String>,
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
        Command::Demo { listen } => demo(listen),
        Command::Check { config } => check(&config),
        Command::Schema { config } => schema(&config),
        Command::Plan {
            config,
            query,
            variables,
        } => plan(&config, &query, variables.as_deref()),
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

fn logging(default: &str) {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("BIZGRAPH_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default)),
        )
        .with_writer(std::io::stderr)
        .init();
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
}

/// Loads settings and the graph once.
async fn load(config: &Path) -> anyhow::Result<Arc<AppState>> {
    let settings = bizgraph_config::Settings::load(config)?;
    let state = bizgraph_gateway::startup::start(&settings, &Environment::from_process()).await?;
    Ok(Arc::new(state))
}

fn check(config: &Path) -> anyhow::Result<std::process::ExitCode> {
    logging("error");
    runtime()?.block_on(async {
        let state = load(config).await?;
        let generation = state.graph.current();
        let mut failed = false;
        for source in &generation.sources {
            println!("{} {:?}", source.name, source.state);
            for service in &source.services {
                let place = service
                    .url
                    .clone()
                    .unwrap_or_else(|| format!("{}{}", service.destination, service.path));
                match &service.error {
                    None => println!(
                        "  ok      {} {place}: OData {}, {} entity sets{}",
                        service.destination,
                        service.version.as_deref().unwrap_or("?"),
                        service.entity_sets,
                        if service.metadata_errors > 0 {
                            format!(", {} metadata errors", service.metadata_errors)
                        } else {
                            String::new()
                        }
                    ),
                    // In the graph with the `$metadata` of an earlier load (only a runtime
                    // that loaded before has one).
                    Some(error) if service.ok => {
                        println!("  STALE   {} {place}: {error}", service.destination);
                    }
                    Some(error) => {
                        failed = true;
                        println!("  FAILED  {} {place}: {error}", service.destination);
                    }
                }
            }
        }
        for finding in &generation.findings {
            if finding.level == bizgraph_schema::compose::Level::Warning {
                failed = true;
            }
            println!("{finding}");
        }
        let size = generation.size();
        println!(
            "graph: {} namespaces, {} services, {} entities, {} fields, {} relations, {} operations; SDL {} bytes",
            size.namespaces,
            size.services,
            size.entities,
            size.fields,
            size.relations,
            size.operations,
            generation.schema.sdl().len()
        );
        Ok(if failed {
            std::process::ExitCode::FAILURE
        } else {
            std::process::ExitCode::SUCCESS
        })
    })
}

fn schema(config: &Path) -> anyhow::Result<std::process::ExitCode> {
    logging("warn");
    runtime()?.block_on(async {
        let state = load(config).await?;
        print!("{}", state.graph.current().schema.sdl());
        Ok(std::process::ExitCode::SUCCESS)
    })
}

fn plan(
    config: &Path,
    query: &str,
    variables: Option<&str>,
) -> anyhow::Result<std::process::ExitCode> {
    logging("warn");
    let query = match query.strip_prefix('@') {
        Some(file) => std::fs::read_to_string(file).with_context(|| format!("reading {file}"))?,
        None => query.to_owned(),
    };
    let variables = match variables {
        Some(text) => Some(serde_json::from_str(text).context("--variables is not JSON")?),
        None => None,
    };
    runtime()?.block_on(async {
        let state = load(config).await?;
        let generation = state.graph.current();
        let (plans, errors) =
            bizgraph_gateway::graphql_http::plans(&generation, &query, variables).await;
        for plan in &plans {
            print!("{plan}");
        }
        for error in &errors {
            eprintln!("error: {error}");
        }
        Ok(if errors.is_empty() {
            std::process::ExitCode::SUCCESS
        } else {
            std::process::ExitCode::FAILURE
        })
    })
}

fn demo(listen: std::net::SocketAddr) -> anyhow::Result<std::process::ExitCode> {
    logging("info");
    runtime()?.block_on(async {
        let backends = bizgraph_gateway::demo::start()
            .await
            .context("starting the demo backends")?;
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .with_context(|| format!("listening on {listen}"))?;
        let address = listener.local_addr()?;
        let (settings, destinations) = bizgraph_gateway::demo::gateway_config(&backends, address);
        let settings = bizgraph_config::Settings::from_toml(&settings, "demo settings")?;
        let environment = Environment {
            destinations: Some(destinations),
            ..Environment::default()
        };
        let state = Arc::new(bizgraph_gateway::startup::start(&settings, &environment).await?);
        let users: Vec<String> = bizgraph_gateway::demo::USERS
            .iter()
            .map(|u| format!("{}:{} (region {})", u.name, u.password, u.region))
            .collect();
        let query = serde_json::json!({ "query": bizgraph_gateway::demo::TRY_QUERY });
        println!("bizgraph demo: GraphQL at http://{address}/graphql (open it in a browser)");
        println!("users: {}", users.join(", "));
        println!(
            "  {} is the administrator, who may POST /admin/refresh",
            bizgraph_gateway::demo::USERS[0].name
        );
        println!("try:");
        println!(
            "  curl -s -u alice:alice -H 'content-type: application/json' http://{address}/graphql -d '{query}'"
        );
        println!(
            "  curl -s -u bob:bob 'http://{address}/odata/v4/crm/Opportunities?$top=3&$expand=partner($select=BusinessPartnerFullName)'"
        );
        run_server(state, listener).await?;
        drop(backends);
        anyhow::Ok(())
    })?;
    Ok(std::process::ExitCode::SUCCESS)
}

fn serve(
    config: &Path,
    listen: Option<std::net::SocketAddr>,
) -> anyhow::Result<std::process::ExitCode> {
    logging("info");
    let settings = bizgraph_config::Settings::load(config)?;
    runtime()?.block_on(async {
        let state = Arc::new(
            bizgraph_gateway::startup::start(&settings, &Environment::from_process()).await?,
        );
        let address = listen.unwrap_or(settings.server.listen);
        let listener = tokio::net::TcpListener::bind(address)
            .await
            .with_context(|| format!("listening on {address}"))?;
        run_server(state, listener).await
    })?;
    Ok(std::process::ExitCode::SUCCESS)
}

/// Serves until Ctrl-C, refreshing the graph on the configured interval.
async fn run_server(state: Arc<AppState>, listener: tokio::net::TcpListener) -> anyhow::Result<()> {
    let _refresher = bizgraph_gateway::startup::spawn_refresher(&state);
    tracing::info!(address = %listener.local_addr()?, "bizgraph listening");
    let app = bizgraph_gateway::server::app(state);
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
        .context("serving")?;
    Ok(())
}
