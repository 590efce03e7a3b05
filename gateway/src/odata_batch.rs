//! `$batch` for the OData v4 endpoint (OData 4.01 part 1, section 11.7): multipart/mixed
//! (section 11.7.7 ff.) and JSON batches (OData JSON Format 4.01 section 19).
//!
//! Each inner request is answered by the endpoint itself, dispatched through the same router
//! with the caller's own `Authorization`, so it gets exactly the checks, limits and per-user
//! credentials of a single request. The requests of a change set (multipart) or atomicity group
//! (JSON) run together and their changes reach the backend as one change set of the backend's
//! own `$batch` ([`crate::changeset`]): the backend applies all or none. A change set the
//! gateway refuses in part, or one spanning several services, reaches no backend at all. When a
//! change set fails, its failed request's answer stands for all of it (section 11.7.4).

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, Request, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use tower::ServiceExt as _;

use crate::odata_http::ODataError;
use crate::server::AppState;

/// Most inner requests one batch may hold.
const MAX_REQUESTS: usize = 1_000;

/// One inner request, whatever the batch format.
#[derive(Debug, Clone)]
struct Inner {
    id: Option<String>,
    method: Method,
    /// Path and query, absolute (`/odata/v4/ns/Set?..`).
    url: String,
    headers: Vec<(HeaderName, HeaderValue)>,
    body: Bytes,
    /// Index of the change set (multipart) or atomicity group (JSON) it belongs to.
    group: Option<String>,
}

/// One inner answer.
#[derive(Debug)]
struct Answer {
    id: Option<String>,
    /// The change set it answers for, if any.
    group: Option<String>,
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
}

/// `POST /odata/v4/<namespace>/$batch`.
pub async fn batch(
    State(state): State<Arc<AppState>>,
    Path(namespace): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    // The caller is checked once up front; every inner request is checked again.
    let caller = match crate::server::authenticate(&state, &headers).await {
        Ok(caller) => caller,
        Err(error) => return error.into_response(),
    };
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let root = format!("/odata/v4/{namespace}/");
    let parsed = if content_type
        .to_ascii_lowercase()
        .starts_with("application/json")
    {
        parse_json(&body, &root).map(|requests| (requests, None))
    } else if content_type
        .to_ascii_lowercase()
        .starts_with("multipart/mixed")
    {
        match boundary_of(&content_type) {
            Some(boundary) => parse_multipart(&body, &boundary, &root).map(|r| (r, Some(boundary))),
            None => Err(ODataError::new(
                400,
                "BAD_BATCH",
                "multipart/mixed without a boundary",
            )),
        }
    } else {
        Err(ODataError::new(
            415,
            "UNSUPPORTED_MEDIA_TYPE",
            "a batch is multipart/mixed or application/json",
        ))
    };
    let (requests, multipart) = match parsed {
        Ok(parsed) => parsed,
        Err(error) => return error.into_response(),
    };
    if requests.len() > MAX_REQUESTS {
        return ODataError::new(
            400,
            "LIMIT_EXCEEDED",
            format!("a batch holds at most {MAX_REQUESTS} requests"),
        )
        .into_response();
    }
    let continue_on_error = prefers_continue_on_error(&headers);
    let authorization = headers.get(header::AUTHORIZATION).cloned();
    let router = crate::server::app(state.clone());
    let generation = state.graph.current();
    let executor = state.executor(caller, generation.limits);
    let mut answers: Vec<Answer> = Vec::with_capacity(requests.len());
    let mut index = 0;
    while index < requests.len() {
        let inner = &requests[index];
        let Some(group) = &inner.group else {
            let answer = dispatch(&router, inner, authorization.as_ref(), None).await;
            let failed = is_error(&answer);
            answers.push(answer);
            index += 1;
            if failed && !continue_on_error {
                break;
            }
            continue;
        };
        // A change set (its requests are adjacent): all of them run together, and their changes
        // reach the backend as one change set of its own `$batch`.
        let end = requests[index..]
            .iter()
            .position(|r| r.group.as_ref() != Some(group))
            .map_or(requests.len(), |offset| index + offset);
        let members = &requests[index..end];
        let change_set = crate::changeset::ChangeSet::new(members.len());
        let runs = members.iter().enumerate().map(|(position, inner)| {
            let member = change_set.member(position);
            let router = &router;
            let authorization = authorization.as_ref();
            async move {
                let answer = dispatch(router, inner, authorization, Some(member.clone())).await;
                member.leave(!answer.status.is_success());
                answer
            }
        });
        let decide = async {
            let (submissions, aborted) = change_set.settled().await;
            executor
                .run_change_set(&generation.graph, submissions, aborted)
                .await;
        };
        let (group_answers, ()) = tokio::join!(crate::graph::join_all(runs.collect()), decide);
        // All succeeded: each answers for itself. Otherwise the first real failure (not a
        // request held back because another failed) answers for the whole change set.
        let failed: Vec<&Answer> = group_answers
            .iter()
            .filter(|answer| !answer.status.is_success())
            .collect();
        if failed.is_empty() {
            answers.extend(group_answers);
        } else {
            let cause = failed
                .iter()
                .position(|answer| !is_aborted(answer))
                .unwrap_or(0);
            let chosen = group_answers
                .into_iter()
                .filter(|answer| !answer.status.is_success())
                .nth(cause)
                .expect("a failed answer");
            answers.push(chosen);
            if !continue_on_error {
                break;
            }
        }
        index = end;
    }
    let mut response = match multipart {
        None => json_answer(&answers),
        Some(_) => multipart_answer(&answers),
    };
    if continue_on_error {
        response.headers_mut().insert(
            "preference-applied",
            HeaderValue::from_static("odata.continue-on-error"),
        );
    }
    response
}

