//! The HTTP side of a demo service: Basic authentication, SAP's CSRF token protocol (v2),
//! resource paths (`Set`, `Set(key)`, `Set(key)/Nav`, `/$count`, properties), reads with paging,
//! writes with ETags and region checks, and OData error bodies.
//!
//! Everything runs synchronously under the store's lock, which is never held across an
//! `.await`: the request body is read before the handler starts.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{OriginalUri, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use base64::Engine as _;
use ring::rand::{SecureRandom as _, SystemRandom};
use serde_json::{Map, Value as Json, json};

use super::DemoUser;
use super::USERS;
use super::data::{Row, Store};
use super::error::ODataError;
use super::filter::parse_literal;
use super::model::{Dialect, Kind, Service, Visibility};
use super::query::{Query, parse_query};
use super::value::{Value, equals};
use super::wire::{Render, etag, json_value, key_path, value_json};

/// Recomputes derived values after a write.
pub(crate) type Derive = fn(&Service, &mut Store);

/// One running service.
#[derive(Debug)]
pub(crate) struct ServiceState {
    service: &'static Service,
    store: Mutex<Store>,
    /// CSRF tokens by user name.
    csrf_tokens: Mutex<HashMap<&'static str, String>>,
    page_size: usize,
    derive: Option<Derive>,
}

/// The router of a service, answering below [`Service::root`].
pub(crate) fn router(
    service: &'static Service,
    store: Store,
    page_size: usize,
    derive: Option<Derive>,
) -> Router {
    let state = Arc::new(ServiceState {
        service,
        store: Mutex::new(store),
        csrf_tokens: Mutex::new(HashMap::new()),
        page_size,
        derive,
    });
    Router::new()
        .route(service.root, any(handle))
        .route(&format!("{}/", service.root), any(handle))
        .route(&format!("{}/{{*rest}}", service.root), any(handle))
        .with_state(state)
}

const CSRF_HEADER: &str = "x-csrf-token";

async fn handle(
    State(state): State<Arc<ServiceState>>,
    method: Method,
    OriginalUri(uri): OriginalUri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let service = state.service;
    let (mut response, user) = match authenticate(&headers) {
        Some(user) => (
            answer(&state, user, &method, &uri, &headers, &body),
            Some(user.name),
        ),
        None => (
            error_response(
                service.dialect,
                ODataError::new(
                    StatusCode::UNAUTHORIZED,
                    "UNAUTHORIZED",
                    "authentication required: HTTP Basic with a demo user",
                )
                .with_header("www-authenticate", "Basic realm=\"demo\""),
            ),
            None,
        ),
    };
    let version = match service.dialect {
        Dialect::V2 => ("dataserviceversion", "2.0"),
        Dialect::V4 => ("odata-version", "4.0"),
    };
    response.headers_mut().insert(
        HeaderName::from_static(version.0),
        HeaderValue::from_static(version.1),
    );
    tracing::debug!(
        service = service.root,
        user = user.unwrap_or("-"),
        method = %method,
        path = uri.path(),
        status = response.status().as_u16(),
        "demo backend request"
    );
    response
}

/// The demo user of a Basic `Authorization` header, if the password matches.
fn authenticate(headers: &HeaderMap) -> Option<&'static DemoUser> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, credentials) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(credentials.trim())
        .ok()?;
    let decoded = String::from_utf8(decoded).ok()?;
    let (name, password) = decoded.split_once(':')?;
    USERS
        .iter()
        .find(|user| user.name == name && user.password == password)
}

/// Answers an authenticated request, adding a fetched CSRF token to whatever the answer is.
fn answer(
    state: &ServiceState,
    user: &'static DemoUser,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> Response {
    let service = state.service;
    let method = effective_method(service, method, headers);
    let fetch = service.csrf
        && (method == Method::GET || method == Method::HEAD)
        && header_str(headers, CSRF_HEADER).is_some_and(|v| v.eq_ignore_ascii_case("fetch"));
    let mut response = if service.csrf && is_modifying(&method) && !csrf_valid(state, user, headers)
    {
        error_response(
            service.dialect,
            ODataError::forbidden("CSRF token validation failed")
                .with_header(CSRF_HEADER, "Required"),
        )
    } else {
        match dispatch(state, user, &method, uri, headers, body) {
            Ok(response) => response,
            Err(error) => error_response(service.dialect, error),
        }
    };
    if fetch {
        let token = csrf_token(state, user);
        if let Ok(value) = HeaderValue::from_str(&token) {
            response
                .headers_mut()
                .insert(HeaderName::from_static(CSRF_HEADER), value);
        }
    }
    response
}

