//! In-process tests of the router with `oneshot`: auth on every route,
//! medusa's error pages, `/RPC2` values and faults, body limits, hooks.

use std::sync::Arc;

use axum::body::{Body, HttpBody};
use axum::http::{Request, StatusCode, header};
use axum::response::Response;
use dxr::{FaultResponse, MethodCall, MethodResponse, Value};
use http_body_util::BodyExt;
use tower::ServiceExt;

use super::*;
use crate::rpc::{AnswerPieces, BoxFuture, CallResult, MethodInfo, Registry, RpcNamespace};

/// `echo.echo(...)` returns its params; `echo.boom()` panics.
struct Echo;

impl RpcNamespace for Echo {
    fn name(&self) -> &str {
        "echo"
    }
    fn methods(&self) -> Vec<MethodInfo> {
        vec![
            MethodInfo::new("echo", "Echo the params.", &["array"]),
            MethodInfo::new("boom", "Panic.", &["boolean"]),
            MethodInfo::new("big", "A long string, in pieces.", &["string"]),
        ]
    }
    fn answer_in_place(
        &self,
        method: &str,
        _: &[supervisor_sdk::value::Value],
    ) -> Option<Box<dyn AnswerPieces>> {
        (method == "big").then(|| Box::new(Big(BIG_PIECES)) as Box<dyn AnswerPieces>)
    }
    fn call(
        &self,
        method: &str,
        params: Vec<supervisor_sdk::value::Value>,
    ) -> BoxFuture<CallResult> {
        let boom = method == "boom";
        Box::pin(async move {
            assert!(!boom, "asked to panic");
            Ok(supervisor_sdk::value::Value::array(params))
        })
    }
}

/// `echo.big`'s answer: a string of `BIG_PIECES` runs of 50 000 `x`,
/// one a piece.
struct Big(usize);

const BIG_PIECES: usize = 5;
const BIG_RUN: usize = 50_000;

impl AnswerPieces for Big {
    fn remaining(&self) -> usize {
        let open = if self.0 == BIG_PIECES { 15 } else { 0 };
        let close = if self.0 > 0 { 17 } else { 0 };
        open + self.0 * BIG_RUN + close
    }

    fn write_next(&mut self, out: &mut String, _target: usize) -> bool {
        if self.0 == 0 {
            return false;
        }
        if self.0 == BIG_PIECES {
            out.push_str("<value><string>");
        }
        out.extend(std::iter::repeat_n('x', BIG_RUN));
        self.0 -= 1;
        if self.0 == 0 {
            out.push_str("</string></value>");
        }
        true
    }
}

fn state() -> AppState {
    let registry = Arc::new(Registry::new());
    registry.add(Arc::new(Echo)).unwrap();
    AppState::new(registry)
}

const BASIC_USER_123: &str = "Basic dXNlcjoxMjM="; // user:123

const ERROR_401: &str = "<head>\r\n<title>Error response</title>\r\n</head>\r\n<body>\r\n<h1>Error response</h1>\r\n<p>Error code 401.\r\n<p>Message: Unauthorized.\r\n</body>\r\n";

fn call_xml(method: &str, params: Vec<Value>) -> String {
    MethodCall {
        name: method.into(),
        params,
    }
    .to_xml()
    .unwrap()
}

fn post(path: &str, body: impl Into<Body>) -> Request<Body> {
    Request::post(path)
        .header(header::CONTENT_TYPE, "text/xml")
        .body(body.into())
        .unwrap()
}

async fn send(state: AppState, request: Request<Body>) -> (StatusCode, Response, String) {
    let response = router(state).oneshot(request).await.unwrap();
    let status = response.status();
    let (parts, body) = response.into_parts();
    let bytes = body.collect().await.unwrap().to_bytes();
    let text = String::from_utf8(bytes.to_vec()).unwrap();
    (status, Response::from_parts(parts, Body::empty()), text)
}

