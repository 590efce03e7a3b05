//! The settings file (TOML): server, destinations source, connectivity proxy, token cache,
//! SAML signing, inbound identity and upstream limits. Unknown keys are errors naming the key.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::graph::Graph;
use crate::{ConfigError, Secret};

/// The whole settings file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// The HTTP server.
    pub server: Server,
    /// Where destinations come from and how long they are cached.
    pub destinations: Destinations,
    /// The connectivity proxy for `ProxyType: OnPremise` destinations.
    pub connectivity: Connectivity,
    /// The per-user token cache.
    pub tokens: Tokens,
    /// Signing key for locally built SAML assertions.
    pub saml: Saml,
    /// How callers are identified.
    pub identity: Identity,
    /// Calls to backends.
    pub upstream: Upstream,
    /// The business graph: data sources, cross-source associations and query limits.
    pub graph: Graph,
}

/// The HTTP server.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Server {
    /// Address and port to listen on.
    pub listen: SocketAddr,
    /// Largest request body accepted, in bytes.
    pub body_limit_bytes: usize,
}

impl Default for Server {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 4000)),
            body_limit_bytes: 1024 * 1024,
        }
    }
}

/// Where destinations come from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DestinationSource {
    /// A JSON file holding an array of destinations (`file`).
    #[default]
    File,
    /// The `destinations` environment variable, a JSON array as SAP Cloud SDK reads it.
    Environment,
    /// The BTP Destination service, found through its service binding.
    Service,
}

/// Destinations settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Destinations {
    /// Which source to use.
    pub source: DestinationSource,
    /// The JSON file for `source = "file"`, relative to the settings file.
    pub file: Option<PathBuf>,
    /// The binding's name for `source = "service"` when several destination bindings exist.
    pub binding: Option<String>,
    /// A Kubernetes binding root to read instead of `SERVICE_BINDING_ROOT` / `VCAP_SERVICES`.
    pub binding_root: Option<PathBuf>,
    /// How long a destination fetched from the service is reused, in seconds.
    pub cache_ttl_seconds: u64,
    /// Most destinations kept in the cache.
    pub cache_max_entries: u64,
}

impl Default for Destinations {
    fn default() -> Self {
        Self {
            source: DestinationSource::File,
            file: None,
            binding: None,
            binding_root: None,
            cache_ttl_seconds: 300,
            cache_max_entries: 10_000,
        }
    }
}

/// The connectivity proxy.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Connectivity {
    /// The proxy as `http://host:port`; when unset, taken from the connectivity binding.
    pub proxy: Option<String>,
    /// The token service issuing the proxy's bearer token (base URL; `/oauth/token` is appended).
    pub token_service_url: Option<String>,
    /// The connectivity client id.
    pub client_id: Option<String>,
    /// The connectivity client secret. Prefer `client_secret_env`.
    pub client_secret: Option<Secret>,
    /// The environment variable holding the connectivity client secret.
    pub client_secret_env: Option<String>,
    /// The connectivity binding's name when several exist.
    pub binding: Option<String>,
}

/// The per-user token cache.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Tokens {
    /// Tokens are dropped this many seconds before they expire.
    pub expiry_margin_seconds: u64,
    /// Most tokens kept; the least recently used go first.
    pub max_entries: u64,
    /// How long a token request may take, in seconds.
    pub request_timeout_seconds: u64,
}

impl Default for Tokens {
    fn default() -> Self {
        Self {
            expiry_margin_seconds: 60,
            max_entries: 100_000,
            request_timeout_seconds: 10,
        }
    }
}

/// Signing material for locally built SAML assertions.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Saml {
    /// PEM private key (PKCS#8 or PKCS#1 RSA), relative to the settings file.
    pub signing_key_file: Option<PathBuf>,
    /// PEM certificate of the key.
    pub certificate_file: Option<PathBuf>,
    /// The assertion's issuer when the destination sets no `assertionIssuer`.
    pub issuer: String,
    /// Assertion lifetime in seconds.
    pub assertion_lifetime_seconds: u64,
}

impl Default for Saml {
    fn default() -> Self {
        Self {
            signing_key_file: None,
            certificate_file: None,
            issuer: "bizgraph".into(),
            assertion_lifetime_seconds: 300,
        }
    }
}

/// How callers are identified.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IdentityMode {
    /// Callers send a JWT (`Authorization: Bearer`), verified against `jwt`.
    #[default]
    Jwt,
    /// DEVELOPMENT ONLY: users and passwords from this file, sent with HTTP Basic.
    Development,
}

/// Inbound identity.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Identity {
    /// `jwt` (production) or `development`.
    pub mode: IdentityMode,
    /// JWT verification.
    pub jwt: Jwt,
    /// Users for `mode = "development"`.
    pub users: Vec<DevelopmentUser>,
    /// The scope that makes a JWT caller an administrator (allowed `POST /admin/refresh`). A
    /// token's scope matches when it is this scope or ends in `.` and this scope, as XSUAA
    /// prefixes scopes with the application's name (`bizgraph!t42.bizgraph.admin`); give the
    /// whole prefixed name to accept that application's scope only.
    pub admin_scope: String,
}

