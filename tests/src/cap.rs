//! Starts bizgraph's real SAP CAP test backends (`tests/backends`, see its README) as node
//! processes on free loopback ports.
//!
//! Two apps: [`CapApp::S4`], an S/4HANA-like sales service (`API_SALES_ORDER_SRV`) served as
//! OData v4 at `/odata/v4/sales` and, through `@cap-js-community/odata-v2-adapter`, as OData v2
//! at `/odata/v2/sales` with SAP Gateway's CSRF token protocol; and [`CapApp::Crm`], a CRM-like
//! service (`CrmService`) served as OData v4 at `/odata/v4/crm`. Both use HTTP Basic users
//! ([`ALICE`] sees region `EU` rows, [`BOB`] region `US` rows, [`ADMIN`] every row), in-memory
//! SQLite seeded from CSVs, and keep a log of the OData requests that arrived from outside
//! (`GET /__requests`), which the v2 adapter's internal hops to the v4 path do not enter.
//!
//! The backends need `npm ci --prefix tests/backends` once (Node 20 or newer on `PATH`).

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde::Deserialize;

use crate::standins::http_client;

/// User `alice`, attribute `region: ["EU"]`: sees and writes only `EU` rows.
pub const ALICE: (&str, &str) = ("alice", "alice-pw");
/// User `bob`, attribute `region: ["US"]`: sees and writes only `US` rows.
pub const BOB: (&str, &str) = ("bob", "bob-pw");
/// User `admin`, role `admin`: sees and writes every row.
pub const ADMIN: (&str, &str) = ("admin", "admin-pw");

/// How long a backend gets from spawning until its `$metadata` answers.
const START_DEADLINE: Duration = Duration::from_secs(30);

/// What the server prints on stdout once it listens.
const LISTENING_PREFIX: &str = "listening on ";

/// Which CAP app to start.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CapApp {
    /// `API_SALES_ORDER_SRV`: partners, products, sales orders and items; OData v4 and v2.
    S4,
    /// `CrmService`: accounts and opportunities; OData v4 only.
    Crm,
}

impl CapApp {
    /// The app's name on the server's command line and its folder under `tests/backends`.
    pub fn name(self) -> &'static str {
        match self {
            Self::S4 => "s4",
            Self::Crm => "crm",
        }
    }

    /// The OData v4 service root path, without a trailing slash.
    pub fn v4_path(self) -> &'static str {
        match self {
            Self::S4 => "/odata/v4/sales",
            Self::Crm => "/odata/v4/crm",
        }
    }

    /// The OData v2 service root path, without a trailing slash, where there is one.
    pub fn v2_path(self) -> Option<&'static str> {
        match self {
            Self::S4 => Some("/odata/v2/sales"),
            Self::Crm => None,
        }
    }
}

/// One entry of a backend's request log: an OData request that arrived from outside.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct LoggedRequest {
    /// The HTTP method, e.g. `GET`, `MERGE`.
    pub method: String,
    /// The path and query the client used, e.g. `/odata/v2/sales/A_SalesOrder?$top=1`.
    pub url: String,
    /// The HTTP Basic user name, if the request carried one (valid or not).
    pub user: Option<String>,
}

/// A running CAP backend, killed when dropped.
#[derive(Debug)]
pub struct CapBackend {
    app: CapApp,
    port: u16,
    child: Option<Child>,
    /// Held open: the server runs with `--exit-on-stdin-eof`, so it also ends when this test
    /// process dies without running `Drop`.
    stdin: Option<ChildStdin>,
    http: reqwest::Client,
}

/// The folder holding `server.js`, `package.json` and `node_modules`.
pub fn backends_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("backends")
}

impl CapBackend {
    /// Starts `node tests/backends/server.js <app>` on a free loopback port and waits (at most
    /// 30 s) until `$metadata` answers 200 for an authenticated user. Fails with a message naming
    /// `npm ci --prefix tests/backends` when the node modules are missing.
    pub async fn start(app: CapApp) -> anyhow::Result<CapBackend> {
        Self::start_with_config(app, None).await
    }

