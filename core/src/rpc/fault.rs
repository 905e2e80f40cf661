//! The core-side XML-RPC fault: Supervisor's numeric codes and the
//! `NAME` / `NAME: extra` strings the reference builds from them
//! (`supervisor/xmlrpc.py`, `RPCError`). This is deliberately a thin type:
//! the ABI-stable fault that plugins see lives in `supervisor-sdk`, and the
//! bridge maps one onto the other by code and text.

use std::fmt;

use dxr::Value;

/// Supervisor's fault codes, with the numbers of the reference's `Faults`
/// class. Tools (the Python supervisorctl among them) switch on these.
pub mod code {
    /// No such method, or a name that dispatch refuses to resolve.
    pub const UNKNOWN_METHOD: i32 = 1;
    /// Wrong number or kind of parameters.
    pub const INCORRECT_PARAMETERS: i32 = 2;
    /// Parameters of the right kind with values the method rejects.
    pub const BAD_ARGUMENTS: i32 = 3;
    /// `system.methodHelp` / `methodSignature` on an unknown method.
    pub const SIGNATURE_UNSUPPORTED: i32 = 4;
    /// The daemon is shutting down or restarting.
    pub const SHUTDOWN_STATE: i32 = 6;
    /// No such process or group.
    pub const BAD_NAME: i32 = 10;
    /// A signal name or number that is not valid.
    pub const BAD_SIGNAL: i32 = 11;
    /// A file (log, command) that does not exist.
    pub const NO_FILE: i32 = 20;
    /// A command that cannot be executed.
    pub const NOT_EXECUTABLE: i32 = 21;
    /// Anything else that went wrong.
    pub const FAILED: i32 = 30;
    /// A process that died while it was being started.
    pub const ABNORMAL_TERMINATION: i32 = 40;
    /// A process that could not be spawned.
    pub const SPAWN_ERROR: i32 = 50;
    /// Start asked of a process that runs already.
    pub const ALREADY_STARTED: i32 = 60;
    /// Stop or signal asked of a process that does not run.
    pub const NOT_RUNNING: i32 = 70;
    /// Used as the `status` of a successful entry in group results.
    pub const SUCCESS: i32 = 80;
    /// A group that is active already.
    pub const ALREADY_ADDED: i32 = 90;
    /// A group that cannot be removed while processes run.
    pub const STILL_RUNNING: i32 = 91;
    /// A configuration that could not be read again.
    pub const CANT_REREAD: i32 = 92;
}

/// The name the reference gives a fault code (`getFaultDescription`);
/// `UNKNOWN` for a code it does not know.
pub fn fault_name(fault_code: i32) -> &'static str {
    match fault_code {
        code::UNKNOWN_METHOD => "UNKNOWN_METHOD",
        code::INCORRECT_PARAMETERS => "INCORRECT_PARAMETERS",
        code::BAD_ARGUMENTS => "BAD_ARGUMENTS",
        code::SIGNATURE_UNSUPPORTED => "SIGNATURE_UNSUPPORTED",
        code::SHUTDOWN_STATE => "SHUTDOWN_STATE",
        code::BAD_NAME => "BAD_NAME",
        code::BAD_SIGNAL => "BAD_SIGNAL",
        code::NO_FILE => "NO_FILE",
        code::NOT_EXECUTABLE => "NOT_EXECUTABLE",
        code::FAILED => "FAILED",
        code::ABNORMAL_TERMINATION => "ABNORMAL_TERMINATION",
        code::SPAWN_ERROR => "SPAWN_ERROR",
        code::ALREADY_STARTED => "ALREADY_STARTED",
        code::NOT_RUNNING => "NOT_RUNNING",
        code::SUCCESS => "SUCCESS",
        code::ALREADY_ADDED => "ALREADY_ADDED",
        code::STILL_RUNNING => "STILL_RUNNING",
        code::CANT_REREAD => "CANT_REREAD",
        _ => "UNKNOWN",
    }
}

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
        let mut members = std::collections::BTreeMap::new();
        members.insert("faultCode".to_owned(), Value::Integer(self.code));
        members.insert("faultString".to_owned(), Value::String(self.text.clone()));
        Value::Struct(members)
    }
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{}] {}", self.code, self.text)
    }
}

impl std::error::Error for Fault {}

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
    fn every_reference_code_has_its_reference_name() {
        let table = [
            (1, "UNKNOWN_METHOD"),
            (2, "INCORRECT_PARAMETERS"),
            (3, "BAD_ARGUMENTS"),
            (4, "SIGNATURE_UNSUPPORTED"),
            (6, "SHUTDOWN_STATE"),
            (10, "BAD_NAME"),
            (11, "BAD_SIGNAL"),
            (20, "NO_FILE"),
            (21, "NOT_EXECUTABLE"),
            (30, "FAILED"),
            (40, "ABNORMAL_TERMINATION"),
            (50, "SPAWN_ERROR"),
            (60, "ALREADY_STARTED"),
            (70, "NOT_RUNNING"),
            (80, "SUCCESS"),
            (90, "ALREADY_ADDED"),
            (91, "STILL_RUNNING"),
            (92, "CANT_REREAD"),
        ];
        for (number, name) in table {
            assert_eq!(fault_name(number), name);
        }
        assert_eq!(fault_name(5), "UNKNOWN");
    }

    #[test]
    fn struct_value_has_the_two_reference_keys() {
        let Value::Struct(members) = Fault::with_extra(code::FAILED, "x").to_struct_value() else {
            panic!("a fault struct is a struct");
        };
        assert_eq!(members["faultCode"], Value::Integer(30));
        assert_eq!(members["faultString"], Value::String("FAILED: x".into()));
    }
}