/// The method, after v2 tunnelling through `POST` with `X-HTTP-Method` (SAP Gateway accepts
/// `MERGE`, `PATCH`, `PUT` and `DELETE` this way).
fn effective_method(service: &Service, method: &Method, headers: &HeaderMap) -> Method {
    if service.dialect == Dialect::V2
        && method == Method::POST
        && let Some(tunnelled) = header_str(headers, "x-http-method")
        && let Ok(tunnelled) = Method::from_bytes(tunnelled.trim().to_ascii_uppercase().as_bytes())
    {
        return tunnelled;
    }
    method.clone()
}

fn is_modifying(method: &Method) -> bool {
    !matches!(method.as_str(), "GET" | "HEAD" | "OPTIONS")
}

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

fn csrf_token(state: &ServiceState, user: &'static DemoUser) -> String {
    let mut tokens = state.csrf_tokens.lock().expect("csrf token lock poisoned");
    tokens
        .entry(user.name)
        .or_insert_with(|| {
            let mut bytes = [0u8; 18];
            // A failing system random source leaves a fixed token, which still works for a demo.
            let _ = SystemRandom::new().fill(&mut bytes);
            base64::engine::general_purpose::STANDARD.encode(bytes)
        })
        .clone()
}

fn csrf_valid(state: &ServiceState, user: &'static DemoUser, headers: &HeaderMap) -> bool {
    let tokens = state.csrf_tokens.lock().expect("csrf token lock poisoned");
    match (tokens.get(user.name), header_str(headers, CSRF_HEADER)) {
        (Some(expected), Some(given)) => expected == given,
        _ => false,
    }
}

/// The OData error body of the dialect.
pub(crate) fn error_response(dialect: Dialect, error: ODataError) -> Response {
    let body = match dialect {
        Dialect::V2 => json!({
            "error": { "code": error.code, "message": { "lang": "en", "value": error.message } }
        }),
        Dialect::V4 => json!({ "error": { "code": error.code, "message": error.message } }),
    };
    let mut response = json_response(error.status, &body);
    for (name, value) in error.headers {
        if let Ok(value) = HeaderValue::from_str(&value) {
            response
                .headers_mut()
                .insert(HeaderName::from_static(name), value);
        }
    }
    response
}

fn json_response(status: StatusCode, body: &Json) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

fn text_response(content_type: &'static str, body: String) -> Response {
    (StatusCode::OK, [(header::CONTENT_TYPE, content_type)], body).into_response()
}

fn with_etag(mut response: Response, etag: Option<String>) -> Response {
    if let Some(value) = etag.and_then(|e| HeaderValue::from_str(&e).ok()) {
        response.headers_mut().insert(header::ETAG, value);
    }
    response
}

/// Percent-decodes a URL path.
fn decode_path(path: &str) -> Result<String, ODataError> {
    let bytes = path.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        if bytes[index] == b'%' {
            let hex = path
                .get(index + 1..index + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| ODataError::bad_request("invalid percent-encoding in the path"))?;
            decoded.push(hex);
            index += 3;
        } else {
            decoded.push(bytes[index]);
            index += 1;
        }
    }
    String::from_utf8(decoded).map_err(|_| ODataError::bad_request("the path is not UTF-8"))
}

/// Splits at `separator` outside single-quoted strings.
fn split_unquoted(text: &str, separator: char) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut quoted, mut start) = (false, 0);
    for (at, c) in text.char_indices() {
        if c == '\'' {
            quoted = !quoted;
        } else if c == separator && !quoted {
            parts.push(&text[start..at]);
            start = at + c.len_utf8();
        }
    }
    parts.push(&text[start..]);
    parts
}

/// What a resource path addresses.
#[derive(Debug)]
enum Resource {
    /// Rows of a set, reached from the set or through a to-many navigation property of `parent`
    /// (set, row, navigation).
    Collection {
        set: usize,
        rows: Vec<usize>,
        parent: Option<(usize, usize, usize)>,
    },
    Entity {
        set: usize,
        row: usize,
    },
    /// A to-one navigation property that leads nowhere.
    NoEntity,
    Count {
        set: usize,
        rows: Vec<usize>,
    },
    Property {
        set: usize,
        row: usize,
        property: usize,
        raw: bool,
    },
}

