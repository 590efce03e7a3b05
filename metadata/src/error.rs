//! Errors and diagnostics of parsing and resolving, with line, column and element path.

use serde::Serialize;

/// A document that cannot be read at all: malformed XML or a structurally broken document.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The bytes are not well-formed XML (or end too early).
    #[error("line {}, column {}: {}: malformed XML: {message}", .at.line, .at.column, .at.path)]
    Xml {
        /// Where.
        at: Location,
        /// What the XML reader reported.
        message: String,
    },
    /// Well-formed XML that is not a usable CSDL document.
    #[error("line {}, column {}: {}: {message}", .at.line, .at.column, .at.path)]
    Structure {
        /// Where.
        at: Location,
        /// What is wrong.
        message: String,
    },
}

impl Error {
    /// Where the error is.
    pub fn location(&self) -> &Location {
        match self {
            Error::Xml { at, .. } | Error::Structure { at, .. } => at,
        }
    }
}

/// A place in a document: 1-based line and column (in characters) and the element path, such as
/// `Schema[EPM]/EntityType[Product]/Property[Price]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Location {
    /// 1-based line.
    pub line: u32,
    /// 1-based column, counted in characters.
    pub column: u32,
    /// Element path from the `edmx:DataServices` element down (`Edmx` above it).
    pub path: String,
}

impl Location {
    /// The line and column of a byte offset in `source`, with a path.
    pub fn at(source: &[u8], offset: usize, path: String) -> Location {
        let offset = offset.min(source.len());
        let before = &source[..offset];
        let line_start = before
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |i| i + 1);
        let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
        // Count characters, not bytes: continuation bytes of UTF-8 do not start a character.
        let column = before[line_start..]
            .iter()
            .filter(|&&b| (b & 0xC0) != 0x80)
            .count()
            + 1;
        Location {
            line: u32::try_from(line).unwrap_or(u32::MAX),
            column: u32::try_from(column).unwrap_or(u32::MAX),
            path,
        }
    }
}

/// How serious a diagnostic is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Something a client would trip over: a dangling reference, an inconsistent association.
    Error,
    /// Something unusual that does not break the model: a target in a document not loaded.
    Warning,
}

/// A problem found in a document that parsed: the model is usable, the named element is not.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    /// Error or warning.
    pub severity: Severity,
    /// Where.
    #[serde(flatten)]
    pub at: Location,
    /// What.
    pub message: String,
}

impl std::fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let severity = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        write!(
            f,
            "{severity}: line {}, column {}: {}: {}",
            self.at.line, self.at.column, self.at.path, self.message
        )
    }
}
