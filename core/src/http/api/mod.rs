//! `/api/v1/`: the JSON API. Every method of every namespace the
//! [`Registry`](crate::rpc::Registry) holds (builtin, plugin, added at run
//! time) is `POST /api/v1/<namespace>.<method>` with a JSON array of
//! parameters (an empty body: none), dispatched exactly as `/RPC2`
//! dispatches it; `GET /api/v1/openapi.json` describes them
//! ([`openapi`]); `GET /api/v1/health` answers whether every process that
//! should be up is ([`health`]); `GET /api/v1/events` streams process
//! state changes as server-sent events ([`events`]). Values cross as [`json`](mod@json) documents
//! (binary and dates included). This module owns the routes' safety rules
//! and their JSON answers; it owns no daemon state and reads processes
//! only through the registry's `supervisor` namespace, so http never
//! imports the daemon.
//!
//! Answers:
//! - a result: 200, the value as JSON;
//! - a fault: 200, `{"fault": {"code": N, "string": "..."}}`, the codes and
//!   strings `/RPC2` sends; an unknown method is the same `UNKNOWN_METHOD`
//!   fault with 404;
//! - a refused request: `{"error": "..."}` with 400 (malformed JSON, a body
//!   that is not an array, a value with no XML-RPC form), 403 (another
//!   site), 404 (no such route), 405, 408 (body too slow), 413 (body over
//!   the server's limit, as `/RPC2`), 415 (not `application/json`); a
//!   method that panics is 500, as on `/RPC2`.
//!
//! Safety, against a third-party page making a browser call the API:
//! Basic auth is the router's, before anything here, as for every route.
//! A POST must say `Content-Type: application/json` (a cross-site page can
//! send that only after a CORS preflight, which this server never
//! approves). A request whose `Origin` names another host than the one it
//! was sent to (`Host`, or `X-Forwarded-Host` from a reverse proxy, which
//! a page cannot set without a preflight either), or whose
//! `Sec-Fetch-Site` is `cross-site` or `same-site` (the browser says the
//! caller is another origin), is refused with 403. A request without
//! `Origin` comes from a non-browser client and is served.

mod events;
mod health;
mod json;
mod openapi;

use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use http_body_util::{BodyExt, Limited};
use serde_json::{Value as Json, json};

use super::router::AppState;
use crate::rpc::{CallError, Fault, code};

/// Where the API's routes live.
pub(super) const PREFIX: &str = "/api/v1/";

/// Answer a request whose path starts with `/api`.
pub(super) async fn handle(state: &AppState, request: Request) -> Response {
    if let Some(why) = refused_origin(request.headers()) {
        return error(StatusCode::FORBIDDEN, why);
    }
    let Some(route) = request.uri().path().strip_prefix(PREFIX) else {
        return error(
            StatusCode::NOT_FOUND,
            "no such route: the API is under /api/v1/",
        );
    };
    let is_get = matches!(*request.method(), Method::GET | Method::HEAD);
    match route {
        "openapi.json" if is_get => respond(StatusCode::OK, &openapi::document(state).await),
        "health" if is_get => {
            let (status, body) = health::report(&state.registry).await;
            respond(status, &body)
        }
        "events" if is_get => {
            events::stream(&state.registry, state.hooks.changes.clone(), &request)
        }
        "openapi.json" | "health" | "events" => not_allowed("GET, HEAD"),
        _ if request.method() == Method::POST => {
            let method = route.to_owned();
            call(state, &method, request).await
        }
        _ => not_allowed("POST"),
    }
}

/// Why a request from a browser is refused as coming from another site;
/// `None` to serve it.
pub(in crate::http) fn refused_origin(headers: &HeaderMap) -> Option<&'static str> {
    let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    match text("sec-fetch-site")
        .map(str::to_ascii_lowercase)
        .as_deref()
    {
        Some("cross-site") => return Some("cross-site requests are refused"),
        Some("same-site") => return Some("requests from another origin are refused"),
        _ => {}
    }
    let origin = match headers.get(header::ORIGIN) {
        None => return None,
        Some(origin) => origin.to_str().unwrap_or("null"),
    };
    let Some((scheme, authority)) = origin.split_once("://") else {
        // `null` (a sandboxed frame, a file) or garbage: not this server.
        return Some("requests from another origin are refused");
    };
    let origin_host = normalized(scheme, authority);
    let forwarded = text("x-forwarded-host").and_then(|v| v.split(',').next());
    let same = [text(header::HOST.as_str()), forwarded]
        .into_iter()
        .flatten()
        .any(|host| normalized(scheme, host.trim()) == origin_host);
    (!same).then_some("requests from another origin are refused")
}

