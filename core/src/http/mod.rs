//! HTTP servers on unix and inet sockets: opening the sockets as the
//! reference does ([`Bound`]), Basic auth, the router with `/RPC2` and the
//! hooks where the web UI plugs in ([`router()`]), the streamed log tails
//! ([`Hooks::with_log_tails`]), the JSON API, health and event stream
//! under `/api/v1/` (module `api`), the web UI's pages and assets
//! ([`Hooks::with_ui`]), and serving with limits ([`serve()`]). It
//! owns no daemon state: XML-RPC calls go through
//! [`crate::rpc::Registry`], other routes through [`Hooks`].
//!
//! Typical use, once per `[unix_http_server]` / `[inet_http_server]`:
//! open the socket with [`Bound::open`] before daemonizing, then inside the
//! runtime `serve(bound, router(state), state.limits, shutdown)`.

mod api;
mod auth;
mod body;
mod config;
mod gate;
mod listen;
mod logtail;
mod password;
mod response;
mod router;
mod serve;
mod tls;
mod ui;
mod xmlrpc;

pub use auth::{Credentials, Verdict, access_of};
pub use config::{InetAddr, InetAddrError, Limits, Listen, ServerConfig, UnixSocket};
pub use gate::{Budgets, ConnectionMark, Standing};
pub use listen::{BindError, Bound, SocketFile, bind_inet, bind_unix};
pub use logtail::{
    MAX_POLL_INTERVAL, NotFound, POLL_INTERVAL, ProcessLogs, TAIL_HEAD_BYTES, logtail_handler,
    mainlogtail_handler,
};
pub use password::hash_password;
pub use response::error_page;
pub use router::{AppState, Hooks, PluginHook, RouteHandler, router};
pub use serve::{PeerSocket, ServerStopping, serve};
pub use tls::{TlsError, TlsFiles};
pub use ui::{static_handler, ui_handler};

use std::sync::Arc;

use crate::rpc::Registry;

/// What supervisord does with each server section before it daemonizes:
/// open the socket (errors are the reference's usage errors) and build the
/// router state with the section's credentials. A server without a user
/// name is logged as the reference logs it (at CRIT there).
pub fn prepare(
    config: &ServerConfig,
    registry: Arc<Registry>,
) -> Result<(Bound, AppState), BindError> {
    let mut bound = Bound::open(&config.listen)?;
    if let Some(files) = &config.tls {
        let acceptor = tls::acceptor(&config.section, files).map_err(BindError::Tls)?;
        bound = bound.with_tls(acceptor);
    }
    let mut state = AppState::new(Arc::clone(&registry))
        .with_auth(config.username.as_deref(), config.password.as_deref());
    if let Some(credentials) = state.credentials.take() {
        let with_users = config.users.iter().fold(credentials, |all, user| {
            all.with_user(&user.name, &user.password, user.read_only)
        });
        state.credentials = Some(with_users);
    }
    state.limits = config.limits;
    state.hooks = state.hooks.with_ui(registry);
    if state.credentials.is_none() {
        tracing::error!(
            mainlog_level = "critical",
            "Server '{}' running without any HTTP authentication checking",
            config.section
        );
    }
    Ok((bound, state))
}

#[cfg(test)]
mod tests;