/// True for an answer that reports an error (4xx or 5xx).
fn is_error(answer: &Answer) -> bool {
    answer.status.is_client_error() || answer.status.is_server_error()
}

/// `Prefer: odata.continue-on-error` (4.01 also without the `odata.` prefix, with an optional
/// `=true` or `=false`). Without it, a batch stops at the first request or change set that fails
/// (OData 4.01 part 1, section 8.2.8.3): later requests may depend on it.
fn prefers_continue_on_error(headers: &HeaderMap) -> bool {
    headers
        .get_all("prefer")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .any(|preference| {
            let (name, value) = preference
                .split_once('=')
                .map_or((preference, "true"), |(name, value)| (name, value));
            let name = name.trim().to_ascii_lowercase();
            (name == "odata.continue-on-error" || name == "continue-on-error")
                && value.trim().eq_ignore_ascii_case("true")
        })
}

/// Runs one inner request through the endpoint with the batch's `Authorization`, as a member
/// of a change set when `member` is given.
async fn dispatch(
    router: &axum::Router,
    inner: &Inner,
    authorization: Option<&HeaderValue>,
    member: Option<crate::changeset::Member>,
) -> Answer {
    let mut request = Request::builder()
        .method(inner.method.clone())
        .uri(&inner.url);
    for (name, value) in &inner.headers {
        request = request.header(name, value);
    }
    if let Some(authorization) = authorization {
        request = request.header(header::AUTHORIZATION, authorization);
    }
    if let Some(member) = member {
        request = request.extension(member);
    }
    let answer = match request.body(Body::from(inner.body.clone())) {
        Ok(request) => match router.clone().oneshot(request).await {
            Ok(response) => response,
            Err(never) => match never {},
        },
        Err(error) => {
            ODataError::new(400, "BAD_BATCH", format!("inner request: {error}")).into_response()
        }
    };
    let status = answer.status();
    let headers = answer.headers().clone();
    let body = axum::body::to_bytes(answer.into_body(), usize::MAX)
        .await
        .unwrap_or_default();
    Answer {
        id: inner.id.clone(),
        group: inner.group.clone(),
        status,
        headers,
        body,
    }
}

/// True for the answer of a change held back because another request of its change set failed.
fn is_aborted(answer: &Answer) -> bool {
    serde_json::from_slice::<Value>(&answer.body)
        .ok()
        .is_some_and(|body| body["error"]["code"] == "CHANGESET_ABORTED")
}

pub(crate) fn boundary_of(content_type: &str) -> Option<String> {
    content_type.split(';').find_map(|part| {
        let (name, value) = part.trim().split_once('=')?;
        name.eq_ignore_ascii_case("boundary")
            .then(|| value.trim_matches('"').to_owned())
    })
}

