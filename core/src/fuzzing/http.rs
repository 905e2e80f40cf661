//! What reaches the HTTP servers and what comes back to supervisorctl: a
//! request as the router sees it (method, path, `Authorization`, body),
//! `/RPC2` bodies, JSON API bodies, and the `methodResponse` documents
//! supervisorctl reads. Requests go through the real router (`oneshot`) on
//! a runtime kept per thread, behind Basic auth, with an `echo` namespace
//! that answers its parameters back.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use supervisor_sdk::value::Value;
use tower::ServiceExt;

use crate::http::{AppState, Credentials, Verdict, router};
use crate::rpc::{BoxFuture, CallResult, MethodInfo, Registry, RpcNamespace};

/// `user:123`, the credentials every request of these targets is checked
/// against.
const AUTH: &str = "Basic dXNlcjoxMjM=";

/// `echo.echo(...)` answers its parameters as an array.
struct Echo;

impl RpcNamespace for Echo {
    fn name(&self) -> &str {
        "echo"
    }
    fn methods(&self) -> Vec<MethodInfo> {
        vec![MethodInfo::new("echo", "Echo the params.", &["array"])]
    }
    fn call(&self, _method: &str, params: Vec<Value>) -> BoxFuture<CallResult> {
        Box::pin(async move { Ok(Value::array(params)) })
    }
}

thread_local! {
    static RUNTIME: tokio::runtime::Runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("a current-thread runtime builds");
    static STATE: AppState = {
        let registry = Arc::new(Registry::new());
        registry.add(Arc::new(Echo)).expect("echo is a valid namespace name");
        AppState::new(registry).with_auth(Some("user"), Some("123"))
    };
}

/// Send `request` through the router; the status, content type and body.
fn send(request: Request<Body>) -> (StatusCode, String, Vec<u8>) {
    let state = STATE.with(Clone::clone);
    RUNTIME.with(|runtime| {
        runtime.block_on(async move {
            let response = router(state)
                .oneshot(request)
                .await
                .expect("the router's service is infallible");
            let status = response.status();
            let kind = response
                .headers()
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_string();
            let body = response
                .into_body()
                .collect()
                .await
                .map(|b| b.to_bytes().to_vec())
                .unwrap_or_default();
            (status, kind, body)
        })
    })
}

fn post(path: &str, kind: &str, body: Vec<u8>) -> Option<Request<Body>> {
    Request::post(path)
        .header(header::AUTHORIZATION, AUTH)
        .header(header::CONTENT_TYPE, kind)
        .body(Body::from(body))
        .ok()
}

/// A `methodResponse` read by dxr, the library supervisorctl falls back to:
/// a value, or a fault's code and string, as text for comparison (a NaN
/// double is not equal to itself).
fn dxr_response(text: &str) -> Option<Result<String, (i32, String)>> {
    let text = text.trim_start();
    let text = match text.strip_prefix("<?xml") {
        Some(rest) => rest.split_once("?>")?.1,
        None => text,
    };
    if text.contains("<fault>") {
        let fault = dxr::FaultResponse::from_xml(text).ok()?.fault;
        return Some(Err((fault.code(), fault.string().to_string())));
    }
    let value = dxr::MethodResponse::from_xml(text).ok()?.value;
    Some(Ok(format!("{value:?}")))
}

/// Input: `method \0 path \0 authorization \0 content-type \0 body`. The
/// router refuses every request whose credentials are not good (401, or
/// 400 for a malformed Basic value) before looking at the path, never
/// answers 500 (no method here fails), and an `/RPC2` answer of 200 is a
/// `methodResponse` supervisorctl can read.
pub fn http_request(data: &[u8]) {
    let mut fields = data.splitn(5, |b| *b == 0);
    let (Some(method), Some(path), Some(auth), Some(kind)) =
        (fields.next(), fields.next(), fields.next(), fields.next())
    else {
        return;
    };
    let body = fields.next().unwrap_or_default().to_vec();
    let mut builder = Request::builder().method(method).uri(path);
    if !auth.is_empty() {
        builder = builder.header(header::AUTHORIZATION, auth);
    }
    if !kind.is_empty() {
        builder = builder.header(header::CONTENT_TYPE, kind);
    }
    let Ok(request) = builder.body(Body::from(body)) else {
        // hyper refuses such a head before any router sees it.
        return;
    };
    let verdict = Credentials::new("user", "123").check((!auth.is_empty()).then_some(auth));
    let is_rpc = request.uri().path().starts_with("/RPC2");
    let (status, _, body) = send(request);
    match verdict {
        Verdict::Allowed(_) => {}
        Verdict::Unauthorized => assert_eq!(status, StatusCode::UNAUTHORIZED, "{auth:?}"),
        Verdict::Malformed => assert_eq!(status, StatusCode::BAD_REQUEST, "{auth:?}"),
        Verdict::Busy => assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{auth:?}"),
    }
    assert_ne!(
        status,
        StatusCode::INTERNAL_SERVER_ERROR,
        "no method here fails"
    );
    if matches!(verdict, Verdict::Allowed(_)) && is_rpc && status == StatusCode::OK {
        let text = std::str::from_utf8(&body).expect("an /RPC2 answer is UTF-8");
        assert!(dxr_response(text).is_some(), "unreadable answer: {text}");
    }
}

