//! `GET /api/v1/openapi.json`: an OpenAPI 3.1 document built, on each
//! request, from what `system.listMethods`, `system.methodHelp` and
//! `system.methodSignature` publish, so every namespace (a plugin's, one
//! added at run time) appears with no work of its own. A signature
//! `[return, params...]` becomes the request body's positional array
//! (`prefixItems`, exactly that many items) and the answer's schema; a
//! method without one (`SIGNATURE_UNSUPPORTED`) takes any array and may
//! answer anything. It reads the registry only; it serves nothing else.

use serde_json::{Map, Value as Json, json};

use super::PREFIX;
use super::json::{BASE64_TAG, DATETIME_TAG};
use crate::http::router::AppState;

/// The whole document for the server `state` describes.
pub(super) async fn document(state: &AppState) -> Json {
    let registry = &state.registry;
    let names: Vec<String> = match registry.dispatch("system.listMethods", Vec::new()).await {
        Ok(list) => list
            .as_array()
            .unwrap_or_default()
            .iter()
            .filter_map(|name| name.as_str().map(str::to_owned))
            .collect(),
        Err(_) => Vec::new(),
    };
    let mut paths = Map::new();
    paths.insert(format!("{PREFIX}health"), health_path());
    paths.insert(format!("{PREFIX}openapi.json"), openapi_path());
    paths.insert(format!("{PREFIX}events"), events_path());
    for name in names {
        let asked = || vec![supervisor_sdk::value::Value::string(name.as_str())];
        let help = registry
            .dispatch("system.methodHelp", asked())
            .await
            .ok()
            .and_then(|help| help.as_str().map(str::to_owned))
            .unwrap_or_default();
        let signature: Option<Vec<String>> = registry
            .dispatch("system.methodSignature", asked())
            .await
            .ok()
            .and_then(|types| {
                types.as_array().map(|types| {
                    types
                        .iter()
                        .filter_map(|t| t.as_str().map(str::to_owned))
                        .collect()
                })
            });
        paths.insert(
            format!("{PREFIX}{name}"),
            method_path(&name, &help, signature.as_deref()),
        );
    }
    let mut document = json!({
        "openapi": "3.1.0",
        "info": {
            "title": "supervisord JSON API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Every XML-RPC method of this supervisord as JSON: POST a JSON array \
                of positional parameters (an empty body means none) with Content-Type: \
                application/json. A result is the value as JSON; a fault is \
                {\"fault\": {\"code\": N, \"string\": \"...\"}} with the XML-RPC codes (status \
                200; 404 for an unknown method). Binary values are {\"base64\": \"...\"} and \
                dates {\"dateTime.iso8601\": \"YYYYMMDDTHH:MM:SS\"}. Requests whose Origin or \
                Sec-Fetch-Site says they come from another site are refused with 403.",
        },
        "paths": paths,
        "components": {"schemas": schemas()},
    });
    if state.credentials.is_some() {
        document["components"]["securitySchemes"] =
            json!({"basic": {"type": "http", "scheme": "basic"}});
        document["security"] = json!([{"basic": []}]);
    }
    document
}

/// One method's path item.
fn method_path(name: &str, help: &str, signature: Option<&[String]>) -> Json {
    let (params, result) = match signature {
        Some([result, params @ ..]) => {
            let items: Vec<Json> = params.iter().map(|t| schema_of(t)).collect();
            let count = items.len();
            // JSON Schema wants `prefixItems` non-empty: a method of no
            // parameters takes the empty array only.
            let body = if items.is_empty() {
                json!({"type": "array", "maxItems": 0})
            } else {
                json!({"type": "array", "prefixItems": items, "items": false,
                       "minItems": count, "maxItems": count})
            };
            (body, schema_of(result))
        }
        _ => (json!({"type": "array"}), json!({})),
    };
    let summary = help.lines().next().unwrap_or_default().trim();
    let namespace = name.split_once('.').map_or(name, |(ns, _)| ns);
    json!({"post": {
        "operationId": name,
        "summary": summary,
        "description": help,
        "tags": [namespace],
        "requestBody": {
            "required": false,
            "content": {"application/json": {"schema": params}},
        },
        "responses": {
            "200": {
                "description": "The method's result, or its fault.",
                "content": {"application/json": {"schema":
                    {"anyOf": [result, {"$ref": "#/components/schemas/Fault"}]}}},
            },
            "400": error_response("Malformed JSON, or a body that is not an array."),
            "401": {"description": "Credentials are required."},
            "403": error_response("The request came from another site."),
            "404": {
                "description": "No such method (fault UNKNOWN_METHOD).",
                "content": {"application/json": {"schema":
                    {"$ref": "#/components/schemas/Fault"}}},
            },
            "413": error_response("The body is over the server's limit."),
            "415": error_response("The body was not sent as application/json."),
        },
    }})
}

