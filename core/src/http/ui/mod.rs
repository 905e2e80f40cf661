//! The web UI: the reference's pages at their reference routes
//! (`/` and `index.html` list every process, `tail.html` shows the end of
//! a stdout log, `/stylesheets/*` and `/images/*` serve our own embedded
//! assets, and `/scripts/live.js`, which makes the list follow
//! `/api/v1/events` and act through the JSON API), and `log.html` with
//! `/scripts/log.js`, the log view (stdout and stderr of several processes
//! merged, following new output through the JSON API's tail methods),
//! installed into the router's `ui` and `static_files` hooks.
//! It owns the pages' routes and their safety rules; it reads and changes
//! processes only through the registry's `supervisor` namespace
//! ([`actions`]), so http never imports the daemon.
//!
//! Safety, where the reference is weak: its `?action=` GET links change
//! state, so any third-party page could stop a process through a
//! logged-in browser. Here a GET never changes state: an old
//! `index.html?processname=NAME&action=stop` link (or a bookmark) shows a
//! confirmation whose form POSTs the same fields; the POST does what the
//! reference's GET does and redirects (303, relative `Location`) to the
//! list with the reference's message. A POST whose `Origin` or
//! `Sec-Fetch-Site` says another site sent it is refused with 403, by the
//! same rule as the JSON API. Basic auth is the router's, before any of
//! this. `refresh` changes nothing, so it is answered at once.

mod actions;
mod form;
mod page;

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::Request;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::api::refused_origin;
use super::auth::access_of;
use super::response::error_page;
use super::router::{Hooks, RouteHandler};
use crate::rpc::{Access, Registry};
use actions::Action;

const STYLESHEET: &str = include_str!("assets/supervisor.css");
const LOGO: &str = include_str!("assets/supervisor.svg");
const LIVE_SCRIPT: &str = include_str!("assets/live.js");
const LOG_PAGE: &str = include_str!("assets/log.html");
const LOG_SCRIPT: &str = include_str!("assets/log.js");

/// Every embedded asset, by route and content type (the page weight test
/// adds them up).
const ASSETS: [(&str, &str, &str); 5] = [
    ("/stylesheets/supervisor.css", "text/css", STYLESHEET),
    ("/scripts/live.js", "text/javascript", LIVE_SCRIPT),
    ("/scripts/log.js", "text/javascript", LOG_SCRIPT),
    ("/images/supervisor.svg", "image/svg+xml", LOGO),
    ("/log.html", "text/html;charset=utf-8", LOG_PAGE),
];

/// Pages load only what this server sends, and no other site may frame
/// them (a framed confirmation page could be clicked through).
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; img-src 'self'; style-src 'self'; script-src 'self'; \
     connect-src 'self'; frame-ancestors 'none'; form-action 'self'";

/// The reference's default tail (`tail.html` without `limit`) and its
/// least: it never shows fewer bytes.
const TAIL_BYTES: u64 = 1024;

impl Hooks {
    /// Serve the web UI's pages and assets, reading and acting through
    /// `registry`.
    pub fn with_ui(mut self, registry: Arc<Registry>) -> Self {
        self.ui = Some(ui_handler(registry));
        self.static_files = Some(static_handler());
        self
    }
}

/// The `index.html` / `tail.html` handler.
pub fn ui_handler(registry: Arc<Registry>) -> RouteHandler {
    Arc::new(move |request: Request| {
        let registry = Arc::clone(&registry);
        Box::pin(async move { serve_page(&registry, request).await })
    })
}

/// The handler of `/stylesheets/*` and `/images/*`; every other path is
/// medusa's 404, as in the reference.
pub fn static_handler() -> RouteHandler {
    Arc::new(|request: Request| {
        Box::pin(async move {
            if !matches!(*request.method(), Method::GET | Method::HEAD) {
                return error_page(StatusCode::NOT_FOUND);
            }
            // The reference's logo is a GIF at `supervisor.gif`; ours is
            // an SVG, served at the old name too so old pages and
            // bookmarks still find an image.
            let path = match request.uri().path() {
                "/images/supervisor.gif" | "/images/icon.png" => "/images/supervisor.svg",
                path => path,
            };
            match ASSETS.iter().find(|(route, ..)| *route == path) {
                // The log view is a page: never cached, under the pages' policy.
                Some((_, content_type, body)) if path == "/log.html" => {
                    let mut response = html(StatusCode::OK, (*body).to_owned());
                    response
                        .headers_mut()
                        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
                    response
                }
                Some((_, content_type, body)) => asset(content_type, body),
                None => error_page(StatusCode::NOT_FOUND),
            }
        })
    })
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "max-age=3600"),
        ],
        body,
    )
        .into_response()
}