async fn rpc(state: AppState, method: &str, params: Vec<Value>) -> Result<Value, (i32, String)> {
    let (status, response, body) = send(state, post("/RPC2", call_xml(method, params))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(response.headers()[header::CONTENT_TYPE], "text/xml");
    assert!(
        body.starts_with("<?xml version='1.0'?>\n<methodResponse>"),
        "{body}"
    );
    if body.contains("<fault>") {
        let fault = FaultResponse::from_xml(&body).unwrap().fault;
        Err((fault.code(), fault.string().to_owned()))
    } else {
        Ok(MethodResponse::from_xml(&body).unwrap().value)
    }
}

#[tokio::test]
async fn every_route_is_behind_auth_when_configured() {
    let authed = state().with_auth(Some("user"), Some("123"));
    let requests = [
        Request::get("/").body(Body::empty()).unwrap(),
        Request::get("/RPC2").body(Body::empty()).unwrap(),
        post("/RPC2", call_xml("system.listMethods", vec![])),
        Request::get("/logtail/foo").body(Body::empty()).unwrap(),
        Request::get("/mainlogtail").body(Body::empty()).unwrap(),
        Request::get("/index.html").body(Body::empty()).unwrap(),
        Request::get("/ok.html").body(Body::empty()).unwrap(),
        Request::get("/stylesheets/supervisor.css")
            .body(Body::empty())
            .unwrap(),
        Request::delete("/nothing").body(Body::empty()).unwrap(),
    ];
    for request in requests {
        let path = request.uri().to_string();
        let (status, response, body) = send(authed.clone(), request).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{path}");
        let headers = response.headers();
        assert_eq!(headers[header::WWW_AUTHENTICATE], "Basic realm=\"default\"");
        assert_eq!(headers[header::CONNECTION], "close");
        assert_eq!(headers[header::CONTENT_TYPE], "text/html");
        assert_eq!(body, ERROR_401);
    }
}

#[tokio::test]
async fn credentials_plain_sha_wrong_and_malformed() {
    let with = |auth: &'static str| {
        Request::get("/ok.html")
            .header(header::AUTHORIZATION, auth)
            .body(Body::empty())
            .unwrap()
    };
    let plain = state().with_auth(Some("user"), Some("123"));
    let sha = state().with_auth(
        Some("user"),
        Some("{SHA}40bd001563085fc35165329ea1ff5c5ecbdbbeef"),
    );
    for good in [plain.clone(), sha.clone()] {
        let (status, _, body) = send(good, with(BASIC_USER_123)).await;
        assert_eq!((status, body.as_str()), (StatusCode::OK, "OK"));
    }
    // user:1234, other scheme, no colon
    for bad in [
        "Basic dXNlcjoxMjM0",
        "Bearer dXNlcjoxMjM=",
        "Basic dXNlcg==",
    ] {
        assert_eq!(
            send(plain.clone(), with(bad)).await.0,
            StatusCode::UNAUTHORIZED
        );
    }
    let (status, _, body) = send(plain.clone(), with("Basic dXNlcjoxMjM")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.contains("<p>Error code 400.\r\n<p>Message: Bad Request."));
    // An empty user name means no auth at all, as in the reference.
    let open = state().with_auth(Some(""), Some("x"));
    assert_eq!(
        send(open, Request::get("/ok.html").body(Body::empty()).unwrap())
            .await
            .0,
        StatusCode::OK
    );
}

#[tokio::test]
async fn routes_without_a_handler_are_404_and_rpc2_wants_post() {
    for path in [
        "/nothing",
        "/logtail/foo",
        "/mainlogtail",
        "/index.html",
        "/",
    ] {
        let (status, response, body) =
            send(state(), Request::get(path).body(Body::empty()).unwrap()).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(response.headers()[header::CONTENT_TYPE], "text/html");
        assert_eq!(
            body,
            "<head>\r\n<title>Error response</title>\r\n</head>\r\n<body>\r\n<h1>Error response</h1>\r\n<p>Error code 404.\r\n<p>Message: Not Found.\r\n</body>\r\n"
        );
    }
    for path in ["/RPC2", "/RPC2/x"] {
        let (status, _, _) = send(state(), Request::get(path).body(Body::empty()).unwrap()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path}");
    }
}

