//! Service bindings: the credentials of the Destination and Connectivity services, read from
//! Cloud Foundry's `VCAP_SERVICES` or from a Kubernetes binding folder (servicebinding.io layout,
//! as the SAP BTP service operator writes it).

use std::path::Path;

use serde_json::{Map, Value};

use crate::{ConfigError, Secret};

/// One service binding: the service label (`destination`, `connectivity`), the binding's name and
/// its credentials object.
#[derive(Clone)]
pub struct Binding {
    /// The service label (Cloud Foundry `label`, Kubernetes `type`).
    pub label: String,
    /// The binding's name.
    pub name: String,
    /// Where it was read from, for errors.
    pub place: String,
    /// The credentials, as given.
    pub credentials: Map<String, Value>,
}

impl std::fmt::Debug for Binding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Credentials hold client secrets; only their keys are shown.
        f.debug_struct("Binding")
            .field("label", &self.label)
            .field("name", &self.name)
            .field("place", &self.place)
            .field(
                "credential_keys",
                &self.credentials.keys().collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl Binding {
    fn string(&self, key: &str) -> Result<String, ConfigError> {
        match self.credentials.get(key) {
            Some(Value::String(text)) if !text.trim().is_empty() => Ok(text.trim().to_owned()),
            Some(Value::Number(number)) => Ok(number.to_string()),
            Some(other) if !other.is_string() => Err(self.error(key, "expected a string")),
            _ => Err(self.error(key, "missing")),
        }
    }

    fn optional(&self, key: &str) -> Option<String> {
        self.string(key).ok()
    }

    fn error(&self, key: &str, message: &str) -> ConfigError {
        ConfigError::Binding {
            place: self.place.clone(),
            binding: self.name.clone(),
            property: format!("credentials.{key}"),
            message: message.to_owned(),
        }
    }
}

/// The Destination service's binding credentials.
#[derive(Debug, Clone)]
pub struct DestinationServiceCredentials {
    /// `uri`: the service's REST API base.
    pub uri: String,
    /// `url`: the token service (XSUAA) base; tokens come from `{url}/oauth/token`.
    pub token_url: String,
    /// `clientid`.
    pub client_id: String,
    /// `clientsecret`.
    pub client_secret: Secret,
}

impl DestinationServiceCredentials {
    /// Reads the credentials of a `destination` binding.
    pub fn from_binding(binding: &Binding) -> Result<Self, ConfigError> {
        Ok(Self {
            uri: binding.string("uri")?,
            token_url: binding.string("url")?,
            client_id: binding.string("clientid")?,
            client_secret: Secret::new(binding.string("clientsecret")?),
        })
    }
}

/// The Connectivity service's binding credentials: the on-premise proxy and its OAuth client.
#[derive(Debug, Clone)]
pub struct ConnectivityCredentials {
    /// `onpremise_proxy_host`.
    pub proxy_host: String,
    /// `onpremise_proxy_http_port` (or `onpremise_proxy_port`).
    pub proxy_port: u16,
    /// The token service base (`token_service_url`, else `url`).
    pub token_url: String,
    /// `clientid`.
    pub client_id: String,
    /// `clientsecret`.
    pub client_secret: Secret,
}

impl ConnectivityCredentials {
    /// Reads the credentials of a `connectivity` binding.
    pub fn from_binding(binding: &Binding) -> Result<Self, ConfigError> {
        // The HTTP port key is preferred; the generic one is read only when it is absent, and
        // errors name the key actually read.
        let port_key = if binding
            .credentials
            .contains_key("onpremise_proxy_http_port")
            || !binding.credentials.contains_key("onpremise_proxy_port")
        {
            "onpremise_proxy_http_port"
        } else {
            "onpremise_proxy_port"
        };
        let port_text = binding.string(port_key)?;
        let proxy_port = port_text
            .parse()
            .map_err(|_| binding.error(port_key, &format!("'{port_text}' is not a port number")))?;
        Ok(Self {
            proxy_host: binding.string("onpremise_proxy_host")?,
            proxy_port,
            token_url: binding
                .optional("token_service_url")
                .map_or_else(|| binding.string("url"), Ok)?,
            client_id: binding.string("clientid")?,
            client_secret: Secret::new(binding.string("clientsecret")?),
        })
    }
}

/// Reads every binding from a `VCAP_SERVICES` value: `{ "<label>": [ { "name", "label",
/// "credentials": {..} }, .. ], .. }`.
pub fn bindings_from_vcap(json: &str) -> Result<Vec<Binding>, ConfigError> {
    let place = "VCAP_SERVICES";
    let value: Value = serde_json::from_str(json).map_err(|error| ConfigError::Json {
        place: place.into(),
        line: error.line(),
        column: error.column(),
        message: error.to_string(),
    })?;
    let bad = |binding: &str, property: &str, message: &str| ConfigError::Binding {
        place: place.into(),
        binding: binding.into(),
        property: property.into(),
        message: message.into(),
    };
    let Value::Object(services) = value else {
        return Err(bad("", "", "expected a JSON object of service labels"));
    };
    let mut bindings = Vec::new();
    for (label, instances) in services {
        let Value::Array(instances) = instances else {
            return Err(bad("", &label, "expected an array of bindings"));
        };
        for (index, instance) in instances.into_iter().enumerate() {
            let fallback = format!("{label}[{index}]");
            let Value::Object(mut instance) = instance else {
                return Err(bad(&fallback, "", "expected an object"));
            };
            let name = instance
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or(&fallback)
                .to_owned();
            let credentials = match instance.remove("credentials") {
                Some(Value::Object(credentials)) => credentials,
                Some(_) => return Err(bad(&name, "credentials", "expected an object")),
                None => return Err(bad(&name, "credentials", "missing")),
            };
            let label = instance
                .get("label")
                .and_then(Value::as_str)
                .unwrap_or(&label)
                .to_owned();
            bindings.push(Binding {
                label,
                name,
                place: place.into(),
                credentials,
            });
        }
    }
    Ok(bindings)
}

/// Reads every binding under a Kubernetes binding root (`SERVICE_BINDING_ROOT`): one folder per
/// binding, one file per credential key, the service label in `type` (or `label`). A `.metadata`
/// file, when present, is ignored in favour of the plain files.
pub fn bindings_from_folder(root: &Path) -> Result<Vec<Binding>, ConfigError> {
    let io = |path: &Path, error: std::io::Error| ConfigError::Io {
        path: path.display().to_string(),
        message: error.to_string(),
    };
    let mut folders: Vec<_> = std::fs::read_dir(root)
        .map_err(|error| io(root, error))?
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| path.is_dir())
        .collect();
    folders.sort();
    let mut bindings = Vec::new();
    for folder in folders {
        let name = folder
            .file_name()
            .map(|name| name.to_string_lossy().into_owned())
            .unwrap_or_default();
        if name.starts_with('.') {
            continue;
        }
        let mut credentials = Map::new();
        for entry in std::fs::read_dir(&folder).map_err(|error| io(&folder, error))? {
            let path = entry.map_err(|error| io(&folder, error))?.path();
            let Some(key) = path.file_name().map(|n| n.to_string_lossy().into_owned()) else {
                continue;
            };
            if key.starts_with('.') || !path.is_file() {
                continue;
            }
            let text = std::fs::read_to_string(&path).map_err(|error| io(&path, error))?;
            credentials.insert(key, Value::String(text.trim().to_owned()));
        }
        let label = ["type", "label"]
            .iter()
            .find_map(|key| credentials.get(*key).and_then(Value::as_str))
            .map(str::to_owned)
            .ok_or_else(|| ConfigError::Binding {
                place: folder.display().to_string(),
                binding: name.clone(),
                property: "type".into(),
                message: "missing: the folder must hold a file named type".into(),
            })?;
        bindings.push(Binding {
            label,
            name,
            place: folder.display().to_string(),
            credentials,
        });
    }
    Ok(bindings)
}

/// Picks the binding of a service label, by name when several exist.
pub fn find_binding<'a>(
    bindings: &'a [Binding],
    label: &str,
    name: Option<&str>,
) -> Result<&'a Binding, ConfigError> {
    let mut candidates = bindings.iter().filter(|binding| binding.label == label);
    let found = match name {
        Some(name) => bindings
            .iter()
            .find(|binding| binding.label == label && binding.name == name),
        None => {
            let first = candidates.next();
            if first.is_some() && candidates.next().is_some() {
                return Err(ConfigError::Binding {
                    place: first.map(|b| b.place.clone()).unwrap_or_default(),
                    binding: String::new(),
                    property: String::new(),
                    message: format!(
                        "several '{label}' bindings; name the one to use in the settings"
                    ),
                });
            }
            first
        }
    };
    found.ok_or_else(|| ConfigError::Binding {
        place: "service bindings".into(),
        binding: name.unwrap_or_default().into(),
        property: String::new(),
        message: format!("no '{label}' binding found"),
    })
}