/// A URL of an inner request, made absolute: relative ones are relative to the service root.
/// Inner requests stay inside the batch's own service (section 11.7.2): anything else is 400.
fn absolute(url: &str, root: &str) -> Result<String, ODataError> {
    let inside = |path: &str| -> Result<String, ODataError> {
        if path.starts_with(root) {
            Ok(path.to_owned())
        } else {
            Err(ODataError::new(
                400,
                "BAD_BATCH",
                format!("inner request `{path}` is outside the service {root}"),
            ))
        }
    };
    if let Some(rest) = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))
    {
        let path = rest.find('/').map_or("/", |at| &rest[at..]);
        return inside(path);
    }
    if url.starts_with('/') {
        return inside(url);
    }
    if url.starts_with('$') && !url.starts_with("$metadata") {
        return Err(ODataError::new(
            501,
            "NOT_IMPLEMENTED",
            format!("content-ID references such as `{url}` are not supported"),
        ));
    }
    Ok(format!("{root}{url}"))
}

/// JSON batch: `{"requests": [{"id", "method", "url", "headers", "body", "atomicityGroup"}]}`.
fn parse_json(body: &[u8], root: &str) -> Result<Vec<Inner>, ODataError> {
    let bad = |message: String| ODataError::new(400, "BAD_BATCH", message);
    let document: Value =
        serde_json::from_slice(body).map_err(|e| bad(format!("not JSON: {e}")))?;
    let requests = document["requests"]
        .as_array()
        .ok_or_else(|| bad("a JSON batch needs a `requests` array".into()))?;
    let mut out = Vec::with_capacity(requests.len());
    for (index, request) in requests.iter().enumerate() {
        let method = request["method"]
            .as_str()
            .and_then(|m| Method::from_bytes(m.to_ascii_uppercase().as_bytes()).ok())
            .ok_or_else(|| bad(format!("requests[{index}].method is missing or invalid")))?;
        let url = request["url"]
            .as_str()
            .ok_or_else(|| bad(format!("requests[{index}].url is missing")))?;
        let mut headers = Vec::new();
        if let Some(object) = request["headers"].as_object() {
            for (name, value) in object {
                if let (Ok(name), Some(Ok(value))) = (
                    HeaderName::from_bytes(name.as_bytes()),
                    value.as_str().map(HeaderValue::from_str),
                ) {
                    headers.push((name, value));
                }
            }
        }
        let body = match &request["body"] {
            Value::Null => Bytes::new(),
            Value::String(text) => Bytes::from(text.clone()),
            other => {
                if !headers.iter().any(|(n, _)| n == header::CONTENT_TYPE) {
                    headers.push((
                        header::CONTENT_TYPE,
                        HeaderValue::from_static("application/json"),
                    ));
                }
                Bytes::from(other.to_string())
            }
        };
        out.push(Inner {
            id: request["id"].as_str().map(str::to_owned),
            method,
            url: absolute(url, root)?,
            headers,
            body,
            group: request["atomicityGroup"].as_str().map(str::to_owned),
        });
    }
    Ok(out)
}

fn json_answer(answers: &[Answer]) -> Response {
    let responses: Vec<Value> = answers
        .iter()
        .map(|answer| {
            let headers: serde_json::Map<String, Value> = answer
                .headers
                .iter()
                .filter_map(|(n, v)| {
                    Some((n.to_string(), Value::String(v.to_str().ok()?.to_owned())))
                })
                .collect();
            let body = serde_json::from_slice::<Value>(&answer.body).unwrap_or_else(|_| {
                if answer.body.is_empty() {
                    Value::Null
                } else {
                    Value::String(String::from_utf8_lossy(&answer.body).into_owned())
                }
            });
            let mut object = json!({ "status": answer.status.as_u16(), "headers": headers });
            if let Some(id) = &answer.id {
                object["id"] = Value::String(id.clone());
            }
            if !body.is_null() {
                object["body"] = body;
            }
            object
        })
        .collect();
    let mut response = axum::Json(json!({ "responses": responses })).into_response();
    response
        .headers_mut()
        .insert("odata-version", HeaderValue::from_static("4.0"));
    response
}

/// Splits a multipart body at `--boundary` lines; returns the parts between the first and the
/// closing delimiter (RFC 2046 section 5.1.1).
pub(crate) fn split_parts<'a>(body: &'a str, boundary: &str) -> Vec<&'a str> {
    let delimiter = format!("--{boundary}");
    let mut parts = Vec::new();
    let mut rest = body;
    let Some(start) = rest.find(&delimiter) else {
        return parts;
    };
    rest = &rest[start + delimiter.len()..];
    while !rest.starts_with("--") {
        let Some(end) = rest.find(&delimiter) else {
            break;
        };
        let part = rest[..end].trim_start_matches(['\r', '\n']);
        let part = part
            .strip_suffix("\r\n")
            .or_else(|| part.strip_suffix('\n'))
            .unwrap_or(part);
        parts.push(part);
        rest = &rest[end + delimiter.len()..];
    }
    parts
}

