//! Conversions between the SDK's ABI-stable value and fault and dxr's, for
//! the bridge between the RPC dispatcher and plugin namespaces.
//!
//! Pure data mapping; no dispatch. Two reference behaviours are kept on the
//! way in: a `<base64>` parameter arrives as a string (the reference's
//! request parser decodes it to text), and an `<i8>` that fits 32 bits is an
//! int. On the way out a struct's member order is lost, because dxr keeps
//! members in a BTreeMap (sorted by key); Python clients read structs into
//! dicts, so only a byte-for-byte diff can see it.

use std::collections::BTreeMap;
use supervisor_sdk::fault::Fault;
use supervisor_sdk::value::{Value, ValueKind};

/// A parameter from a request, as the plugin sees it.
pub fn value_from_dxr(value: &dxr::Value) -> Value {
    match value {
        dxr::Value::Integer(number) => Value::int(*number),
        dxr::Value::Long(number) => match i32::try_from(*number) {
            Ok(number) => Value::int(number),
            // Precision beyond 2^53 is lost; XML-RPC has no wider type the
            // reference's clients send.
            Err(_) => Value::double(*number as f64),
        },
        dxr::Value::Boolean(flag) => Value::bool(*flag),
        dxr::Value::String(text) => Value::string(text.as_str()),
        dxr::Value::Double(number) => Value::double(*number),
        dxr::Value::DateTime(time) => Value::new(ValueKind::DateTime(time.to_string().into())),
        dxr::Value::Base64(bytes) => Value::string(String::from_utf8_lossy(bytes).into_owned()),
        dxr::Value::Struct(members) => Value::structure(
            members
                .iter()
                .map(|(name, value)| (name.as_str(), value_from_dxr(value))),
        ),
        dxr::Value::Array(items) => Value::array(items.iter().map(value_from_dxr)),
        dxr::Value::Nil => Value::nil(),
        // dxr::Value is non-exhaustive; nothing else exists in 0.9.
        _ => Value::nil(),
    }
}

/// A plugin's value, for a response.
pub fn value_to_dxr(value: &Value) -> dxr::Value {
    match value.kind() {
        Some(ValueKind::Int(number)) => dxr::Value::Integer(*number),
        Some(ValueKind::Bool(flag)) => dxr::Value::Boolean(*flag),
        Some(ValueKind::String(text)) => dxr::Value::String(text.to_string()),
        Some(ValueKind::Double(number)) => dxr::Value::Double(*number),
        Some(ValueKind::DateTime(text)) => match text.as_str().parse::<dxr::DateTime>() {
            Ok(time) => dxr::Value::DateTime(time),
            // A plugin's malformed date still reaches the client, as text.
            Err(_) => dxr::Value::String(text.to_string()),
        },
        Some(ValueKind::Base64(bytes)) => dxr::Value::Base64(bytes.to_vec()),
        Some(ValueKind::Array(items)) => {
            dxr::Value::Array(items.iter().map(value_to_dxr).collect())
        }
        Some(ValueKind::Struct(members)) => {
            let mut map = BTreeMap::new();
            for member in members.iter() {
                // The first of duplicate keys wins, as `Value::get` reads it.
                map.entry(member.name.to_string())
                    .or_insert_with(|| value_to_dxr(&member.value));
            }
            dxr::Value::Struct(map)
        }
        Some(ValueKind::Nil) => dxr::Value::Nil,
        // A variant from a newer SDK than this daemon's: nothing to send.
        _ => dxr::Value::Nil,
    }
}

/// A plugin's fault, for a fault response.
pub fn fault_to_dxr(fault: &Fault) -> dxr::Fault {
    dxr::Fault::new(fault.code, fault.string.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_round_trip_through_dxr() {
        let value = Value::structure([
            ("int", Value::int(-5)),
            ("bool", Value::bool(true)),
            ("text", Value::string("<&>\t")),
            ("double", Value::double(1.5)),
            (
                "when",
                Value::new(ValueKind::DateTime("20261124T01:02:03".into())),
            ),
            ("bytes", Value::base64(vec![0u8, 255])),
            ("list", Value::array([Value::nil(), Value::array([])])),
            ("empty", Value::structure::<&str>([])),
        ]);
        let there = value_to_dxr(&value);
        let back = value_from_dxr(&there);
        // Keys come back sorted (dxr's BTreeMap); base64 comes back as text.
        assert_eq!(back.get("int"), Some(&Value::int(-5)));
        assert_eq!(back.get("text"), Some(&Value::string("<&>\t")));
        assert_eq!(back.get("when"), value.get("when"));
        assert_eq!(back.get("list"), value.get("list"));
        assert_eq!(back.get("bytes"), Some(&Value::string("\u{0}\u{fffd}")));
        let keys: Vec<&str> = back
            .as_struct()
            .unwrap()
            .iter()
            .map(|m| m.name.as_str())
            .collect();
        assert_eq!(
            keys,
            [
                "bool", "bytes", "double", "empty", "int", "list", "text", "when"
            ]
        );
    }

    #[test]
    fn wide_integers_and_faults_map_sensibly() {
        assert_eq!(value_from_dxr(&dxr::Value::Long(7)), Value::int(7));
        assert_eq!(
            value_from_dxr(&dxr::Value::Long(1 << 40)),
            Value::double((1u64 << 40) as f64)
        );
        let fault = fault_to_dxr(&Fault::with(supervisor_sdk::fault::BAD_NAME, "x"));
        assert_eq!((fault.code(), fault.string()), (10, "BAD_NAME: x"));
    }
}
