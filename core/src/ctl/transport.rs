//! The client side of the wire: XML-RPC calls over HTTP/1.1 (hyper, with
//! dxr's types for the XML) on a unix socket or TCP, with basic auth and a
//! keep-alive connection, and the streaming GET behind `tail -f` and `fg`.
//!
//! It knows nothing about supervisor's methods or output: it moves values
//! and bytes, and reports failures as [`CallError`]s precise enough for the
//! commands to give the reference's messages (the errno of a refused
//! connection, the HTTP status of a rejected request, the fault code).

use std::fmt;
use std::io;
use std::path::PathBuf;

use base64::Engine as _;
use dxr::{FaultResponse, MethodCall, MethodResponse, Value};
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::client::conn::http1::SendRequest;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;

use crate::config::ctl::ClientTls;
use crate::pyrepr::py_repr;

/// Where the server listens, from a `serverurl`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerAddr {
    /// `http://host[:port]` (port 80 when absent), or `https://` (ours;
    /// port 443 when absent).
    Tcp {
        /// Host name or address (lower case, no brackets).
        host: String,
        /// TCP port.
        port: u16,
        /// `https://`: TLS first.
        tls: bool,
    },
    /// `unix:///path/to/socket`.
    Unix {
        /// The socket file.
        path: PathBuf,
    },
}

impl ServerAddr {
    /// Parse a serverurl the way the reference's transport does: only the
    /// `http://` and `unix://` prefixes are known; anything else is the
    /// reference's ValueError, which surfaces when a command connects.
    pub fn parse(serverurl: &str) -> Result<ServerAddr, CallError> {
        let web = serverurl
            .strip_prefix("http://")
            .map(|rest| (rest, false))
            .or_else(|| serverurl.strip_prefix("https://").map(|rest| (rest, true)));
        if let Some((rest, tls)) = web {
            let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
            let hostport = authority.rsplit('@').next().unwrap_or("");
            let (host, port) = split_host_port(hostport).ok_or_else(|| {
                CallError::Value(format!(
                    "Port could not be cast to integer value as {hostport:?}"
                ))
            })?;
            let port = match (
                port,
                tls,
                hostport
                    .rsplit_once(']')
                    .map_or(hostport, |(_, p)| p)
                    .contains(':'),
            ) {
                (80, true, false) => 443,
                (port, _, _) => port,
            };
            Ok(ServerAddr::Tcp {
                host: host.to_ascii_lowercase(),
                port,
                tls,
            })
        } else if let Some(path) = serverurl.strip_prefix("unix://") {
            Ok(ServerAddr::Unix {
                path: PathBuf::from(path),
            })
        } else {
            Err(CallError::Value(format!(
                "Unknown protocol for serverurl {serverurl}"
            )))
        }
    }

    /// The Host header: Python's http.client sends `host[:port]`, leaving
    /// out port 80; on a unix socket the reference sends `localhost`.
    fn host_header(&self) -> String {
        match self {
            ServerAddr::Tcp {
                host,
                port: 80,
                tls: false,
            }
            | ServerAddr::Tcp {
                host,
                port: 443,
                tls: true,
            } => bracket_v6(host),
            ServerAddr::Tcp { host, port, .. } => format!("{}:{port}", bracket_v6(host)),
            ServerAddr::Unix { .. } => "localhost".to_string(),
        }
    }
}

fn bracket_v6(host: &str) -> String {
    if host.contains(':') {
        format!("[{host}]")
    } else {
        host.to_string()
    }
}

/// `host`, `host:port`, `[v6]`, `[v6]:port`; `None` for a bad port.
fn split_host_port(hostport: &str) -> Option<(String, u16)> {
    if let Some(rest) = hostport.strip_prefix('[') {
        let (host, after) = rest.split_once(']')?;
        let port = match after.strip_prefix(':') {
            Some("") | None => 80,
            Some(p) => p.parse().ok()?,
        };
        return Some((host.to_string(), port));
    }
    match hostport.rsplit_once(':') {
        Some((host, "")) => Some((host.to_string(), 80)),
        Some((host, port)) => Some((host.to_string(), port.parse().ok()?)),
        None => Some((hostport.to_string(), 80)),
    }
}