/// Serves one request of an authenticated user.
fn dispatch(
    state: &ServiceState,
    user: &'static DemoUser,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Response, ODataError> {
    let service = state.service;
    let rest = uri.path().strip_prefix(service.root).unwrap_or_default();
    let rest = decode_path(rest.trim_start_matches('/'))?;
    let pairs: Vec<(String, String)> =
        url::form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
            .map(|(key, value)| (key.into_owned(), value.into_owned()))
            .collect();
    let host = header_str(headers, "host").unwrap_or("localhost");
    let base = format!("http://{host}{}", service.root);
    let is_read = *method == Method::GET || *method == Method::HEAD;
    match rest.as_str() {
        "" => {
            if !is_read {
                return Err(ODataError::method_not_allowed(
                    "the service document is read-only",
                ));
            }
            return Ok(json_response(StatusCode::OK, &service_document(service)));
        }
        "$metadata" => {
            if !is_read {
                return Err(ODataError::method_not_allowed("$metadata is read-only"));
            }
            return Ok(text_response(
                "application/xml",
                service.metadata.to_owned(),
            ));
        }
        "$batch" => return Err(ODataError::not_implemented("$batch is not supported")),
        _ => {}
    }
    let mut store = state.store.lock().expect("demo store lock poisoned");
    let resource = resolve(service, &store, user, &rest)?;
    // OData JSON Format 4.01 section 3.2: with IEEE754Compatible=true, Int64 and Decimal
    // values are strings.
    let exact = header_str(headers, "accept").is_some_and(|accept| {
        accept
            .to_ascii_lowercase()
            .contains("ieee754compatible=true")
    });
    let render = |store| renderer(service, store, user, &base, exact);
    match (method.as_str(), resource) {
        ("GET" | "HEAD", Resource::Collection { set, rows, .. }) => {
            let query = parse_query(service, set, &pairs)?;
            let (page_size, applied) = page_size(state, headers);
            let page = query.apply(service, &store, set, rows, Some(page_size));
            let next = page.next.map(|token| next_link(host, uri, token));
            let render = render(&store);
            let rows: Vec<Json> = page
                .rows
                .iter()
                .map(|&row| {
                    Json::Object(render.entity(set, row, query.select.as_ref(), &query.expand))
                })
                .collect();
            let body = match service.dialect {
                Dialect::V2 => {
                    let mut d = json!({ "results": rows });
                    if query.count {
                        d["__count"] = Json::String(page.count.to_string());
                    }
                    if let Some(next) = next {
                        d["__next"] = Json::String(next);
                    }
                    json!({ "d": d })
                }
                Dialect::V4 => {
                    let mut body = json!({
                        "@odata.context": context(service, set, query.select.as_ref(), false),
                        "value": rows,
                    });
                    if query.count {
                        body["@odata.count"] = json!(page.count);
                    }
                    if let Some(next) = next {
                        body["@odata.nextLink"] = Json::String(next);
                    }
                    body
                }
            };
            let mut response = json_response(StatusCode::OK, &body);
            if let Some(applied) = applied {
                response.headers_mut().insert(
                    HeaderName::from_static("preference-applied"),
                    HeaderValue::from_str(&format!("odata.maxpagesize={applied}"))
                        .expect("a number is a valid header value"),
                );
            }
            Ok(response)
        }
        ("GET" | "HEAD", Resource::Entity { set, row }) => {
            let query = parse_query(service, set, &pairs)?;
            let object = render(&store).entity(set, row, query.select.as_ref(), &query.expand);
            let response = json_response(StatusCode::OK, &single(service, set, &query, object));
            Ok(with_etag(
                response,
                etag(service, set, &store.tables[set][row]),
            ))
        }
        ("GET" | "HEAD", Resource::NoEntity) => match service.dialect {
            Dialect::V2 => Err(ODataError::not_found(
                "the navigation property leads to no entity",
            )),
            Dialect::V4 => Ok(StatusCode::NO_CONTENT.into_response()),
        },
        ("GET" | "HEAD", Resource::Count { set, rows }) => {
            let query = parse_query(service, set, &pairs)?;
            let page = query.apply(service, &store, set, rows, None);
            Ok(text_response("text/plain", page.count.to_string()))
        }
        (
            "GET" | "HEAD",
            Resource::Property {
                set,
                row,
                property,
                raw,
            },
        ) => {
            let def = &service.sets[set];
            let value = &store.tables[set][row][property];
            let name = def.properties[property].name;
            if raw {
                let text = match value_json(value, service.dialect) {
                    Json::String(text) => text,
                    Json::Null => return Err(ODataError::not_found("the property is null")),
                    other => other.to_string(),
                };
                return Ok(text_response("text/plain", text));
            }
            let body = match service.dialect {
                Dialect::V2 => json!({ "d": { name: value_json(value, Dialect::V2) } }),
                Dialect::V4 => json!({
                    "@odata.context": format!(
                        "$metadata#{}/{name}",
                        key_path(service, set, &store.tables[set][row])
                    ),
                    "value": value_json(value, Dialect::V4),
                }),
            };
            Ok(json_response(StatusCode::OK, &body))
        }
        ("POST", Resource::Collection { set, parent, .. }) => {
            let object = body_object(body)?;
            let row = create(state, &mut store, user, set, parent, &object)?;
            let entity = render(&store).entity(set, row, None, &[]);
            let stored = &store.tables[set][row];
            let location = format!("{base}/{}", key_path(service, set, stored));
            let mut response = json_response(
                StatusCode::CREATED,
                &single(service, set, &Query::default(), entity),
            );
            if let Ok(location) = HeaderValue::from_str(&location) {
                response.headers_mut().insert(header::LOCATION, location);
            }
            Ok(with_etag(response, etag(service, set, stored)))
        }
        ("PATCH" | "MERGE" | "PUT", Resource::Entity { set, row }) => {
            let object = body_object(body)?;
            let replace = method.as_str() == "PUT";
            update(state, &mut store, user, headers, set, row, &object, replace)?;
            let new_etag = etag(service, set, &store.tables[set][row]);
            let wants_body = service.dialect == Dialect::V4
                && header_str(headers, "prefer")
                    .is_some_and(|p| p.contains("return=representation"));
            if wants_body {
                let object = render(&store).entity(set, row, None, &[]);
                let response = json_response(
                    StatusCode::OK,
                    &single(service, set, &Query::default(), object),
                );
                return Ok(with_etag(response, new_etag));
            }
            Ok(with_etag(StatusCode::NO_CONTENT.into_response(), new_etag))
        }
        ("DELETE", Resource::Entity { set, row }) => {
            delete(state, &mut store, headers, set, row)?;
            Ok(StatusCode::NO_CONTENT.into_response())
        }
        (_, Resource::Collection { .. }) => Err(ODataError::method_not_allowed(format!(
            "method {method} is not allowed on a collection"
        ))),
        (_, Resource::Entity { .. }) => Err(ODataError::method_not_allowed(format!(
            "method {method} is not allowed on an entity"
        ))),
        _ => Err(ODataError::method_not_allowed(format!(
            "method {method} is not allowed on this resource"
        ))),
    }
}

