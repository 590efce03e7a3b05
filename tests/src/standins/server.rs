//! The plumbing every stand-in shares: an axum router served on a fresh loopback port of the
//! current tokio runtime, stopped when the owner is dropped.

use anyhow::Context;
use axum::Router;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use url::Url;

/// A running HTTP server. Dropping it asks the server to stop accepting and to close its
/// connections; [`Server::shutdown`] does the same and waits until it has.
#[derive(Debug)]
pub struct Server {
    base_url: Url,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl Server {
    /// Binds `127.0.0.1:0` and serves `router` on the current runtime.
    pub async fn start(router: Router) -> anyhow::Result<Self> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .context("binding a loopback port for a stand-in")?;
        let address = listener.local_addr()?;
        let base_url = Url::parse(&format!("http://{address}/"))?;
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let shutdown = async move {
                // Either an explicit stop or the sender being dropped ends the server.
                let _ = stopped.await;
            };
            // A serve error can only come from the listener, which a test cannot act on; the
            // requests recorded so far stay available either way.
            let _ = axum::serve(listener, router)
                .with_graceful_shutdown(shutdown)
                .await;
        });
        Ok(Self {
            base_url,
            stop: Some(stop),
            task: Some(task),
        })
    }

    /// The server's base URL, `http://127.0.0.1:PORT/`.
    pub fn base_url(&self) -> &Url {
        &self.base_url
    }

    /// The base URL without its trailing `/` (`http://127.0.0.1:PORT`), for destination URLs.
    pub fn origin(&self) -> String {
        self.base_url.as_str().trim_end_matches('/').to_owned()
    }

    /// Stops the server and waits until it has closed its connections.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}