/// Why a call did not produce a value.
#[derive(Debug)]
pub enum CallError {
    /// The server answered with an XML-RPC fault.
    Fault {
        /// Supervisor's fault code.
        code: i32,
        /// The fault text (`BAD_NAME: foo`).
        string: String,
    },
    /// The socket could not be opened, or broke during the exchange.
    Io(io::Error),
    /// The server answered with an HTTP status other than 200.
    Http {
        /// The HTTP status.
        status: u16,
        /// Its standard reason phrase.
        reason: String,
    },
    /// A bad serverurl, or an answer we cannot read (the reference raises
    /// ValueError / parser errors for these).
    Value(String),
    /// The body was not an XML-RPC response.
    Protocol(String),
    /// Ctrl-C in the shell while the call was under way.
    Interrupted,
}

impl CallError {
    /// The errno of a socket failure, for the messages that single out
    /// ECONNREFUSED and ENOENT.
    pub fn errno(&self) -> Option<i32> {
        match self {
            CallError::Io(e) => e.raw_os_error(),
            _ => None,
        }
    }

    /// The fault code, if the server sent a fault.
    pub fn fault_code(&self) -> Option<i32> {
        match self {
            CallError::Fault { code, .. } => Some(*code),
            _ => None,
        }
    }

    /// The Python exception class the reference would name for this
    /// failure in its `error: <class '…'>, …` line; scripts match on it.
    pub fn python_class(&self) -> &'static str {
        match self {
            CallError::Fault { .. } => "xmlrpc.client.Fault",
            CallError::Http { .. } => "xmlrpc.client.ProtocolError",
            CallError::Value(_) => "ValueError",
            CallError::Protocol(_) => "xml.parsers.expat.ExpatError",
            CallError::Interrupted => "KeyboardInterrupt",
            CallError::Io(e) => match e.raw_os_error() {
                Some(libc::ECONNREFUSED) => "ConnectionRefusedError",
                Some(libc::ECONNRESET) => "ConnectionResetError",
                Some(libc::ECONNABORTED) => "ConnectionAbortedError",
                Some(libc::EPIPE) => "BrokenPipeError",
                Some(libc::ENOENT) => "FileNotFoundError",
                Some(libc::EACCES) | Some(libc::EPERM) => "PermissionError",
                Some(libc::ETIMEDOUT) => "TimeoutError",
                Some(_) => "OSError",
                // A peer that hung up before answering: what Python's
                // http.client raises for it.
                None if e.kind() == io::ErrorKind::ConnectionAborted => {
                    "http.client.RemoteDisconnected"
                }
                None => "ConnectionError",
            },
        }
    }
}

impl fmt::Display for CallError {
    /// The text Python gives for the same exception, so the generic error
    /// line reads as the reference's does.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CallError::Fault { code, string } => write!(f, "<Fault {code}: {}>", py_repr(string)),
            CallError::Http { status, reason } => {
                write!(f, "<ProtocolError for 127.0.0.1/RPC2: {status} {reason}>")
            }
            CallError::Value(m) | CallError::Protocol(m) => f.write_str(m),
            CallError::Interrupted => f.write_str("interrupted"),
            CallError::Io(e) => match e.raw_os_error() {
                Some(n) => f.write_str(&crate::pyrepr::os_error(n)),
                None => write!(f, "{e}"),
            },
        }
    }
}

impl std::error::Error for CallError {}

impl From<io::Error> for CallError {
    fn from(e: io::Error) -> Self {
        CallError::Io(e)
    }
}

