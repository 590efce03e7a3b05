//! Settings, destinations and service bindings for bizgraph: plain serde data plus loading and
//! checking.
//!
//! This crate knows nothing of HTTP serving, OData parsing or GraphQL; the gateway feeds its
//! checked values to the other crates. Errors name the file or variable, the destination or
//! binding, and the property that is wrong; they never carry a secret's value.

pub mod binding;
pub mod destination;
pub mod graph;
pub mod settings;

use std::fmt;

use serde::Deserialize;
use thiserror::Error;

pub use binding::{Binding, ConnectivityCredentials, DestinationServiceCredentials};
pub use destination::{
    Authentication, Destination, Origin, ProxyType, SamlBearer, SamlMode, TokenService,
    parse_destinations,
};
pub use settings::Settings;

/// A secret string (password, client secret). Its `Debug` and `Display` print `<redacted>`, so a
/// secret cannot reach a log line or an error message by accident.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret(String);

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Text;
        impl serde::de::Visitor<'_> for Text {
            type Value = Secret;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_str<E: serde::de::Error>(self, value: &str) -> Result<Secret, E> {
                Ok(Secret::new(value))
            }
            // Any other type is refused without quoting the value, which may be the secret.
            fn visit_i64<E: serde::de::Error>(self, _: i64) -> Result<Secret, E> {
                Err(E::custom("expected a string (value hidden)"))
            }
            fn visit_u64<E: serde::de::Error>(self, _: u64) -> Result<Secret, E> {
                Err(E::custom("expected a string (value hidden)"))
            }
            fn visit_f64<E: serde::de::Error>(self, _: f64) -> Result<Secret, E> {
                Err(E::custom("expected a string (value hidden)"))
            }
            fn visit_bool<E: serde::de::Error>(self, _: bool) -> Result<Secret, E> {
                Err(E::custom("expected a string (value hidden)"))
            }
        }
        deserializer.deserialize_str(Text)
    }
}

impl Secret {
    /// Wraps a value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The value, for the one place that must send it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// Everything that can be wrong with configuration.
#[derive(Debug, Error)]
pub enum ConfigError {
    /// A file could not be read.
    #[error("{path}: {message}")]
    Io {
        /// The file.
        path: String,
        /// The cause.
        message: String,
    },
    /// JSON syntax.
    #[error("{place}: line {line}, column {column}: invalid JSON: {message}")]
    Json {
        /// File or variable.
        place: String,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// The parser's message.
        message: String,
    },
    /// TOML syntax or an unknown or mistyped key in the settings.
    #[error("{place}: line {line}, column {column}: {message}")]
    Toml {
        /// The settings file.
        place: String,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// The parser's message, naming the key.
        message: String,
    },
    /// A destination is wrong.
    #[error("{place}: destination '{destination}'{}: {message}", property_suffix(.property))]
    Destination {
        /// File, variable or service, with the array index.
        place: String,
        /// The destination's `Name` (empty when missing).
        destination: String,
        /// The property at fault (empty for the whole definition).
        property: String,
        /// What is wrong.
        message: String,
    },
    /// A service binding is wrong.
    #[error("{place}: binding '{binding}'{}: {message}", property_suffix(.property))]
    Binding {
        /// `VCAP_SERVICES` or the binding folder.
        place: String,
        /// The binding's name.
        binding: String,
        /// The property at fault.
        property: String,
        /// What is wrong.
        message: String,
    },
    /// The settings are inconsistent.
    #[error("{place}: {key}: {message}")]
    Settings {
        /// The settings file.
        place: String,
        /// The key at fault, dotted (`destinations.file`).
        key: String,
        /// What is wrong.
        message: String,
    },
}

fn property_suffix(property: &str) -> String {
    if property.is_empty() {
        String::new()
    } else {
        format!(", property {property}")
    }
}

impl ConfigError {
    pub(crate) fn destination(
        place: &str,
        destination: &str,
        property: &str,
        message: String,
    ) -> Self {
        ConfigError::Destination {
            place: place.to_owned(),
            destination: destination.to_owned(),
            property: property.to_owned(),
            message,
        }
    }
}