fn renderer<'a>(
    service: &'static Service,
    store: &'a Store,
    user: &'a DemoUser,
    base: &'a str,
    exact: bool,
) -> Render<'a> {
    Render {
        service,
        store,
        region: user.region,
        base,
        exact,
    }
}

/// The body of a single-entity answer.
fn single(service: &Service, set: usize, query: &Query, mut object: Map<String, Json>) -> Json {
    match service.dialect {
        Dialect::V2 => json!({ "d": object }),
        Dialect::V4 => {
            object.insert(
                "@odata.context".into(),
                Json::String(context(service, set, query.select.as_ref(), true)),
            );
            Json::Object(object)
        }
    }
}

/// The v4 context URL: `$metadata#Set`, `$metadata#Set(a,b)`, `$metadata#Set/$entity`.
fn context(
    service: &Service,
    set: usize,
    select: Option<&super::query::Selection>,
    entity: bool,
) -> String {
    let def = &service.sets[set];
    let mut context = format!("$metadata#{}", def.name);
    if let Some(select) = select {
        let names: Vec<&str> = select
            .properties
            .iter()
            .map(|&p| def.properties[p].name)
            .collect();
        context.push_str(&format!("({})", names.join(",")));
    }
    if entity {
        context.push_str("/$entity");
    }
    context
}

/// The page size: the service's, or a smaller `Prefer: odata.maxpagesize` (v4, OData Part 1
/// section 8.2.8.3), with the preference to report as applied.
fn page_size(state: &ServiceState, headers: &HeaderMap) -> (usize, Option<usize>) {
    if state.service.dialect != Dialect::V4 {
        return (state.page_size, None);
    }
    let requested = headers
        .get_all("prefer")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .filter_map(|item| item.trim().strip_prefix("odata.maxpagesize="))
        .find_map(|size| size.trim().parse::<usize>().ok())
        .filter(|&size| size > 0);
    match requested {
        Some(size) if size < state.page_size => (size, Some(size)),
        _ => (state.page_size, None),
    }
}

