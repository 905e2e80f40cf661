//! HTTP servers on unix and inet sockets: opening the sockets as the
//! reference does ([`Bound`]), Basic auth, the router with `/RPC2` and the
//! hooks where log tails and the web UI plug in ([`router`]), and serving
//! with limits ([`serve`]). It owns no daemon state: XML-RPC calls go
//! through [`crate::rpc::Registry`], other routes through [`Hooks`].
//!
//! Typical use, once per `[unix_http_server]` / `[inet_http_server]`:
//! open the socket with [`Bound::open`] before daemonizing, then inside the
//! runtime `serve(bound, router(state), limits, shutdown)`.

mod auth;
mod config;
mod listen;
mod router;
mod serve;
mod xmlrpc;

pub use auth::{Credentials, Verdict};
pub use config::{InetAddr, InetAddrError, Limits, Listen, ServerConfig, UnixSocket};
pub use listen::{BindError, Bound, SocketFile, bind_inet, bind_unix};
pub use router::{AppState, Hooks, RouteHandler, error_page, router};
pub use serve::serve;

#[cfg(test)]
mod tests;