/// Headers and body of a MIME entity or HTTP message, split at the first empty line.
pub(crate) fn head_and_body(text: &str) -> (&str, &str) {
    if let Some(at) = text.find("\r\n\r\n") {
        (&text[..at], &text[at + 4..])
    } else if let Some(at) = text.find("\n\n") {
        (&text[..at], &text[at + 2..])
    } else {
        (text, "")
    }
}

pub(crate) fn header_lines(head: &str) -> impl Iterator<Item = (&str, &str)> {
    head.lines()
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim(), value.trim()))
}

fn parse_multipart(body: &[u8], boundary: &str, root: &str) -> Result<Vec<Inner>, ODataError> {
    let bad = |message: String| ODataError::new(400, "BAD_BATCH", message);
    let text = std::str::from_utf8(body).map_err(|_| bad("the batch is not UTF-8".into()))?;
    let mut out = Vec::new();
    for (index, part) in split_parts(text, boundary).into_iter().enumerate() {
        let (mime_head, mime_body) = head_and_body(part);
        let part_type = header_lines(mime_head)
            .find(|(name, _)| name.eq_ignore_ascii_case("content-type"))
            .map(|(_, value)| value.to_owned())
            .unwrap_or_default();
        let content_id = header_lines(mime_head)
            .find(|(name, _)| name.eq_ignore_ascii_case("content-id"))
            .map(|(_, value)| value.to_owned());
        if part_type
            .to_ascii_lowercase()
            .starts_with("multipart/mixed")
        {
            let inner_boundary = boundary_of(&part_type)
                .ok_or_else(|| bad(format!("change set {index} has no boundary")))?;
            let group = format!("changeset-{index}");
            for (inner_index, inner) in split_parts(mime_body, &inner_boundary)
                .into_iter()
                .enumerate()
            {
                let (head, http) = head_and_body(inner);
                let id = header_lines(head)
                    .find(|(name, _)| name.eq_ignore_ascii_case("content-id"))
                    .map(|(_, value)| value.to_owned())
                    .or_else(|| Some(format!("{index}.{inner_index}")));
                let mut request = http_request(http, root)?;
                if request.method == Method::GET {
                    return Err(bad("a change set may not contain GET requests".into()));
                }
                request.id = id;
                request.group = Some(group.clone());
                out.push(request);
            }
        } else {
            let mut request = http_request(mime_body, root)?;
            request.id = content_id.or_else(|| Some(index.to_string()));
            out.push(request);
        }
    }
    Ok(out)
}

/// `METHOD url HTTP/1.1`, headers, empty line, body.
fn http_request(text: &str, root: &str) -> Result<Inner, ODataError> {
    let bad = |message: String| ODataError::new(400, "BAD_BATCH", message);
    let (head, body) = head_and_body(text);
    let mut lines = head.lines();
    let request_line = lines
        .next()
        .ok_or_else(|| bad("an inner request has no request line".into()))?;
    let mut words = request_line.split_whitespace();
    let method = words
        .next()
        .and_then(|m| Method::from_bytes(m.as_bytes()).ok())
        .ok_or_else(|| bad(format!("invalid request line `{request_line}`")))?;
    let url = words
        .next()
        .ok_or_else(|| bad(format!("invalid request line `{request_line}`")))?;
    let mut headers = Vec::new();
    for line in lines {
        if let Some((name, value)) = line.split_once(':')
            && let (Ok(name), Ok(value)) = (
                HeaderName::from_bytes(name.trim().as_bytes()),
                HeaderValue::from_str(value.trim()),
            )
            && name != header::AUTHORIZATION
        {
            headers.push((name, value));
        }
    }
    Ok(Inner {
        id: None,
        method,
        url: absolute(url, root)?,
        headers,
        body: Bytes::from(body.trim_end_matches(['\r', '\n']).to_owned()),
        group: None,
    })
}