impl Default for Identity {
    fn default() -> Self {
        Self {
            mode: IdentityMode::default(),
            jwt: Jwt::default(),
            users: Vec::new(),
            admin_scope: "bizgraph.admin".into(),
        }
    }
}

/// JWT verification settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Jwt {
    /// The identity provider's JWKS URL.
    pub jwks_url: Option<String>,
    /// A PEM public key or certificate file instead of a JWKS.
    pub public_key_file: Option<PathBuf>,
    /// The required `iss`.
    pub issuer: Option<String>,
    /// Accepted audiences; a token must name one of them.
    pub audiences: Vec<String>,
    /// Clock skew allowed on `exp` and `nbf`, in seconds.
    pub leeway_seconds: u64,
}

impl Default for Jwt {
    fn default() -> Self {
        Self {
            jwks_url: None,
            public_key_file: None,
            issuer: None,
            audiences: Vec::new(),
            leeway_seconds: 30,
        }
    }
}

/// A development user.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DevelopmentUser {
    /// The user name.
    pub name: String,
    /// The password.
    pub password: Secret,
    /// The tenant (zone id).
    pub tenant: Option<String>,
    /// The e-mail address; `<name>@example.com` when unset.
    pub email: Option<String>,
    /// An administrator, allowed `POST /admin/refresh`.
    pub admin: bool,
}

/// Calls to backends.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Upstream {
    /// Timeout of one backend request, in seconds.
    pub timeout_seconds: u64,
    /// Largest backend response accepted, in bytes.
    pub max_response_bytes: usize,
}

impl Default for Upstream {
    fn default() -> Self {
        Self {
            timeout_seconds: 30,
            max_response_bytes: 64 * 1024 * 1024,
        }
    }
}

impl Settings {
    /// Parses settings from TOML text; `place` names the file in errors.
    pub fn from_toml(text: &str, place: &str) -> Result<Self, ConfigError> {
        let settings: Settings = toml::from_str(text).map_err(|error| {
            let (line, column) = error
                .span()
                .map(|span| line_column(text, span.start))
                .unwrap_or((0, 0));
            ConfigError::Toml {
                place: place.to_owned(),
                line,
                column,
                message: error.message().to_owned(),
            }
        })?;
        settings.check_graph(place)?;
        Ok(settings)
    }

    /// Checks what the types cannot: names present and unique, association pairs complete.
    fn check_graph(&self, place: &str) -> Result<(), ConfigError> {
        let fail = |key: String, message: &str| {
            Err(ConfigError::Settings {
                place: place.to_owned(),
                key,
                message: message.to_owned(),
            })
        };
        let mut seen = std::collections::HashSet::new();
        for (index, source) in self.graph.data_sources.iter().enumerate() {
            let key = format!("graph.data_sources[{index}]");
            let legal = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '.';
            if source.name.is_empty() || !source.name.chars().all(legal) {
                return fail(
                    format!("{key}.name"),
                    "a data source needs a name of letters, digits, '_' and '.' (like sap.s4)",
                );
            }
            if !seen.insert(source.name.as_str()) {
                return fail(
                    format!("{key}.name"),
                    &format!("data source '{}' is defined twice", source.name),
                );
            }
            if source.services.is_empty() {
                return fail(format!("{key}.services"), "a data source needs a service");
            }
            for (at, service) in source.services.iter().enumerate() {
                if service.destination.is_empty() {
                    return fail(
                        format!("{key}.services[{at}].destination"),
                        "a service needs a destination",
                    );
                }
            }
        }
        for (index, association) in self.graph.associations.iter().enumerate() {
            let key = format!("graph.associations[{index}]");
            for (field, value) in [
                ("from", &association.from),
                ("to", &association.to),
                ("name", &association.name),
            ] {
                if value.is_empty() {
                    return fail(format!("{key}.{field}"), "missing");
                }
            }
            let sources =
                usize::from(association.property.is_some()) + association.properties.len();
            let targets = usize::from(association.key.is_some()) + association.keys.len();
            if sources == 0 || sources != targets {
                return fail(
                    key,
                    "an association joins on as many target keys (key/keys) as source properties (property/properties), at least one",
                );
            }
        }
        let limits = &self.graph.limits;
        if limits.max_depth == 0 || limits.max_nodes == 0 || limits.max_top == 0 {
            return fail("graph.limits".to_owned(), "limits must be above 0");
        }
        Ok(())
    }

    /// Reads settings from a file and makes relative paths in it relative to the file's folder.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|error| ConfigError::Io {
            path: path.display().to_string(),
            message: error.to_string(),
        })?;
        let mut settings = Self::from_toml(&text, &path.display().to_string())?;
        let base = path.parent().unwrap_or(Path::new("."));
        let rebase = |file: &mut Option<PathBuf>| {
            if let Some(file) = file
                && file.is_relative()
            {
                *file = base.join(&*file);
            }
        };
        rebase(&mut settings.destinations.file);
        rebase(&mut settings.destinations.binding_root);
        rebase(&mut settings.saml.signing_key_file);
        rebase(&mut settings.saml.certificate_file);
        rebase(&mut settings.identity.jwt.public_key_file);
        Ok(settings)
    }
}

fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |at| at + 1);
    let column = before[line_start..].chars().count() + 1;
    (line, column)
}
