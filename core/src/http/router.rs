//! The request router: authentication first, then the reference's handlers
//! in the reference's order (`/RPC2*`, our `/api/*`, `/logtail*`, `/mainlogtail*`,
//! our plugins' `/plugin/*` and claimed paths, the web UI pages, static files), and medusa's error pages for everything
//! that goes wrong.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::api;
use super::auth::{Credentials, PeerAddr, Verdict, failure_pause, forgive};
use super::config::Limits;
use super::gate::{ConnectionMark, Standing};
use super::response::error_page;
use super::xmlrpc;
use crate::rpc::{Access, BoxFuture, Registry};

/// A handler for a family of routes that another part of the daemon
/// serves (log tails, the web UI). Until one is installed, its routes
/// answer 404.
pub type RouteHandler = Arc<dyn Fn(Request) -> BoxFuture<Response> + Send + Sync>;

/// The route families other parts plug in.
#[derive(Clone, Default)]
pub struct Hooks {
    /// `/logtail/<namespec>[/<channel>]` (GET).
    pub logtail: Option<RouteHandler>,
    /// `/mainlogtail` (GET).
    pub mainlogtail: Option<RouteHandler>,
    /// `index.html` and `tail.html` (GET or POST; `ok.html` is built in).
    pub ui: Option<RouteHandler>,
    /// Everything else: the UI's static files.
    pub static_files: Option<RouteHandler>,
    /// `/plugin/<section>/...` and the top-level paths plugins claimed
    /// (GET and HEAD only: a plugin's route never changes state).
    pub plugins: Option<PluginHook>,
    /// Ticks when the daemon publishes a change: `/api/v1/events` waits
    /// on it (without it, the stream polls).
    pub changes: Option<tokio::sync::watch::Receiver<()>>,
}

/// The plugins' routes: the paths they claimed, and the handler of those
/// and of everything under `/plugin/`.
#[derive(Clone)]
pub struct PluginHook {
    /// The claimed top-level paths.
    pub claimed: Arc<[String]>,
    /// Answers them.
    pub handler: RouteHandler,
}

impl std::fmt::Debug for Hooks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hooks")
            .field("logtail", &self.logtail.is_some())
            .field("mainlogtail", &self.mainlogtail.is_some())
            .field("ui", &self.ui.is_some())
            .field("static_files", &self.static_files.is_some())
            .field("plugins", &self.plugins.as_ref().map(|p| &p.claimed))
            .field("changes", &self.changes.is_some())
            .finish()
    }
}

/// Everything a server's router needs; cheap to clone.
#[derive(Clone, Debug)]
pub struct AppState {
    /// The method table `/RPC2` dispatches through.
    pub registry: Arc<Registry>,
    /// Basic-auth credentials; `None` serves everyone.
    pub credentials: Option<Credentials>,
    /// Body size limit and body timeout come from here.
    pub limits: Limits,
    /// Routes served by other parts of the daemon.
    pub hooks: Hooks,
}

impl AppState {
    /// State for a server that answers with `registry`, with no auth, the
    /// default limits and no hooks.
    pub fn new(registry: Arc<Registry>) -> Self {
        AppState {
            registry,
            credentials: None,
            limits: Limits::default(),
            hooks: Hooks::default(),
        }
    }

    /// Require Basic auth with `username` and `password` (plain or
    /// `{SHA}`); an empty or absent user name means no auth, as in the
    /// reference.
    pub fn with_auth(mut self, username: Option<&str>, password: Option<&str>) -> Self {
        self.credentials = match username {
            Some(user) if !user.is_empty() => Some(Credentials::new(user, password.unwrap_or(""))),
            _ => None,
        };
        self
    }
}

/// The router of one HTTP server.
pub fn router(state: AppState) -> Router {
    Router::new().fallback(handle).with_state(Arc::new(state))
}