#[tokio::test]
async fn hooks_receive_their_routes() {
    let mut state = state();
    let hook: RouteHandler = Arc::new(|request: axum::extract::Request| {
        let path = request.uri().path().to_owned();
        Box::pin(async move { axum::response::IntoResponse::into_response(format!("hook {path}")) })
    });
    state.hooks.logtail = Some(Arc::clone(&hook));
    state.hooks.mainlogtail = Some(Arc::clone(&hook));
    state.hooks.ui = Some(Arc::clone(&hook));
    for path in ["/logtail/foo/stderr", "/mainlogtail", "/", "/tail.html"] {
        let (status, _, body) = send(
            state.clone(),
            Request::get(path).body(Body::empty()).unwrap(),
        )
        .await;
        assert_eq!((status, body), (StatusCode::OK, format!("hook {path}")));
    }
}

#[tokio::test]
async fn answers_written_in_pieces_say_their_exact_length_first() {
    let request = post("/RPC2", call_xml("echo.big", vec![]));
    let response = router(state()).oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()[header::CONTENT_TYPE], "text/xml");
    // hyper writes an exact size as the Content-Length.
    let declared = response.body().size_hint().exact();
    let mut body = response.into_body();
    let mut text = Vec::new();
    let mut frames = 0;
    while let Some(frame) = body.frame().await {
        text.extend_from_slice(frame.unwrap().data_ref().unwrap());
        frames += 1;
    }
    assert_eq!(declared, Some(text.len() as u64));
    assert_eq!(frames, BIG_PIECES, "sent as written");
    let text = String::from_utf8(text).unwrap();
    assert_eq!(
        MethodResponse::from_xml(&text).unwrap().value,
        Value::String("x".repeat(BIG_PIECES * BIG_RUN))
    );
}

#[tokio::test]
async fn rpc2_answers_values_and_faults_on_any_rpc2_prefix() {
    let names = rpc(state(), "system.listMethods", vec![]).await.unwrap();
    let Value::Array(names) = names else {
        panic!("an array")
    };
    assert!(names.contains(&Value::String("echo.echo".into())));
    assert_eq!(
        rpc(state(), "a.b.c", vec![]).await,
        Err((1, "UNKNOWN_METHOD".into()))
    );
    assert_eq!(
        rpc(
            state(),
            "system.methodHelp",
            vec![Value::String("nope.x".into())]
        )
        .await,
        Err((4, "SIGNATURE_UNSUPPORTED".into()))
    );
    let body = call_xml("echo.echo", vec![Value::Integer(7)]);
    let (status, _, text) = send(state(), post("/RPC2xyz", body)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        MethodResponse::from_xml(&text).unwrap().value,
        Value::Array(vec![Value::Integer(7)])
    );
}

#[tokio::test]
async fn what_python_clients_send_is_understood() {
    // No <params> at all, untyped strings, base64 (a string to the
    // methods, as the reference's unmarshaller makes it), nil.
    let bare =
        "<?xml version='1.0'?>\n<methodCall>\n<methodName>echo.echo</methodName>\n</methodCall>\n";
    let (status, _, text) = send(state(), post("/RPC2", bare)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        MethodResponse::from_xml(&text).unwrap().value,
        Value::Array(vec![])
    );
    let typed = "<?xml version='1.0'?>\n<methodCall>\n<methodName>echo.echo</methodName>\n<params>\n\
        <param>\n<value>untyped</value>\n</param>\n\
        <param>\n<value><base64>aMOpbGxv\n</base64></value>\n</param>\n\
        <param>\n<value><nil/></value></param>\n\
        </params>\n</methodCall>\n";
    let (status, _, text) = send(state(), post("/RPC2", typed)).await;
    assert_eq!(status, StatusCode::OK, "{text}");
    assert_eq!(
        MethodResponse::from_xml(&text).unwrap().value,
        Value::Array(vec![
            Value::String("untyped".into()),
            Value::String("héllo".into()),
            Value::Nil
        ])
    );
}

