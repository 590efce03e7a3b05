//! Starts Debian's tinyproxy on a free loopback port with its own configuration.
//!
//! tinyproxy stands in for the Connectivity service's HTTP proxy (and for corporate proxies):
//! a real forward proxy that the gateway must reach with absolute-form requests.
//!
//! What tinyproxy 1.11.1 does with the headers that matter here, as measured against the echo
//! backend (see `tests/tests/standins.rs`):
//!
//! - Custom request headers pass through unchanged, names and values, including
//!   `SAP-Connectivity-SCC-Location_ID` (underscore and all) and
//!   `SAP-Connectivity-Authentication`; so do `Authorization` and the query string. tinyproxy
//!   adds `Connection: close` towards the backend, and no `Via` header with
//!   `DisableViaHeader Yes`.
//! - Without `BasicAuth`, `Proxy-Authorization` is NOT removed: tinyproxy forwards it to the
//!   backend verbatim. A gateway must therefore never send proxy credentials to a proxy that
//!   does not ask for them, or they leak to the backend.
//! - With `BasicAuth`, a request without `Proxy-Authorization` gets
//!   `407 Proxy Authentication Required` with `Proxy-Authenticate: Basic realm="Tinyproxy"`;
//!   a request with wrong credentials gets `401 Unauthorized` with `WWW-Authenticate` (a
//!   tinyproxy quirk: not 407); with the right credentials the request is forwarded and
//!   `Proxy-Authorization` is stripped, so the backend never sees it.

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

/// Where Debian installs tinyproxy.
const TINYPROXY: &str = "/usr/bin/tinyproxy";

/// How long tinyproxy gets to accept connections after starting.
const START_DEADLINE: Duration = Duration::from_secs(10);

/// How a proxy is configured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TinyproxyOptions {
    /// `BasicAuth user password`: require these proxy credentials.
    pub basic_auth: Option<(String, String)>,
    /// `MaxClients`.
    pub max_clients: u32,
    /// `Timeout` in seconds for idle connections.
    pub timeout_seconds: u32,
    /// Further configuration lines, written as given.
    pub extra_lines: Vec<String>,
}

impl Default for TinyproxyOptions {
    fn default() -> Self {
        Self {
            basic_auth: None,
            max_clients: 50,
            timeout_seconds: 30,
            extra_lines: Vec::new(),
        }
    }
}

impl TinyproxyOptions {
    /// Requires proxy credentials.
    pub fn basic_auth(mut self, user: &str, password: &str) -> Self {
        self.basic_auth = Some((user.to_owned(), password.to_owned()));
        self
    }
}

/// A running tinyproxy, killed when dropped.
#[derive(Debug)]
pub struct Tinyproxy {
    child: Child,
    port: u16,
    dir: PathBuf,
    log_path: PathBuf,
}

impl Tinyproxy {
    /// Writes a configuration into a fresh scratch folder, starts `tinyproxy -d -c CONF` and
    /// waits until the port accepts connections.
    pub fn start(options: TinyproxyOptions) -> anyhow::Result<Self> {
        if !Path::new(TINYPROXY).exists() {
            bail!("tinyproxy is not installed at {TINYPROXY}: apt-get install tinyproxy");
        }
        // The free port is found by binding and releasing it, so another process may take it
        // before tinyproxy does; a start that dies is retried on a new port.
        let mut last_error = None;
        for _ in 0..3 {
            match Self::try_start(&options) {
                Ok(proxy) => return Ok(proxy),
                Err(error) => last_error = Some(error),
            }
        }
        Err(last_error.unwrap_or_else(|| anyhow::anyhow!("tinyproxy did not start")))
    }

    fn try_start(options: &TinyproxyOptions) -> anyhow::Result<Self> {
        let port = free_port()?;
        let dir = scratch_dir();
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        let log_path = dir.join("tinyproxy.log");
        let conf_path = dir.join("tinyproxy.conf");
        std::fs::write(&conf_path, config_text(options, port, &log_path))
            .with_context(|| format!("writing {}", conf_path.display()))?;
        let child = Command::new(TINYPROXY)
            .arg("-d")
            .arg("-c")
            .arg(&conf_path)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| format!("starting {TINYPROXY}"))?;
        let mut proxy = Self {
            child,
            port,
            dir,
            log_path,
        };
        proxy.wait_until_listening()?;
        Ok(proxy)
    }

    fn wait_until_listening(&mut self) -> anyhow::Result<()> {
        let address = SocketAddr::from(([127, 0, 0, 1], self.port));
        let deadline = Instant::now() + START_DEADLINE;
        loop {
            if let Some(status) = self.child.try_wait()? {
                bail!(
                    "tinyproxy exited with {status} before listening on port {}; its log:\n{}",
                    self.port,
                    self.log()
                );
            }
            if TcpStream::connect_timeout(&address, Duration::from_millis(200)).is_ok() {
                return Ok(());
            }
            if Instant::now() >= deadline {
                bail!(
                    "tinyproxy did not listen on port {} within {START_DEADLINE:?}; its log:\n{}",
                    self.port,
                    self.log()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The proxy URL, `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The log file's text so far (empty if it cannot be read).
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log_path).unwrap_or_default()
    }

    /// The scratch folder holding the configuration and the log.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

impl Drop for Tinyproxy {
    fn drop(&mut self) {
        // Killing fails only when the process has exited already, which is the goal anyway.
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A port that was free a moment ago.
fn free_port() -> anyhow::Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0").context("finding a free loopback port")?;
    Ok(listener.local_addr()?.port())
}

/// A folder of its own for each proxy, under the system temporary folder.
fn scratch_dir() -> PathBuf {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let number = NEXT.fetch_add(1, Ordering::Relaxed);
    std::env::temp_dir().join(format!(
        "bizgraph-tinyproxy-{}-{number}",
        std::process::id()
    ))
}

/// The configuration file: loopback only, foreground-friendly, logging to the scratch folder.
fn config_text(options: &TinyproxyOptions, port: u16, log_path: &Path) -> String {
    let mut lines = vec![
        format!("Port {port}"),
        "Listen 127.0.0.1".to_owned(),
        "Allow 127.0.0.1".to_owned(),
        format!("LogFile \"{}\"", log_path.display()),
        "LogLevel Info".to_owned(),
        format!("MaxClients {}", options.max_clients),
        format!("Timeout {}", options.timeout_seconds),
        // Keeps the request the backend sees identical to what the client sent.
        "DisableViaHeader Yes".to_owned(),
    ];
    if let Some((user, password)) = &options.basic_auth {
        lines.push(format!("BasicAuth {user} {password}"));
    }
    lines.extend(options.extra_lines.iter().cloned());
    let mut text = lines.join("\n");
    text.push('\n');
    text
}
