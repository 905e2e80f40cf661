//! The XML-RPC request reader: a `methodCall` body into its method name
//! and the SDK's [`Value`]s every namespace takes. dxr parses and
//! validates the document (what it accepts is what the daemon accepts),
//! but keeps struct members in a `BTreeMap`, sorted by name; a second,
//! event-level pass over the same text (quick-xml, the parser dxr uses)
//! records each struct's member names in document order, and the members
//! are put back in it. The reference unmarshals a struct into a Python
//! dict: insertion order, and for a repeated name the first one's place
//! with the last one's value (what dxr's map kept). A struct whose names
//! the pass read differently from dxr keeps the sorted order rather than
//! guess. This module must not dispatch, log, or know HTTP.

use std::collections::{BTreeMap, BTreeSet};

use quick_xml::events::Event;
use supervisor_sdk::value::{Value, ValueKind};

/// Parse a `methodCall` into its method name and parameters; `None` when
/// it is not one.
pub fn parse_call(body: &[u8]) -> Option<(String, Vec<Value>)> {
    let text = std::str::from_utf8(body).ok()?;
    let call = dxr::MethodCall::from_xml(text).ok()?;
    // Most calls carry no struct: no second pass for them.
    let structs = if text.contains("<struct") {
        struct_orders(text)
    } else {
        Vec::new()
    };
    let mut at = Some(0);
    let mut params = Vec::with_capacity(call.params.len());
    for value in call.params {
        let (value, end) = request_value(value, at, &structs)?;
        params.push(value);
        at = end;
    }
    Some((call.name.into_owned(), params))
}

/// One `<struct>` of the document as the event pass read it.
#[derive(Debug, Default)]
struct StructOrder {
    /// Each member's name, in document order, with the number of structs
    /// the document opened before the member's value (the index of the
    /// first struct inside it, if any).
    members: Vec<(String, usize)>,
    /// The number of structs the document opened before this one closed:
    /// the index of the next struct after it.
    end: usize,
}

/// Every `<struct>` of `text`, in the order they open (the order
/// [`request_value`] meets them in). Empty when the pass cannot read the
/// text, which leaves every struct sorted.
fn struct_orders(text: &str) -> Vec<StructOrder> {
    let mut reader = quick_xml::Reader::from_str(text);
    let mut structs: Vec<StructOrder> = Vec::new();
    // The elements open, with the struct index of each `<struct>`.
    let mut open: Vec<(String, Option<usize>)> = Vec::new();
    // The text of the member name being read, if one is.
    let mut name: Option<String> = None;
    loop {
        match reader.read_event() {
            Ok(Event::Eof) | Err(_) => break,
            Ok(Event::Start(start)) => {
                let tag = start.local_name().as_ref().to_string();
                let index = (tag == "struct").then(|| {
                    structs.push(StructOrder::default());
                    structs.len() - 1
                });
                if tag == "name" && member_of(&open).is_some() {
                    name = Some(String::new());
                }
                open.push((tag, index));
            }
            Ok(Event::Empty(start)) => match start.local_name().as_ref() {
                "struct" => structs.push(StructOrder {
                    members: Vec::new(),
                    end: structs.len() + 1,
                }),
                "name" => {
                    if let Some(index) = member_of(&open) {
                        let next = structs.len();
                        structs[index].members.push((String::new(), next));
                    }
                }
                _ => {}
            },
            Ok(Event::End(_)) => {
                let Some((tag, index)) = open.pop() else {
                    break;
                };
                let next = structs.len();
                if let Some(index) = index {
                    structs[index].end = next;
                } else if tag == "name"
                    && let Some(text) = name.take()
                    && let Some(index) = member_of(&open)
                {
                    structs[index].members.push((text, next));
                }
            }
            Ok(Event::Text(text)) => {
                if let Some(name) = name.as_mut() {
                    name.push_str(&text.xml10_content());
                }
            }
            Ok(Event::CData(data)) => {
                if let Some(name) = name.as_mut() {
                    name.push_str(&data.xml10_content());
                }
            }
            Ok(Event::GeneralRef(reference)) => {
                let Some(name) = name.as_mut() else { continue };
                match reference.resolve_char_ref() {
                    Ok(Some(ch)) => name.push(ch),
                    Ok(None) => match quick_xml::escape::resolve_predefined_entity(
                        &reference.xml10_content(),
                    ) {
                        Some(text) => name.push_str(text),
                        None => return Vec::new(),
                    },
                    Err(_) => return Vec::new(),
                }
            }
            Ok(_) => {}
        }
    }
    structs
}