#[tokio::test]
async fn unreadable_requests_are_http_400_and_panics_500() {
    for body in [
        "not xml",
        "<methodCall><methodName>x.y</methodName><params>",
        "<methodCall><methodName></methodName></methodCall>",
        "<methodCall><params></params></methodCall>",
    ] {
        let (status, _, _) = send(state(), post("/RPC2", body)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    }
    let invalid_utf8 = post("/RPC2", vec![0xff, 0xfe]);
    assert_eq!(send(state(), invalid_utf8).await.0, StatusCode::BAD_REQUEST);
    let (status, _, body) = send(state(), post("/RPC2", call_xml("echo.boom", vec![]))).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(body.contains("Error code 500."));
}

#[tokio::test]
async fn bodies_over_the_limit_are_refused_with_413() {
    let mut small = state();
    small.limits.max_body_bytes = 200;
    let big = call_xml("echo.echo", vec![Value::String("x".repeat(300))]);
    // Declared length over the limit: refused before reading.
    let declared = Request::post("/RPC2")
        .header(header::CONTENT_LENGTH, big.len())
        .body(Body::from(big.clone()))
        .unwrap();
    let (status, response, _) = send(small.clone(), declared).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(response.headers()[header::CONNECTION], "close");
    // No length declared (chunked): refused while reading.
    let stream = futures_stream(big.into_bytes());
    let (status, _, _) = send(small.clone(), post("/RPC2", stream)).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    // Under the limit: served.
    let fits = call_xml("echo.echo", vec![]);
    assert_eq!(send(small, post("/RPC2", fits)).await.0, StatusCode::OK);
}

/// A body with no size hint, delivered in small frames, as a chunked
/// request arrives.
fn futures_stream(bytes: Vec<u8>) -> Body {
    let frames = bytes
        .chunks(64)
        .map(axum::body::Bytes::copy_from_slice)
        .collect();
    Body::new(Chunks(frames))
}

struct Chunks(std::collections::VecDeque<axum::body::Bytes>);

impl hyper::body::Body for Chunks {
    type Data = axum::body::Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<hyper::body::Frame<Self::Data>, Self::Error>>> {
        std::task::Poll::Ready(self.0.pop_front().map(|b| Ok(hyper::body::Frame::data(b))))
    }
}

/// A `tracing` writer into a shared buffer.
#[derive(Clone, Default)]
struct Captured(Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(data);
        Ok(data.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn serve_logs_access_lines_and_stops_on_shutdown() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let captured = Captured::default();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer({
            let captured = captured.clone();
            move || captured.clone()
        })
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let bound = Bound::open(&Listen::Inet(InetAddr::parse("127.0.0.1:0").unwrap())).unwrap();
    let addr = bound.local_tcp_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(serve(bound, router(state()), Limits::default(), async {
        let _ = stopped.await;
    }));
    let mut client = tokio::net::TcpStream::connect(addr).await.unwrap();
    client
        .write_all(b"GET /ok.html HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut response = Vec::new();
    client.read_to_end(&mut response).await.unwrap();
    assert!(response.starts_with(b"HTTP/1.1 200 OK\r\n"));
    let _ = stop.send(());
    server.await.unwrap().unwrap();

    let log = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    let local = client.local_addr().unwrap();
    let line = log
        .lines()
        .find(|l| l.contains("\"GET /ok.html HTTP/1.1\" 200 2"))
        .unwrap_or_else(|| panic!("no access line in {log}"));
    assert!(line.contains(&format!("{local} - - [")), "{line}");
    assert!(line.contains(" +0000] "), "{line}");
}
