//! `/RPC2`: read an XML-RPC `methodCall` into the SDK's values
//! ([`crate::rpc::parse_call`]), dispatch it through the
//! [`Registry`], and write the `methodResponse` or
//! fault into a recycled buffer (the encoder's, `crate::rpc`; not dxr's
//! serializer, which was the hot spot). HTTP-level failures (not POST, unreadable XML, no method name, a
//! panicking method) are the reference's HTTP errors, not faults.

use axum::extract::Request;
use axum::http::{Method, StatusCode, header};
use axum::response::Response;

use super::body::{self, BodyError};
use super::config::Limits;
use super::response::{error_page, xml_response};
use crate::rpc::{CallError, Registry, parse_call, write_fault_response};

pub(super) async fn handle(registry: &Registry, limits: &Limits, request: Request) -> Response {
    if request.method() != Method::POST {
        return error_page(StatusCode::BAD_REQUEST);
    }
    let access = super::auth::access_of(&request);
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let read = body::read(
        request.into_body(),
        declared,
        limits.max_body_bytes,
        limits.idle_timeout,
    )
    .await;
    let (collected, _lease) = match read {
        Ok(read) => read,
        Err(BodyError::TooLarge) => return closing(StatusCode::PAYLOAD_TOO_LARGE),
        Err(BodyError::Busy) => return closing(StatusCode::SERVICE_UNAVAILABLE),
        Err(BodyError::Timeout) => return error_page(StatusCode::REQUEST_TIMEOUT),
        Err(BodyError::Broken) => return error_page(StatusCode::BAD_REQUEST),
    };
    let Some((method, params)) = parse_call(&collected) else {
        tracing::error!(
            "XML-RPC request data {} is invalid: unmarshallable",
            body::excerpt(&collected)
        );
        return error_page(StatusCode::BAD_REQUEST);
    };
    if method.is_empty() {
        tracing::error!(
            "XML-RPC request data {} is invalid: no method name",
            body::excerpt(&collected)
        );
        return error_page(StatusCode::BAD_REQUEST);
    }
    tracing::trace!("XML-RPC method called: {method}()");
    let mut text = body::buffer();
    let mut pieces = None;
    match registry
        .dispatch_into(&access, &method, params, &mut text)
        .await
    {
        Ok(rest) => {
            pieces = rest;
            tracing::trace!("XML-RPC method {method}() returned successfully");
        }
        Err(CallError::Fault(fault)) => {
            tracing::trace!(
                "XML-RPC method {method}() returned fault: [{}] {}",
                fault.code,
                fault.string
            );
            write_fault_response(&mut text, &fault);
        }
        Err(CallError::Internal(message)) => {
            tracing::error!(
                "Handling XML-RPC request with data {} raised an unexpected exception: {message}",
                body::excerpt(&collected)
            );
            return error_page(StatusCode::INTERNAL_SERVER_ERROR);
        }
    }
    let size = text.len() + pieces.as_ref().map_or(0, |p| p.remaining());
    if size >= crate::daemon::memory::TRIM_WORTHY {
        // Its buffers (and the values it was encoded from) are freed once
        // it is sent: hand them back when the daemon is quiet.
        crate::daemon::memory::trim_when_quiet();
    }
    match pieces {
        Some(pieces) => xml_response(body::streamed(text, pieces)),
        None => xml_response(body::body(text)),
    }
}

/// An error page for a body left unread, which makes the connection
/// unusable: it is closed after the answer.
fn closing(status: StatusCode) -> Response {
    let mut response = error_page(status);
    // The unread rest of the body makes the connection unusable.
    response.headers_mut().insert(
        header::CONNECTION,
        axum::http::HeaderValue::from_static("close"),
    );
    response
}
