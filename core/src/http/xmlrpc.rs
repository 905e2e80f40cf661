//! `/RPC2`: read an XML-RPC `methodCall` with dxr, move its parameters into
//! the SDK's values, dispatch it through the
//! [`Registry`](crate::rpc::Registry), and write the `methodResponse` or
//! fault with [`crate::rpc::write_method_response`] (not dxr's serializer,
//! which was the hot spot) into a recycled buffer. HTTP-level failures (not POST, unreadable XML, no method name, a
//! panicking method) are the reference's HTTP errors, not faults.

use axum::extract::Request;
use axum::http::{Method, StatusCode, header};
use axum::response::Response;
use dxr::MethodCall;
use supervisor_sdk::value::{Value, ValueKind};

use super::body::{self, BodyError};
use super::config::Limits;
use super::response::{error_page, xml_response};
use crate::rpc::{CallError, Registry, write_fault_response, write_method_response};

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
    match registry.dispatch_as(&access, &method, params).await {
        Ok(value) => {
            tracing::trace!("XML-RPC method {method}() returned successfully");
            write_method_response(&mut text, &value);
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
    xml_response(body::body(text))
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

/// Parse a `methodCall` into the SDK's values every namespace takes;
/// `None` when it is not one.
fn parse_call(body: &[u8]) -> Option<(String, Vec<Value>)> {
    let text = std::str::from_utf8(body).ok()?;
    let call = MethodCall::from_xml(text).ok()?;
    let params = call
        .params
        .into_iter()
        .map(request_value)
        .collect::<Option<Vec<Value>>>()?;
    Some((call.name.into_owned(), params))
}

/// One parameter as namespaces see it, moved out of dxr's model (strings
/// keep their buffers). Two of the reference's unmarshaller's readings are
/// kept: a `<base64>` value becomes its text (`None`, unmarshallable, when
/// that is not UTF-8), and an `<i8>` that fits 32 bits is an int (wider
/// ones become doubles: XML-RPC has no wider type the reference's clients
/// send). Struct members come sorted by name, one per name.
fn request_value(value: dxr::Value) -> Option<Value> {
    Some(match value {
        dxr::Value::Integer(number) => Value::int(number),
        dxr::Value::Long(number) => match i32::try_from(number) {
            Ok(number) => Value::int(number),
            Err(_) => Value::double(number as f64),
        },
        dxr::Value::Boolean(flag) => Value::bool(flag),
        dxr::Value::String(text) => Value::string(text),
        dxr::Value::Double(number) => Value::double(number),
        dxr::Value::DateTime(time) => Value::new(ValueKind::DateTime(time.to_string().into())),
        dxr::Value::Base64(bytes) => Value::string(String::from_utf8(bytes).ok()?),
        dxr::Value::Struct(members) => {
            let members = members
                .into_iter()
                .map(|(name, value)| Some((name, request_value(value)?)))
                .collect::<Option<Vec<_>>>()?;
            Value::structure(members)
        }
        dxr::Value::Array(items) => Value::array(
            items
                .into_iter()
                .map(request_value)
                .collect::<Option<Vec<_>>>()?,
        ),
        // Nil, and whatever a later dxr may add.
        _ => Value::nil(),
    })
}
