//! The fixed responses every route shares: medusa's error page and the
//! 200 `text/xml` wrapper of an XML-RPC body. It owns their bytes and
//! headers only; which one a request deserves is the route's decision.

use axum::body::Body;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

/// medusa's error page (CRLF lines, `text/html`) for `status`.
pub fn error_page(status: StatusCode) -> Response {
    let reason = status.canonical_reason().unwrap_or("Unknown");
    let body = format!(
        "<head>\r\n<title>Error response</title>\r\n</head>\r\n<body>\r\n<h1>Error response</h1>\r\n<p>Error code {}.\r\n<p>Message: {reason}.\r\n</body>\r\n",
        status.as_u16()
    );
    (status, [(header::CONTENT_TYPE, "text/html")], body).into_response()
}

/// A 200 `text/xml` response carrying an XML-RPC body.
pub(super) fn xml_response(body: Body) -> Response {
    (StatusCode::OK, [(header::CONTENT_TYPE, "text/xml")], body).into_response()
}
