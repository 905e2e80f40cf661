//! XML-RPC faults with Supervisor's codes and strings (`xmlrpc.py`'s
//! `Faults` and `RPCError`): a fault's string is the code's name, or
//! `NAME: extra` when there is more to say. Tools such as supervisorctl
//! branch on these codes, so they are fixed here once.
//!
//! This module only builds faults; deciding which one a call deserves is
//! the namespace's job.

use abi_stable::StableAbi;
use abi_stable::std_types::RString;

/// The method does not exist.
pub const UNKNOWN_METHOD: i32 = 1;
/// Wrong number or type of parameters.
pub const INCORRECT_PARAMETERS: i32 = 2;
/// Parameter values that make no sense together (log offsets).
pub const BAD_ARGUMENTS: i32 = 3;
/// `system.methodSignature` on a method without one.
pub const SIGNATURE_UNSUPPORTED: i32 = 4;
/// The daemon is shutting down or restarting.
pub const SHUTDOWN_STATE: i32 = 6;
/// No such process or group.
pub const BAD_NAME: i32 = 10;
/// Not a signal name or number.
pub const BAD_SIGNAL: i32 = 11;
/// A file (log, command) is missing.
pub const NO_FILE: i32 = 20;
/// The command cannot be executed.
pub const NOT_EXECUTABLE: i32 = 21;
/// Anything else that went wrong.
pub const FAILED: i32 = 30;
/// A process stopped while a start was waiting for it.
pub const ABNORMAL_TERMINATION: i32 = 40;
/// A process could not be spawned or exited too quickly.
pub const SPAWN_ERROR: i32 = 50;
/// The process is already running.
pub const ALREADY_STARTED: i32 = 60;
/// The process is not running.
pub const NOT_RUNNING: i32 = 70;
/// Not a fault: the `status` of a successful entry in a result array.
pub const SUCCESS: i32 = 80;
/// The group is already active.
pub const ALREADY_ADDED: i32 = 90;
/// The group still has running processes.
pub const STILL_RUNNING: i32 = 91;
/// The configuration could not be read again.
pub const CANT_REREAD: i32 = 92;

const NAMES: &[(i32, &str)] = &[
    (UNKNOWN_METHOD, "UNKNOWN_METHOD"),
    (INCORRECT_PARAMETERS, "INCORRECT_PARAMETERS"),
    (BAD_ARGUMENTS, "BAD_ARGUMENTS"),
    (SIGNATURE_UNSUPPORTED, "SIGNATURE_UNSUPPORTED"),
    (SHUTDOWN_STATE, "SHUTDOWN_STATE"),
    (BAD_NAME, "BAD_NAME"),
    (BAD_SIGNAL, "BAD_SIGNAL"),
    (NO_FILE, "NO_FILE"),
    (NOT_EXECUTABLE, "NOT_EXECUTABLE"),
    (FAILED, "FAILED"),
    (ABNORMAL_TERMINATION, "ABNORMAL_TERMINATION"),
    (SPAWN_ERROR, "SPAWN_ERROR"),
    (ALREADY_STARTED, "ALREADY_STARTED"),
    (NOT_RUNNING, "NOT_RUNNING"),
    (SUCCESS, "SUCCESS"),
    (ALREADY_ADDED, "ALREADY_ADDED"),
    (STILL_RUNNING, "STILL_RUNNING"),
    (CANT_REREAD, "CANT_REREAD"),
];

/// The name of a fault code (`BAD_NAME`), or `UNKNOWN` for a code the
/// reference does not define (`getFaultDescription`).
pub fn fault_name(code: i32) -> &'static str {
    NAMES
        .iter()
        .find(|(known, _)| *known == code)
        .map_or("UNKNOWN", |(_, name)| name)
}

/// An XML-RPC fault: `faultCode` and `faultString`.
#[repr(C)]
#[derive(StableAbi, Debug, Clone, PartialEq, Eq)]
pub struct Fault {
    /// `faultCode`: one of this module's constants for Supervisor's faults.
    pub code: i32,
    /// `faultString`.
    pub string: RString,
}

impl Fault {
    /// The fault the reference raises as `RPCError(code)`: its string is the
    /// code's name alone.
    pub fn bare(code: i32) -> Fault {
        Fault {
            code,
            string: fault_name(code).into(),
        }
    }

    /// The fault the reference raises as `RPCError(code, extra)`: its string
    /// is `NAME: extra`.
    pub fn with(code: i32, extra: impl std::fmt::Display) -> Fault {
        Fault {
            code,
            string: format!("{}: {extra}", fault_name(code)).into(),
        }
    }

    /// A fault whose string is `string` exactly, for the few faults the
    /// reference builds by hand (Python exception texts in a multicall).
    pub fn verbatim(code: i32, string: impl Into<String>) -> Fault {
        Fault {
            code,
            string: string.into().into(),
        }
    }
}

impl std::fmt::Display for Fault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "[{}] {}", self.code, self.string)
    }
}

impl std::error::Error for Fault {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_follow_rpcerror() {
        assert_eq!(Fault::bare(NO_FILE).string.as_str(), "NO_FILE");
        assert_eq!(
            Fault::with(BAD_NAME, "foo").string.as_str(),
            "BAD_NAME: foo"
        );
        assert_eq!(Fault::bare(12345).string.as_str(), "UNKNOWN");
        assert_eq!(Fault::with(BAD_NAME, "x").to_string(), "[10] BAD_NAME: x");
    }

    #[test]
    fn every_code_has_the_reference_number() {
        let expected = [
            ("UNKNOWN_METHOD", 1),
            ("INCORRECT_PARAMETERS", 2),
            ("BAD_ARGUMENTS", 3),
            ("SIGNATURE_UNSUPPORTED", 4),
            ("SHUTDOWN_STATE", 6),
            ("BAD_NAME", 10),
            ("BAD_SIGNAL", 11),
            ("NO_FILE", 20),
            ("NOT_EXECUTABLE", 21),
            ("FAILED", 30),
            ("ABNORMAL_TERMINATION", 40),
            ("SPAWN_ERROR", 50),
            ("ALREADY_STARTED", 60),
            ("NOT_RUNNING", 70),
            ("SUCCESS", 80),
            ("ALREADY_ADDED", 90),
            ("STILL_RUNNING", 91),
            ("CANT_REREAD", 92),
        ];
        for (name, code) in expected {
            assert_eq!(fault_name(code), name);
        }
        assert_eq!(NAMES.len(), expected.len());
    }
}
