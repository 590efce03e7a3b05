//! SAP BTP destinations: the property bag exactly as BTP writes it, checked into a typed
//! [`Destination`] whose [`Authentication`] carries what each type needs.
//!
//! Property names follow the BTP Destination service verbatim (`URL`, `Authentication`,
//! `tokenServiceURL`, `sap-client`, `URL.headers.<name>`, ...). Properties we do not interpret are
//! kept in [`Destination::properties`], never rejected, because BTP adds new ones over time.

use std::collections::BTreeMap;
use std::fmt;

use serde_json::Value;

use crate::{ConfigError, Secret};

/// Where a destination definition came from; checks report it so a user can find the culprit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// A JSON file given in the settings.
    File,
    /// The `destinations` environment variable, read the way SAP Cloud SDK reads it.
    Environment,
    /// The BTP Destination service's "find destination" answer.
    Service,
}

/// How strictly a definition is checked. Definitions from the Destination service come with
/// their tokens already brokered (`authTokens`), so the token-service properties a local
/// exchange would need may be absent there.
impl Origin {
    fn brokered(self) -> bool {
        self == Origin::Service
    }
}

/// How requests reach the destination.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ProxyType {
    /// Directly over the internet.
    #[default]
    Internet,
    /// Through the connectivity proxy and a Cloud Connector.
    OnPremise,
}

/// Where `OAuth2SAMLBearerAssertion` takes its assertion from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SamlMode {
    /// The gateway builds and signs the assertion itself and exchanges it at `tokenServiceURL`.
    Local,
    /// The Destination service exchanged it already; its `authTokens` are used as they are.
    Brokered,
}

/// The OAuth token service of a destination and how the gateway authenticates to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenService {
    /// `tokenServiceURL`.
    pub url: String,
    /// `tokenServiceURLType`: `Dedicated` (default) or `Common`.
    pub url_type: String,
    /// The client id: `clientId`, else `tokenServiceUser`, else `clientKey`.
    pub client_id: Option<String>,
    /// The client secret: `clientSecret`, else `tokenServicePassword`.
    pub client_secret: Option<Secret>,
    /// `scope`, sent with the token request when set.
    pub scope: Option<String>,
    /// `tokenServiceURL.headers.<name>`.
    pub headers: Vec<(String, String)>,
    /// `tokenServiceURL.queries.<name>`.
    pub queries: Vec<(String, String)>,
}

/// The properties a SAML 2.0 bearer assertion is built from (BTP names in the docs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SamlBearer {
    /// Local or brokered.
    pub mode: SamlMode,
    /// `audience`.
    pub audience: Option<String>,
    /// `authnContextClassRef`.
    pub authn_context_class_ref: Option<String>,
    /// `nameIdFormat`.
    pub name_id_format: Option<String>,
    /// `nameQualifier`.
    pub name_qualifier: Option<String>,
    /// `userIdSource`: the claim of the user's token whose value becomes the NameID.
    pub user_id_source: Option<String>,
    /// `assertionIssuer`.
    pub assertion_issuer: Option<String>,
    /// `assertionRecipient`; the token service URL when unset.
    pub assertion_recipient: Option<String>,
    /// `clientKey`: the OAuth client the assertion is exchanged for.
    pub client_key: Option<String>,
}

/// The `Authentication` property, with the properties each type needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Authentication {
    /// `NoAuthentication`.
    NoAuthentication,
    /// `BasicAuthentication` with `User` and `Password`.
    BasicAuthentication {
        /// `User`.
        user: String,
        /// `Password`.
        password: Secret,
    },
    /// `OAuth2ClientCredentials`: a technical token, the same for every user of a tenant.
    OAuth2ClientCredentials(Option<TokenService>),
    /// `OAuth2SAMLBearerAssertion`: principal propagation with a SAML assertion for the user.
    OAuth2SAMLBearerAssertion(Box<SamlBearer>, Option<TokenService>),
    /// `OAuth2JWTBearer`: the user's JWT exchanged with the JWT bearer grant (RFC 7523).
    OAuth2JWTBearer(Option<TokenService>),
    /// `OAuth2UserTokenExchange`: the user's JWT exchanged at the XSUAA-like token service.
    OAuth2UserTokenExchange(Option<TokenService>),
    /// `PrincipalPropagation`: the user's JWT goes to the Cloud Connector in
    /// `SAP-Connectivity-Authentication`; no `Authorization` header at all.
    PrincipalPropagation,
}