/// The URL of the next page: this request's URL with `$skiptoken` replaced.
fn next_link(host: &str, uri: &Uri, token: usize) -> String {
    let mut query: Vec<&str> = uri
        .query()
        .unwrap_or("")
        .split('&')
        .filter(|part| {
            !part.is_empty()
                && !part.starts_with("$skiptoken=")
                && !part.starts_with("%24skiptoken=")
        })
        .collect();
    let token = format!("$skiptoken={token}");
    query.push(&token);
    format!("http://{host}{}?{}", uri.path(), query.join("&"))
}

/// The service document.
fn service_document(service: &Service) -> Json {
    let names: Vec<&str> = service.sets.iter().map(|set| set.name).collect();
    match service.dialect {
        Dialect::V2 => json!({ "d": { "EntitySets": names } }),
        Dialect::V4 => json!({
            "@odata.context": "$metadata",
            "value": names
                .iter()
                .map(|name| json!({ "name": name, "kind": "EntitySet", "url": name }))
                .collect::<Vec<_>>(),
        }),
    }
}

/// Splits `Name(predicate)` into the name and the predicate.
fn segment_parts(segment: &str) -> Result<(&str, Option<&str>), ODataError> {
    match segment.find('(') {
        None => Ok((segment, None)),
        Some(open) if segment.ends_with(')') => Ok((
            &segment[..open],
            Some(&segment[open + 1..segment.len() - 1]),
        )),
        Some(_) => Err(ODataError::bad_request(format!(
            "invalid resource path segment '{segment}'"
        ))),
    }
}

/// Resolves a resource path against the rows the user may see.
fn resolve(
    service: &'static Service,
    store: &Store,
    user: &DemoUser,
    path: &str,
) -> Result<Resource, ODataError> {
    let segments = split_unquoted(path, '/');
    let (name, predicate) = segment_parts(segments[0])?;
    let set = service.set(name).ok_or_else(|| {
        ODataError::not_found(format!("resource '{name}' does not exist in the service"))
    })?;
    let visible = |set: usize, index: usize| {
        store.visible(service, set, &store.tables[set][index], user.region)
    };
    let rows: Vec<usize> = (0..store.tables[set].len())
        .filter(|&index| visible(set, index))
        .collect();
    let mut resource = match predicate {
        None => Resource::Collection {
            set,
            rows,
            parent: None,
        },
        Some(predicate) => Resource::Entity {
            set,
            row: find_by_key(service, store, set, &rows, predicate)?,
        },
    };
    for segment in &segments[1..] {
        resource = match resource {
            Resource::Collection { set, rows, .. } if *segment == "$count" => {
                Resource::Count { set, rows }
            }
            Resource::Entity { set, row } => {
                let def = &service.sets[set];
                let (name, predicate) = segment_parts(segment)?;
                if let Some(property) = def.property(name).filter(|_| predicate.is_none()) {
                    Resource::Property {
                        set,
                        row,
                        property,
                        raw: false,
                    }
                } else if let Some(navigation) = def.navigation(name) {
                    let nav = &def.navigations[navigation];
                    let target = service.target(nav.target);
                    let related: Vec<usize> = store
                        .related(service, set, &store.tables[set][row], navigation)
                        .filter(|&index| visible(target, index))
                        .collect();
                    match (nav.many, predicate) {
                        (true, None) => Resource::Collection {
                            set: target,
                            rows: related,
                            parent: Some((set, row, navigation)),
                        },
                        (true, Some(predicate)) => Resource::Entity {
                            set: target,
                            row: find_by_key(service, store, target, &related, predicate)?,
                        },
                        (false, None) => match related.first() {
                            Some(&row) => Resource::Entity { set: target, row },
                            None => Resource::NoEntity,
                        },
                        (false, Some(_)) => {
                            return Err(ODataError::bad_request(format!(
                                "'{name}' leads to one entity and takes no key"
                            )));
                        }
                    }
                } else {
                    return Err(ODataError::not_found(format!(
                        "'{name}' is not a property of {}",
                        def.type_name
                    )));
                }
            }
            Resource::Property {
                set, row, property, ..
            } if *segment == "$value" => Resource::Property {
                set,
                row,
                property,
                raw: true,
            },
            _ => {
                return Err(ODataError::not_found(format!(
                    "resource path segment '{segment}' does not apply here"
                )));
            }
        };
    }
    Ok(resource)
}

