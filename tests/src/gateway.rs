//! Runs the gateway in-process for end-to-end suites: settings as TOML text, an explicit
//! environment, a real TCP listener on a free loopback port, and a client to call it.

use std::sync::Arc;

use anyhow::Context;
use bizgraph_config::Settings;
use bizgraph_gateway::server::{AppState, app};
use bizgraph_gateway::startup::{Environment, start};
use tokio::task::JoinHandle;
use url::Url;

/// A running gateway, stopped when dropped.
#[derive(Debug)]
pub struct Gateway {
    /// `http://127.0.0.1:PORT/`.
    pub base_url: Url,
    state: Arc<AppState>,
    task: JoinHandle<()>,
}

impl Drop for Gateway {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Gateway {
    /// Starts the gateway with these settings (TOML) and environment, loading the graph (every
    /// configured `$metadata`) before it listens.
    pub async fn start(settings: &str, environment: Environment) -> anyhow::Result<Self> {
        let settings = Settings::from_toml(settings, "test settings")?;
        let state = Arc::new(start(&settings, &environment).await?);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .context("binding the gateway's port")?;
        let base_url = Url::parse(&format!("http://{}/", listener.local_addr()?))?;
        let router = app(Arc::clone(&state));
        let task = tokio::spawn(async move {
            // A failing server ends the task; the test then sees connection errors.
            let _ = axum::serve(listener, router).await;
        });
        Ok(Self {
            base_url,
            state,
            task,
        })
    }

    /// The server's state (token cache, destinations, graph).
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// The URL of a path below the gateway.
    pub fn url(&self, path: &str) -> Url {
        self.base_url
            .join(path.trim_start_matches('/'))
            .expect("a path joins onto the base URL")
    }
}

/// Writes `text` to `name` in `dir` and returns the path as TOML-ready text.
pub fn write_file(dir: &std::path::Path, name: &str, text: &str) -> anyhow::Result<String> {
    std::fs::create_dir_all(dir)?;
    let path = dir.join(name);
    std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
    Ok(path.display().to_string().replace('\\', "/"))
}
