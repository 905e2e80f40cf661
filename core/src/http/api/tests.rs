//! The JSON API in-process with `oneshot`: dispatch, faults, refusals,
//! the OpenAPI document and health against a fake `supervisor` namespace.

use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use serde_json::{Value as Json, json};
use supervisor_sdk::value::Value;
use tower::ServiceExt;

use crate::http::{AppState, router};
use crate::rpc::{BoxFuture, CallResult, Fault, MethodInfo, Registry, RpcNamespace, code};

/// `echo.echo(...)` returns its params, `echo.fault()` fails with
/// BAD_NAME, `echo.boom()` panics.
struct Echo;

impl RpcNamespace for Echo {
    fn name(&self) -> &str {
        "echo"
    }
    fn methods(&self) -> Vec<MethodInfo> {
        vec![
            MethodInfo::new("echo", "Echo the params.\n\nMore.", &["array"]),
            MethodInfo::new("fault", "Fail.", &["boolean", "string"]),
            MethodInfo::new("boom", "Panic.", &["boolean"]),
        ]
    }
    fn call(&self, method: &str, params: Vec<Value>) -> BoxFuture<CallResult> {
        let method = method.to_owned();
        Box::pin(async move {
            match method.as_str() {
                "echo" => Ok(Value::array(params)),
                "fault" => Err(Fault::with(code::BAD_NAME, "nope")),
                _ => panic!("asked to panic"),
            }
        })
    }
}

/// Name (also the group), state name and exit status of a fake process;
/// state `-`: configured, its group not in use.
type Row = (&'static str, &'static str, i32);

/// A `supervisor` namespace answering the three calls health makes from
/// a process table the test sets.
struct FakeSupervisor {
    processes: Arc<Mutex<Vec<Row>>>,
}

impl RpcNamespace for FakeSupervisor {
    fn name(&self) -> &str {
        "supervisor"
    }
    fn methods(&self) -> Vec<MethodInfo> {
        ["getState", "getAllProcessInfo", "getAllConfigInfo"]
            .into_iter()
            .map(|name| MethodInfo::new(name, "x", &["struct"]))
            .collect()
    }
    fn call(&self, method: &str, _params: Vec<Value>) -> BoxFuture<CallResult> {
        let processes = self.processes.lock().unwrap().clone();
        let answer = match method {
            "getState" => Value::structure([("statename", Value::string("RUNNING"))]),
            "getAllProcessInfo" => Value::array(processes.iter().filter(|p| p.1 != "-").map(
                |(name, state, exit)| {
                    Value::structure([
                        ("name", Value::string(*name)),
                        ("group", Value::string(*name)),
                        ("statename", Value::string(*state)),
                        ("start", Value::int(1)),
                        ("exitstatus", Value::int(*exit)),
                        ("spawnerr", Value::string("")),
                    ])
                },
            )),
            _ => Value::array(processes.iter().map(|(name, state, _)| {
                Value::structure([
                    ("name", Value::string(*name)),
                    ("group", Value::string(*name)),
                    ("autostart", Value::bool(true)),
                    ("inuse", Value::bool(*state != "-")),
                    ("exitcodes", Value::array([Value::int(0)])),
                ])
            })),
        };
        Box::pin(async move { Ok(answer) })
    }
}

fn state() -> AppState {
    let registry = Arc::new(Registry::new());
    registry.add(Arc::new(Echo)).unwrap();
    AppState::new(registry)
}

fn post(path: &str, body: &str) -> Request<Body> {
    Request::post(path)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.to_owned()))
        .unwrap()
}

async fn send(state: AppState, request: Request<Body>) -> (StatusCode, Json) {
    let response = router(state).oneshot(request).await.unwrap();
    let status = response.status();
    assert_eq!(
        response.headers()[header::CONTENT_TYPE],
        "application/json",
        "every API answer is JSON"
    );
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (status, serde_json::from_slice(&bytes).expect("a JSON body"))
}

