//! The XML-RPC value as it crosses the plugin boundary: every type Python's
//! `xmlrpc.client` sends or accepts, with structs kept as ordered members so
//! replies list their keys in the order the plugin chose.
//!
//! This module only models values; it does not parse or print XML (the
//! daemon's HTTP layer does) and it knows nothing of Supervisor's methods.

use abi_stable::StableAbi;
use abi_stable::std_types::{RString, RVec};

/// The variants a [`Value`] can hold. New variants may be added in later SDK
/// versions: always match with a `_` arm and go through [`Value::kind`].
#[repr(u8)]
#[derive(StableAbi, Debug, Clone, PartialEq)]
#[sabi(kind(WithNonExhaustive(size = [usize; 6], traits(Debug, Clone, PartialEq))))]
#[non_exhaustive]
pub enum ValueKind {
    /// `<int>` / `<i4>`: XML-RPC integers are 32-bit.
    Int(i32),
    /// `<boolean>`.
    Bool(bool),
    /// `<string>` (and untyped `<value>`).
    String(RString),
    /// `<double>`.
    Double(f64),
    /// `<dateTime.iso8601>`, kept as its text (`20261124T01:02:03`), which is
    /// all the protocol defines.
    DateTime(RString),
    /// `<base64>`: the decoded bytes.
    Base64(RVec<u8>),
    /// `<array>`.
    Array(RVec<Value>),
    /// `<struct>`, members in the order they are sent.
    Struct(RVec<Member>),
    /// `<nil/>` (the reference's `allow_none`).
    Nil,
}

/// One `<member>` of a struct.
#[repr(C)]
#[derive(StableAbi, Debug, Clone, PartialEq)]
pub struct Member {
    /// The member's name.
    pub name: RString,
    /// The member's value.
    pub value: Value,
}

/// An XML-RPC value, ABI-stable and able to gain variants without breaking
/// plugins built against an older SDK.
#[repr(transparent)]
#[derive(StableAbi, Debug, Clone, PartialEq)]
pub struct Value(ValueKind_NE);

impl Value {
    /// Wrap a variant.
    pub fn new(kind: ValueKind) -> Value {
        Value(ValueKind_NE::new(kind))
    }

    /// The variant, or `None` for a variant added by a newer SDK than the one
    /// this code was built with.
    pub fn kind(&self) -> Option<&ValueKind> {
        self.0.as_enum().ok()
    }

    /// An `<int>`.
    pub fn int(value: i32) -> Value {
        Value::new(ValueKind::Int(value))
    }

    /// An `<int>` from a wider integer, saturated to the 32-bit range as the
    /// reference's `capped_int` does for timestamps.
    pub fn capped_int(value: i64) -> Value {
        // The clamp makes the narrowing cast exact.
        Value::int(value.clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32)
    }

    /// A `<boolean>`.
    pub fn bool(value: bool) -> Value {
        Value::new(ValueKind::Bool(value))
    }

    /// A `<string>`.
    pub fn string(value: impl Into<RString>) -> Value {
        Value::new(ValueKind::String(value.into()))
    }

    /// A `<double>`.
    pub fn double(value: f64) -> Value {
        Value::new(ValueKind::Double(value))
    }

    /// A `<base64>` holding `bytes`.
    pub fn base64(bytes: impl Into<RVec<u8>>) -> Value {
        Value::new(ValueKind::Base64(bytes.into()))
    }

    /// An `<array>`.
    pub fn array(items: impl IntoIterator<Item = Value>) -> Value {
        Value::new(ValueKind::Array(items.into_iter().collect()))
    }

    /// A `<struct>` with members in the given order.
    pub fn structure<K: Into<RString>>(members: impl IntoIterator<Item = (K, Value)>) -> Value {
        Value::new(ValueKind::Struct(
            members
                .into_iter()
                .map(|(name, value)| Member {
                    name: name.into(),
                    value,
                })
                .collect(),
        ))
    }

    /// `<nil/>`.
    pub fn nil() -> Value {
        Value::new(ValueKind::Nil)
    }

