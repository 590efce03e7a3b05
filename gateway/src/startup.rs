//! Start-up: checked settings plus the process environment (`destinations`, `VCAP_SERVICES`,
//! `SERVICE_BINDING_ROOT`) become the server's state. Every failure names the setting, file,
//! variable, binding or destination at fault.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use bizgraph_config::binding::{self, Binding};
use bizgraph_config::settings::DestinationSource;
use bizgraph_config::{
    ConfigError, ConnectivityCredentials, DestinationServiceCredentials, Origin, ProxyType, Secret,
    Settings, parse_destinations,
};
use thiserror::Error;

use crate::destinations::{DestinationService, Destinations};
use crate::execute::CsrfTokens;
use crate::graph::GraphRuntime;
use crate::identity::{AuthSetupError, Authenticator};
use crate::saml::{SamlError, SigningKey};
use crate::server::AppState;
use crate::upstream::{self, Connectivity, Limits, ProxyAuth, Upstream, UpstreamError};

/// The parts of the process environment start-up reads, passed in so tests need not mutate the
/// real environment.
#[derive(Debug, Clone, Default)]
pub struct Environment {
    /// `destinations`: a JSON array of destinations.
    pub destinations: Option<String>,
    /// `VCAP_SERVICES`.
    pub vcap_services: Option<String>,
    /// `SERVICE_BINDING_ROOT`.
    pub service_binding_root: Option<PathBuf>,
    /// Other variables the settings refer to by name (secrets).
    pub variables: Vec<(String, String)>,
}

impl Environment {
    /// Reads the real environment.
    pub fn from_process() -> Self {
        Self {
            destinations: std::env::var("destinations").ok(),
            vcap_services: std::env::var("VCAP_SERVICES").ok(),
            service_binding_root: std::env::var_os("SERVICE_BINDING_ROOT").map(PathBuf::from),
            variables: std::env::vars().collect(),
        }
    }

    fn variable(&self, name: &str) -> Option<&str> {
        self.variables
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }
}

