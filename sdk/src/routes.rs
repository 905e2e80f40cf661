//! HTTP GET routes a plugin serves beside its RPC namespace: everything
//! under `/plugin/<section name>/`, and at most one top-level path of its
//! own (the metrics plugin's `/metrics`). The daemon serves them behind the
//! same authentication and limits as `/RPC2`, refuses any other method
//! (a GET never changes state), and refuses at start-up a claimed path
//! that the daemon or another plugin serves.
//!
//! Plugin authors implement the plain trait [`HttpRoutes`] and wrap it
//! with [`routes_box`], which catches panics (a panic answers 500); the
//! ABI-stable [`Routes`] is what crosses the boundary. A library offers
//! routes by naming a routes factory beside its namespace factory in
//! [`plugin_module!`](crate::plugin_module): the daemon builds it for every
//! `[rpcinterface:x]` section that names that namespace factory.

use crate::guard::guarded;
use abi_stable::StableAbi;
use abi_stable::sabi_trait;
use abi_stable::sabi_trait::TD_Opaque;
use abi_stable::std_types::{RBox, ROption, RStr, RString, RVec};

/// The answer to a GET.
#[repr(C)]
#[derive(StableAbi, Debug, Clone, PartialEq, Eq)]
pub struct HttpResponse {
    /// The HTTP status (200, 404, ...).
    pub status: u16,
    /// The `Content-Type` header.
    pub content_type: RString,
    /// The body.
    pub body: RVec<u8>,
}

impl HttpResponse {
    /// A 200 with `body` of `content_type`.
    pub fn ok(content_type: &str, body: impl Into<Vec<u8>>) -> HttpResponse {
        HttpResponse {
            status: 200,
            content_type: content_type.into(),
            body: body.into().into(),
        }
    }

    /// A plain-text answer with `status`.
    pub fn text(status: u16, text: &str) -> HttpResponse {
        HttpResponse {
            status,
            content_type: "text/plain; charset=utf-8".into(),
            body: text.as_bytes().to_vec().into(),
        }
    }

    /// 404, for a path the plugin does not serve.
    pub fn not_found() -> HttpResponse {
        HttpResponse::text(404, "Not Found")
    }
}

/// Routes as the plugin author writes them.
pub trait HttpRoutes: Send + Sync + 'static {
    /// The one top-level path this plugin also serves (`/metrics`), if
    /// any. It must start with `/`.
    fn claimed_path(&self) -> Option<String> {
        None
    }

    /// Answer a GET. `path` is what follows `/plugin/<section>/` (empty
    /// for the section's root), or the claimed path itself; `query` is the
    /// query string without its `?`.
    fn get(&self, path: &str, query: &str) -> HttpResponse;
}

/// The ABI-stable routes object. Implemented by the SDK's adapter; see
/// [`routes_box`].
#[sabi_trait]
pub trait Routes: Send + Sync {
    /// See [`HttpRoutes::claimed_path`].
    fn claimed_path(&self) -> ROption<RString>;

    /// See [`HttpRoutes::get`].
    #[sabi(last_prefix_field)]
    fn get(&self, path: RStr<'_>, query: RStr<'_>) -> HttpResponse;
}

/// An owned routes object, as a routes factory returns it.
pub type RoutesBox = Routes_TO<'static, RBox<()>>;

struct GuardedRoutes<T>(T);

impl<T: HttpRoutes> Routes for GuardedRoutes<T> {
    fn claimed_path(&self) -> ROption<RString> {
        guarded(|| self.0.claimed_path())
            .ok()
            .flatten()
            .map(RString::from)
            .into()
    }

    fn get(&self, path: RStr<'_>, query: RStr<'_>) -> HttpResponse {
        guarded(|| self.0.get(path.as_str(), query.as_str())).unwrap_or_else(|message| {
            HttpResponse::text(500, &format!("plugin panicked serving {path}: {message}"))
        })
    }
}

/// Wrap routes for the boundary, catching their panics.
pub fn routes_box(routes: impl HttpRoutes) -> RoutesBox {
    Routes_TO::from_value(GuardedRoutes(routes), TD_Opaque)
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Echo;

    impl HttpRoutes for Echo {
        fn claimed_path(&self) -> Option<String> {
            Some("/echo".into())
        }

        fn get(&self, path: &str, query: &str) -> HttpResponse {
            if path == "boom" {
                panic!("asked to");
            }
            HttpResponse::ok("text/plain", format!("{path}?{query}"))
        }
    }

    #[test]
    fn the_box_answers_and_turns_a_panic_into_a_500() {
        let routes = routes_box(Echo);
        assert_eq!(
            routes.claimed_path(),
            ROption::RSome(RString::from("/echo"))
        );
        let answer = routes.get("a/b".into(), "x=1".into());
        assert_eq!(
            (answer.status, answer.body.as_slice()),
            (200, &b"a/b?x=1"[..])
        );
        let answer = routes.get("boom".into(), "".into());
        assert_eq!(answer.status, 500);
        assert!(String::from_utf8_lossy(&answer.body).contains("asked to"));
    }
}