async fn handle(State(state): State<Arc<AppState>>, mut request: Request) -> Response {
    // The connection's standing tells the gate which connections to close
    // first when it needs room (absent in in-process tests).
    let mark = request.extensions().get::<ConnectionMark>().cloned();
    let judge = |standing| {
        if let Some(mark) = &mark {
            mark.set(standing);
        }
    };
    if let Some(credentials) = &state.credentials {
        let peer = request.extensions().get::<PeerAddr>().copied();
        let authorization = request
            .headers()
            .get(header::AUTHORIZATION)
            .map(HeaderValue::as_bytes);
        match credentials.verify(authorization).await {
            Verdict::Allowed(access) => {
                forgive(peer.as_ref());
                request.extensions_mut().insert(access);
            }
            Verdict::Unauthorized => {
                judge(Standing::Failed);
                tokio::time::sleep(failure_pause(peer.as_ref())).await;
                drain_body(&state.limits, request).await;
                return unauthorized();
            }
            Verdict::Malformed => {
                judge(Standing::Failed);
                return error_page(StatusCode::BAD_REQUEST);
            }
            Verdict::Busy => return error_page(StatusCode::SERVICE_UNAVAILABLE),
        }
    }
    judge(Standing::Trusted);
    let path = request.uri().path();
    if path.starts_with("/RPC2") {
        return xmlrpc::handle(&state.registry, &state.limits, request).await;
    }
    if path == "/api" || path.starts_with("/api/") {
        return api::handle(&state, request).await;
    }
    if path.starts_with("/logtail") {
        return hooked(&state.hooks.logtail, request).await;
    }
    if path.starts_with("/mainlogtail") {
        return hooked(&state.hooks.mainlogtail, request).await;
    }
    if let Some(plugins) = &state.hooks.plugins
        && (path.starts_with("/plugin/") || plugins.claimed.iter().any(|c| c == path))
    {
        if !matches!(*request.method(), Method::GET | Method::HEAD) {
            return error_page(StatusCode::METHOD_NOT_ALLOWED);
        }
        return (plugins.handler)(request).await;
    }
    if matches!(*request.method(), Method::GET | Method::POST) {
        match path.trim_start_matches('/') {
            "ok.html" => return ([(header::CONTENT_TYPE, "text/plain")], "OK").into_response(),
            "" | "index.html" | "tail.html" => {
                // A page POST acts (stop, restart, clear...): never for a
                // read-only user, whatever the form asks.
                if request.method() == Method::POST
                    && matches!(super::auth::access_of(&request), Access::ReadOnly(_))
                {
                    return error_page(StatusCode::FORBIDDEN);
                }
                return hooked(&state.hooks.ui, request).await;
            }
            _ => {}
        }
    }
    hooked(&state.hooks.static_files, request).await
}

async fn hooked(hook: &Option<RouteHandler>, request: Request) -> Response {
    match hook {
        Some(handler) => handler(request).await,
        None => error_page(StatusCode::NOT_FOUND),
    }
}

/// Read and drop what the client is still sending (bounded by the body
/// limit and the idle timeout) before answering. Clients such as Python's
/// http.client send the body after the headers; closing on them first
/// makes their send fail with a broken pipe instead of showing the 401.
async fn drain_body(limits: &Limits, request: Request) {
    use http_body_util::BodyExt;
    let mut body = request.into_body();
    let mut seen = 0usize;
    let drain = async {
        // Frame by frame, keeping nothing: an unauthenticated client must
        // not make us hold its body in memory.
        while let Some(Ok(frame)) = body.frame().await {
            seen += frame.data_ref().map_or(0, |data| data.len());
            if seen > limits.max_body_bytes {
                break;
            }
        }
    };
    let _ = tokio::time::timeout(limits.idle_timeout, drain).await;
}

/// The reference's 401: the challenge, and the connection closed (the
/// body the client may still be sending is not read).
fn unauthorized() -> Response {
    let mut response = error_page(StatusCode::UNAUTHORIZED);
    let headers = response.headers_mut();
    headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
    headers.insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Basic realm=\"default\""),
    );
    response
}