/// A hyper error as the nearest I/O error, keeping the OS error when there
/// is one (a reset connection, a broken pipe).
fn hyper_to_io(e: hyper::Error) -> io::Error {
    let mut source: Option<&dyn std::error::Error> = Some(&e);
    while let Some(s) = source {
        if let Some(io) = s.downcast_ref::<io::Error>()
            && let Some(code) = io.raw_os_error()
        {
            return io::Error::from_raw_os_error(code);
        }
        source = s.source();
    }
    let kind = if e.is_incomplete_message() || e.is_closed() || e.is_canceled() {
        io::ErrorKind::ConnectionAborted
    } else {
        io::ErrorKind::Other
    };
    io::Error::new(
        kind,
        format!(
            "Remote end closed connection without response ({})",
            root_cause(&e)
        ),
    )
}

/// How to reach the server and who we are: everything a request needs.
#[derive(Debug, Clone)]
pub struct Endpoint {
    /// The serverurl as the user gave it; messages quote it.
    pub serverurl: String,
    addr: Result<ServerAddr, String>,
    rpc_auth: Option<String>,
    stream_auth: Option<String>,
    tls: ClientTls,
}

impl Endpoint {
    /// `username` and `password` as configured. RPC calls send basic auth
    /// only when both are set (the reference's transport); the streaming
    /// GETs send it whenever a password is set (its HTTP client).
    pub fn new(serverurl: &str, username: Option<&str>, password: Option<&str>) -> Endpoint {
        let rpc_auth = match (username, password) {
            (Some(u), Some(p)) => Some(basic_auth(u, p)),
            _ => None,
        };
        let stream_auth = match password {
            Some(p) if !p.is_empty() => Some(basic_auth(username.unwrap_or("None"), p)),
            _ => None,
        };
        Endpoint {
            serverurl: serverurl.to_string(),
            addr: ServerAddr::parse(serverurl).map_err(|e| e.to_string()),
            rpc_auth,
            stream_auth,
            tls: ClientTls::default(),
        }
    }

    /// Trust `https://` servers as `tls` says.
    pub fn with_tls(mut self, tls: ClientTls) -> Endpoint {
        self.tls = tls;
        self
    }

    fn addr(&self) -> Result<&ServerAddr, CallError> {
        self.addr.as_ref().map_err(|m| CallError::Value(m.clone()))
    }

    /// Open a fresh HTTP/1.1 connection; the connection task runs on the
    /// current runtime until the sender is dropped.
    async fn connect(&self) -> Result<Connection, CallError> {
        match self.addr()? {
            ServerAddr::Unix { path } => {
                handshake(tokio::net::UnixStream::connect(path).await?).await
            }
            ServerAddr::Tcp { host, port, tls } => {
                let stream = tokio::net::TcpStream::connect((host.as_str(), *port)).await?;
                // Small request, small answer: do not let Nagle hold them.
                let _ = stream.set_nodelay(true);
                if *tls {
                    let connector = super::tls::connector(&self.tls).map_err(CallError::Value)?;
                    let name = rustls::pki_types::ServerName::try_from(host.clone())
                        .map_err(|e| CallError::Value(format!("bad host name {host:?}: {e}")))?;
                    let stream = connector.connect(name, stream).await?;
                    handshake(stream).await
                } else {
                    handshake(stream).await
                }
            }
        }
    }

    fn request(
        &self,
        method: &str,
        path: &str,
        auth: Option<&String>,
    ) -> hyper::http::request::Builder {
        let mut builder = Request::builder()
            .method(method)
            .uri(path)
            .header(
                "Host",
                self.addr
                    .as_ref()
                    .map(ServerAddr::host_header)
                    .unwrap_or_default(),
            )
            .header(
                "User-Agent",
                concat!("supervisor-rs/", env!("CARGO_PKG_VERSION")),
            );
        if let Some(auth) = auth {
            builder = builder.header("Authorization", auth);
        }
        builder
    }