    /// Like [`CapBackend::start`], with CAP configuration merged over the app's own from
    /// `cds_config` (JSON, CAP's `CDS_CONFIG` variable), e.g.
    /// `{"query":{"limit":{"max":3}}}` for server-driven paging in pages of 3 rows.
    pub async fn start_with_config(
        app: CapApp,
        cds_config: Option<&str>,
    ) -> anyhow::Result<CapBackend> {
        let started = Instant::now();
        let dir = backends_dir();
        check_node_modules(&dir)?;
        let http = http_client()?;

        let mut command = Command::new("node");
        if let Some(config) = cds_config {
            command.env("CDS_CONFIG", config);
        }
        let mut child = command
            .arg(dir.join("server.js"))
            .arg(app.name())
            .arg("--port")
            .arg("0")
            .arg("--exit-on-stdin-eof")
            .current_dir(&dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .context("starting `node` (Node.js 20 or newer must be on PATH)")?;
        let stdin = child.stdin.take();
        let stdout = child
            .stdout
            .take()
            .context("the child's stdout was not piped")?;
        // From here on `backend` owns the process, so every early return kills it.
        let mut backend = CapBackend {
            app,
            port: 0,
            child: Some(child),
            stdin,
            http,
        };

        let first_line = read_first_line(stdout);
        let line = match tokio::time::timeout(START_DEADLINE, first_line).await {
            Ok(Ok(Some(line))) => line,
            Ok(Ok(None)) => bail!(
                "the {} backend exited before listening ({}); its stderr is above",
                app.name(),
                backend.exit_status()
            ),
            Ok(Err(error)) => {
                return Err(error).context(format!("reading the {} backend's stdout", app.name()));
            }
            Err(_) => bail!(
                "the {} backend printed no `{LISTENING_PREFIX}` line within {START_DEADLINE:?}",
                app.name()
            ),
        };
        backend.port = parse_port(&line).with_context(|| {
            format!(
                "the {} backend's first line was not `{LISTENING_PREFIX}http://127.0.0.1:PORT`: {line:?}",
                app.name()
            )
        })?;

        let deadline = started + START_DEADLINE;
        backend.wait_for_metadata(deadline).await?;
        Ok(backend)
    }

    /// Polls `$metadata` as [`ADMIN`] until it answers 200 or the deadline passes.
    async fn wait_for_metadata(&mut self, deadline: Instant) -> anyhow::Result<()> {
        let url = self.url(&format!("{}/$metadata", self.app.v4_path()));
        loop {
            let outcome = self
                .http
                .get(&url)
                .basic_auth(ADMIN.0, Some(ADMIN.1))
                .timeout(Duration::from_secs(5))
                .send()
                .await;
            let last = match outcome {
                Ok(response) if response.status().is_success() => return Ok(()),
                Ok(response) => format!("HTTP {}", response.status()),
                Err(error) => error.to_string(),
            };
            if let Some(child) = self.child.as_mut()
                && let Some(status) = child.try_wait()?
            {
                bail!(
                    "the {} backend exited ({status}) before {url} answered; its stderr is above",
                    self.app.name()
                );
            }
            if Instant::now() >= deadline {
                bail!("{url} did not answer 200 within {START_DEADLINE:?}; last outcome: {last}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Which app this is.
    pub fn app(&self) -> CapApp {
        self.app
    }

    /// The port the backend listens on (on 127.0.0.1).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// `http://127.0.0.1:PORT`, without a trailing slash.
    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The absolute URL of a path (and query) on the backend; `path_and_query` starts with `/`.
    pub fn url(&self, path_and_query: &str) -> String {
        format!("{}{path_and_query}", self.base_url())
    }

    /// `/odata/v4/sales` or `/odata/v4/crm`.
    pub fn v4_path(&self) -> &'static str {
        self.app.v4_path()
    }

    /// `Some("/odata/v2/sales")` for [`CapApp::S4`], `None` for [`CapApp::Crm`].
    pub fn v2_path(&self) -> Option<&'static str> {
        self.app.v2_path()
    }

    /// The OData requests that arrived from outside since start or the last
    /// [`clear_requests`](Self::clear_requests), oldest first.
    pub async fn requests(&self) -> anyhow::Result<Vec<LoggedRequest>> {
        let url = self.url("/__requests");
        let response = self
            .http
            .get(&url)
            .send()
            .await
            .with_context(|| format!("GET {url}"))?;
        let status = response.status();
        if !status.is_success() {
            bail!("GET {url}: HTTP {status}: {}", response.text().await?);
        }
        response
            .json()
            .await
            .with_context(|| format!("decoding GET {url}"))
    }

    /// Empties the request log.
    pub async fn clear_requests(&self) -> anyhow::Result<()> {
        let url = self.url("/__requests");
        let response = self
            .http
            .delete(&url)
            .send()
            .await
            .with_context(|| format!("DELETE {url}"))?;
        let status = response.status();
        if !status.is_success() {
            bail!("DELETE {url}: HTTP {status}: {}", response.text().await?);
        }
        Ok(())
    }

    /// GETs `path_and_query` (starting with `/`, e.g. `/odata/v4/sales/A_Product?$top=1`) with
    /// HTTP Basic credentials and `Accept: application/json`, straight from the backend: the
    /// reference to compare the gateway with. Fails on a non-2xx answer, quoting the body.
    pub async fn get_json(
        &self,
        path_and_query: &str,
        user: (&str, &str),
    ) -> anyhow::Result<serde_json::Value> {
        let url = self.url(path_and_query);
        let response = self
            .http
            .get(&url)
            .basic_auth(user.0, Some(user.1))
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .with_context(|| format!("GET {url} as {}", user.0))?;
        let status = response.status();
        let body = response
            .text()
            .await
            .with_context(|| format!("reading GET {url}"))?;
        if !status.is_success() {
            bail!("GET {url} as {}: HTTP {status}: {body}", user.0);
        }
        serde_json::from_str(&body).with_context(|| format!("GET {url}: not JSON: {body}"))
    }

    /// Kills the process (to simulate an outage). Idempotent; `Drop` does the same.
    pub fn stop(&mut self) {
        self.stdin = None;
        if let Some(mut child) = self.child.take() {
            // Killing fails only when the process has exited already, which is the goal anyway.
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        match self.child.as_mut() {
            Some(child) => matches!(child.try_wait(), Ok(None)),
            None => false,
        }
    }

    /// The exit status as text, for error messages.
    fn exit_status(&mut self) -> String {
        let Some(child) = self.child.as_mut() else {
            return "stopped".to_owned();
        };
        // The stdout pipe closed; give the process a moment to be reaped.
        for _ in 0..20 {
            if let Ok(Some(status)) = child.try_wait() {
                return status.to_string();
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        "still running".to_owned()
    }
}

impl Drop for CapBackend {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Fails with the command to run when the backends' node modules are not installed.
fn check_node_modules(dir: &Path) -> anyhow::Result<()> {
    let required = [
        "@sap/cds",
        "@cap-js/sqlite",
        "@cap-js-community/odata-v2-adapter",
        "express",
    ];
    let missing: Vec<&str> = required
        .iter()
        .copied()
        .filter(|package| {
            !dir.join("node_modules")
                .join(package)
                .join("package.json")
                .is_file()
        })
        .collect();
    if !missing.is_empty() {
        bail!(
            "the CAP test backends' node modules are missing ({}) in {}: run \
             `npm ci --prefix tests/backends` from the repository root (needs Node.js 20+)",
            missing.join(", "),
            dir.display()
        );
    }
    Ok(())
}

/// Reads the first stdout line on a thread of its own, then keeps draining stdout so the child
/// never blocks on a full pipe. `None` when stdout closed before a full line.
async fn read_first_line<R: Read + Send + 'static>(stdout: R) -> anyhow::Result<Option<String>> {
    let (sender, receiver) = tokio::sync::oneshot::channel();
    std::thread::Builder::new()
        .name("cap-backend-stdout".to_owned())
        .spawn(move || {
            let mut reader = BufReader::new(stdout);
            let mut line = String::new();
            let first = match reader.read_line(&mut line) {
                Ok(0) => Ok(None),
                Ok(_) => Ok(Some(line.trim_end().to_owned())),
                Err(error) => Err(error),
            };
            let keep_reading = matches!(first, Ok(Some(_)));
            // The receiver is gone when the start timed out; nothing is left to tell then.
            let _ = sender.send(first);
            if keep_reading {
                let _ = std::io::copy(&mut reader, &mut std::io::sink());
            }
        })
        .context("spawning the stdout reader thread")?;
    let first = receiver
        .await
        .context("the stdout reader thread ended without an answer")?;
    first.map_err(anyhow::Error::from)
}

/// The port of `listening on http://127.0.0.1:PORT`.
fn parse_port(line: &str) -> Option<u16> {
    line.strip_prefix(LISTENING_PREFIX)?
        .strip_prefix("http://127.0.0.1:")?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_listening_line() {
        assert_eq!(parse_port("listening on http://127.0.0.1:4004"), Some(4004));
        assert_eq!(parse_port("listening on http://localhost:4004"), None);
        assert_eq!(parse_port("[cds] - loaded model"), None);
    }

    #[test]
    fn paths_per_app() {
        assert_eq!(CapApp::S4.v4_path(), "/odata/v4/sales");
        assert_eq!(CapApp::S4.v2_path(), Some("/odata/v2/sales"));
        assert_eq!(CapApp::Crm.v4_path(), "/odata/v4/crm");
        assert_eq!(CapApp::Crm.v2_path(), None);
    }
}
