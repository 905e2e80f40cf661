//! The values a C plugin reads and builds (`sv_value`) and the helpers
//! the `sv_api` table's files share: C strings in, NUL-terminated bytes
//! out, a process as a struct. Converts between the header's shapes and
//! the SDK's; knows nothing of the table or of libraries.

use std::borrow::Cow;
use std::ffi::{CStr, c_char};

use supervisor_sdk::host::{HostBox, ProcessInfo};
use supervisor_sdk::value::{Value, ValueKind};

/// The host handle as C sees it (`sv_host`): a pointer to the namespace's
/// [`HostBox`], valid until the namespace is destroyed.
pub type SvHost = HostBox;

/// `sv_value`: an XML-RPC value in a shape C can read in place. Texts and
/// member names keep a trailing NUL (not counted in their length) so C
/// gets them as ordinary strings.
#[derive(Debug, Clone, PartialEq)]
pub enum CValue {
    /// `SV_NIL`.
    Nil,
    /// `SV_INT`.
    Int(i32),
    /// `SV_BOOL`.
    Bool(bool),
    /// `SV_DOUBLE`.
    Double(f64),
    /// `SV_STRING`, `SV_DATETIME` or `SV_BASE64` (the kind), and the bytes
    /// with a NUL after them.
    Text(u32, Vec<u8>),
    /// `SV_ARRAY`.
    Array(Vec<CValue>),
    /// `SV_STRUCT`: names with a NUL after them, in order.
    Struct(Vec<(Vec<u8>, CValue)>),
}

pub(super) const SV_NIL: u32 = 0;
pub(super) const SV_INT: u32 = 1;
pub(super) const SV_BOOL: u32 = 2;
pub(super) const SV_STRING: u32 = 3;
pub(super) const SV_DOUBLE: u32 = 4;
pub(super) const SV_DATETIME: u32 = 5;
pub(super) const SV_BASE64: u32 = 6;
pub(super) const SV_ARRAY: u32 = 7;
pub(super) const SV_STRUCT: u32 = 8;

pub(super) fn with_nul(bytes: &[u8]) -> Vec<u8> {
    let mut owned = Vec::with_capacity(bytes.len() + 1);
    owned.extend_from_slice(bytes);
    owned.push(0);
    owned
}

pub(super) fn without_nul(bytes: &[u8]) -> &[u8] {
    bytes.strip_suffix(&[0]).unwrap_or(bytes)
}

impl CValue {
    /// The C shape of an SDK value. A variant added by a later SDK reads
    /// as nil.
    pub fn from_value(value: &Value) -> CValue {
        match value.kind() {
            Some(ValueKind::Int(n)) => CValue::Int(*n),
            Some(ValueKind::Bool(b)) => CValue::Bool(*b),
            Some(ValueKind::Double(d)) => CValue::Double(*d),
            Some(ValueKind::String(s)) => CValue::Text(SV_STRING, with_nul(s.as_bytes())),
            Some(ValueKind::DateTime(s)) => CValue::Text(SV_DATETIME, with_nul(s.as_bytes())),
            Some(ValueKind::Base64(bytes)) => CValue::Text(SV_BASE64, with_nul(bytes)),
            Some(ValueKind::Array(items)) => {
                CValue::Array(items.iter().map(CValue::from_value).collect())
            }
            Some(ValueKind::Struct(members)) => CValue::Struct(
                members
                    .iter()
                    .map(|m| (with_nul(m.name.as_bytes()), CValue::from_value(&m.value)))
                    .collect(),
            ),
            _ => CValue::Nil,
        }
    }

    /// The SDK value, struct members in the order the plugin set them.
    pub fn into_value(self) -> Value {
        let text = |bytes: &[u8]| String::from_utf8_lossy(without_nul(bytes)).into_owned();
        match self {
            CValue::Nil => Value::nil(),
            CValue::Int(n) => Value::int(n),
            CValue::Bool(b) => Value::bool(b),
            CValue::Double(d) => Value::double(d),
            CValue::Text(SV_DATETIME, bytes) => {
                Value::new(ValueKind::DateTime(text(&bytes).into()))
            }
            CValue::Text(SV_BASE64, bytes) => Value::base64(without_nul(&bytes).to_vec()),
            CValue::Text(_, bytes) => Value::string(text(&bytes)),
            CValue::Array(items) => Value::array(items.into_iter().map(CValue::into_value)),
            CValue::Struct(members) => Value::structure(
                members
                    .into_iter()
                    .map(|(name, value)| (text(&name), value.into_value())),
            ),
        }
    }

    pub(super) fn kind(&self) -> u32 {
        match self {
            CValue::Nil => SV_NIL,
            CValue::Int(_) => SV_INT,
            CValue::Bool(_) => SV_BOOL,
            CValue::Double(_) => SV_DOUBLE,
            CValue::Text(kind, _) => *kind,
            CValue::Array(_) => SV_ARRAY,
            CValue::Struct(_) => SV_STRUCT,
        }
    }
}

/// A process as `process_infos` lists it: the snapshot's fields by the
/// names `getProcessInfo` uses for them.
pub(super) fn process_value(info: &ProcessInfo) -> Value {
    Value::structure([
        ("group", Value::string(info.group.as_str())),
        ("name", Value::string(info.name.as_str())),
        ("state", Value::int(info.state.code())),
        ("statename", Value::string(info.state.name())),
        ("pid", Value::capped_int(i64::from(info.pid))),
        ("start", Value::capped_int(info.start)),
        ("stop", Value::capped_int(info.stop)),
        ("exitstatus", Value::int(info.exitstatus)),
        ("spawnerr", Value::string(info.spawnerr.as_str())),
        (
            "stdout_logfile",
            Value::string(info.stdout_logfile.as_str()),
        ),
        (
            "stderr_logfile",
            Value::string(info.stderr_logfile.as_str()),
        ),
    ])
}

/// A C string as text (lossy), empty for NULL.
///
/// # Safety
/// `text` is NULL or points to a NUL-terminated string.
pub(super) unsafe fn text<'a>(text: *const c_char) -> Cow<'a, str> {
    if text.is_null() {
        return Cow::Borrowed("");
    }
    // SAFETY: not NULL, and NUL-terminated by the caller's contract.
    unsafe { CStr::from_ptr(text) }.to_string_lossy()
}

pub(super) fn boxed(value: CValue) -> *mut CValue {
    Box::into_raw(Box::new(value))
}