/// Why the gateway cannot start.
#[derive(Debug, Error)]
pub enum StartupError {
    /// Settings, destinations or bindings are wrong.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// Inbound identity.
    #[error(transparent)]
    Identity(#[from] AuthSetupError),
    /// The SAML signing key.
    #[error("saml signing key: {0}")]
    Saml(#[from] SamlError),
    /// The HTTP client.
    #[error(transparent)]
    Upstream(#[from] UpstreamError),
}

fn settings_error(key: &str, message: impl Into<String>) -> StartupError {
    StartupError::Config(ConfigError::Settings {
        place: "settings".into(),
        key: key.into(),
        message: message.into(),
    })
}

fn bindings(settings: &Settings, environment: &Environment) -> Result<Vec<Binding>, ConfigError> {
    if let Some(root) = settings
        .destinations
        .binding_root
        .as_ref()
        .or(environment.service_binding_root.as_ref())
    {
        return binding::bindings_from_folder(root);
    }
    match &environment.vcap_services {
        Some(json) => binding::bindings_from_vcap(json),
        None => Ok(Vec::new()),
    }
}

/// Builds the server's state.
pub fn build(settings: &Settings, environment: &Environment) -> Result<AppState, StartupError> {
    let timeout = Duration::from_secs(settings.upstream.timeout_seconds.max(1));
    let http = upstream::client(timeout)?;
    let bindings = bindings(settings, environment)?;
    let margin = Duration::from_secs(settings.tokens.expiry_margin_seconds);
    let token_timeout = Duration::from_secs(settings.tokens.request_timeout_seconds.max(1));

    let destinations = match settings.destinations.source {
        DestinationSource::File => {
            let path = settings.destinations.file.as_ref().ok_or_else(|| {
                settings_error("destinations.file", "missing for source = \"file\"")
            })?;
            let text = std::fs::read_to_string(path).map_err(|error| ConfigError::Io {
                path: path.display().to_string(),
                message: error.to_string(),
            })?;
            Destinations::fixed(parse_destinations(
                &text,
                Origin::File,
                &path.display().to_string(),
            )?)
        }
        DestinationSource::Environment => {
            let text = environment.destinations.as_deref().ok_or_else(|| {
                settings_error(
                    "destinations.source",
                    "\"environment\" but the destinations variable is not set",
                )
            })?;
            Destinations::fixed(parse_destinations(
                text,
                Origin::Environment,
                "destinations",
            )?)
        }
        DestinationSource::Service => {
            let binding = binding::find_binding(
                &bindings,
                "destination",
                settings.destinations.binding.as_deref(),
            )?;
            let credentials = DestinationServiceCredentials::from_binding(binding)?;
            Destinations::Service(Box::new(DestinationService::new(
                credentials,
                http.clone(),
                Duration::from_secs(settings.destinations.cache_ttl_seconds),
                margin,
                settings.destinations.cache_max_entries,
                token_timeout,
            )))
        }
    };

    let connectivity = connectivity(settings, environment, &bindings)?;
    if connectivity.is_none()
        && let Destinations::Fixed(list) = &destinations
    {
        let mut names: Vec<_> = list.keys().collect();
        names.sort();
        for name in names {
            if list[name].destination.proxy_type == ProxyType::OnPremise {
                return Err(StartupError::Config(ConfigError::Destination {
                    place: "destinations".into(),
                    destination: name.clone(),
                    property: "ProxyType".into(),
                    message: "OnPremise but no connectivity proxy is configured (settings [connectivity] or a connectivity binding)".into(),
                }));
            }
        }
    }

    let saml_key = match (
        &settings.saml.signing_key_file,
        &settings.saml.certificate_file,
    ) {
        (Some(key), Some(certificate)) => {
            let read = |path: &PathBuf| {
                std::fs::read_to_string(path).map_err(|error| ConfigError::Io {
                    path: path.display().to_string(),
                    message: error.to_string(),
                })
            };
            Some(Arc::new(SigningKey::from_pem(
                &read(key)?,
                &read(certificate)?,
            )?))
        }
        (None, None) => None,
        _ => {
            return Err(settings_error(
                "saml",
                "signing_key_file and certificate_file go together",
            ));
        }
    };

    let limits = Limits {
        timeout,
        token_timeout,
        expiry_margin: margin,
        max_tokens: settings.tokens.max_entries,
        max_response_bytes: settings.upstream.max_response_bytes,
        saml_issuer: settings.saml.issuer.clone(),
        saml_lifetime: Duration::from_secs(settings.saml.assertion_lifetime_seconds.max(1)),
    };
    let upstream = Arc::new(Upstream::new(destinations, connectivity, saml_key, limits)?);
    let authenticator = Authenticator::from_settings(&settings.identity, http)?;
    if matches!(authenticator, Authenticator::Development(_)) {
        tracing::warn!(
            "DEVELOPMENT MODE: callers are checked against users and passwords in the settings; never use this in production"
        );
    }
    Ok(AppState {
        upstream,
        authenticator,
        body_limit: settings.server.body_limit_bytes,
        graph: Arc::new(GraphRuntime::new(settings.graph.clone())),
        csrf: CsrfTokens::default(),
    })
}

/// Refreshes the graph on the configured interval, in the background, until the handle is
/// dropped or aborted; `None` when no interval is configured.
pub fn spawn_refresher(state: &Arc<AppState>) -> Option<Refresher> {
    let interval = state.graph.refresh_interval()?;
    let state = state.clone();
    Some(Refresher(tokio::spawn(async move {
        let mut ticks = tokio::time::interval(interval);
        // The first tick completes at once; the graph was just loaded.
        ticks.tick().await;
        loop {
            ticks.tick().await;
            state.graph.refresh(&state.upstream).await;
        }
    })))
}

/// The background refresh task; dropping it stops the refreshes.
#[derive(Debug)]
pub struct Refresher(tokio::task::JoinHandle<()>);

impl Drop for Refresher {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Builds the state and loads the graph: every `$metadata` fetched, parsed and composed. A
/// source that fails is reported in the graph's state; it never stops the start.
pub async fn start(
    settings: &Settings,
    environment: &Environment,
) -> Result<AppState, StartupError> {
    let state = build(settings, environment)?;
    if !settings.graph.data_sources.is_empty() {
        state.graph.refresh(&state.upstream).await;
    }
    Ok(state)
}

fn connectivity(
    settings: &Settings,
    environment: &Environment,
    bindings: &[Binding],
) -> Result<Option<Connectivity>, StartupError> {
    let section = &settings.connectivity;
    if let Some(proxy) = &section.proxy {
        let mut url = url::Url::parse(proxy).map_err(|error| {
            settings_error(
                "connectivity.proxy",
                format!("'{proxy}' is not a URL: {error}"),
            )
        })?;
        if url.scheme() != "http" {
            return Err(settings_error(
                "connectivity.proxy",
                "must be an http:// URL",
            ));
        }
        let auth = if !url.username().is_empty() {
            let user = url.username().to_owned();
            let password = url.password().unwrap_or_default().to_owned();
            let _ = url.set_username("");
            let _ = url.set_password(None);
            let encoded = base64::Engine::encode(
                &base64::engine::general_purpose::STANDARD,
                format!("{user}:{password}"),
            );
            ProxyAuth::Basic(Secret::new(format!("Basic {encoded}")))
        } else if let Some(token_url) = &section.token_service_url {
            let client_id = section
                .client_id
                .clone()
                .ok_or_else(|| settings_error("connectivity.client_id", "missing"))?;
            let client_secret = match (&section.client_secret, &section.client_secret_env) {
                (Some(secret), _) => secret.clone(),
                (None, Some(variable)) => Secret::new(
                    environment
                        .variable(variable)
                        .ok_or_else(|| {
                            settings_error(
                                "connectivity.client_secret_env",
                                format!("variable {variable} is not set"),
                            )
                        })?
                        .to_owned(),
                ),
                (None, None) => {
                    return Err(settings_error("connectivity.client_secret", "missing"));
                }
            };
            ProxyAuth::Bearer {
                token_url: crate::oauth::token_endpoint(token_url),
                client_id,
                client_secret,
            }
        } else {
            ProxyAuth::None
        };
        return Ok(Some(Connectivity { proxy: url, auth }));
    }
    let Ok(binding) = binding::find_binding(bindings, "connectivity", section.binding.as_deref())
    else {
        return Ok(None);
    };
    let credentials = ConnectivityCredentials::from_binding(binding)?;
    let proxy = url::Url::parse(&format!(
        "http://{}:{}",
        credentials.proxy_host, credentials.proxy_port
    ))
    .map_err(|error| ConfigError::Binding {
        place: binding.place.clone(),
        binding: binding.name.clone(),
        property: "credentials.onpremise_proxy_host".into(),
        message: error.to_string(),
    })?;
    Ok(Some(Connectivity {
        proxy,
        auth: ProxyAuth::Bearer {
            token_url: crate::oauth::token_endpoint(&credentials.token_url),
            client_id: credentials.client_id,
            client_secret: credentials.client_secret,
        },
    }))
}