/// The index of the struct whose `<member>` is the innermost open
/// element, if it is one.
fn member_of(open: &[(String, Option<usize>)]) -> Option<usize> {
    match open {
        [.., (parent, Some(index)), (member, None)] if parent == "struct" && member == "member" => {
            Some(*index)
        }
        _ => None,
    }
}

/// One parameter as namespaces see it, moved out of dxr's model (strings
/// keep their buffers), with the index of the struct after it. `at` is
/// the index of the first struct the value's text opens, `None` once the
/// order is lost (struct members then stay sorted). Two of the reference's
/// unmarshaller's readings are kept: a `<base64>` value becomes its text
/// (`None`, unmarshallable, when that is not UTF-8), and an `<i8>` that
/// fits 32 bits is an int (wider ones become doubles: XML-RPC has no wider
/// type the reference's clients send).
fn request_value(
    value: dxr::Value,
    at: Option<usize>,
    structs: &[StructOrder],
) -> Option<(Value, Option<usize>)> {
    Some(match value {
        dxr::Value::Integer(number) => (Value::int(number), at),
        dxr::Value::Long(number) => match i32::try_from(number) {
            Ok(number) => (Value::int(number), at),
            Err(_) => (Value::double(number as f64), at),
        },
        dxr::Value::Boolean(flag) => (Value::bool(flag), at),
        dxr::Value::String(text) => (Value::string(text), at),
        dxr::Value::Double(number) => (Value::double(number), at),
        dxr::Value::DateTime(time) => {
            (Value::new(ValueKind::DateTime(time.to_string().into())), at)
        }
        dxr::Value::Base64(bytes) => (Value::string(String::from_utf8(bytes).ok()?), at),
        dxr::Value::Struct(members) => {
            let order = at.and_then(|at| structs.get(at));
            let value = Value::structure(struct_members(members, order, structs)?);
            (value, order.map(|order| order.end))
        }
        dxr::Value::Array(items) => {
            let mut next = at;
            let mut values = Vec::with_capacity(items.len());
            for item in items {
                let (value, end) = request_value(item, next, structs)?;
                values.push(value);
                next = end;
            }
            (Value::array(values), next)
        }
        // Nil, and whatever a later dxr may add.
        _ => (Value::nil(), at),
    })
}