    /// Start a streaming GET of `path` (`/logtail/x/stdout`,
    /// `/mainlogtail`) on a connection of its own, as the reference's
    /// tail client does.
    pub async fn open_stream(&self, path: &str) -> Result<Response<Incoming>, CallError> {
        let mut connection = self.connect().await?;
        let request = self
            .request("GET", path, self.stream_auth.as_ref())
            .header("Accept", "*/*")
            .body(Full::new(Bytes::new()))
            .map_err(|e| CallError::Value(format!("bad request path {path:?}: {e}")))?;
        // Dropping the sender afterwards is fine: hyper keeps driving the
        // connection until the response under way is finished or dropped.
        match connection.sender.send_request(request).await {
            Ok(response) => Ok(response),
            Err(e) => Err(CallError::Io(connection.explain(e).await)),
        }
    }
}

/// An open HTTP/1.1 connection: the sender, and why the connection ended
/// if it failed. A request on a connection that fails only learns that it
/// was cancelled; the connection's own error says why (a TLS alert such as
/// `CertificateRequired` from a server that wants a client certificate).
#[derive(Debug)]
struct Connection {
    sender: SendRequest<Full<Bytes>>,
    failure: tokio::sync::oneshot::Receiver<String>,
}

impl Connection {
    /// `error` (from a request on this connection) as an I/O error, with
    /// the connection's own failure when it has one.
    async fn explain(self, error: hyper::Error) -> io::Error {
        let io = hyper_to_io(error);
        if io.raw_os_error().is_some() {
            return io;
        }
        // A failed request means a connection that is ending (hyper cancels
        // a request only as the connection goes): its task answers at once.
        match self.failure.await {
            // The peer ended the connection: Python's class for that, with
            // the reason it gave.
            Ok(why) => io::Error::new(
                io::ErrorKind::ConnectionAborted,
                format!("Remote end closed connection without response ({why})"),
            ),
            Err(_) => io,
        }
    }
}

/// The innermost message of `error`'s chain: what actually went wrong.
fn root_cause(error: &(dyn std::error::Error + 'static)) -> String {
    let mut last = error;
    while let Some(next) = last.source() {
        last = next;
    }
    last.to_string()
}

/// The HTTP/1.1 handshake on an open stream; the connection task runs on
/// the current runtime until the sender and any response under way are
/// gone.
async fn handshake<S>(stream: S) -> Result<Connection, CallError>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(hyper_to_io)?;
    let (report, failure) = tokio::sync::oneshot::channel();
    tokio::spawn(async move {
        if let Err(error) = connection.await {
            let _ = report.send(root_cause(&error));
        }
    });
    Ok(Connection { sender, failure })
}

/// `Basic base64(user:pass)`.
fn basic_auth(username: &str, password: &str) -> String {
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{username}:{password}"))
    )
}

/// A keep-alive XML-RPC session: one connection, opened on the first call
/// and reused by the next ones until [`Session::reset`].
#[derive(Debug)]
pub struct Session {
    endpoint: Endpoint,
    conn: Option<Connection>,
}

impl Session {
    /// A session that connects on its first call.
    pub fn new(endpoint: Endpoint) -> Session {
        Session {
            endpoint,
            conn: None,
        }
    }

    /// Where this session connects.
    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// Drop the connection; the next call opens a new one. Each command
    /// starts afresh, as the reference's commands build new proxies.
    pub fn reset(&mut self) {
        self.conn = None;
    }

    /// Call `method` with `params` and return its value.
    pub async fn call(&mut self, method: &str, params: Vec<Value>) -> Result<Value, CallError> {
        let body = self.call_raw(method, params).await?;
        parse_response(&body)
    }

    /// Call `method` with `params` and return the answer's body as it came
    /// (HTTP and connection failures already turned into errors), for a
    /// caller that reads it its own way ([`parse_response`] is the
    /// general reading).
    pub async fn call_raw(
        &mut self,
        method: &str,
        params: Vec<Value>,
    ) -> Result<Vec<u8>, CallError> {
        let response = self.send(method, params).await?;
        match read_body(response).await {
            Ok(bytes) => Ok(bytes),
            Err(e) => {
                self.conn = None;
                Err(CallError::Io(hyper_to_io(e)))
            }
        }
    }