/// The JSON schema of an XML-RPC type name as signatures spell it.
fn schema_of(type_name: &str) -> Json {
    match type_name {
        "int" | "i4" | "integer" => json!({"type": "integer", "format": "int32"}),
        "boolean" => json!({"type": "boolean"}),
        "string" => json!({"type": "string"}),
        "double" => json!({"type": "number"}),
        "array" => json!({"type": "array"}),
        "struct" => json!({"type": "object"}),
        "nil" => json!({"type": "null"}),
        "base64" => json!({"$ref": "#/components/schemas/Base64"}),
        "dateTime.iso8601" => json!({"$ref": "#/components/schemas/DateTime"}),
        // `undef`, `mixed`: anything.
        _ => json!({}),
    }
}

fn schemas() -> Json {
    json!({
        "Fault": {
            "type": "object",
            "required": ["fault"],
            "properties": {"fault": {
                "type": "object",
                "required": ["code", "string"],
                "properties": {
                    "code": {"type": "integer"},
                    "string": {"type": "string"},
                },
            }},
        },
        "Error": {
            "type": "object",
            "required": ["error"],
            "properties": {"error": {"type": "string"}},
        },
        "Base64": {
            "type": "object",
            "required": [BASE64_TAG],
            "properties": {BASE64_TAG: {"type": "string", "contentEncoding": "base64"}},
            "additionalProperties": false,
        },
        "DateTime": {
            "type": "object",
            "required": [DATETIME_TAG],
            "properties": {DATETIME_TAG: {"type": "string",
                "pattern": "^[0-9]{8}T[0-9]{2}:[0-9]{2}:[0-9]{2}$"}},
            "additionalProperties": false,
        },
        "Health": {
            "type": "object",
            "required": ["healthy", "down"],
            "properties": {
                "healthy": {"type": "boolean"},
                "supervisor": {"type": "string"},
                "error": {"type": "string"},
                "down": {"type": "array", "items": {
                    "type": "object",
                    "required": ["name", "group", "state", "why"],
                    "properties": {
                        "name": {"type": "string"},
                        "group": {"type": "string"},
                        "state": {"type": "string"},
                        "why": {"type": "string"},
                    },
                }},
            },
        },
    })
}

fn error_response(description: &str) -> Json {
    json!({
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    })
}

fn health_path() -> Json {
    let health = json!({"content": {"application/json": {"schema":
        {"$ref": "#/components/schemas/Health"}}}});
    let mut up = health.clone();
    up["description"] = json!("Every process that should be up is up.");
    let mut down = health;
    down["description"] =
        json!("A process that should be up is not (listed in down), or the daemon is not RUNNING.");
    json!({"get": {
        "operationId": "health",
        "summary": "Whether every process that should be up is up.",
        "tags": ["api"],
        "responses": {
            "200": up,
            "401": {"description": "Credentials are required."},
            "403": error_response("The request came from another site."),
            "503": down,
        },
    }})
}

fn openapi_path() -> Json {
    json!({"get": {
        "operationId": "openapi",
        "summary": "This document.",
        "tags": ["api"],
        "responses": {
            "200": {"description": "The OpenAPI document.",
                    "content": {"application/json": {"schema": {"type": "object"}}}},
            "401": {"description": "Credentials are required."},
            "403": error_response("The request came from another site."),
        },
    }})
}

fn events_path() -> Json {
    json!({"get": {
        "operationId": "events",
        "summary": "Process state changes as server-sent events.",
        "description": "One `event: state` per change, its data \
            {\"name\", \"group\", \"from\", \"to\", \"pid\", \"time\"}.",
        "tags": ["api"],
        "responses": {
            "200": {"description": "The event stream.",
                    "content": {"text/event-stream": {"schema": {"type": "string"}}}},
            "401": {"description": "Credentials are required."},
            "403": error_response("The request came from another site."),
        },
    }})
}