/// A struct's members in document order when `order` names exactly the
/// members dxr kept, sorted otherwise.
fn struct_members(
    mut members: BTreeMap<String, dxr::Value>,
    order: Option<&StructOrder>,
    structs: &[StructOrder],
) -> Option<Vec<(String, Value)>> {
    let mut out = Vec::with_capacity(members.len());
    let Some(order) = order.filter(|order| {
        let names: BTreeSet<&str> = order.members.iter().map(|(n, _)| n.as_str()).collect();
        names.len() == members.len() && names.iter().all(|n| members.contains_key(*n))
    }) else {
        for (name, value) in members {
            out.push((name, request_value(value, None, structs)?.0));
        }
        return Some(out);
    };
    for (name, _) in &order.members {
        // The first of equal names places the member; dxr kept the last
        // one's value, whose structs start where that member's do.
        let Some(value) = members.remove(name) else {
            continue;
        };
        let start = order
            .members
            .iter()
            .rev()
            .find(|(other, _)| other == name)
            .map(|(_, start)| *start);
        out.push((name.clone(), request_value(value, start, structs)?.0));
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(params: &str) -> Vec<Value> {
        let body = format!(
            "<?xml version='1.0'?>\n<methodCall><methodName>m</methodName><params>{params}</params></methodCall>"
        );
        parse_call(body.as_bytes()).expect("a valid call").1
    }

    fn param(value: &str) -> String {
        format!("<param><value>{value}</value></param>")
    }

    fn member(name: &str, value: &str) -> String {
        format!("<member><name>{name}</name><value>{value}</value></member>")
    }

    fn structure(members: &[String]) -> String {
        format!("<struct>{}</struct>", members.concat())
    }

    fn names(value: &Value) -> Vec<String> {
        match value.kind() {
            Some(ValueKind::Struct(members)) => {
                members.iter().map(|m| m.name.to_string()).collect()
            }
            other => panic!("not a struct: {other:?}"),
        }
    }

    fn get<'a>(value: &'a Value, name: &str) -> &'a Value {
        match value.kind() {
            Some(ValueKind::Struct(members)) => {
                &members
                    .iter()
                    .find(|m| m.name.as_str() == name)
                    .unwrap()
                    .value
            }
            other => panic!("not a struct: {other:?}"),
        }
    }

    #[test]
    fn struct_members_keep_the_document_order() {
        let params = call(&param(&structure(&[
            member("zeta", "<int>1</int>"),
            member("alpha", "<string>a</string>"),
            member("mid", "x"),
        ])));
        assert_eq!(names(&params[0]), ["zeta", "alpha", "mid"]);
        assert_eq!(get(&params[0], "zeta"), &Value::int(1));
        assert_eq!(get(&params[0], "mid"), &Value::string("x"));
    }

    #[test]
    fn nested_structs_in_arrays_and_params_each_keep_their_order() {
        let inner =
            |a: &str, b: &str| structure(&[member(a, "<int>1</int>"), member(b, "<int>2</int>")]);
        let params = call(&format!(
            "{}{}{}",
            param(&structure(&[
                member("y", &inner("q", "p")),
                member(
                    "x",
                    &format!(
                        "<array><data><value>{}</value><value><i4>3</i4></value><value><struct/></value><value>{}</value></data></array>",
                        inner("d", "c"),
                        inner("f", "e")
                    )
                ),
            ])),
            param("<string>between</string>"),
            param(&inner("b", "a")),
        ));
        assert_eq!(names(&params[0]), ["y", "x"]);
        assert_eq!(names(get(&params[0], "y")), ["q", "p"]);
        let Some(ValueKind::Array(items)) = get(&params[0], "x").kind() else {
            panic!("an array")
        };
        assert_eq!(names(&items[0]), ["d", "c"]);
        assert!(names(&items[2]).is_empty());
        assert_eq!(names(&items[3]), ["f", "e"]);
        assert_eq!(params[1], Value::string("between"));
        assert_eq!(names(&params[2]), ["b", "a"]);
    }

    #[test]
    fn a_repeated_name_keeps_the_first_place_and_the_last_value() {
        // As a Python dict built member by member does; the struct inside
        // the dropped value must not shift the structs after it.
        let params = call(&format!(
            "{}{}",
            param(&structure(&[
                member("b", &structure(&[member("k1", "1"), member("j1", "1")])),
                member("a", "<int>0</int>"),
                member("b", &structure(&[member("k2", "2"), member("j2", "2")])),
                member("c", &structure(&[member("n", "3"), member("m", "3")])),
            ])),
            param(&structure(&[member("z", "4"), member("y", "4")])),
        ));
        assert_eq!(names(&params[0]), ["b", "a", "c"]);
        assert_eq!(names(get(&params[0], "b")), ["k2", "j2"]);
        assert_eq!(names(get(&params[0], "c")), ["n", "m"]);
        assert_eq!(names(&params[1]), ["z", "y"]);
    }

    #[test]
    fn names_with_references_and_cdata_match() {
        let params = call(&param(&structure(&[
            member("z&amp;&lt;&#65;&#x42;", "1"),
            member("<![CDATA[y<]]>", "2"),
            member("a", "5"),
        ])));
        assert_eq!(names(&params[0]), ["z&<AB", "y<", "a"]);
        assert_eq!(get(&params[0], "y<"), &Value::string("2"));
    }

    #[test]
    fn what_dxr_refuses_stays_refused() {
        assert!(parse_call(b"<methodCall><params></params></methodCall>").is_none());
        assert!(parse_call(b"not xml").is_none());
        assert!(parse_call(b"\xff").is_none());
        // dxr refuses an empty member name, which the reference takes (a
        // known difference, not this module's).
        let empty = format!(
            "<methodCall><methodName>m</methodName><params>{}</params></methodCall>",
            param(&structure(&[member("", "4")]))
        );
        assert!(parse_call(empty.as_bytes()).is_none());
    }
}
