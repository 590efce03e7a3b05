//! The boundary between planning and execution: what the GraphQL resolvers hand to the gateway
//! and the shape of the data they get back.
//!
//! The gateway implements [`Execute`] per request (it knows the caller, the HTTP client and the
//! wire formats) and puts it into the GraphQL request's data. Results are JSON in one canonical
//! form, described by the constants below, so that resolvers read them without knowing OData.

use std::future::Future;
use std::pin::Pin;

use serde::Serialize;
use serde_json::Value;

use crate::call::Call;
use crate::model::{EntityId, Graph};
use crate::plan::{Plan, Shape};

/// A boxed future, as the trait needs to be object-safe.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Key prefix under which an entity row holds a relation's result (`@r:` + response key).
/// OData and GraphQL names never contain `@` or `:`, so it cannot clash with a property.
pub const RELATION_PREFIX: &str = "@r:";
/// Key of an entity row's ETag.
pub const ETAG_KEY: &str = "@etag";
/// Key of an error marker object standing in for a relation that failed.
pub const ERROR_KEY: &str = "@error";
/// Key of the entity list of a collection result.
pub const NODES_KEY: &str = "nodes";
/// Key of the total count of a collection result.
pub const COUNT_KEY: &str = "totalCount";

/// Runs plans against the backends on behalf of one caller.
///
/// Results: a collection is `{"nodes": [row, ...], "totalCount": n | null}`; a read by key is a
/// row or `null` (not found). A row is an object of OData property names to canonical values,
/// plus [`RELATION_PREFIX`] keys for relations (a row or null for to-one, a collection for
/// to-many, or `{"@error": {...}}` when that relation's backend failed) and [`ETAG_KEY`].
pub trait Execute: Send + Sync {
    /// Runs a read.
    fn read<'a>(
        &'a self,
        graph: &'a Graph,
        plan: &'a Plan,
    ) -> BoxFuture<'a, Result<Value, ExecError>>;

    /// Runs a create, update or delete.
    fn write<'a>(
        &'a self,
        graph: &'a Graph,
        write: &'a Write,
    ) -> BoxFuture<'a, Result<Value, ExecError>>;

    /// Calls a function or action import. The result is a row (returned entity or complex
    /// value), an array of them, a canonical primitive value, or null.
    fn call<'a>(
        &'a self,
        graph: &'a Graph,
        call: &'a Call,
    ) -> BoxFuture<'a, Result<Value, ExecError>>;

    /// True when the executor wants [`Execute::planned`] calls (recorders do; the cost of
    /// describing the read is then paid only for them).
    fn wants_reads(&self) -> bool {
        false
    }

    /// Called by a front end with each root read it planned, and the planner's outcome, before
    /// a successful plan is handed to [`Execute::read`]; `path` is the response path
    /// (`crm.Opportunities`). Lets a recorder show a read beside its plan, or why it has none.
    fn planned(
        &self,
        _path: &str,
        _read: &crate::query::Read,
        _outcome: Result<&crate::plan::Plan, &crate::plan::PlanError>,
    ) {
    }
}

/// A change to one entity.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Write {
    /// The entity set.
    pub entity: EntityId,
    /// What to do.
    pub kind: WriteKind,
    /// Field values in canonical form, by field index (create, update and replace).
    pub values: Vec<(usize, Value)>,
    /// The key as (field index, canonical value) pairs (update, replace and delete), in key
    /// order.
    pub key: Vec<(usize, Value)>,
    /// `If-Match`, when the client gave an ETag.
    pub etag: Option<String>,
    /// What to return of the changed entity (create, update and replace); `None` returns `true`.
    pub shape: Option<Shape>,
    /// Related entities created with it (deep insert), by same-service navigation.
    pub nested: Vec<Nested>,
}

/// Entities created together with their parent through one navigation (deep insert, OData 4.01
/// part 1, section 11.4.2.2).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Nested {
    /// Index of the navigation in the parent's relations.
    pub relation: usize,
    /// The related entities (one for a to-one navigation).
    pub entities: Vec<NestedEntity>,
}

/// One entity of a deep insert.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct NestedEntity {
    /// Field values in canonical form, by field index of the related entity.
    pub values: Vec<(usize, Value)>,
    /// Its own related entities.
    pub nested: Vec<Nested>,
}

/// Create, update, replace or delete.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum WriteKind {
    /// `POST` to the entity set.
    Create,
    /// `PATCH` (v4) or `MERGE` (v2) on the entity: changes the fields given.
    Update,
    /// `PUT` on the entity (both dialects): replaces it, fields left out take their defaults.
    Replace,
    /// `DELETE` on the entity.
    Delete,
}

/// Why a read or write failed, in the terms GraphQL errors report.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ExecError {
    /// `extensions.code`: `BACKEND_ERROR`, `BACKEND_UNAVAILABLE`, `UNAUTHORIZED`, ...
    pub code: String,
    /// A message for the client, naming the backend.
    pub message: String,
    /// The data source (namespace) concerned.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backend: Option<String>,
    /// The backend's HTTP status.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// The backend's own error message.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backend_message: Option<String>,
    /// The trace id of the request, for finding it in the logs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub trace_id: Option<String>,
}

impl std::fmt::Display for ExecError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ExecError {}