/// Parses a key predicate (`'a'`, `5`, `K1='a',K2='b'`) into values of the key properties.
fn parse_key(
    service: &Service,
    set: usize,
    predicate: &str,
) -> Result<Vec<(usize, Value)>, ODataError> {
    let def = &service.sets[set];
    let invalid = |why: String| {
        ODataError::bad_request(format!("invalid key predicate '({predicate})': {why}"))
    };
    let parts = split_unquoted(predicate, ',');
    let named: Vec<(Option<&str>, &str)> = parts
        .iter()
        .map(|part| match split_unquoted(part, '=').as_slice() {
            [name, value] => (Some(name.trim()), value.trim()),
            _ => (None, part.trim()),
        })
        .collect();
    let mut key = Vec::new();
    for (name, literal) in named {
        let name = match name {
            Some(name) => name,
            None if def.keys.len() == 1 => def.keys[0],
            None => return Err(invalid(format!("{} has a composite key", def.type_name))),
        };
        if !def.keys.contains(&name) {
            return Err(invalid(format!("'{name}' is not a key property")));
        }
        let index = def
            .property(name)
            .ok_or_else(|| invalid(format!("unknown '{name}'")))?;
        let value = parse_literal(literal, service.dialect).map_err(|e| invalid(e.message))?;
        let value = coerce_key(value, def.properties[index].kind)
            .ok_or_else(|| invalid(format!("wrong type for '{name}'")))?;
        if key.iter().any(|(k, _)| *k == index) {
            return Err(invalid(format!("'{name}' given twice")));
        }
        key.push((index, value));
    }
    if key.len() != def.keys.len() {
        return Err(invalid(format!(
            "{} key properties expected",
            def.keys.len()
        )));
    }
    Ok(key)
}

fn coerce_key(value: Value, kind: Kind) -> Option<Value> {
    match (value, kind) {
        (value @ Value::String(_), Kind::String) => Some(value),
        (value @ Value::Int(_), Kind::Int32) => Some(value),
        (value @ Value::Guid(_), Kind::Guid) => Some(value),
        _ => None,
    }
}

/// The row among `rows` with this key; 404 when there is none the user may see.
fn find_by_key(
    service: &Service,
    store: &Store,
    set: usize,
    rows: &[usize],
    predicate: &str,
) -> Result<usize, ODataError> {
    let key = parse_key(service, set, predicate)?;
    rows.iter()
        .copied()
        .find(|&index| {
            let row = &store.tables[set][index];
            key.iter().all(|(k, value)| equals(&row[*k], value))
        })
        .ok_or_else(|| {
            ODataError::not_found(format!(
                "no {} with key ({predicate})",
                service.sets[set].type_name
            ))
        })
}

fn body_object(body: &[u8]) -> Result<Map<String, Json>, ODataError> {
    match serde_json::from_slice(body) {
        Ok(Json::Object(object)) => Ok(object),
        Ok(_) => Err(ODataError::bad_request(
            "the request body must be a JSON object",
        )),
        Err(error) => Err(ODataError::bad_request(format!(
            "the request body is not valid JSON: {error}"
        ))),
    }
}

/// Applies the properties of a request body to a row; key properties must keep their values
/// when `keys_fixed`.
fn apply_body(
    service: &Service,
    set: usize,
    row: &mut Row,
    object: &Map<String, Json>,
    keys_fixed: bool,
) -> Result<(), ODataError> {
    let def = &service.sets[set];
    for (name, json) in object {
        // Control information (`__metadata`, `@odata.type`, `x@odata.bind`) is not data.
        if name.starts_with("__") || name.contains('@') {
            continue;
        }
        let Some(index) = def.property(name) else {
            return Err(if def.navigation(name).is_some() {
                ODataError::not_implemented(format!(
                    "deep insert and update through '{name}' are not supported"
                ))
            } else {
                ODataError::bad_request(format!(
                    "property '{name}' does not exist in type {}",
                    def.type_name
                ))
            });
        };
        let property = &def.properties[index];
        if property.computed {
            continue;
        }
        let value = json_value(json, property.kind, service.dialect)
            .map_err(|why| ODataError::bad_request(format!("property '{name}': {why}")))?;
        if let (Some(max), Some(text)) = (property.max_length, value.as_str())
            && text.chars().count() > max
        {
            return Err(ODataError::bad_request(format!(
                "property '{name}' is longer than {max} characters"
            )));
        }
        if keys_fixed && def.keys.contains(&property.name) {
            if !equals(&row[index], &value) {
                return Err(ODataError::bad_request(format!(
                    "key property '{name}' cannot be changed"
                )));
            }
            continue;
        }
        row[index] = value;
    }
    Ok(())
}

