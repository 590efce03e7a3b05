//! Writes and operation calls through the OData v4 endpoint (OData 4.01 part 1, sections 11.4
//! and 11.5): `POST` to an entity set creates an entity, `PATCH` and `PUT` on an entity change or
//! replace it, `DELETE` removes it; `GET` of a function import and `POST` to an action import
//! call them. Request bodies are OData JSON, checked against the types our `$metadata`
//! advertises and turned into the canonical values of a [`Write`] or [`Call`], which the same
//! executor as the GraphQL mutations runs as the calling user (SAP's CSRF handshake, `If-Match`).
//!
//! Deep inserts and updates (related entities inline) and `@odata.bind` are refused with 501:
//! the executor changes one entity per request, and passing nested JSON on to a backend
//! unchecked would bypass the conversion every other client value takes.
//!
//! [`Call`]: bizgraph_schema::call::Call

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::rejection::BytesRejection;
use axum::extract::{Extension, Path, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use bizgraph_schema::call::plan_call;
use bizgraph_schema::csdl::advertised_type;
use bizgraph_schema::edm::{Dialect, EdmType};
use bizgraph_schema::execute::{ETAG_KEY, Execute, Nested, NestedEntity, Write, WriteKind};
use bizgraph_schema::literal::format_literal;
use bizgraph_schema::model::{
    EntityId, FieldKind, Graph, NamespaceId, Operation, OperationKind, RelationKind, ReturnKind,
    Returns,
};
use bizgraph_schema::odata_url::{OperationRequest, parse_operation, parse_request};
use bizgraph_schema::plan::{PlanError, Shape, plan};
use bizgraph_schema::query::{CollectionArgs, Read, Selection, Target};
use serde_json::{Map, Value};

use crate::changeset::Member;
use crate::execute::Executor;
use crate::graph::Generation;
use crate::identity::Caller;
use crate::odata_http::{
    Format, ODataError, Renderer, context_urls, json_response, namespace_of, preference,
    service_root, url_error, wire_value,
};
use crate::server::{AppState, authenticate};

/// `POST /odata/v4/<namespace>/<Set>`: creates an entity (section 11.4.2);
/// `POST /odata/v4/<namespace>/<Action>`: calls an action import (section 11.5.4.2).
pub async fn post(
    State(state): State<Arc<AppState>>,
    Path((namespace, _rest)): Path<(String, String)>,
    member: Option<Extension<Member>>,
    uri: Uri,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, Response> {
    let (mut endpoint, format) = Endpoint::open(&state, &namespace, &headers).await?;
    endpoint.executor.change_set = member.map(|Extension(member)| member);
    let body = checked_body(body, &headers)?;
    let (path, query) = path_and_query(&uri, &namespace);
    if let Some(call) = endpoint.operation(path, query)? {
        return Ok(endpoint.call(&Method::POST, call, format, &body).await?);
    }
    Ok(endpoint
        .create(path, query, &headers, format, &body)
        .await?)
}

/// `PATCH /odata/v4/<namespace>/<Set>(<key>)`: changes the properties given (section 11.4.3).
pub async fn patch(
    state: State<Arc<AppState>>,
    path: Path<(String, String)>,
    member: Option<Extension<Member>>,
    uri: Uri,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, Response> {
    change(WriteKind::Update, state, path, member, uri, headers, body).await
}

/// `PUT /odata/v4/<namespace>/<Set>(<key>)`: replaces the entity (section 11.4.3).
pub async fn put(
    state: State<Arc<AppState>>,
    path: Path<(String, String)>,
    member: Option<Extension<Member>>,
    uri: Uri,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, Response> {
    change(WriteKind::Replace, state, path, member, uri, headers, body).await
}

/// `DELETE /odata/v4/<namespace>/<Set>(<key>)`: deletes the entity (section 11.4.5).
pub async fn delete(
    state: State<Arc<AppState>>,
    path: Path<(String, String)>,
    member: Option<Extension<Member>>,
    uri: Uri,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, Response> {
    change(WriteKind::Delete, state, path, member, uri, headers, body).await
}

async fn change(
    kind: WriteKind,
    State(state): State<Arc<AppState>>,
    Path((namespace, _rest)): Path<(String, String)>,
    member: Option<Extension<Member>>,
    uri: Uri,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Response, Response> {
    let (mut endpoint, format) = Endpoint::open(&state, &namespace, &headers).await?;
    endpoint.executor.change_set = member.map(|Extension(member)| member);
    let body = checked_body(body, &headers)?;
    let (path, query) = path_and_query(&uri, &namespace);
    if let Some(call) = endpoint.operation(path, query)? {
        let name = &endpoint.graph().operations[call.operation].name;
        return Err(ODataError::new(
            405,
            "METHOD_NOT_ALLOWED",
            format!("{name} is an operation; call functions with GET and actions with POST"),
        )
        .into());
    }
    Ok(endpoint
        .change(kind, path, query, &headers, format, &body)
        .await?)
}

/// The resource path below `/odata/v4/<namespace>/` and the query, both still percent-encoded
/// (the parser decodes them once).
pub(crate) fn path_and_query<'u>(uri: &'u Uri, namespace: &str) -> (&'u str, &'u str) {
    let prefix = format!("/odata/v4/{namespace}/");
    let path = uri.path().strip_prefix(prefix.as_str()).unwrap_or_default();
    (path, uri.query().unwrap_or_default())
}

/// The request body within the body limit, in JSON when there is one (OData JSON Format 4.01,
/// section 4: requests carry `application/json`).
fn checked_body(
    body: Result<Bytes, BytesRejection>,
    headers: &HeaderMap,
) -> Result<Bytes, ODataError> {
    let body = body.map_err(|rejection| {
        let status = rejection.status().as_u16();
        let code = if status == 413 {
            "PAYLOAD_TOO_LARGE"
        } else {
            "BAD_REQUEST"
        };
        ODataError::new(status, code, rejection.body_text().to_lowercase())
    })?;
    if !body.is_empty()
        && let Some(content_type) = headers
            .get(header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
        && !content_type.to_ascii_lowercase().contains("json")
    {
        return Err(ODataError::new(
            415,
            "UNSUPPORTED_MEDIA_TYPE",
            format!("the body must be application/json, not {content_type}"),
        ));
    }
    Ok(body)
}

/// One request's view of the endpoint: the graph generation it started on, the namespace, and
/// an executor acting as the caller.
#[derive(Debug)]
pub(crate) struct Endpoint {
    generation: Arc<Generation>,
    namespace: NamespaceId,
    /// `/odata/v4/<namespace>/`.
    prefix: String,
    executor: Executor,
}

impl Endpoint {
    /// The endpoint for a caller already authenticated.
    pub(crate) fn new(
        state: &AppState,
        caller: Caller,
        generation: &Arc<Generation>,
        namespace: NamespaceId,
    ) -> Endpoint {
        Endpoint {
            prefix: format!("/odata/v4/{}/", generation.graph.namespaces[namespace].name),
            generation: generation.clone(),
            namespace,
            executor: state.executor(caller, generation.limits),
        }
    }

    /// Authenticates the caller and finds the namespace, as reads do.
    async fn open(
        state: &AppState,
        namespace: &str,
        headers: &HeaderMap,
    ) -> Result<(Endpoint, Format), Response> {
        let caller = authenticate(state, headers)
            .await
            .map_err(IntoResponse::into_response)?;
        let format = Format::from_headers(headers)?;
        let generation = state.graph.current();
        let namespace = namespace_of(&generation, namespace)?;
        Ok((Endpoint::new(state, caller, &generation, namespace), format))
    }

    fn graph(&self) -> &Graph {
        &self.generation.graph
    }

    /// The operation import the path calls, if it names one.
    fn operation(&self, path: &str, query: &str) -> Result<Option<OperationRequest>, ODataError> {
        parse_operation(
            self.graph(),
            self.namespace,
            path,
            query,
            &self.generation.limits,
        )
        .map_err(|error| url_error(&error))
    }

    /// `POST` to an entity set.
    async fn create(
        &self,
        path: &str,
        query: &str,
        headers: &HeaderMap,
        format: Format,
        body: &[u8],
    ) -> Result<Response, ODataError> {
        let graph = self.graph();
        let request = parse_request(graph, self.namespace, path, query, &self.generation.limits)
            .map_err(|error| url_error(&error))?;
        let format = format.with_option(&request.format);
        // `POST Set(key)/Navigation` (section 11.4.2.1) creates a related entity: it goes to the
        // target set with the properties that tie it to its parent set from the parent's key.
        let mut tie = Vec::new();
        let mut entity_id = request.path.entity;
        let mut selection = request.read.selection.clone();
        if let (Some(relation_index), Some(parent_key)) =
            (request.path.navigation, request.path.key.as_ref())
        {
            let parent = &graph.entities[entity_id];
            let relation = &parent.relations[relation_index];
            let pairs = match &relation.kind {
                RelationKind::Navigation if relation.many => relation.constraints.clone(),
                _ => Vec::new(),
            };
            for (local, remote) in &pairs {
                match parent_key.iter().find(|(field, _)| field == local) {
                    Some((_, value)) => tie.push((*remote, value.clone())),
                    None => {
                        tie.clear();
                        break;
                    }
                }
            }
            if tie.is_empty() || request.path.count {
                return Err(ODataError::new(
                    501,
                    "NOT_IMPLEMENTED",
                    format!(
                        "creating through {}.{} is not supported (it is not a to-many navigation whose referential constraints start at the key); POST to the entity set",
                        parent.set_name, relation.name
                    ),
                ));
            }
            entity_id = relation.target;
            selection = all_fields(graph, entity_id);
        } else if request.path.navigation.is_some() {
            return Err(ODataError::new(
                501,
                "NOT_IMPLEMENTED",
                "creating an entity through a navigation needs the parent's key",
            ));
        }
        let entity = &graph.entities[entity_id];
        if (request.path.key.is_some() && tie.is_empty()) || request.path.count {
            return Err(ODataError::new(
                405,
                "METHOD_NOT_ALLOWED",
                format!(
                    "POST creates an entity in a set; address {} without a key",
                    entity.set_name
                ),
            ));
        }
        if tie.is_empty() {
            refuse_collection_options(&request.read)?;
        }
        if !entity.capabilities.insertable {
            return Err(ODataError::new(
                405,
                "METHOD_NOT_ALLOWED",
                format!("{} does not allow creating entities", entity.set_name),
            ));
        }
        let (mut values, nested) = entity_values(graph, entity_id, body, WriteKind::Create)?;
        for (field, value) in tie {
            values.retain(|(index, _)| *index != field);
            values.push((field, value));
        }
        // The created entity is always asked for: its key (maybe assigned by the backend)
        // makes the Location header.
        let write = Write {
            entity: entity_id,
            kind: WriteKind::Create,
            values: values.clone(),
            key: Vec::new(),
            etag: None,
            shape: Some(self.shape(entity_id, &selection)?),
            nested,
        };
        let row = self
            .executor
            .write(graph, &write)
            .await
            .map_err(ODataError::from_exec)?;
        let key = key_of(graph, entity_id, &row).or_else(|| {
            entity
                .key
                .iter()
                .map(|index| {
                    values
                        .iter()
                        .find(|(given, _)| given == index)
                        .map(|(_, value)| (*index, value.clone()))
                })
                .collect()
        });
        let location = key.as_deref().and_then(|key| self.location(entity_id, key));
        let minimal = preference(headers, "return").is_some_and(|r| r == "minimal");
        let mut extra = Vec::new();
        if let Some(location) = &location {
            extra.push((header::LOCATION, location.clone()));
        }
        let Value::Object(row) = row else {
            // Nothing came back to represent: the entity exists, its address says where.
            return Ok(no_content(extra_with_entity_id(extra, location.as_deref())));
        };
        if let Some(Value::String(etag)) = row.get(ETAG_KEY) {
            extra.push((header::ETAG, etag.clone()));
        }
        if minimal {
            extra.push((preference_applied(), "return=minimal".to_owned()));
            return Ok(no_content(extra_with_entity_id(extra, location.as_deref())));
        }
        let row = self
            .read_back(entity_id, &selection, row, key.as_deref())
            .await?;
        let body = self.entity_body(entity_id, &selection, &row, format)?;
        Ok(with_headers(
            StatusCode::CREATED,
            json_response(format, &body),
            extra,
        ))
    }

    /// `PATCH`, `PUT` or `DELETE` of an entity by key.
    async fn change(
        &self,
        kind: WriteKind,
        path: &str,
        query: &str,
        headers: &HeaderMap,
        format: Format,
        body: &[u8],
    ) -> Result<Response, ODataError> {
        let graph = self.graph();
        let request = parse_request(graph, self.namespace, path, query, &self.generation.limits)
            .map_err(|error| url_error(&error))?;
        let format = format.with_option(&request.format);
        let entity_id = request.path.entity;
        let entity = &graph.entities[entity_id];
        let method = match kind {
            WriteKind::Update => "PATCH",
            WriteKind::Replace => "PUT",
            _ => "DELETE",
        };
        if request.path.navigation.is_some() {
            return Err(ODataError::new(
                501,
                "NOT_IMPLEMENTED",
                format!(
                    "{method} through a navigation is not supported; address the related entity in its own entity set"
                ),
            ));
        }
        let Some(key) = request.path.key.clone().filter(|_| !request.path.count) else {
            return Err(ODataError::new(
                405,
                "METHOD_NOT_ALLOWED",
                format!(
                    "{method} applies to one entity; address one of {} by its key",
                    entity.set_name
                ),
            ));
        };
        let allowed = match kind {
            WriteKind::Delete => entity.capabilities.deletable,
            _ => entity.capabilities.updatable,
        };
        if !allowed {
            return Err(ODataError::new(
                405,
                "METHOD_NOT_ALLOWED",
                format!("{} does not allow {method}", entity.set_name),
            ));
        }
        if headers.contains_key(header::IF_NONE_MATCH) {
            return Err(ODataError::new(
                501,
                "NOT_IMPLEMENTED",
                "If-None-Match is not supported on data modification requests",
            ));
        }
        let etag = match headers.get(header::IF_MATCH) {
            None => None,
            Some(value) => Some(
                value
                    .to_str()
                    .map_err(|_| {
                        ODataError::new(400, "BAD_REQUEST", "If-Match is not visible ASCII")
                    })?
                    .to_owned(),
            ),
        };
        let values = match kind {
            WriteKind::Delete => Vec::new(),
            _ => entity_values(graph, entity_id, body, kind)?.0,
        };
        // Section 11.4.3: a representation when the client prefers one or shapes it with
        // $select or $expand; otherwise 204, with the new ETag when the entity has one.
        let preferred = preference(headers, "return");
        let representation = kind != WriteKind::Delete
            && (preferred.as_deref() == Some("representation")
                || has_option(query, &["select", "expand"]));
        let selection = request.read.selection;
        let shape = if representation {
            Some(self.shape(entity_id, &selection)?)
        } else if kind != WriteKind::Delete && entity.etag {
            let keys_only = Selection {
                fields: entity.key.clone(),
                relations: Vec::new(),
                etag: true,
            };
            Some(self.shape(entity_id, &keys_only)?)
        } else {
            None
        };
        let write = Write {
            entity: entity_id,
            kind,
            values,
            key: key.clone(),
            etag,
            shape,
            nested: Vec::new(),
        };
        let row = self
            .executor
            .write(graph, &write)
            .await
            .map_err(ODataError::from_exec)?;
        let mut extra = Vec::new();
        let Value::Object(row) = row else {
            return Ok(no_content(extra));
        };
        if let Some(Value::String(etag)) = row.get(ETAG_KEY) {
            extra.push((header::ETAG, etag.clone()));
        }
        if !representation {
            return Ok(no_content(extra));
        }
        if preferred.is_some() {
            extra.push((preference_applied(), "return=representation".to_owned()));
        }
        let row = self
            .read_back(entity_id, &selection, row, Some(&key))
            .await?;
        let body = self.entity_body(entity_id, &selection, &row, format)?;
        Ok(with_headers(
            StatusCode::OK,
            json_response(format, &body),
            extra,
        ))
    }

    /// Calls a function (`GET`) or action (`POST`) import and answers its result in OData JSON
    /// (OData JSON Format 4.01, sections 11 and 12, and part 1 section 11.5.4).
    pub(crate) async fn call(
        &self,
        method: &Method,
        request: OperationRequest,
        format: Format,
        body: &[u8],
    ) -> Result<Response, ODataError> {
        let graph = self.graph();
        let format = format.with_option(&request.format);
        let operation = &graph.operations[request.operation];
        let declared = declared_kind(operation);
        match (declared, *method == Method::GET) {
            (OperationKind::Function, true) | (OperationKind::Action, false) => {}
            (OperationKind::Function, false) => {
                return Err(ODataError::new(
                    405,
                    "METHOD_NOT_ALLOWED",
                    format!("{} is a function; call it with GET", operation.name),
                ));
            }
            (OperationKind::Action, true) => {
                return Err(ODataError::new(
                    405,
                    "METHOD_NOT_ALLOWED",
                    format!("{} is an action; call it with POST", operation.name),
                ));
            }
        }
        let arguments = match declared {
            OperationKind::Function => request.arguments,
            OperationKind::Action => {
                if request.parenthesized {
                    return Err(ODataError::new(
                        400,
                        "SYNTAX_ERROR",
                        format!(
                            "{} is an action: its parameters go into the JSON body, not into parentheses",
                            operation.name
                        ),
                    ));
                }
                action_arguments(graph, operation, body)?
            }
        };
        let missing: Vec<&str> = operation
            .parameters
            .iter()
            .enumerate()
            .filter(|(index, parameter)| {
                !parameter.nullable && !arguments.iter().any(|(given, _)| given == index)
            })
            .map(|(_, parameter)| parameter.name.as_str())
            .collect();
        if !missing.is_empty() {
            return Err(ODataError::new(
                400,
                "MISSING_PARAMETER",
                format!(
                    "{} needs the parameter(s) {}",
                    operation.name,
                    missing.join(", ")
                ),
            ));
        }
        let entity = match operation.returns {
            Some(Returns {
                kind: ReturnKind::Entity(entity),
                ..
            }) => Some(entity),
            _ => None,
        };
        let selection = entity.map(|entity| all_fields(graph, entity));
        let shape = match (entity, &selection) {
            (Some(entity), Some(selection)) => Some(self.shape(entity, selection)?),
            _ => None,
        };
        let call = plan_call(
            graph,
            request.operation,
            &arguments,
            request.bound_to.as_deref(),
            shape,
        )
        .map_err(|e| plan_error(&e))?;
        let value = self
            .executor
            .call(graph, &call)
            .await
            .map_err(ODataError::from_exec)?;
        let Some(returns) = &operation.returns else {
            return Ok(no_content(Vec::new()));
        };
        let context = |fragment: String| format!("{}$metadata#{fragment}", self.prefix);
        let body = match (returns.kind, value) {
            (_, Value::Null) if !returns.collection => return Ok(no_content(Vec::new())),
            (ReturnKind::Entity(entity), Value::Object(row)) => {
                let selection = selection.unwrap_or_default();
                self.entity_body(entity, &selection, &row, format)?
            }
            (ReturnKind::Entity(entity), value) => {
                let selection = selection.unwrap_or_default();
                let mut rows = Vec::new();
                let mut renderer = Renderer::new(graph, self.namespace, format);
                for row in value.as_array().into_iter().flatten() {
                    if let Value::Object(row) = row {
                        rows.push(Value::Object(renderer.row(entity, &selection, row)?));
                    }
                }
                let mut object = Map::new();
                if !format.no_metadata {
                    object.insert(
                        "@odata.context".into(),
                        Value::String(context_urls(graph, entity).0),
                    );
                }
                object.insert("value".into(), Value::Array(rows));
                Value::Object(object)
            }
            (ReturnKind::Value(kind), value) => {
                let type_name = type_name(graph, kind);
                let rendered = match value {
                    Value::Array(items) if returns.collection => Value::Array(
                        items
                            .into_iter()
                            .map(|item| wire_value(kind, item, format))
                            .collect(),
                    ),
                    Value::Null if returns.collection => Value::Array(Vec::new()),
                    value => wire_value(kind, value, format),
                };
                let fragment = if returns.collection {
                    format!("Collection({type_name})")
                } else {
                    type_name
                };
                let mut object = Map::new();
                if !format.no_metadata {
                    object.insert("@odata.context".into(), Value::String(context(fragment)));
                }
                match (kind, rendered) {
                    // A single complex value is the object itself (OData JSON Format 4.01,
                    // section 12); primitives and collections go under `value` (section 11).
                    (FieldKind::Complex(_), Value::Object(fields)) if !returns.collection => {
                        object.extend(fields);
                    }
                    (_, rendered) => {
                        object.insert("value".into(), rendered);
                    }
                }
                Value::Object(object)
            }
        };
        Ok(json_response(format, &body))
    }

    /// How the executor reads the entity a write or call returns: the selected fields, keys and
    /// the ETag; relations are read afterwards ([`Endpoint::read_back`]).
    fn shape(&self, entity: EntityId, selection: &Selection) -> Result<Shape, ODataError> {
        let mut selection = selection.clone();
        selection.relations.clear();
        selection.etag |= self.graph().entities[entity].etag;
        let read = Read {
            entity,
            target: Target::Collection(CollectionArgs {
                nodes: true,
                ..CollectionArgs::default()
            }),
            selection,
        };
        plan(self.graph(), &read, &self.generation.limits)
            .map(|plan| plan.fetch.shape)
            .map_err(|error| plan_error(&error))
    }

    /// With `$expand` on a write (OData 4.01 part 1, section 11.4.2), the written entity is read
    /// again by key with the expansion; without, the row the write returned is the answer.
    async fn read_back(
        &self,
        entity: EntityId,
        selection: &Selection,
        row: Map<String, Value>,
        key: Option<&[(usize, Value)]>,
    ) -> Result<Map<String, Value>, ODataError> {
        let Some(key) = key.filter(|_| !selection.relations.is_empty()) else {
            return Ok(row);
        };
        let read = Read {
            entity,
            target: Target::Key(key.to_vec()),
            selection: selection.clone(),
        };
        let planned = plan(self.graph(), &read, &self.generation.limits)
            .map_err(|error| plan_error(&error))?;
        let value = self
            .executor
            .read(self.graph(), &planned)
            .await
            .map_err(ODataError::from_exec)?;
        Ok(match value {
            Value::Object(read) => read,
            _ => row,
        })
    }

    /// One entity as an OData JSON answer, with its context.
    fn entity_body(
        &self,
        entity: EntityId,
        selection: &Selection,
        row: &Map<String, Value>,
        format: Format,
    ) -> Result<Value, ODataError> {
        let mut object = Map::new();
        if !format.no_metadata {
            object.insert(
                "@odata.context".into(),
                Value::String(context_urls(self.graph(), entity).1),
            );
        }
        object.extend(
            Renderer::new(self.graph(), self.namespace, format).row(entity, selection, row)?,
        );
        Ok(Value::Object(object))
    }

    /// Our URL of an entity: `/odata/v4/<namespace>/<Set>(<key>)` under the root of the
    /// entity's own namespace, with the set name our `$metadata` advertises and the key in v4
    /// literals.
    fn location(&self, entity: EntityId, key: &[(usize, Value)]) -> Option<String> {
        let graph = self.graph();
        let namespace = graph.entities[entity].namespace;
        let url = bizgraph_schema::csdl::names(graph, namespace).entity_url(graph, entity, key)?;
        Some(format!("{}{url}", service_root(graph, namespace)))
    }
}

/// A function must return something (CSDL 4.01 section 12.3); a v2 `GET` import that returns
/// nothing is declared an action in our `$metadata`, so it is called like one.
fn declared_kind(operation: &Operation) -> OperationKind {
    match (operation.kind, &operation.returns) {
        (OperationKind::Function, None) => OperationKind::Action,
        (kind, _) => kind,
    }
}

/// The qualified name of a result type for `@odata.context` (`Edm.Int32`, `crm.Stage`).
fn type_name(graph: &Graph, kind: FieldKind) -> String {
    let qualified = |namespace: NamespaceId, simple: Option<String>| {
        let names = bizgraph_schema::csdl::names(graph, namespace);
        format!("{}.{}", names.namespace(), simple.unwrap_or_default())
    };
    match kind {
        FieldKind::Scalar(ty) => advertised_type(ty).name().to_owned(),
        FieldKind::Enum(id) => {
            let namespace = graph.enums[id].namespace;
            let names = bizgraph_schema::csdl::names(graph, namespace);
            qualified(namespace, names.enum_type(id).map(str::to_owned))
        }
        FieldKind::Complex(id) => {
            let namespace = graph.complex_types[id].namespace;
            let names = bizgraph_schema::csdl::names(graph, namespace);
            qualified(namespace, names.complex_type(id).map(str::to_owned))
        }
    }
}

/// Every field of an entity that carries a value (all but streams), and its ETag.
fn all_fields(graph: &Graph, entity: EntityId) -> Selection {
    let item = &graph.entities[entity];
    Selection {
        fields: item
            .fields
            .iter()
            .enumerate()
            .filter(|(_, field)| field.edm_type() != Some(EdmType::Stream))
            .map(|(index, _)| index)
            .collect(),
        relations: Vec::new(),
        etag: item.etag,
    }
}

/// The key of a returned row, when it has every key property.
fn key_of(graph: &Graph, entity: EntityId, row: &Value) -> Option<Vec<(usize, Value)>> {
    let item = &graph.entities[entity];
    item.key
        .iter()
        .map(|&index| {
            row.get(&item.fields[index].name)
                .filter(|value| !value.is_null())
                .map(|value| (index, value.clone()))
        })
        .collect()
}

/// 400 for query options that narrow or page a collection, on a create.
fn refuse_collection_options(read: &Read) -> Result<(), ODataError> {
    if let Target::Collection(args) = &read.target
        && (!args.is_plain() || args.count)
    {
        return Err(ODataError::new(
            400,
            "NOT_ALLOWED",
            "$filter, $orderby, $top, $skip, $count and $search do not apply to a create",
        ));
    }
    Ok(())
}

/// True when the query string has one of these system query options (with or without `$`, any
/// case, URL 4.01 "System Query Options").
fn has_option(query: &str, names: &[&str]) -> bool {
    query.split('&').any(|part| {
        let name = part.split_once('=').map_or(part, |(name, _)| name);
        let name = name.strip_prefix('$').unwrap_or(name);
        let name = name.strip_prefix("%24").unwrap_or(name);
        names.iter().any(|wanted| name.eq_ignore_ascii_case(wanted))
    })
}

fn plan_error(error: &PlanError) -> ODataError {
    let status = match error.code() {
        "NOT_SUPPORTED" => 501,
        _ => 400,
    };
    ODataError::new(status, error.code(), error.to_string())
}

fn preference_applied() -> HeaderName {
    HeaderName::from_static("preference-applied")
}

/// Adds `OData-EntityId` (OData 4.01 part 1, section 8.3.4): a create answered with 204 names
/// the entity it made.
fn extra_with_entity_id(
    mut extra: Vec<(HeaderName, String)>,
    location: Option<&str>,
) -> Vec<(HeaderName, String)> {
    if let Some(location) = location {
        extra.push((
            HeaderName::from_static("odata-entityid"),
            location.to_owned(),
        ));
    }
    extra
}

/// 204 No Content with the OData headers.
fn no_content(extra: Vec<(HeaderName, String)>) -> Response {
    let mut response = Response::new(Body::empty());
    response
        .headers_mut()
        .insert("odata-version", HeaderValue::from_static("4.0"));
    with_headers(StatusCode::NO_CONTENT, response, extra)
}

/// The response with this status and these extra headers (values that are no legal header
/// value are left out).
fn with_headers(
    status: StatusCode,
    mut response: Response,
    extra: Vec<(HeaderName, String)>,
) -> Response {
    *response.status_mut() = status;
    for (name, value) in extra {
        if let Ok(value) = HeaderValue::from_str(&value) {
            response.headers_mut().insert(name, value);
        }
    }
    response
}

/// The body as a JSON object; an empty body is an empty object.
fn json_object(body: &[u8], what: &str) -> Result<Map<String, Value>, ODataError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(object)) => Ok(object),
        Ok(_) => Err(ODataError::new(
            400,
            "BAD_REQUEST",
            format!("the body must be a JSON object of {what}"),
        )),
        Err(error) => Err(ODataError::new(
            400,
            "BAD_REQUEST",
            format!("the body is not JSON: {error}"),
        )),
    }
}

/// Field values by index and the related entities of a deep insert.
type EntityValues = (Vec<(usize, Value)>, Vec<Nested>);

/// An entity body (OData JSON Format 4.01, section 6) as canonical field values.
///
/// Control information (`@odata.etag`, `@odata.type`, ...) and instance annotations are
/// skipped. Properties the request may not set are ignored, as OData 4.01 part 1 says: on a
/// create those the service computes (section 11.4.2), on an update or replace the key and the
/// read-only ones (section 11.4.3). Unknown names are a 400 naming all of them; related entities
/// inline are created with the entity (deep insert, same-service navigations only); deep update
/// and `@odata.bind` are 501.
fn entity_values(
    graph: &Graph,
    entity_id: EntityId,
    body: &[u8],
    kind: WriteKind,
) -> Result<EntityValues, ODataError> {
    let entity = &graph.entities[entity_id];
    let object = json_object(body, "properties")?;
    if kind == WriteKind::Create && object.is_empty() && body.iter().all(u8::is_ascii_whitespace) {
        return Err(ODataError::new(
            400,
            "BAD_REQUEST",
            format!(
                "a create needs the new {} as a JSON object",
                entity.set_name
            ),
        ));
    }
    object_values(graph, entity_id, object, kind)
}

/// The values and nested entities of one entity's JSON object (see [`entity_values`]).
fn object_values(
    graph: &Graph,
    entity_id: EntityId,
    object: Map<String, Value>,
    kind: WriteKind,
) -> Result<EntityValues, ODataError> {
    let entity = &graph.entities[entity_id];
    let mut nested = Vec::new();
    let mut values = Vec::new();
    let mut unknown = Vec::new();
    let mut invalid = Vec::new();
    for (name, value) in object {
        if let Some((property, annotation)) = name.split_once('@') {
            if annotation == "odata.bind" {
                return Err(ODataError::new(
                    501,
                    "NOT_IMPLEMENTED",
                    format!(
                        "{name}: binding related entities is not supported; set the foreign key properties instead"
                    ),
                )
                .with_target(Some(property.to_owned())));
            }
            continue;
        }
        if let Some((relation_index, relation)) = entity
            .relations
            .iter()
            .enumerate()
            .find(|(_, relation)| relation.name == name)
        {
            // Deep insert goes to the backend in one request, so only navigations of the same
            // service qualify; a deep update has no counterpart in OData v2 and is refused.
            let refusal = match (kind, &relation.kind) {
                (WriteKind::Create, RelationKind::Navigation) => None,
                (WriteKind::Create, RelationKind::Join { .. }) => Some(
                    "it leads to another data source, so both cannot be created in one request",
                ),
                _ => Some(
                    "deep update is not supported; write the related entities in their own entity set",
                ),
            };
            if let Some(reason) = refusal {
                return Err(ODataError::new(
                    501,
                    "NOT_IMPLEMENTED",
                    format!("{name} holds related entities inline: {reason}"),
                )
                .with_target(Some(name)));
            }
            let items = match (relation.many, value) {
                (true, Value::Array(items)) => items,
                (false, Value::Object(object)) => vec![Value::Object(object)],
                (_, Value::Null) => continue,
                (many, _) => {
                    return Err(ODataError::new(
                        400,
                        "INVALID_VALUE",
                        format!(
                            "{name} must be {}",
                            if many {
                                "an array of entities"
                            } else {
                                "an entity object"
                            }
                        ),
                    )
                    .with_target(Some(name)));
                }
            };
            let mut entities = Vec::with_capacity(items.len());
            for item in items {
                let Value::Object(item) = item else {
                    return Err(ODataError::new(
                        400,
                        "INVALID_VALUE",
                        format!("{name} must hold entity objects"),
                    )
                    .with_target(Some(name)));
                };
                let (values, inner) = object_values(graph, relation.target, item, kind)?;
                entities.push(NestedEntity {
                    values,
                    nested: inner,
                });
            }
            nested.push(Nested {
                relation: relation_index,
                entities,
            });
            continue;
        }
        let Some((index, field)) = entity.field(&name) else {
            unknown.push(name);
            continue;
        };
        let settable = match kind {
            WriteKind::Create => field.insertable,
            _ => field.updatable && !entity.key.contains(&index),
        };
        if !settable {
            continue;
        }
        match canonical_value(graph, field.kind, field.collection, value) {
            Ok(value) => values.push((index, value)),
            Err(reason) => invalid.push(format!("{name}: {reason}")),
        }
    }
    if !unknown.is_empty() {
        return Err(ODataError::new(
            400,
            "UNKNOWN_PROPERTY",
            format!(
                "{} has no propert{} {}",
                entity.set_name,
                if unknown.len() == 1 { "y" } else { "ies" },
                unknown.join(", ")
            ),
        )
        .with_target(unknown.first().cloned()));
    }
    if !invalid.is_empty() {
        return Err(ODataError::new(
            400,
            "INVALID_VALUE",
            format!(
                "invalid values for {}: {}",
                entity.set_name,
                invalid.join("; ")
            ),
        ));
    }
    Ok((values, nested))
}

/// An action's parameters from its JSON body (OData JSON Format 4.01, section 18), as
/// (parameter index, canonical value).
fn action_arguments(
    graph: &Graph,
    operation: &Operation,
    body: &[u8],
) -> Result<Vec<(usize, Value)>, ODataError> {
    let object = json_object(body, "parameters")?;
    let mut arguments = Vec::new();
    let mut unknown = Vec::new();
    let mut invalid = Vec::new();
    for (name, value) in object {
        if name.contains('@') {
            continue;
        }
        let Some(index) = operation
            .parameters
            .iter()
            .position(|parameter| parameter.name == name)
        else {
            unknown.push(name);
            continue;
        };
        let parameter = &operation.parameters[index];
        match canonical_value(graph, parameter.kind, parameter.collection, value) {
            Ok(value) => arguments.push((index, value)),
            Err(reason) => invalid.push(format!("{name}: {reason}")),
        }
    }
    if !unknown.is_empty() {
        return Err(ODataError::new(
            400,
            "UNKNOWN_PARAMETER",
            format!(
                "{} has no parameter(s) {}",
                operation.name,
                unknown.join(", ")
            ),
        )
        .with_target(unknown.first().cloned()));
    }
    if !invalid.is_empty() {
        return Err(ODataError::new(
            400,
            "INVALID_VALUE",
            format!(
                "invalid parameters of {}: {}",
                operation.name,
                invalid.join("; ")
            ),
        ));
    }
    Ok(arguments)
}

/// A value in OData JSON (OData JSON Format 4.01, section 7) as the canonical value of a field
/// or parameter: checked against the type our `$metadata` declares; Decimal and Int64 numbers
/// become strings (clients may send either; with `IEEE754Compatible=true` they send strings),
/// so that no later step reads them as floating point.
fn canonical_value(
    graph: &Graph,
    kind: FieldKind,
    collection: bool,
    value: Value,
) -> Result<Value, String> {
    if value.is_null() {
        return Ok(Value::Null);
    }
    if collection {
        let Value::Array(items) = value else {
            return Err("expected a JSON array".to_owned());
        };
        return items
            .into_iter()
            .map(|item| canonical_value(graph, kind, false, item))
            .collect::<Result<Vec<_>, _>>()
            .map(Value::Array);
    }
    match kind {
        FieldKind::Scalar(ty) => {
            let ty = advertised_type(ty);
            let value = match (ty, value) {
                (EdmType::Decimal | EdmType::Int64, Value::Number(number)) => {
                    Value::String(number.to_string())
                }
                (_, value) => value,
            };
            if matches!(ty, EdmType::Stream | EdmType::Geo | EdmType::Untyped) {
                return Ok(value);
            }
            format_literal(Dialect::V4, ty, &value).map_err(|error| error.to_string())?;
            Ok(value)
        }
        FieldKind::Enum(id) => {
            let enum_type = &graph.enums[id];
            let Value::String(text) = &value else {
                return Err(format!(
                    "expected a member name of {} as a JSON string",
                    enum_type.name
                ));
            };
            let members: Vec<&str> = text.split(',').map(str::trim).collect();
            if members.len() > 1 && !enum_type.flags {
                return Err(format!("{} takes one member", enum_type.name));
            }
            if let Some(wrong) = members
                .iter()
                .find(|name| !enum_type.members.iter().any(|m| m.name == **name))
            {
                return Err(format!("{wrong} is not a member of {}", enum_type.name));
            }
            Ok(Value::String(members.join(",")))
        }
        FieldKind::Complex(id) => {
            let complex = &graph.complex_types[id];
            let Value::Object(object) = value else {
                return Err(format!("expected a JSON object ({})", complex.name));
            };
            let mut out = Map::new();
            for (name, value) in object {
                if name.contains('@') {
                    continue;
                }
                let Some(field) = complex.fields.iter().find(|field| field.name == name) else {
                    return Err(format!("{} has no property {name}", complex.name));
                };
                let value = canonical_value(graph, field.kind, field.collection, value)
                    .map_err(|reason| format!("{name}: {reason}"))?;
                out.insert(name, value);
            }
            Ok(Value::Object(out))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_numbers_become_strings_and_others_are_checked() {
        let graph = Graph::default();
        let decimal = FieldKind::Scalar(EdmType::Decimal);
        assert_eq!(
            canonical_value(&graph, decimal, false, serde_json::json!(12.5)),
            Ok(Value::String("12.5".into()))
        );
        assert_eq!(
            canonical_value(&graph, decimal, false, serde_json::json!("12345678901.99")),
            Ok(Value::String("12345678901.99".into()))
        );
        let int64 = FieldKind::Scalar(EdmType::Int64);
        assert_eq!(
            canonical_value(&graph, int64, false, serde_json::json!(9007199254740993u64)),
            Ok(Value::String("9007199254740993".into()))
        );
        let int32 = FieldKind::Scalar(EdmType::Int32);
        assert!(canonical_value(&graph, int32, false, serde_json::json!("5")).is_err());
        let date = FieldKind::Scalar(EdmType::Date);
        assert!(canonical_value(&graph, date, false, serde_json::json!("2026-13-01")).is_err());
        // A v2 Edm.DateTime is a DateTimeOffset in our $metadata: the offset is required.
        let stamp = FieldKind::Scalar(EdmType::DateTime);
        assert!(
            canonical_value(
                &graph,
                stamp,
                false,
                serde_json::json!("2026-01-15T10:00:00Z")
            )
            .is_ok()
        );
        assert_eq!(
            canonical_value(&graph, int32, true, serde_json::json!([1, 2])),
            Ok(serde_json::json!([1, 2]))
        );
        assert!(canonical_value(&graph, int32, true, serde_json::json!(1)).is_err());
    }

    #[test]
    fn system_options_are_found_with_or_without_dollar() {
        assert!(has_option("$select=a&x=1", &["select"]));
        assert!(has_option("EXPAND=to_Item", &["select", "expand"]));
        assert!(has_option("%24expand=to_Item", &["expand"]));
        assert!(!has_option("$filter=select eq 1", &["select"]));
        assert!(!has_option("", &["select"]));
    }
}