impl Authentication {
    /// The value of the `Authentication` property.
    pub fn name(&self) -> &'static str {
        match self {
            Authentication::NoAuthentication => "NoAuthentication",
            Authentication::BasicAuthentication { .. } => "BasicAuthentication",
            Authentication::OAuth2ClientCredentials(_) => "OAuth2ClientCredentials",
            Authentication::OAuth2SAMLBearerAssertion(..) => "OAuth2SAMLBearerAssertion",
            Authentication::OAuth2JWTBearer(_) => "OAuth2JWTBearer",
            Authentication::OAuth2UserTokenExchange(_) => "OAuth2UserTokenExchange",
            Authentication::PrincipalPropagation => "PrincipalPropagation",
        }
    }

    /// Whether the credential depends on the calling user. Tokens of such destinations are
    /// cached per tenant and user, and never obtained when the user is unknown.
    pub fn is_user_dependent(&self) -> bool {
        matches!(
            self,
            Authentication::OAuth2SAMLBearerAssertion(..)
                | Authentication::OAuth2JWTBearer(_)
                | Authentication::OAuth2UserTokenExchange(_)
                | Authentication::PrincipalPropagation
        )
    }

    /// The token service, for the OAuth types that exchange locally.
    pub fn token_service(&self) -> Option<&TokenService> {
        match self {
            Authentication::OAuth2ClientCredentials(service)
            | Authentication::OAuth2SAMLBearerAssertion(_, service)
            | Authentication::OAuth2JWTBearer(service)
            | Authentication::OAuth2UserTokenExchange(service) => service.as_ref(),
            _ => None,
        }
    }
}

/// The authentication types the gateway knows, in the order the docs list them.
pub const AUTHENTICATION_TYPES: &[&str] = &[
    "NoAuthentication",
    "BasicAuthentication",
    "OAuth2ClientCredentials",
    "OAuth2SAMLBearerAssertion",
    "OAuth2JWTBearer",
    "OAuth2UserTokenExchange",
    "PrincipalPropagation",
];

/// A checked destination.
#[derive(Clone, PartialEq, Eq)]
pub struct Destination {
    /// `Name`.
    pub name: String,
    /// `URL`, an absolute http or https URL.
    pub url: String,
    /// `Authentication` with its properties.
    pub authentication: Authentication,
    /// `ProxyType`.
    pub proxy_type: ProxyType,
    /// `CloudConnectorLocationId`: which Cloud Connector the connectivity proxy routes to.
    pub cloud_connector_location_id: Option<String>,
    /// `sap-client`: sent as the `sap-client` query parameter.
    pub sap_client: Option<String>,
    /// `URL.headers.<name>`: added to every request.
    pub headers: Vec<(String, String)>,
    /// `URL.queries.<name>`: added to every request.
    pub queries: Vec<(String, String)>,
    /// Every property as given, including those not interpreted above.
    pub properties: BTreeMap<String, String>,
}

/// Property names whose values are secret: never printed, never logged.
const SECRET_PROPERTIES: &[&str] = &[
    "Password",
    "clientSecret",
    "tokenServicePassword",
    "tokenServiceUserPassword",
    "KeyStorePassword",
    "SystemUserPassword",
];

fn is_secret_property(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    // Extra headers and query parameters often carry API keys or tokens, so their values are
    // hidden as a whole.
    SECRET_PROPERTIES.contains(&name)
        || lower.contains("password")
        || lower.contains("secret")
        || lower.contains(".headers.")
        || lower.contains(".queries.")
}

impl fmt::Debug for Destination {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let properties: BTreeMap<&str, &str> = self
            .properties
            .iter()
            .map(|(name, value)| {
                let shown = if is_secret_property(name) {
                    "<redacted>"
                } else {
                    value.as_str()
                };
                (name.as_str(), shown)
            })
            .collect();
        f.debug_struct("Destination")
            .field("name", &self.name)
            .field("url", &self.url)
            .field("authentication", &self.authentication.name())
            .field("proxy_type", &self.proxy_type)
            .field("properties", &properties)
            .finish()
    }
}

impl Destination {
    /// Whether requests need the caller's identity (see [`Authentication::is_user_dependent`]).
    pub fn is_user_dependent(&self) -> bool {
        self.authentication.is_user_dependent()
    }

    /// One property by its BTP name.
    pub fn property(&self, name: &str) -> Option<&str> {
        self.properties.get(name).map(String::as_str)
    }