/// `host[:port]` lowercased, without the scheme's default port.
fn normalized(scheme: &str, authority: &str) -> String {
    let authority = authority.trim_end_matches('/').to_ascii_lowercase();
    let default = match scheme.to_ascii_lowercase().as_str() {
        "https" => ":443",
        _ => ":80",
    };
    authority
        .strip_suffix(default)
        .map_or(authority.clone(), str::to_owned)
}

/// `POST /api/v1/<method>`.
async fn call(state: &AppState, method: &str, request: Request) -> Response {
    if !is_json(request.headers()) {
        return error(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "send the parameters with Content-Type: application/json",
        );
    }
    // A read-only user is refused a changing method before its body is
    // read: 403 with the fault (issue 18).
    let access = super::auth::access_of(&request);
    if let Err(refused) = state.registry.permits(&access, method) {
        return respond(StatusCode::FORBIDDEN, &fault_json(&refused));
    }
    let body = match read_body(state, request).await {
        Ok(body) => body,
        Err(response) => return response,
    };
    let params = match parse_params(&body) {
        Ok(params) => params,
        Err(why) => return error(StatusCode::BAD_REQUEST, &why),
    };
    tracing::trace!("JSON API method called: {method}()");
    match state.registry.dispatch_as(&access, method, params).await {
        Ok(value) => match serde_json::to_string(&json::Written(&value)) {
            Ok(text) => (
                StatusCode::OK,
                [(header::CONTENT_TYPE, "application/json")],
                text,
            )
                .into_response(),
            Err(_) => respond(StatusCode::OK, &json::to_json(&value)),
        },
        Err(CallError::Fault(fault)) => {
            tracing::trace!(
                "JSON API method {method}() returned fault: [{}] {}",
                fault.code,
                fault.string
            );
            let status = if fault.code == code::UNKNOWN_METHOD {
                StatusCode::NOT_FOUND
            } else {
                StatusCode::OK
            };
            respond(status, &fault_json(&fault))
        }
        Err(CallError::Internal(message)) => {
            tracing::error!(
                "Handling JSON API call {method} raised an unexpected exception: {message}"
            );
            error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "the method failed unexpectedly",
            )
        }
    }
}

/// True for `application/json`, with or without parameters.
fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|essence| essence.trim().eq_ignore_ascii_case("application/json"))
}

/// The whole body, within the limits `/RPC2` applies.
async fn read_body(state: &AppState, request: Request) -> Result<axum::body::Bytes, Response> {
    let limit = state.limits.max_body_bytes;
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|length| length > limit as u64) {
        return Err(too_large());
    }
    let body = Limited::new(request.into_body(), limit);
    match tokio::time::timeout(state.limits.idle_timeout, body.collect()).await {
        Err(_elapsed) => Err(error(
            StatusCode::REQUEST_TIMEOUT,
            "the body came too slowly",
        )),
        Ok(Err(e)) if e.is::<http_body_util::LengthLimitError>() => Err(too_large()),
        Ok(Err(_)) => Err(error(StatusCode::BAD_REQUEST, "the body could not be read")),
        Ok(Ok(collected)) => Ok(collected.to_bytes()),
    }
}

/// The parameters a body carries: none for an empty body, else the items
/// of a JSON array.
fn parse_params(body: &[u8]) -> Result<Vec<supervisor_sdk::value::Value>, String> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Vec::new());
    }
    let parsed: Json =
        serde_json::from_slice(body).map_err(|e| format!("the body is not valid JSON: {e}"))?;
    let Json::Array(items) = parsed else {
        return Err("the body must be a JSON array of parameters".to_owned());
    };
    items.into_iter().map(json::from_json).collect()
}

fn fault_json(fault: &Fault) -> Json {
    json!({"fault": {"code": fault.code, "string": fault.string.as_str()}})
}

fn too_large() -> Response {
    let mut response = error(
        StatusCode::PAYLOAD_TOO_LARGE,
        "the body is over the server's limit",
    );
    // The unread rest of the body makes the connection unusable.
    response
        .headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}

fn not_allowed(allow: &'static str) -> Response {
    let mut response = error(
        StatusCode::METHOD_NOT_ALLOWED,
        "method not allowed on this route",
    );
    response
        .headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static(allow));
    response
}

fn error(status: StatusCode, why: &str) -> Response {
    respond(status, &json!({ "error": why }))
}

fn respond(status: StatusCode, body: &Json) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

#[cfg(test)]
mod tests;