fn now_millis() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// Sets the ETag property to now, always later than before so the ETag changes.
fn touch(service: &Service, set: usize, row: &mut Row) {
    let def = &service.sets[set];
    if let Some(index) = def.etag.and_then(|name| def.property(name)) {
        let previous = match row[index] {
            Value::DateTimeOffset(millis) => millis,
            _ => i64::MIN,
        };
        row[index] = Value::DateTimeOffset(now_millis().max(previous.saturating_add(1)));
    }
}

/// Checks that the user may hold `row` (filling in their region when the row has none yet).
fn check_region(
    service: &Service,
    store: &Store,
    user: &DemoUser,
    set: usize,
    row: &mut Row,
) -> Result<(), ODataError> {
    let def = &service.sets[set];
    match def.visibility {
        Visibility::All => Ok(()),
        Visibility::Region(property) => {
            let index = def
                .property(property)
                .expect("the region property is declared");
            if row[index].is_null() {
                row[index] = Value::String(user.region.to_owned());
            }
            if row[index].as_str() == Some(user.region) {
                Ok(())
            } else {
                Err(ODataError::forbidden(format!(
                    "user {} may only write rows of region {}",
                    user.name, user.region
                )))
            }
        }
        Visibility::Parent(navigation) => {
            let navigation = def
                .navigation(navigation)
                .expect("parent navigation declared");
            let parent_set = service.target(def.navigations[navigation].target);
            let Some(parent) = store.follow_one(service, set, row, navigation) else {
                return Err(ODataError::bad_request(format!(
                    "the {} this row belongs to does not exist",
                    service.sets[parent_set].type_name
                )));
            };
            if store.visible(
                service,
                parent_set,
                &store.tables[parent_set][parent],
                user.region,
            ) {
                Ok(())
            } else {
                Err(ODataError::forbidden(format!(
                    "user {} may only write rows of region {}",
                    user.name, user.region
                )))
            }
        }
    }
}

/// Fills missing key values: the next number (by 10 for the last part of a composite key, as
/// SAP numbers items) for string and integer keys, a fresh GUID for GUID keys.
fn generate_keys(service: &Service, store: &Store, set: usize, row: &mut Row) {
    let def = &service.sets[set];
    let keys: Vec<usize> = def.key_indexes().collect();
    for (position, &key) in keys.iter().enumerate() {
        if !row[key].is_null() {
            continue;
        }
        let siblings = store.tables[set]
            .iter()
            .filter(|other| keys[..position].iter().all(|&k| equals(&other[k], &row[k])));
        let step = if keys.len() > 1 && position == keys.len() - 1 {
            10
        } else {
            1
        };
        row[key] = match def.properties[key].kind {
            Kind::Int32 => {
                let max = siblings
                    .filter_map(|other| match other[key] {
                        Value::Int(n) => Some(n),
                        _ => None,
                    })
                    .max()
                    .unwrap_or(0);
                Value::Int(max + step)
            }
            Kind::Guid => {
                let mut counter = store.tables[set].len() + 1;
                loop {
                    let candidate = Value::Guid(format!("b0000000-0000-4000-8000-{counter:012}"));
                    if !store.tables[set]
                        .iter()
                        .any(|other| equals(&other[key], &candidate))
                    {
                        break candidate;
                    }
                    counter += 1;
                }
            }
            _ => {
                let max = siblings
                    .filter_map(|other| other[key].as_str()?.parse::<i64>().ok())
                    .max()
                    .unwrap_or(0);
                Value::String((max + step).to_string())
            }
        };
    }
}

fn check_required(service: &Service, set: usize, row: &Row) -> Result<(), ODataError> {
    let def = &service.sets[set];
    for (index, property) in def.properties.iter().enumerate() {
        if !property.nullable && row[index].is_null() {
            return Err(ODataError::bad_request(format!(
                "property '{}' must not be null",
                property.name
            )));
        }
    }
    Ok(())
}