    /// Checks one destination given as a JSON object of string properties.
    ///
    /// `origin` says where it came from and `place` how to find it there (a file name, an index);
    /// both appear in errors.
    pub fn from_json(value: &Value, origin: Origin, place: &str) -> Result<Self, ConfigError> {
        let Value::Object(object) = value else {
            return Err(ConfigError::Destination {
                place: place.to_owned(),
                destination: String::new(),
                property: String::new(),
                message: format!("expected a JSON object, found {}", json_kind(value)),
            });
        };
        let name = match object.get("Name") {
            Some(Value::String(name)) if !name.trim().is_empty() => name.clone(),
            _ => String::new(),
        };
        let mut properties = BTreeMap::new();
        for (key, value) in object {
            let text = match value {
                Value::String(text) => text.clone(),
                // BTP writes every property as a string; numbers and booleans written by hand
                // are taken as their text rather than rejected.
                Value::Number(number) => number.to_string(),
                Value::Bool(flag) => flag.to_string(),
                other => {
                    return Err(ConfigError::destination(
                        place,
                        &name,
                        key,
                        format!("expected a string, found {}", json_kind(other)),
                    ));
                }
            };
            properties.insert(key.clone(), text);
        }
        Self::from_properties(properties, origin, place)
    }

    /// Checks one destination given as its property map.
    pub fn from_properties(
        properties: BTreeMap<String, String>,
        origin: Origin,
        place: &str,
    ) -> Result<Self, ConfigError> {
        let name = properties
            .get("Name")
            .map(|name| name.trim().to_owned())
            .unwrap_or_default();
        let fail = |property: &str, message: String| {
            ConfigError::destination(place, &name, property, message)
        };
        if name.is_empty() {
            return Err(fail("Name", "missing".into()));
        }
        let get = |key: &str| {
            properties
                .get(key)
                .map(|value| value.trim())
                .filter(|value| !value.is_empty())
                .map(str::to_owned)
        };
        if let Some(kind) = get("Type")
            && kind != "HTTP"
        {
            return Err(fail(
                "Type",
                format!("'{kind}' is not supported; the gateway serves HTTP destinations"),
            ));
        }
        let url = get("URL").ok_or_else(|| fail("URL", "missing".into()))?;
        check_url(&url).map_err(|message| fail("URL", message))?;

        let proxy_type = match get("ProxyType").as_deref() {
            None | Some("Internet") => ProxyType::Internet,
            Some("OnPremise") => ProxyType::OnPremise,
            Some(other) => {
                return Err(fail(
                    "ProxyType",
                    format!("'{other}' is unknown; expected Internet or OnPremise"),
                ));
            }
        };
        if proxy_type == ProxyType::OnPremise
            && url::Url::parse(&url).is_ok_and(|parsed| parsed.scheme() != "http")
        {
            // The connectivity proxy carries plain HTTP only; the Cloud Connector adds TLS
            // towards the backend if its mapping says so.
            return Err(fail(
                "URL",
                "an OnPremise destination must use http:// (the Cloud Connector maps it to the backend's protocol)".into(),
            ));
        }

        let prefixed = |prefix: &str| -> Vec<(String, String)> {
            properties
                .iter()
                .filter_map(|(key, value)| {
                    key.strip_prefix(prefix)
                        .filter(|rest| !rest.is_empty())
                        .map(|rest| (rest.to_owned(), value.clone()))
                })
                .collect()
        };
        let token_service = |required: bool| -> Result<Option<TokenService>, ConfigError> {
            let Some(url) = get("tokenServiceURL") else {
                if required {
                    return Err(fail("tokenServiceURL", "missing".into()));
                }
                return Ok(None);
            };
            check_url(&url).map_err(|message| fail("tokenServiceURL", message))?;
            let url_type = get("tokenServiceURLType").unwrap_or_else(|| "Dedicated".into());
            if url_type != "Dedicated" && url_type != "Common" {
                return Err(fail(
                    "tokenServiceURLType",
                    format!("'{url_type}' is unknown; expected Dedicated or Common"),
                ));
            }
            Ok(Some(TokenService {
                url,
                url_type,
                client_id: get("clientId")
                    .or_else(|| get("tokenServiceUser"))
                    .or_else(|| get("clientKey")),
                client_secret: get("clientSecret")
                    .or_else(|| get("tokenServicePassword"))
                    .map(Secret::new),
                scope: get("scope"),
                headers: prefixed("tokenServiceURL.headers."),
                queries: prefixed("tokenServiceURL.queries."),
            }))
        };
        let require_client = |service: &Option<TokenService>| -> Result<(), ConfigError> {
            if let Some(service) = service {
                if service.client_id.is_none() {
                    return Err(fail("clientId", "missing".into()));
                }
                if service.client_secret.is_none() {
                    return Err(fail("clientSecret", "missing".into()));
                }
            }
            Ok(())
        };
        let local = !origin.brokered();

        let kind = get("Authentication").unwrap_or_else(|| "NoAuthentication".into());
        let authentication = match kind.as_str() {
            "NoAuthentication" => Authentication::NoAuthentication,
            "BasicAuthentication" => Authentication::BasicAuthentication {
                user: get("User").ok_or_else(|| fail("User", "missing".into()))?,
                password: Secret::new(
                    properties
                        .get("Password")
                        .cloned()
                        .ok_or_else(|| fail("Password", "missing".into()))?,
                ),
            },
            "OAuth2ClientCredentials" => {
                let service = token_service(local)?;
                require_client(&service)?;
                Authentication::OAuth2ClientCredentials(service)
            }
            "OAuth2JWTBearer" | "OAuth2UserTokenExchange" => {
                let service = token_service(local)?;
                require_client(&service)?;
                if kind == "OAuth2JWTBearer" {
                    Authentication::OAuth2JWTBearer(service)
                } else {
                    Authentication::OAuth2UserTokenExchange(service)
                }
            }
            "OAuth2SAMLBearerAssertion" => {
                let service = token_service(local)?;
                let saml = SamlBearer {
                    mode: if local {
                        SamlMode::Local
                    } else {
                        SamlMode::Brokered
                    },
                    audience: get("audience"),
                    authn_context_class_ref: get("authnContextClassRef"),
                    name_id_format: get("nameIdFormat"),
                    name_qualifier: get("nameQualifier"),
                    user_id_source: get("userIdSource"),
                    assertion_issuer: get("assertionIssuer"),
                    assertion_recipient: get("assertionRecipient"),
                    client_key: get("clientKey"),
                };
                if local {
                    if saml.audience.is_none() {
                        return Err(fail("audience", "missing".into()));
                    }
                    if service.as_ref().is_some_and(|s| s.client_id.is_none()) {
                        return Err(fail(
                            "tokenServiceUser",
                            "missing (or clientKey): the token service must know the client".into(),
                        ));
                    }
                }
                if let Some(recipient) = &saml.assertion_recipient {
                    check_url(recipient).map_err(|message| fail("assertionRecipient", message))?;
                }
                Authentication::OAuth2SAMLBearerAssertion(Box::new(saml), service)
            }
            "PrincipalPropagation" => {
                if proxy_type != ProxyType::OnPremise {
                    return Err(fail(
                        "Authentication",
                        "PrincipalPropagation needs ProxyType OnPremise: the Cloud Connector turns the user's token into a backend identity".into(),
                    ));
                }
                Authentication::PrincipalPropagation
            }
            other => {
                return Err(fail(
                    "Authentication",
                    format!(
                        "'{other}' is unknown; supported: {}",
                        AUTHENTICATION_TYPES.join(", ")
                    ),
                ));
            }
        };

        Ok(Destination {
            cloud_connector_location_id: get("CloudConnectorLocationId"),
            sap_client: get("sap-client"),
            headers: prefixed("URL.headers."),
            queries: prefixed("URL.queries."),
            name,
            url,
            authentication,
            proxy_type,
            properties,
        })
    }
}