/// A page: `text/html;charset=utf-8` as the reference sends, never cached
/// (its pages show live state).
fn html(status: StatusCode, body: String) -> Response {
    (
        status,
        [
            (header::CONTENT_TYPE, "text/html;charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
            (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
        ],
        body,
    )
        .into_response()
}

fn error(status: StatusCode, message: &str) -> Response {
    html(status, page::error(message))
}

/// The most a posted form may hold: the UI's forms are a few fields.
const MAX_FORM_BYTES: usize = 64 * 1024;

/// The query's fields, then (for a POST) the form's over them, as the
/// reference merges them.
async fn fields(request: Request) -> Result<HashMap<String, String>, Response> {
    let mut fields = HashMap::new();
    form::merge(&mut fields, request.uri().query().unwrap_or(""), false);
    if request.method() == Method::POST {
        let body = axum::body::to_bytes(request.into_body(), MAX_FORM_BYTES)
            .await
            .map_err(|_| error(StatusCode::PAYLOAD_TOO_LARGE, "The form is too large"))?;
        form::merge(&mut fields, &String::from_utf8_lossy(&body), true);
    }
    Ok(fields)
}

async fn serve_page(registry: &Registry, request: Request) -> Response {
    let is_post = request.method() == Method::POST;
    // A read-only user sees the list and the logs, and no action.
    let may_change = !matches!(access_of(&request), Access::ReadOnly(_));
    if is_post && let Some(why) = refused_origin(request.headers()) {
        return error(StatusCode::FORBIDDEN, why);
    }
    let is_tail = request.uri().path().trim_start_matches('/') == "tail.html";
    let fields = match fields(request).await {
        Ok(fields) => fields,
        Err(response) => return response,
    };
    if is_tail {
        return tail_page(registry, &fields).await;
    }
    let processname = fields.get("processname").map(String::as_str);
    let Some(action) = fields.get("action").filter(|a| !a.is_empty()) else {
        return status_page(
            registry,
            fields.get("message").map(String::as_str),
            may_change,
        )
        .await;
    };
    let action = match Action::parse(action, processname) {
        Ok(action) => action,
        Err(why) => return error(StatusCode::BAD_REQUEST, &why),
    };
    if action == Action::Refresh {
        let message = actions::perform(registry, &action).await;
        return status_page(registry, Some(&message), may_change).await;
    }
    if !may_change {
        return error(
            StatusCode::FORBIDDEN,
            "This user has the read-only role: it may not change anything",
        );
    }
    if !is_post {
        if let Some(name) = action.process()
            && let Err(why) = actions::check_process(registry, name).await
        {
            return error(StatusCode::NOT_FOUND, &why);
        }
        return html(
            StatusCode::OK,
            page::confirm(&action.question(), action.process(), action.name()),
        );
    }
    let message = actions::perform(registry, &action).await;
    let location = format!("index.html?message={}", page::quote(&message));
    let mut response = StatusCode::SEE_OTHER.into_response();
    if let Ok(value) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    response
}

async fn status_page(registry: &Registry, message: Option<&str>, may_change: bool) -> Response {
    match actions::rows(registry).await {
        Ok(rows) => html(StatusCode::OK, page::status(&rows, message, may_change)),
        Err(why) => error(StatusCode::SERVICE_UNAVAILABLE, &why),
    }
}

/// `tail.html?processname=NAME[&limit=N]`: at least the reference's 1024
/// bytes; a `limit` that is not a number means the default.
async fn tail_page(registry: &Registry, fields: &HashMap<String, String>) -> Response {
    let limit = fields
        .get("limit")
        .and_then(|limit| limit.parse::<u64>().ok())
        .unwrap_or(TAIL_BYTES)
        .max(TAIL_BYTES);
    let processname = fields.get("processname").filter(|name| !name.is_empty());
    let text = match processname {
        None => "No process name found".to_owned(),
        Some(name) => actions::tail(registry, name, limit).await,
    };
    html(
        StatusCode::OK,
        page::tail(processname.map(String::as_str), &text, limit),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The budget: everything a browser loads for the list and
    /// the log view (every asset, and the list page of ten processes)
    /// under 100 KB.
    #[test]
    fn the_page_weight_is_under_100_kb() {
        let rows: Vec<page::Row> = (0..10)
            .map(|i| page::Row {
                group: "web".into(),
                name: format!("worker_{i:02}"),
                statename: "RUNNING".into(),
                description: "pid 1234, uptime 1:02:03".into(),
                pid: 1234,
                start: 1,
                now: 3724,
                exitstatus: 0,
                spawnerr: String::new(),
            })
            .collect();
        let list = page::status(&rows, Some("Process web:worker_01 started"), true).len();
        let assets: usize = ASSETS.iter().map(|(_, _, body)| body.len()).sum();
        let total = list + assets;
        assert!(total < 100 * 1024, "{total} bytes");
    }

    #[test]
    fn assets_use_relative_urls_only() {
        for (route, _, body) in ASSETS {
            for absolute in [
                "href=\"/",
                "src=\"/",
                "action=\"/",
                "fetch(\"/",
                "EventSource(\"/",
            ] {
                assert!(!body.contains(absolute), "{route} has {absolute}");
            }
            // No CDN, no external font: the only URL is the SVG namespace.
            let external = body.replace("xmlns=\"http://www.w3.org/2000/svg\"", "");
            assert!(
                !external.contains("http://") && !external.contains("https://"),
                "{route}"
            );
        }
    }
}