/// Input: an `/RPC2` body. A `methodResponse` answered is readable by both
/// of supervisorctl's readers, which agree; and an `echo.echo` answer,
/// sent back as the parameters of a new call, comes back byte for byte
/// (a decoded value re-encodes to an equal value).
pub fn xmlrpc_body(data: &[u8]) {
    let Some(request) = post("/RPC2", "text/xml", data.to_vec()) else {
        return;
    };
    let (status, _, body) = send(request);
    assert_ne!(
        status,
        StatusCode::INTERNAL_SERVER_ERROR,
        "no method here fails"
    );
    if status != StatusCode::OK {
        return;
    }
    let first = String::from_utf8(body).expect("an /RPC2 answer is UTF-8");
    ctl_response(first.as_bytes());
    let Some(Ok(_)) = dxr_response(&first) else {
        assert!(dxr_response(&first).is_some(), "unreadable answer: {first}");
        return;
    };
    let is_echo = std::str::from_utf8(data)
        .ok()
        .and_then(|text| dxr::MethodCall::from_xml(text).ok())
        .is_some_and(|call| call.name == "echo.echo");
    if !is_echo {
        return;
    }
    let value = dxr::MethodResponse::from_xml(&first)
        .expect("read above")
        .value;
    let dxr::Value::Array(items) = value.clone() else {
        panic!("echo.echo answered a non-array: {first}");
    };
    let again = dxr::MethodCall {
        name: "echo.echo".into(),
        params: items,
    }
    .to_xml()
    .expect("dxr writes any value it read");
    let Some(request) = post("/RPC2", "text/xml", again.into_bytes()) else {
        return;
    };
    let (status, _, second) = send(request);
    assert_eq!(status, StatusCode::OK);
    // Compared as values: struct members come back in the order they were
    // sent (the reference's dicts), and dxr writes the re-sent ones sorted.
    let second = String::from_utf8_lossy(&second);
    let again = dxr::MethodResponse::from_xml(&second)
        .unwrap_or_else(|e| panic!("unreadable second answer ({e}): {second}"))
        .value;
    assert_eq!(again, value, "the answer re-sent as parameters changed");
}

/// Input: `method \0 body`, posted to `/api/v1/<method>` as JSON. Every
/// answer is a JSON document, and an `echo.echo` answer posted again as
/// the parameters comes back byte for byte.
pub fn json_api(data: &[u8]) {
    let (method, body) = super::split_params(data);
    let Ok(method) = std::str::from_utf8(method) else {
        return;
    };
    let path = format!("/api/v1/{method}");
    let Some(request) = post(&path, "application/json", body.to_vec()) else {
        return;
    };
    let (status, kind, first) = send(request);
    assert_ne!(
        status,
        StatusCode::INTERNAL_SERVER_ERROR,
        "no method here fails"
    );
    if kind.starts_with("application/json") {
        serde_json::from_slice::<serde_json::Value>(&first)
            .unwrap_or_else(|e| panic!("a JSON answer that is not JSON ({e}): {first:?}"));
    }
    if status != StatusCode::OK || method != "echo.echo" {
        return;
    }
    let Some(request) = post(&path, "application/json", first.clone()) else {
        return;
    };
    let (status, _, second) = send(request);
    assert_eq!(
        status,
        StatusCode::OK,
        "{}",
        String::from_utf8_lossy(&second)
    );
    assert_eq!(
        String::from_utf8_lossy(&second),
        String::from_utf8_lossy(&first),
        "the answer posted back as parameters changed"
    );
}

/// Input: a `methodResponse` as a server may send it. supervisorctl's fast
/// reader either declines it (and dxr reads it) or reads what dxr reads;
/// and the URL parser takes the first line without failing hard.
pub fn ctl_response(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let first_line = text.lines().next().unwrap_or("");
    let _ = crate::ctl::transport::ServerAddr::parse(first_line);
    let Some(fast) = crate::ctl::xml::read_response(text) else {
        return;
    };
    let fast = match fast {
        crate::ctl::xml::Response::Value(value) => Ok(format!("{value:?}")),
        crate::ctl::xml::Response::Fault(code, string) => Err((code, string)),
    };
    if blank_untyped_value(text) {
        // dxr reads `<value> </value>` as "", Python's xmlrpc.client (and
        // the fast reader, which follows it) as " ": the fast reader is
        // right there (found by this target; fuzz/regressions/ctl_response).
        return;
    }
    assert_eq!(
        Some(fast),
        dxr_response(text),
        "the fast reader and dxr disagree on {text:?}"
    );
}

/// Whether `text` holds an untyped value of whitespace only.
fn blank_untyped_value(text: &str) -> bool {
    text.match_indices("<value>").any(|(at, tag)| {
        let rest = &text[at + tag.len()..];
        let inner = rest.split('<').next().unwrap_or("");
        !inner.is_empty()
            && inner.trim_matches([' ', '\t', '\r', '\n']).is_empty()
            && rest[inner.len()..].starts_with("</value>")
    })
}