/// Checks a list of destinations given as a JSON array (the file and environment formats).
/// Names must be unique.
pub fn parse_destinations(
    json: &str,
    origin: Origin,
    source: &str,
) -> Result<Vec<Destination>, ConfigError> {
    let value: Value = serde_json::from_str(json).map_err(|error| ConfigError::Json {
        place: source.to_owned(),
        line: error.line(),
        column: error.column(),
        message: error.to_string(),
    })?;
    let Value::Array(items) = value else {
        return Err(ConfigError::Destination {
            place: source.to_owned(),
            destination: String::new(),
            property: String::new(),
            message: format!(
                "expected a JSON array of destinations, found {}",
                json_kind(&value)
            ),
        });
    };
    let mut destinations: Vec<Destination> = Vec::with_capacity(items.len());
    for (index, item) in items.iter().enumerate() {
        let place = format!("{source}[{index}]");
        let destination = Destination::from_json(item, origin, &place)?;
        if destinations
            .iter()
            .any(|seen| seen.name == destination.name)
        {
            return Err(ConfigError::destination(
                &place,
                &destination.name,
                "Name",
                "defined twice".into(),
            ));
        }
        destinations.push(destination);
    }
    Ok(destinations)
}

fn check_url(url: &str) -> Result<(), String> {
    // The URL is not repeated in messages: it may carry credentials, and the destination and
    // property named beside the message locate it.
    let parsed = url::Url::parse(url).map_err(|error| format!("not a valid URL: {error}"))?;
    if !parsed.username().is_empty() || parsed.password().is_some() {
        // Credentials belong in User/Password, where they are treated as secrets.
        return Err("must not carry user or password; use the User and Password properties".into());
    }
    if parsed.scheme() != "http" && parsed.scheme() != "https" {
        return Err(format!(
            "must be an http or https URL, not {}",
            parsed.scheme()
        ));
    }
    Ok(())
}

fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}