    /// Call `method` with `params` and hand the answer's body to `sink`
    /// piece by piece as it arrives (HTTP and connection failures already
    /// turned into errors), for a caller that reads a large answer while
    /// the rest is still on its way, without holding all of it.
    pub async fn call_streamed(
        &mut self,
        method: &str,
        params: Vec<Value>,
        sink: &mut impl super::xml::BodySink,
    ) -> Result<(), CallError> {
        let response = self.send(method, params).await?;
        if let Some(length) = content_length(&response) {
            sink.length(length);
        }
        let mut body = response.into_body();
        while let Some(frame) = body.frame().await {
            match frame {
                Ok(frame) => {
                    if let Some(chunk) = frame.data_ref() {
                        sink.data(chunk);
                    }
                }
                Err(e) => {
                    self.conn = None;
                    return Err(CallError::Io(hyper_to_io(e)));
                }
            }
        }
        Ok(())
    }

    /// Send the call and wait for the answer's head: a 200 answer with its
    /// body unread, or the error.
    async fn send(
        &mut self,
        method: &str,
        params: Vec<Value>,
    ) -> Result<Response<Incoming>, CallError> {
        let call = MethodCall {
            name: method.into(),
            params,
        };
        let xml = call
            .to_xml()
            .map_err(|e| CallError::Value(format!("cannot encode a call to {method}: {e}")))?;
        let mut body = String::with_capacity(xml.len() + 22);
        body.push_str("<?xml version=\"1.0\"?>\n");
        body.push_str(&xml);
        let request = self
            .endpoint
            .request("POST", "/RPC2", self.endpoint.rpc_auth.as_ref())
            .header("Content-Type", "text/xml")
            .header("Accept", "text/xml")
            .header("Content-Length", body.len())
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| CallError::Value(format!("cannot build a request: {e}")))?;

        let reusable = self.conn.as_mut().is_some_and(|c| !c.sender.is_closed());
        if !reusable {
            self.conn = Some(self.endpoint.connect().await?);
        }
        let sender = &mut self
            .conn
            .as_mut()
            .expect("a connection was opened just above when none was reusable")
            .sender;
        let response = match sender.ready().await {
            Ok(()) => sender.send_request(request).await,
            Err(e) => Err(e),
        };
        let response = match (response, self.conn.take()) {
            (Ok(r), conn) => {
                self.conn = conn;
                r
            }
            (Err(e), Some(conn)) => return Err(CallError::Io(conn.explain(e).await)),
            (Err(e), None) => return Err(CallError::Io(hyper_to_io(e))),
        };
        let status = response.status();
        if status != hyper::StatusCode::OK {
            // The reference closes the connection on any non-200 answer.
            self.conn = None;
            return Err(CallError::Http {
                status: status.as_u16(),
                reason: status.canonical_reason().unwrap_or("").to_string(),
            });
        }
        Ok(response)
    }
}

/// A response's Content-Length, if it says one.
fn content_length(response: &Response<Incoming>) -> Option<usize> {
    response
        .headers()
        .get(hyper::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<usize>().ok())
}

/// The whole body into one buffer sized from Content-Length up front
/// (capped, as the header is the peer's word), so a large answer is
/// neither regrown nor gathered from chunks afterwards.
async fn read_body(response: Response<Incoming>) -> Result<Vec<u8>, hyper::Error> {
    let length = content_length(&response).unwrap_or(0);
    let mut bytes = Vec::with_capacity(length.min(64 << 20));
    let mut body = response.into_body();
    while let Some(frame) = body.frame().await {
        if let Ok(data) = frame?.into_data() {
            bytes.extend_from_slice(&data);
        }
    }
    Ok(bytes)
}

