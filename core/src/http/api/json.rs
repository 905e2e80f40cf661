//! The JSON form of XML-RPC values, both ways. It owns the one mapping the
//! JSON API documents; it does not dispatch, route or know HTTP.
//!
//! | XML-RPC                | JSON                                        |
//! | ---------------------- | ------------------------------------------- |
//! | int / i4               | integer                                     |
//! | boolean                | `true` / `false`                            |
//! | string                 | string                                      |
//! | double                 | number (a non-finite double: `null`)        |
//! | nil                    | `null`                                      |
//! | array                  | array                                       |
//! | struct                 | object                                      |
//! | base64                 | `{"base64": "<standard base64, padded>"}`   |
//! | dateTime.iso8601       | `{"dateTime.iso8601": "20261124T01:02:03"}` |
//!
//! Binary values and dates are objects with one tagged key because JSON has
//! neither type and a bare string would be ambiguous; the tags are the
//! XML-RPC element names, so a reader of either protocol recognises them.
//! In a request, an object whose only key is one of the two tags (with a
//! string value) is read as that type; any other object is a struct. The
//! request side keeps the `/RPC2` parser's readings: a base64 value becomes
//! its text (refused when that is not UTF-8), an integer outside 32 bits
//! becomes a double, and struct members come sorted by name, one per name.
//! Answers are written as `/RPC2` writes them: struct members sorted by name
//! with the first of duplicate names kept, a date that does not parse sent
//! as a string.

use base64::Engine as _;
use serde_json::{Map, Number, Value as Json};
use supervisor_sdk::value::{Value, ValueKind};

/// The key of a binary value's object.
pub(super) const BASE64_TAG: &str = "base64";
/// The key of a date's object.
pub(super) const DATETIME_TAG: &str = "dateTime.iso8601";

/// A JSON value as a method's parameter; `Err` says why it cannot be one.
pub(super) fn from_json(json: Json) -> Result<Value, String> {
    Ok(match json {
        Json::Null => Value::nil(),
        Json::Bool(flag) => Value::bool(flag),
        Json::Number(number) => match number.as_i64().map(i32::try_from) {
            Some(Ok(small)) => Value::int(small),
            // Wider integers and fractions: the `/RPC2` reading of `<i8>`
            // and `<double>`.
            _ => Value::double(number.as_f64().unwrap_or(f64::NAN)),
        },
        Json::String(text) => Value::string(text),
        Json::Array(items) => Value::array(
            items
                .into_iter()
                .map(from_json)
                .collect::<Result<Vec<_>, _>>()?,
        ),
        Json::Object(members) => match tagged(&members) {
            Some((BASE64_TAG, text)) => {
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(text)
                    .map_err(|e| format!("{BASE64_TAG} value is not base64: {e}"))?;
                let text = String::from_utf8(bytes)
                    .map_err(|_| format!("{BASE64_TAG} value is not UTF-8 text"))?;
                Value::string(text)
            }
            Some((_, text)) => {
                let time = text
                    .parse::<dxr::DateTime>()
                    .map_err(|_| format!("{DATETIME_TAG} value {text:?} is not a date"))?;
                Value::new(ValueKind::DateTime(time.to_string().into()))
            }
            // serde_json's map is ordered by key: members come sorted.
            None => Value::structure(
                members
                    .into_iter()
                    .map(|(name, value)| Ok((name, from_json(value)?)))
                    .collect::<Result<Vec<_>, String>>()?,
            ),
        },
    })
}

/// The tag and text of a one-key tagged object.
fn tagged(members: &Map<String, Json>) -> Option<(&'static str, &str)> {
    if members.len() != 1 {
        return None;
    }
    let (key, value) = members.iter().next()?;
    let tag = [BASE64_TAG, DATETIME_TAG]
        .into_iter()
        .find(|tag| key == tag)?;
    Some((tag, value.as_str()?))
}

/// A method's answer as JSON.
pub(super) fn to_json(value: &Value) -> Json {
    match value.kind() {
        Some(ValueKind::Int(number)) => Json::from(*number),
        Some(ValueKind::Bool(flag)) => Json::Bool(*flag),
        Some(ValueKind::String(text)) => Json::String(text.as_str().to_owned()),
        Some(ValueKind::Double(number)) => {
            Number::from_f64(*number).map_or(Json::Null, Json::Number)
        }
        Some(ValueKind::DateTime(text)) => match text.parse::<dxr::DateTime>() {
            Ok(time) => tag(DATETIME_TAG, time.to_string()),
            Err(_) => Json::String(text.as_str().to_owned()),
        },
        Some(ValueKind::Base64(bytes)) => tag(
            BASE64_TAG,
            base64::engine::general_purpose::STANDARD.encode(bytes),
        ),
        Some(ValueKind::Array(items)) => Json::Array(items.iter().map(to_json).collect()),
        Some(ValueKind::Struct(members)) => {
            let mut object = Map::new();
            for member in members.iter() {
                // The first of duplicate names wins, as on `/RPC2`.
                object
                    .entry(member.name.as_str())
                    .or_insert_with(|| to_json(&member.value));
            }
            Json::Object(object)
        }
        // Nil, and whatever a later SDK may add.
        _ => Json::Null,
    }
}