#[tokio::test]
async fn methods_answer_values_and_faults() {
    let (status, body) = send(
        state(),
        post("/api/v1/echo.echo", r#"[1, "a", {"b": [true, null]}]"#),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, json!([1, "a", {"b": [true, null]}]));

    let (status, body) = send(state(), post("/api/v1/echo.echo", "")).await;
    assert_eq!((status, body), (StatusCode::OK, json!([])));

    let (status, body) = send(state(), post("/api/v1/echo.fault", "[]")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body,
        json!({"fault": {"code": 10, "string": "BAD_NAME: nope"}})
    );

    for unknown in ["nothing.here", "echo.missing", "echo", "echo._hidden"] {
        let (status, body) = send(state(), post(&format!("/api/v1/{unknown}"), "[]")).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{unknown}");
        assert_eq!(
            body,
            json!({"fault": {"code": 1, "string": "UNKNOWN_METHOD"}})
        );
    }

    let (status, body) = send(
        state(),
        post("/api/v1/system.methodHelp", r#"["echo.echo"]"#),
    )
    .await;
    assert_eq!(
        (status, body),
        (StatusCode::OK, json!("Echo the params.\n\nMore."))
    );

    let (status, body) = send(state(), post("/api/v1/echo.boom", "[]")).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(body["error"].is_string());
}

#[tokio::test]
async fn bad_bodies_and_foreign_requests_are_refused() {
    for (body, why) in [
        ("[1,", "not valid JSON"),
        (r#"{"a": 1}"#, "must be a JSON array"),
        ("7", "must be a JSON array"),
        (r#"[{"base64": "%%"}]"#, "not base64"),
    ] {
        let (status, answer) = send(state(), post("/api/v1/echo.echo", body)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert!(answer["error"].as_str().unwrap().contains(why), "{answer}");
    }
    for content_type in [
        None,
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
    ] {
        let mut request = Request::post("/api/v1/echo.echo");
        if let Some(value) = content_type {
            request = request.header(header::CONTENT_TYPE, value);
        }
        let (status, _) = send(state(), request.body(Body::from("[]")).unwrap()).await;
        assert_eq!(
            status,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "{content_type:?}"
        );
    }
    let with_charset = Request::post("/api/v1/echo.echo")
        .header(header::CONTENT_TYPE, "Application/JSON; charset=utf-8")
        .body(Body::from("[]"))
        .unwrap();
    assert_eq!(send(state(), with_charset).await.0, StatusCode::OK);

    let from = |headers: &[(&str, &str)]| {
        let mut request = Request::post("/api/v1/echo.echo")
            .header(header::CONTENT_TYPE, "application/json")
            .header(header::HOST, "127.0.0.1:9001");
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request.body(Body::from("[]")).unwrap()
    };
    for refused in [
        &[("origin", "http://evil.example")][..],
        &[("origin", "null")],
        &[("origin", "http://127.0.0.1:9002")],
        &[("sec-fetch-site", "cross-site")],
        &[
            ("sec-fetch-site", "same-site"),
            ("origin", "http://127.0.0.1:9001"),
        ],
    ] {
        let (status, body) = send(state(), from(refused)).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{refused:?}");
        assert!(body["error"].is_string());
    }
    for served in [
        &[][..],
        &[("origin", "http://127.0.0.1:9001")],
        &[
            ("origin", "https://127.0.0.1:9001"),
            ("sec-fetch-site", "same-origin"),
        ],
        &[
            ("origin", "https://ui.example"),
            ("x-forwarded-host", "ui.example"),
        ],
        &[("sec-fetch-site", "none")],
    ] {
        assert_eq!(
            send(state(), from(served)).await.0,
            StatusCode::OK,
            "{served:?}"
        );
    }
    let default_port = Request::post("/api/v1/echo.echo")
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::HOST, "box.example:80")
        .header(header::ORIGIN, "http://box.example")
        .body(Body::from("[]"))
        .unwrap();
    assert_eq!(send(state(), default_port).await.0, StatusCode::OK);
}

#[tokio::test]
async fn routes_methods_and_limits() {
    let get = |path: &str| Request::get(path).body(Body::empty()).unwrap();
    assert_eq!(
        send(state(), get("/api/v1/echo.echo")).await.0,
        StatusCode::METHOD_NOT_ALLOWED
    );
    assert_eq!(
        send(state(), post("/api/v1/health", "")).await.0,
        StatusCode::METHOD_NOT_ALLOWED
    );
    assert_eq!(
        send(state(), get("/api/v2/x")).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(send(state(), get("/api")).await.0, StatusCode::NOT_FOUND);

    let mut small = state();
    small.limits.max_body_bytes = 16;
    let (status, _) = send(
        small,
        post("/api/v1/echo.echo", &format!("[\"{}\"]", "x".repeat(64))),
    )
    .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);

    let guarded = state().with_auth(Some("user"), Some("123"));
    for request in [
        get("/api/v1/health"),
        get("/api/v1/openapi.json"),
        post("/api/v1/echo.echo", "[]"),
    ] {
        let response = router(guarded.clone()).oneshot(request).await.unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    }
}

#[tokio::test]
async fn openapi_lists_every_method_with_its_signature() {
    let (status, doc) = send(
        state(),
        Request::get("/api/v1/openapi.json")
            .body(Body::empty())
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(doc["openapi"], "3.1.0");
    let paths = doc["paths"].as_object().unwrap();
    for name in [
        "echo.echo",
        "echo.fault",
        "echo.boom",
        "system.listMethods",
        "system.multicall",
    ] {
        assert!(paths.contains_key(&format!("/api/v1/{name}")), "{name}");
    }
    let fault = &paths["/api/v1/echo.fault"]["post"];
    assert_eq!(fault["summary"], "Fail.");
    let params = &fault["requestBody"]["content"]["application/json"]["schema"];
    assert_eq!(params["prefixItems"], json!([{"type": "string"}]));
    assert_eq!(params["maxItems"], 1);
    // No parameters: the empty array, without an (invalid) empty prefixItems.
    let none = &paths["/api/v1/system.listMethods"]["post"]["requestBody"]["content"]["application/json"]
        ["schema"];
    assert_eq!(none, &json!({"type": "array", "maxItems": 0}));
    assert!(doc.get("security").is_none());
    let guarded = state().with_auth(Some("u"), Some("p"));
    let request = Request::get("/api/v1/openapi.json")
        .header(header::AUTHORIZATION, "Basic dTpw")
        .body(Body::empty())
        .unwrap();
    let (_, doc) = send(guarded, request).await;
    assert_eq!(doc["security"], json!([{"basic": []}]));
}

#[tokio::test]
async fn health_follows_the_processes() {
    let processes = Arc::new(Mutex::new(vec![
        ("web", "RUNNING", 0),
        ("job", "EXITED", 0),
    ]));
    let registry = Arc::new(Registry::new());
    registry
        .add(Arc::new(FakeSupervisor {
            processes: Arc::clone(&processes),
        }))
        .unwrap();
    let state = AppState::new(registry);
    let health = || Request::get("/api/v1/health").body(Body::empty()).unwrap();
    let (status, body) = send(state.clone(), health()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body,
        json!({"healthy": true, "supervisor": "RUNNING", "down": []})
    );

    processes.lock().unwrap()[0] = ("web", "BACKOFF", 0);
    let (status, body) = send(state.clone(), health()).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(body["down"][0]["name"], "web");
    assert_eq!(body["down"][0]["state"], "BACKOFF");
    assert_eq!(body["down"].as_array().unwrap().len(), 1);

    // At boot, before the groups exist: not up yet.
    *processes.lock().unwrap() = vec![("web", "-", 0)];
    let (status, body) = send(state.clone(), health()).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(body["error"], "process groups not created yet");

    // No supervisor namespace: nothing can be judged.
    let (status, body) = send(self::state(), health()).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(body["error"].as_str().unwrap().contains("UNKNOWN_METHOD"));
}

// Paused time: the watcher's looks are ticks the runtime advances to, so
// "after its first look" is exact rather than a guess.
#[tokio::test(start_paused = true)]
async fn events_stream_state_changes() {
    let processes = Arc::new(Mutex::new(vec![("web", "STARTING", 0)]));
    let registry = Arc::new(Registry::new());
    registry
        .add(Arc::new(FakeSupervisor {
            processes: Arc::clone(&processes),
        }))
        .unwrap();
    let request = Request::get("/api/v1/events").body(Body::empty()).unwrap();
    let response = router(AppState::new(registry))
        .oneshot(request)
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers()[header::CONTENT_TYPE],
        "text/event-stream"
    );
    let mut body = response.into_body();
    let mut next = async || {
        let frame = tokio::time::timeout(std::time::Duration::from_secs(5), body.frame())
            .await
            .expect("a frame within the deadline")
            .expect("the stream goes on")
            .unwrap();
        String::from_utf8(frame.into_data().unwrap().to_vec()).unwrap()
    };
    assert_eq!(next().await, "retry: 1000\n\n");
    let first = next().await;
    assert!(
        first.contains(r#""from":null"#) && first.contains(r#""to":"STARTING""#),
        "{first}"
    );
    processes.lock().unwrap()[0] = ("web", "RUNNING", 0);
    let event = next().await;
    assert!(event.starts_with("event: state\ndata: "), "{event}");
    let data: Json =
        serde_json::from_str(event.trim_end().split_once("data: ").unwrap().1).unwrap();
    assert_eq!(data["from"], "STARTING");
    assert_eq!(data["to"], "RUNNING");
    assert_eq!(data["name"], "web");
}