    /// The integer, if this is an `<int>`.
    pub fn as_int(&self) -> Option<i32> {
        match self.kind() {
            Some(ValueKind::Int(value)) => Some(*value),
            _ => None,
        }
    }

    /// The boolean, if this is a `<boolean>`.
    pub fn as_bool(&self) -> Option<bool> {
        match self.kind() {
            Some(ValueKind::Bool(value)) => Some(*value),
            _ => None,
        }
    }

    /// The text, if this is a `<string>`.
    pub fn as_str(&self) -> Option<&str> {
        match self.kind() {
            Some(ValueKind::String(value)) => Some(value.as_str()),
            _ => None,
        }
    }

    /// The items, if this is an `<array>`.
    pub fn as_array(&self) -> Option<&[Value]> {
        match self.kind() {
            Some(ValueKind::Array(items)) => Some(items.as_slice()),
            _ => None,
        }
    }

    /// The members, if this is a `<struct>`.
    pub fn as_struct(&self) -> Option<&[Member]> {
        match self.kind() {
            Some(ValueKind::Struct(members)) => Some(members.as_slice()),
            _ => None,
        }
    }

    /// The value of the first member called `name`, if this is a struct
    /// that has one.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.as_struct()?
            .iter()
            .find(|member| member.name.as_str() == name)
            .map(|member| &member.value)
    }

    /// True for `<nil/>`.
    pub fn is_nil(&self) -> bool {
        matches!(self.kind(), Some(ValueKind::Nil))
    }

    /// The value as Python's `str()` prints it in fault strings such as
    /// `INCORRECT_PARAMETERS: 5`: strings bare, numbers in decimal,
    /// booleans as `True`/`False`.
    pub fn python_str(&self) -> String {
        match self.kind() {
            Some(ValueKind::Int(value)) => value.to_string(),
            Some(ValueKind::Bool(true)) => "True".to_string(),
            Some(ValueKind::Bool(false)) => "False".to_string(),
            Some(ValueKind::String(value)) => value.to_string(),
            Some(ValueKind::Double(value)) => format!("{value:?}"),
            Some(ValueKind::Nil) => "None".to_string(),
            _ => format!("{self:?}"),
        }
    }
}

impl From<i32> for Value {
    fn from(value: i32) -> Value {
        Value::int(value)
    }
}

impl From<bool> for Value {
    fn from(value: bool) -> Value {
        Value::bool(value)
    }
}

impl From<&str> for Value {
    fn from(value: &str) -> Value {
        Value::string(value)
    }
}

impl From<String> for Value {
    fn from(value: String) -> Value {
        Value::string(value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_values_build_and_read_back() {
        let value = Value::structure([
            ("name", Value::string("cat")),
            ("pids", Value::array([Value::int(1), Value::int(2)])),
            ("ok", Value::bool(true)),
        ]);
        assert_eq!(value.get("name").and_then(Value::as_str), Some("cat"));
        assert_eq!(
            value
                .get("pids")
                .and_then(Value::as_array)
                .map(<[Value]>::len),
            Some(2)
        );
        let keys: Vec<&str> = value
            .as_struct()
            .unwrap()
            .iter()
            .map(|m| m.name.as_str())
            .collect();
        assert_eq!(keys, ["name", "pids", "ok"], "member order is kept");
        assert_eq!(value.clone(), value);
    }

    #[test]
    fn capped_int_saturates_like_the_reference() {
        assert_eq!(Value::capped_int(1 << 40).as_int(), Some(i32::MAX));
        assert_eq!(Value::capped_int(-(1 << 40)).as_int(), Some(i32::MIN));
        assert_eq!(Value::capped_int(7).as_int(), Some(7));
    }

    #[test]
    fn python_str_matches_fault_extras() {
        assert_eq!(Value::int(5).python_str(), "5");
        assert_eq!(Value::bool(true).python_str(), "True");
        assert_eq!(Value::string("x").python_str(), "x");
    }
}