/// `POST` to a collection: creates a row and returns its index.
fn create(
    state: &ServiceState,
    store: &mut Store,
    user: &DemoUser,
    set: usize,
    parent: Option<(usize, usize, usize)>,
    object: &Map<String, Json>,
) -> Result<usize, ODataError> {
    let service = state.service;
    let def = &service.sets[set];
    if !def.creatable {
        return Err(ODataError::method_not_allowed(format!(
            "entity set {} does not allow creating entities",
            def.name
        )));
    }
    let mut row: Row = vec![Value::Null; def.properties.len()];
    apply_body(service, set, &mut row, object, false)?;
    if let Some((parent_set, parent_row, navigation)) = parent {
        // Creating through a navigation property links the new row to the parent
        // (OData v4 Part 1 section 11.4.2, v2 section 2.4).
        let parent_def = &service.sets[parent_set];
        let nav = &parent_def.navigations[navigation];
        for (own, other) in nav.join {
            if let (Some(own), Some(other)) = (parent_def.property(own), def.property(other)) {
                row[other] = store.tables[parent_set][parent_row][own].clone();
            }
        }
    }
    generate_keys(service, store, set, &mut row);
    check_required(service, set, &row)?;
    check_region(service, store, user, set, &mut row)?;
    let keys: Vec<usize> = def.key_indexes().collect();
    if store.tables[set]
        .iter()
        .any(|other| keys.iter().all(|&k| equals(&other[k], &row[k])))
    {
        return Err(ODataError::new(
            StatusCode::CONFLICT,
            "CONFLICT",
            format!(
                "an entity with key ({}) already exists",
                key_path(service, set, &row)
            ),
        ));
    }
    touch(service, set, &mut row);
    let key_values: Vec<Value> = keys.iter().map(|&k| row[k].clone()).collect();
    store.tables[set].push(row);
    if let Some(derive) = state.derive {
        derive(service, store);
    }
    store.tables[set]
        .iter()
        .position(|other| {
            keys.iter()
                .zip(&key_values)
                .all(|(&k, v)| equals(&other[k], v))
        })
        .ok_or_else(|| {
            ODataError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "INTERNAL",
                "created row vanished",
            )
        })
}

/// Checks `If-Match` against the row's ETag (OData v4 Part 1 section 8.2.4): `*` matches any,
/// a mismatch is 412. SAP Gateway also demands the header (428) where an ETag exists.
fn check_if_match(
    service: &Service,
    headers: &HeaderMap,
    current: Option<String>,
) -> Result<(), ODataError> {
    let Some(current) = current else {
        return Ok(());
    };
    match header_str(headers, "if-match") {
        None if service.dialect == Dialect::V2 => Err(ODataError::new(
            StatusCode::PRECONDITION_REQUIRED,
            "PRECONDITION_REQUIRED",
            "the entity has an ETag; send it in If-Match",
        )),
        None => Ok(()),
        Some(given)
            if given.split(',').any(|tag| {
                let tag = tag.trim();
                tag == "*" || tag == current
            }) =>
        {
            Ok(())
        }
        Some(_) => Err(ODataError::new(
            StatusCode::PRECONDITION_FAILED,
            "PRECONDITION_FAILED",
            format!("the entity was changed: its ETag is now {current}"),
        )),
    }
}

/// `PATCH`/`MERGE` (merge) or `PUT` (replace) of one row.
#[allow(clippy::too_many_arguments)]
fn update(
    state: &ServiceState,
    store: &mut Store,
    user: &DemoUser,
    headers: &HeaderMap,
    set: usize,
    index: usize,
    object: &Map<String, Json>,
    replace: bool,
) -> Result<(), ODataError> {
    let service = state.service;
    let def = &service.sets[set];
    if !def.updatable {
        return Err(ODataError::method_not_allowed(format!(
            "entity set {} does not allow updates",
            def.name
        )));
    }
    check_if_match(
        service,
        headers,
        etag(service, set, &store.tables[set][index]),
    )?;
    let mut row = store.tables[set][index].clone();
    if replace {
        for (position, property) in def.properties.iter().enumerate() {
            if !property.computed && !def.keys.contains(&property.name) {
                row[position] = Value::Null;
            }
        }
    }
    apply_body(service, set, &mut row, object, true)?;
    check_required(service, set, &row)?;
    check_region(service, store, user, set, &mut row)?;
    touch(service, set, &mut row);
    store.tables[set][index] = row;
    if let Some(derive) = state.derive {
        derive(service, store);
    }
    Ok(())
}

/// `DELETE` of one row, and of the rows that only exist under it.
fn delete(
    state: &ServiceState,
    store: &mut Store,
    headers: &HeaderMap,
    set: usize,
    index: usize,
) -> Result<(), ODataError> {
    let service = state.service;
    let def = &service.sets[set];
    if !def.deletable {
        return Err(ODataError::method_not_allowed(format!(
            "entity set {} does not allow deleting entities",
            def.name
        )));
    }
    check_if_match(
        service,
        headers,
        etag(service, set, &store.tables[set][index]),
    )?;
    store.tables[set].remove(index);
    store.remove_orphans(service);
    if let Some(derive) = state.derive {
        derive(service, store);
    }
    Ok(())
}