/// A `methodResponse` body as a value or a fault.
pub fn parse_response(bytes: &[u8]) -> Result<Value, CallError> {
    let text = std::str::from_utf8(bytes)
        .map_err(|e| CallError::Protocol(format!("response is not UTF-8: {e}")))?;
    match super::xml::read_response(text) {
        Some(super::xml::Response::Value(v)) => return Ok(v),
        Some(super::xml::Response::Fault(code, string)) => {
            return Err(CallError::Fault { code, string });
        }
        None => {}
    }
    let text = strip_xml_declaration(text);
    if text.contains("<fault>") {
        let fault = FaultResponse::from_xml(text)
            .map_err(|e| CallError::Protocol(format!("unreadable fault response: {e}")))?
            .fault;
        return Err(CallError::Fault {
            code: fault.code(),
            string: fault.string().to_string(),
        });
    }
    MethodResponse::from_xml(text)
        .map(|r| r.value)
        .map_err(|e| CallError::Protocol(format!("unreadable response: {e}")))
}

fn strip_xml_declaration(text: &str) -> &str {
    let trimmed = text.trim_start();
    if trimmed.starts_with("<?xml")
        && let Some(end) = trimmed.find("?>")
    {
        return trimmed[end + 2..].trim_start();
    }
    trimmed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_auth_header_is_base64_of_user_colon_password() {
        assert_eq!(basic_auth("user", "123"), "Basic dXNlcjoxMjM=");
    }

    #[test]
    fn server_urls_parse_like_the_reference_transport() {
        assert_eq!(
            ServerAddr::parse("http://localhost:9001").unwrap(),
            ServerAddr::Tcp {
                host: "localhost".into(),
                port: 9001,
                tls: false
            }
        );
        assert_eq!(
            ServerAddr::parse("http://Example.org/").unwrap(),
            ServerAddr::Tcp {
                host: "example.org".into(),
                port: 80,
                tls: false
            }
        );
        assert_eq!(
            ServerAddr::parse("http://[::1]:7").unwrap(),
            ServerAddr::Tcp {
                host: "::1".into(),
                port: 7,
                tls: false
            }
        );
        assert_eq!(
            ServerAddr::parse("https://example.org/").unwrap(),
            ServerAddr::Tcp {
                host: "example.org".into(),
                port: 443,
                tls: true
            }
        );
        assert_eq!(
            ServerAddr::parse("https://127.0.0.1:9001").unwrap(),
            ServerAddr::Tcp {
                host: "127.0.0.1".into(),
                port: 9001,
                tls: true
            }
        );
        assert_eq!(
            ServerAddr::parse("unix:///tmp/s.sock").unwrap(),
            ServerAddr::Unix {
                path: "/tmp/s.sock".into()
            }
        );
        let err = ServerAddr::parse("ftp://x").unwrap_err();
        assert_eq!(err.to_string(), "Unknown protocol for serverurl ftp://x");
        assert_eq!(err.python_class(), "ValueError");
    }

    #[test]
    fn responses_and_faults_from_pythons_xmlrpc_server_parse() {
        let ok = "<?xml version='1.0'?>\n<methodResponse>\n<params>\n<param>\n\
                  <value><string>3.0</string></value>\n</param>\n</params>\n</methodResponse>\n";
        assert_eq!(
            parse_response(ok.as_bytes()).unwrap(),
            Value::String("3.0".into())
        );
        let fault = "<?xml version='1.0'?>\n<methodResponse>\n<fault>\n<value><struct>\n\
                     <member>\n<name>faultCode</name>\n<value><int>10</int></value>\n</member>\n\
                     <member>\n<name>faultString</name>\n<value><string>BAD_NAME: x</string></value>\n\
                     </member>\n</struct></value>\n</fault>\n</methodResponse>\n";
        let err = parse_response(fault.as_bytes()).unwrap_err();
        assert_eq!(err.fault_code(), Some(10));
        assert_eq!(err.to_string(), "<Fault 10: 'BAD_NAME: x'>");
    }

    #[test]
    fn io_errors_read_like_pythons_oserror() {
        let e = CallError::Io(io::Error::from_raw_os_error(libc::ECONNREFUSED));
        assert_eq!(e.to_string(), "[Errno 111] Connection refused");
        assert_eq!(e.python_class(), "ConnectionRefusedError");
        assert_eq!(e.errno(), Some(libc::ECONNREFUSED));
    }
}