/// A method's answer written straight to JSON text, as [`to_json`] would
/// write it, without building the tree first: a thousand processes'
/// `getAllProcessInfo` is tens of thousands of small allocations less.
pub(super) struct Written<'a>(pub(super) &'a Value);

impl serde::Serialize for Written<'_> {
    fn serialize<S: serde::Serializer>(&self, out: S) -> Result<S::Ok, S::Error> {
        use serde::ser::{SerializeMap, SerializeSeq};
        match self.0.kind() {
            Some(ValueKind::Int(number)) => out.serialize_i32(*number),
            Some(ValueKind::Bool(flag)) => out.serialize_bool(*flag),
            Some(ValueKind::String(text)) => out.serialize_str(text.as_str()),
            Some(ValueKind::Array(items)) => {
                let mut seq = out.serialize_seq(Some(items.len()))?;
                for item in items.iter() {
                    seq.serialize_element(&Written(item))?;
                }
                seq.end()
            }
            Some(ValueKind::Struct(members)) => {
                // Sorted by name, the first of duplicate names kept (a
                // stable sort keeps their order), as `to_json`.
                let mut sorted: Vec<_> = members.iter().collect();
                sorted.sort_by(|a, b| a.name.as_str().cmp(b.name.as_str()));
                sorted.dedup_by(|later, first| later.name == first.name);
                let mut map = out.serialize_map(Some(sorted.len()))?;
                for member in sorted {
                    map.serialize_entry(member.name.as_str(), &Written(&member.value))?;
                }
                map.end()
            }
            // The rarer kinds through the tree.
            _ => to_json(self.0).serialize(out),
        }
    }
}

fn tag(key: &str, text: String) -> Json {
    let mut object = Map::new();
    object.insert(key.to_owned(), Json::String(text));
    Json::Object(object)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn written_text_is_the_tree_written() {
        let value = Value::array([
            Value::structure([
                ("z", Value::int(-3)),
                ("a", Value::string("q\"<")),
                ("a", Value::string("second")),
                ("m", Value::bool(false)),
                ("d", Value::double(1.5)),
                ("n", Value::nil()),
                ("b", Value::new(ValueKind::Base64(vec![0u8, 255].into()))),
                (
                    "t",
                    Value::new(ValueKind::DateTime("20261124T01:02:03".into())),
                ),
            ]),
            Value::array([Value::double(f64::NAN)]),
        ]);
        assert_eq!(
            serde_json::to_string(&Written(&value)).unwrap(),
            to_json(&value).to_string()
        );
    }

    #[test]
    fn every_kind_maps_both_ways() {
        let value = Value::structure([
            ("b", Value::bool(true)),
            ("a", Value::int(-3)),
            ("d", Value::double(1.5)),
            ("n", Value::nil()),
            ("s", Value::string("x<y")),
            ("l", Value::array([Value::int(1), Value::string("two")])),
            (
                "t",
                Value::new(ValueKind::DateTime("20261124T01:02:03".into())),
            ),
        ]);
        let json = to_json(&value);
        assert_eq!(
            json,
            json!({"a": -3, "b": true, "d": 1.5, "n": null, "s": "x<y",
                   "l": [1, "two"], "t": {"dateTime.iso8601": "20261124T01:02:03"}})
        );
        let back = from_json(json).expect("a valid value");
        assert_eq!(to_json(&back), to_json(&value));
    }

    #[test]
    fn binary_is_tagged_base64_and_read_back_as_text() {
        assert_eq!(
            to_json(&Value::base64(b"hi".to_vec())),
            json!({"base64": "aGk="})
        );
        assert_eq!(
            from_json(json!({"base64": "aGk="})).unwrap().as_str(),
            Some("hi")
        );
        assert!(from_json(json!({"base64": "!!"})).is_err());
        assert!(from_json(json!({"base64": "/w=="})).is_err(), "not UTF-8");
        assert!(from_json(json!({"dateTime.iso8601": "yesterday"})).is_err());
        // Two keys, or a non-string value: a plain struct.
        let plain = from_json(json!({"base64": "aGk=", "x": 1})).unwrap();
        assert_eq!(plain.get("base64").and_then(Value::as_str), Some("aGk="));
        assert!(
            from_json(json!({"base64": 1}))
                .unwrap()
                .as_struct()
                .is_some()
        );
    }

    #[test]
    fn numbers_follow_the_rpc2_readings() {
        assert_eq!(from_json(json!(7)).unwrap().as_int(), Some(7));
        let wide = from_json(json!(1_i64 << 40)).unwrap();
        assert_eq!(wide.kind(), Some(&ValueKind::Double((1_i64 << 40) as f64)));
        assert_eq!(
            from_json(json!(2.0)).unwrap().kind(),
            Some(&ValueKind::Double(2.0))
        );
        assert_eq!(to_json(&Value::double(f64::NAN)), Json::Null);
    }

    #[test]
    fn duplicate_struct_names_keep_the_first() {
        let value = Value::structure([("k", Value::int(1)), ("k", Value::int(2))]);
        assert_eq!(to_json(&value), json!({"k": 1}));
    }
}