fn multipart_answer(answers: &[Answer]) -> Response {
    let boundary = format!("batch_{}", crate::server::trace_id());
    let mut out = String::new();
    let mut index = 0;
    while index < answers.len() {
        let answer = &answers[index];
        let group = answer.group.clone();
        out.push_str(&format!("--{boundary}\r\n"));
        match group {
            Some(group) if answer.status.is_success() => {
                // A successful change set: its answers in a nested multipart.
                let changeset = format!("changeset_{}", crate::server::trace_id());
                out.push_str(&format!(
                    "Content-Type: multipart/mixed; boundary={changeset}\r\n\r\n"
                ));
                while index < answers.len() && answers[index].group.as_ref() == Some(&group) {
                    out.push_str(&format!("--{changeset}\r\n"));
                    push_http_answer(&mut out, &answers[index]);
                    index += 1;
                }
                out.push_str(&format!("--{changeset}--\r\n"));
            }
            _ => {
                push_http_answer(&mut out, answer);
                index += 1;
            }
        }
    }
    out.push_str(&format!("--{boundary}--\r\n"));
    let mut response = Response::new(Body::from(out));
    if let Ok(value) = HeaderValue::from_str(&format!("multipart/mixed; boundary={boundary}")) {
        response.headers_mut().insert(header::CONTENT_TYPE, value);
    }
    response
        .headers_mut()
        .insert("odata-version", HeaderValue::from_static("4.0"));
    response
}

fn push_http_answer(out: &mut String, answer: &Answer) {
    out.push_str("Content-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n");
    if let Some(id) = &answer.id {
        out.push_str(&format!("Content-ID: {id}\r\n"));
    }
    out.push_str("\r\n");
    out.push_str(&format!(
        "HTTP/1.1 {} {}\r\n",
        answer.status.as_u16(),
        answer.status.canonical_reason().unwrap_or("")
    ));
    for (name, value) in &answer.headers {
        if let Ok(value) = value.to_str() {
            out.push_str(&format!("{name}: {value}\r\n"));
        }
    }
    out.push_str("\r\n");
    out.push_str(&String::from_utf8_lossy(&answer.body));
    out.push_str("\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multipart_batches_split_into_requests_and_change_sets() {
        let body = "--b1\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n\r\nGET A_SalesOrder?$top=1 HTTP/1.1\r\nAccept: application/json\r\n\r\n\r\n--b1\r\nContent-Type: multipart/mixed; boundary=cs1\r\n\r\n--cs1\r\nContent-Type: application/http\r\nContent-ID: 7\r\n\r\nPATCH A_SalesOrder('1') HTTP/1.1\r\nContent-Type: application/json\r\nIf-Match: W/\"x\"\r\n\r\n{\"Rating\":2}\r\n--cs1--\r\n--b1--\r\n";
        let requests = parse_multipart(body.as_bytes(), "b1", "/odata/v4/ns/").expect("parses");
        assert_eq!(requests.len(), 2);
        assert_eq!(requests[0].method, Method::GET);
        assert_eq!(requests[0].url, "/odata/v4/ns/A_SalesOrder?$top=1");
        assert_eq!(requests[0].group, None);
        assert_eq!(requests[1].method, Method::PATCH);
        assert_eq!(requests[1].url, "/odata/v4/ns/A_SalesOrder('1')");
        assert_eq!(requests[1].id.as_deref(), Some("7"));
        assert!(requests[1].group.is_some());
        assert_eq!(&requests[1].body[..], b"{\"Rating\":2}");
        assert!(
            requests[1]
                .headers
                .iter()
                .any(|(n, v)| n == header::IF_MATCH && v == "W/\"x\"")
        );
    }

    #[test]
    fn json_batches_read_ids_groups_and_bodies() {
        let body = br#"{"requests":[{"id":"1","method":"get","url":"A?$top=1"},{"id":"2","method":"POST","url":"/odata/v4/ns/A","atomicityGroup":"g","body":{"x":1}}]}"#;
        let outside = br#"{"requests":[{"method":"POST","url":"/admin/refresh"}]}"#;
        assert!(
            parse_json(outside, "/odata/v4/ns/").is_err(),
            "stays inside the service"
        );
        let requests = parse_json(body, "/odata/v4/ns/").expect("parses");
        assert_eq!(requests[0].method, Method::GET);
        assert_eq!(requests[0].url, "/odata/v4/ns/A?$top=1");
        assert_eq!(requests[1].group.as_deref(), Some("g"));
        assert_eq!(&requests[1].body[..], br#"{"x":1}"#);
        assert!(parse_json(b"{}", "/").is_err());
        assert!(parse_json(br#"{"requests":[{"method":"GET","url":"$1/x"}]}"#, "/").is_err());
    }
}
