//! `/RPC2`: read an XML-RPC `methodCall` with dxr, dispatch it through the
//! [`Registry`](crate::rpc::Registry), and write the `methodResponse` or
//! fault with [`crate::rpc::method_response`] (not dxr's serializer, which
//! was the hot spot). HTTP-level failures (not POST, unreadable XML, no method name, a
//! panicking method) are the reference's HTTP errors, not faults.

use axum::extract::Request;
use axum::http::{Method, StatusCode, header};
use axum::response::Response;
use dxr::{MethodCall, Value};
use http_body_util::{BodyExt, Limited};

use super::router::{AppState, error_page, xml_response};
use crate::rpc::{CallError, fault_response, method_response};

pub(super) async fn handle(state: &AppState, request: Request) -> Response {
    if request.method() != Method::POST {
        return error_page(StatusCode::BAD_REQUEST);
    }
    let limit = state.limits.max_body_bytes;
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|length| length > limit as u64) {
        return too_large();
    }
    let body = Limited::new(request.into_body(), limit);
    let collected = match tokio::time::timeout(state.limits.idle_timeout, body.collect()).await {
        Err(_elapsed) => return error_page(StatusCode::REQUEST_TIMEOUT),
        Ok(Err(error)) if error.is::<http_body_util::LengthLimitError>() => return too_large(),
        Ok(Err(_)) => return error_page(StatusCode::BAD_REQUEST),
        Ok(Ok(collected)) => collected.to_bytes(),
    };
    let Some((method, params)) = parse_call(&collected) else {
        tracing::error!(
            "XML-RPC request data {:?} is invalid: unmarshallable",
            String::from_utf8_lossy(&collected)
        );
        return error_page(StatusCode::BAD_REQUEST);
    };
    if method.is_empty() {
        tracing::error!(
            "XML-RPC request data {:?} is invalid: no method name",
            String::from_utf8_lossy(&collected)
        );
        return error_page(StatusCode::BAD_REQUEST);
    }
    tracing::trace!("XML-RPC method called: {method}()");
    let body = match state.registry.dispatch(&method, params).await {
        Ok(value) => {
            tracing::trace!("XML-RPC method {method}() returned successfully");
            method_response(&value)
        }
        Err(CallError::Fault(fault)) => {
            tracing::trace!(
                "XML-RPC method {method}() returned fault: [{}] {}",
                fault.code,
                fault.text
            );
            fault_response(&fault)
        }
        Err(CallError::Internal(message)) => {
            tracing::error!(
                "Handling XML-RPC request with data {:?} raised an unexpected exception: {message}",
                String::from_utf8_lossy(&collected)
            );
            return error_page(StatusCode::INTERNAL_SERVER_ERROR);
        }
    };
    xml_response(body)
}

fn too_large() -> Response {
    let mut response = error_page(StatusCode::PAYLOAD_TOO_LARGE);
    // The unread rest of the body makes the connection unusable.
    response.headers_mut().insert(
        header::CONNECTION,
        axum::http::HeaderValue::from_static("close"),
    );
    response
}

/// Parse a `methodCall`; `None` when it is not one. `<base64>` values
/// become strings, as the reference's unmarshaller makes them (invalid
/// UTF-8 in them makes the request unmarshallable there too).
fn parse_call(body: &[u8]) -> Option<(String, Vec<Value>)> {
    let text = std::str::from_utf8(body).ok()?;
    let call = MethodCall::from_xml(text).ok()?;
    let mut params = call.params;
    for param in &mut params {
        base64_to_string(param)?;
    }
    Some((call.name.into_owned(), params))
}

/// Replace every `<base64>` value, however deep, by its text, in place.
fn base64_to_string(value: &mut Value) -> Option<()> {
    match value {
        Value::Base64(bytes) => {
            let text = String::from_utf8(std::mem::take(bytes)).ok()?;
            *value = Value::String(text);
        }
        Value::Array(items) => items.iter_mut().try_for_each(base64_to_string)?,
        Value::Struct(members) => members.values_mut().try_for_each(base64_to_string)?,
        _ => {}
    }
    Some(())
}
