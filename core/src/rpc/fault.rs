//! The core-side XML-RPC fault: a code and the `NAME` / `NAME: extra`
//! string the reference builds from it (`supervisor/xmlrpc.py`,
//! `RPCError`). This is deliberately a thin type: the code table and names
//! are the SDK's (`supervisor_sdk::fault`, re-exported here as [`code`]),
//! and a plugin's ABI-stable fault converts into this one by code and text.
//! This module must not define codes or names of its own.

use std::fmt;

use supervisor_sdk::value::Value;

/// Supervisor's fault codes (`code::BAD_NAME`): the SDK's public table,
/// which plugins use too, so core and plugins cannot disagree on a number.
pub use supervisor_sdk::fault as code;
/// The name the reference gives a fault code (`getFaultDescription`);
/// `UNKNOWN` for a code it does not know.
pub use supervisor_sdk::fault::fault_name;

/// An XML-RPC fault as the reference raises it: a code and a text that is
/// the code's name, optionally followed by `: extra`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    /// One of [`code`]'s values (plugins may use others).
    pub code: i32,
    /// `NAME` or `NAME: extra`, exactly as clients display it.
    pub text: String,
}

impl Fault {
    /// A fault whose text is just the code's name (`RPCError(code)`).
    pub fn new(fault_code: i32) -> Self {
        Fault {
            code: fault_code,
            text: fault_name(fault_code).to_owned(),
        }
    }

    /// A fault with extra information (`RPCError(code, extra)`), rendered
    /// `NAME: extra`.
    pub fn with_extra(fault_code: i32, extra: impl fmt::Display) -> Self {
        Fault {
            code: fault_code,
            text: format!("{}: {extra}", fault_name(fault_code)),
        }
    }

    /// A fault with a text chosen by its producer, taken verbatim (used when
    /// mapping a plugin's fault, whose text is already complete).
    pub fn verbatim(fault_code: i32, text: impl Into<String>) -> Self {
        Fault {
            code: fault_code,
            text: text.into(),
        }
    }

    /// The `{faultCode, faultString}` struct that `system.multicall` puts in
    /// its result array in place of a value.
    pub fn to_struct_value(&self) -> Value {
        Value::structure([
            ("faultCode", Value::int(self.code)),
            ("faultString", Value::string(self.text.as_str())),
        ])
    }
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{}] {}", self.code, self.text)
    }
}

impl std::error::Error for Fault {}

/// The SDK's fault (a plugin's answer): code and text unchanged.
impl From<supervisor_sdk::fault::Fault> for Fault {
    fn from(fault: supervisor_sdk::fault::Fault) -> Self {
        Fault::verbatim(fault.code, fault.string.into_string())
    }
}

impl From<Fault> for dxr::Fault {
    fn from(fault: Fault) -> Self {
        dxr::Fault::new(fault.code, fault.text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_the_name_or_name_colon_extra() {
        assert_eq!(Fault::new(code::UNKNOWN_METHOD).text, "UNKNOWN_METHOD");
        assert_eq!(
            Fault::with_extra(code::BAD_NAME, "foo").text,
            "BAD_NAME: foo"
        );
        assert_eq!(Fault::new(12345).text, "UNKNOWN");
    }

    #[test]
    fn sdk_faults_map_with_code_and_text_unchanged() {
        let sdk = supervisor_sdk::fault::Fault::with(code::BAD_NAME, "x");
        assert_eq!(Fault::from(sdk), Fault::with_extra(code::BAD_NAME, "x"));
        assert_eq!(fault_name(5), "UNKNOWN");
    }

    #[test]
    fn struct_value_has_the_two_reference_keys() {
        let value = Fault::with_extra(code::FAILED, "x").to_struct_value();
        assert_eq!(value.as_struct().map(<[_]>::len), Some(2));
        assert_eq!(value.get("faultCode"), Some(&Value::int(30)));
        assert_eq!(value.get("faultString"), Some(&Value::string("FAILED: x")));
    }
}
