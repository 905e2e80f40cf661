//! The daemon's side of `sdk/include/supervisor_plugin.h`: the `sv_api`
//! table a C plugin calls (values, replies, outcomes, the host), and the
//! C-side types it is made of. Every value, reply and outcome a C plugin
//! touches is allocated and freed here, so no allocator crosses the
//! boundary; every function takes NULL (and bad UTF-8) without failing,
//! because a panic cannot unwind out of an `extern "C"` function.
//!
//! This file knows nothing of libraries or namespaces (`mod.rs` loads and
//! adapts them); it converts between the header's shapes and the SDK's.

use std::borrow::Cow;
use std::ffi::{CStr, c_char, c_int, c_void};

use abi_stable::std_types::{RSlice, RStr};
use supervisor_sdk::fault::Fault;
use supervisor_sdk::host::{HostBox, LogChannel, LogLevel, Outcome, ProcessInfo, Ticket};
use supervisor_sdk::value::{Value, ValueKind};

/// `SV_ABI_VERSION`: the version of the header this daemon implements.
pub const ABI_VERSION: u32 = 1;

/// The host handle as C sees it (`sv_host`): a pointer to the namespace's
/// [`HostBox`], valid until the namespace is destroyed.
pub type SvHost = HostBox;

/// `sv_resume_fn`.
pub type ResumeFn = unsafe extern "C" fn(*mut c_void, u64, *const COutcome) -> *mut CReply;
/// `sv_finish_fn`.
pub type FinishFn = unsafe extern "C" fn(*mut c_void) -> *mut CReply;
/// `free_data` of `reply_deferred`.
pub type FreeFn = unsafe extern "C" fn(*mut c_void);

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

const SV_NIL: u32 = 0;
const SV_INT: u32 = 1;
const SV_BOOL: u32 = 2;
const SV_STRING: u32 = 3;
const SV_DOUBLE: u32 = 4;
const SV_DATETIME: u32 = 5;
const SV_BASE64: u32 = 6;
const SV_ARRAY: u32 = 7;
const SV_STRUCT: u32 = 8;

fn with_nul(bytes: &[u8]) -> Vec<u8> {
    let mut owned = Vec::with_capacity(bytes.len() + 1);
    owned.extend_from_slice(bytes);
    owned.push(0);
    owned
}

fn without_nul(bytes: &[u8]) -> &[u8] {
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

    fn kind(&self) -> u32 {
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

/// `sv_reply`: what a C method answers.
#[derive(Debug)]
pub enum CReply {
    /// `reply_value`.
    Value(CValue),
    /// `reply_fault`.
    Fault(Fault),
    /// `reply_deferred`.
    Deferred(CDeferred),
}

/// The parts of `reply_deferred`, as the plugin gave them.
#[derive(Debug)]
pub struct CDeferred {
    /// The tickets to wait for.
    pub tickets: Vec<Ticket>,
    /// Called per completed ticket.
    pub resume: Option<ResumeFn>,
    /// Called when there are no tickets.
    pub finish: Option<FinishFn>,
    /// The plugin's data for both.
    pub data: *mut c_void,
    /// Called once with `data` when the reply is over.
    pub free_data: Option<FreeFn>,
}

/// `sv_outcome`: a command's outcome in C's shape, lent to `resume`.
#[derive(Debug)]
pub struct COutcome {
    code: i32,
    fault: Option<Vec<u8>>,
    value: CValue,
    process: Option<CValue>,
}

impl COutcome {
    /// The C shape of `outcome`.
    pub fn new(outcome: &Outcome) -> COutcome {
        let fault = outcome.fault.as_ref().into_option();
        COutcome {
            code: fault.map_or(0, |f| f.code),
            fault: fault.map(|f| with_nul(f.string.as_bytes())),
            value: CValue::from_value(&outcome.value),
            process: outcome
                .process
                .as_ref()
                .into_option()
                .map(|info| CValue::from_value(&process_value(info))),
        }
    }
}

/// A process as `process_infos` lists it: the snapshot's fields by the
/// names `getProcessInfo` uses for them.
fn process_value(info: &ProcessInfo) -> Value {
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

/// `sv_api`, field for field (the header's order is the ABI).
#[repr(C)]
pub struct SvApi {
    pub(super) abi_version: u32,
    pub(super) size: u32,
    pub(super) kind: unsafe extern "C" fn(*const CValue) -> u32,
    pub(super) as_int: unsafe extern "C" fn(*const CValue) -> i32,
    pub(super) as_bool: unsafe extern "C" fn(*const CValue) -> c_int,
    pub(super) as_double: unsafe extern "C" fn(*const CValue) -> f64,
    pub(super) as_string: unsafe extern "C" fn(*const CValue, *mut usize) -> *const c_char,
    pub(super) len: unsafe extern "C" fn(*const CValue) -> usize,
    pub(super) item: unsafe extern "C" fn(*const CValue, usize) -> *const CValue,
    pub(super) member_name: unsafe extern "C" fn(*const CValue, usize) -> *const c_char,
    pub(super) get: unsafe extern "C" fn(*const CValue, *const c_char) -> *const CValue,
    pub(super) new_nil: extern "C" fn() -> *mut CValue,
    pub(super) new_int: extern "C" fn(i32) -> *mut CValue,
    pub(super) new_bool: extern "C" fn(c_int) -> *mut CValue,
    pub(super) new_double: extern "C" fn(f64) -> *mut CValue,
    pub(super) new_string: unsafe extern "C" fn(*const c_char, usize) -> *mut CValue,
    pub(super) new_datetime: unsafe extern "C" fn(*const c_char) -> *mut CValue,
    pub(super) new_base64: unsafe extern "C" fn(*const u8, usize) -> *mut CValue,
    pub(super) new_array: extern "C" fn() -> *mut CValue,
    pub(super) new_struct: extern "C" fn() -> *mut CValue,
    pub(super) push: unsafe extern "C" fn(*mut CValue, *mut CValue),
    pub(super) set: unsafe extern "C" fn(*mut CValue, *const c_char, *mut CValue),
    pub(super) value_free: unsafe extern "C" fn(*mut CValue),
    pub(super) reply_value: unsafe extern "C" fn(*mut CValue) -> *mut CReply,
    pub(super) reply_fault: unsafe extern "C" fn(i32, *const c_char) -> *mut CReply,
    pub(super) reply_fault_string: unsafe extern "C" fn(i32, *const c_char) -> *mut CReply,
    pub(super) reply_deferred: unsafe extern "C" fn(
        *const u64,
        usize,
        Option<ResumeFn>,
        Option<FinishFn>,
        *mut c_void,
        Option<FreeFn>,
    ) -> *mut CReply,
    pub(super) outcome_fault_code: unsafe extern "C" fn(*const COutcome) -> i32,
    pub(super) outcome_fault_string: unsafe extern "C" fn(*const COutcome) -> *const c_char,
    pub(super) outcome_value: unsafe extern "C" fn(*const COutcome) -> *const CValue,
    pub(super) outcome_process: unsafe extern "C" fn(*const COutcome) -> *const CValue,
    pub(super) supervisor_state: unsafe extern "C" fn(*const SvHost) -> i32,
    pub(super) identification: unsafe extern "C" fn(*const SvHost) -> *mut CValue,
    pub(super) supervisor_pid: unsafe extern "C" fn(*const SvHost) -> u32,
    pub(super) now: unsafe extern "C" fn(*const SvHost) -> i64,
    pub(super) process_infos: unsafe extern "C" fn(*const SvHost) -> *mut CValue,
    pub(super) start_process:
        unsafe extern "C" fn(*const SvHost, *const c_char, *const c_char, c_int) -> u64,
    pub(super) stop_process:
        unsafe extern "C" fn(*const SvHost, *const c_char, *const c_char, c_int) -> u64,
    pub(super) signal_process:
        unsafe extern "C" fn(*const SvHost, *const c_char, *const c_char, i32) -> u64,
    pub(super) send_stdin:
        unsafe extern "C" fn(*const SvHost, *const c_char, *const c_char, *const u8, usize) -> u64,
    pub(super) read_log: LogReadFn,
    pub(super) tail_log: LogReadFn,
    pub(super) clear_log:
        unsafe extern "C" fn(*const SvHost, u32, *const c_char, *const c_char) -> u64,
    pub(super) reload_config: unsafe extern "C" fn(*const SvHost) -> u64,
    pub(super) add_group: unsafe extern "C" fn(*const SvHost, *const c_char) -> u64,
    pub(super) remove_group: unsafe extern "C" fn(*const SvHost, *const c_char) -> u64,
    pub(super) publish_event:
        unsafe extern "C" fn(*const SvHost, *const c_char, *const c_char) -> u64,
    pub(super) shutdown: unsafe extern "C" fn(*const SvHost) -> u64,
    pub(super) restart: unsafe extern "C" fn(*const SvHost) -> u64,
    pub(super) log: unsafe extern "C" fn(*const SvHost, u32, *const c_char),
}

type LogReadFn =
    unsafe extern "C" fn(*const SvHost, u32, *const c_char, *const c_char, i64, i64) -> u64;

/// The one table every C plugin gets.
pub static API: SvApi = SvApi {
    abi_version: ABI_VERSION,
    // The table is a few hundred bytes: the cast cannot truncate.
    size: size_of::<SvApi>() as u32,
    kind: value_kind,
    as_int,
    as_bool,
    as_double,
    as_string,
    len: value_len,
    item,
    member_name,
    get,
    new_nil,
    new_int,
    new_bool,
    new_double,
    new_string,
    new_datetime,
    new_base64,
    new_array,
    new_struct,
    push,
    set,
    value_free,
    reply_value,
    reply_fault,
    reply_fault_string,
    reply_deferred,
    outcome_fault_code,
    outcome_fault_string,
    outcome_value,
    outcome_process,
    supervisor_state,
    identification,
    supervisor_pid,
    now,
    process_infos,
    start_process,
    stop_process,
    signal_process,
    send_stdin,
    read_log,
    tail_log,
    clear_log,
    reload_config,
    add_group,
    remove_group,
    publish_event,
    shutdown,
    restart,
    log,
};

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

fn boxed(value: CValue) -> *mut CValue {
    Box::into_raw(Box::new(value))
}

fn reply(reply: CReply) -> *mut CReply {
    Box::into_raw(Box::new(reply))
}

/// Take back a value the plugin gives away.
///
/// # Safety
/// `value` is NULL or came from one of this table's constructors and was
/// not given away before (the header's contract).
unsafe fn take(value: *mut CValue) -> Option<CValue> {
    // SAFETY: by the contract, a live box of ours.
    (!value.is_null()).then(|| *unsafe { Box::from_raw(value) })
}

// Reading values. SAFETY (every function below): pointers are NULL or
// what this table lent or made, as the header requires.

unsafe extern "C" fn value_kind(value: *const CValue) -> u32 {
    // SAFETY: see above.
    unsafe { value.as_ref() }.map_or(SV_NIL, CValue::kind)
}

unsafe extern "C" fn as_int(value: *const CValue) -> i32 {
    // SAFETY: see above.
    match unsafe { value.as_ref() } {
        Some(CValue::Int(n)) => *n,
        _ => 0,
    }
}

unsafe extern "C" fn as_bool(value: *const CValue) -> c_int {
    // SAFETY: see above.
    c_int::from(matches!(
        unsafe { value.as_ref() },
        Some(CValue::Bool(true))
    ))
}

unsafe extern "C" fn as_double(value: *const CValue) -> f64 {
    // SAFETY: see above.
    match unsafe { value.as_ref() } {
        Some(CValue::Double(d)) => *d,
        Some(CValue::Int(n)) => f64::from(*n),
        _ => 0.0,
    }
}

unsafe extern "C" fn as_string(value: *const CValue, len: *mut usize) -> *const c_char {
    // SAFETY: see above.
    let Some(CValue::Text(_, bytes)) = (unsafe { value.as_ref() }) else {
        return std::ptr::null();
    };
    if !len.is_null() {
        // SAFETY: the caller's pointer to a size_t.
        unsafe { *len = bytes.len() - 1 };
    }
    bytes.as_ptr().cast()
}

unsafe extern "C" fn value_len(value: *const CValue) -> usize {
    // SAFETY: see above.
    match unsafe { value.as_ref() } {
        Some(CValue::Array(items)) => items.len(),
        Some(CValue::Struct(members)) => members.len(),
        _ => 0,
    }
}

unsafe extern "C" fn item(value: *const CValue, index: usize) -> *const CValue {
    // SAFETY: see above.
    let found = match unsafe { value.as_ref() } {
        Some(CValue::Array(items)) => items.get(index),
        Some(CValue::Struct(members)) => members.get(index).map(|(_, value)| value),
        _ => None,
    };
    found.map_or(std::ptr::null(), std::ptr::from_ref)
}

unsafe extern "C" fn member_name(value: *const CValue, index: usize) -> *const c_char {
    // SAFETY: see above.
    match unsafe { value.as_ref() } {
        Some(CValue::Struct(members)) => members
            .get(index)
            .map_or(std::ptr::null(), |(name, _)| name.as_ptr().cast()),
        _ => std::ptr::null(),
    }
}

unsafe extern "C" fn get(value: *const CValue, name: *const c_char) -> *const CValue {
    // SAFETY: see above; `name` is a C string or NULL.
    let (Some(CValue::Struct(members)), false) = (unsafe { value.as_ref() }, name.is_null()) else {
        return std::ptr::null();
    };
    // SAFETY: not NULL, NUL-terminated by contract.
    let wanted = unsafe { CStr::from_ptr(name) }.to_bytes_with_nul();
    members
        .iter()
        .find(|(member, _)| member.as_slice() == wanted)
        .map_or(std::ptr::null(), |(_, value)| std::ptr::from_ref(value))
}

// Building values.

extern "C" fn new_nil() -> *mut CValue {
    boxed(CValue::Nil)
}

extern "C" fn new_int(number: i32) -> *mut CValue {
    boxed(CValue::Int(number))
}

extern "C" fn new_bool(truth: c_int) -> *mut CValue {
    boxed(CValue::Bool(truth != 0))
}

extern "C" fn new_double(number: f64) -> *mut CValue {
    boxed(CValue::Double(number))
}

unsafe extern "C" fn new_string(text: *const c_char, len: usize) -> *mut CValue {
    let bytes: &[u8] = if text.is_null() {
        &[]
    } else if len == usize::MAX {
        // SAFETY: NUL-terminated when len is SIZE_MAX (the header).
        unsafe { CStr::from_ptr(text) }.to_bytes()
    } else {
        // SAFETY: `len` readable bytes at `text` (the header).
        unsafe { std::slice::from_raw_parts(text.cast::<u8>(), len) }
    };
    // Invalid UTF-8 becomes U+FFFD now, so the text C reads back is the
    // text the client will get.
    let valid = String::from_utf8_lossy(bytes);
    boxed(CValue::Text(SV_STRING, with_nul(valid.as_bytes())))
}

unsafe extern "C" fn new_datetime(text: *const c_char) -> *mut CValue {
    // SAFETY: a C string or NULL.
    let text = unsafe { self::text(text) };
    boxed(CValue::Text(SV_DATETIME, with_nul(text.as_bytes())))
}

unsafe extern "C" fn new_base64(bytes: *const u8, len: usize) -> *mut CValue {
    let bytes: &[u8] = if bytes.is_null() {
        &[]
    } else {
        // SAFETY: `len` readable bytes (the header).
        unsafe { std::slice::from_raw_parts(bytes, len) }
    };
    boxed(CValue::Text(SV_BASE64, with_nul(bytes)))
}

extern "C" fn new_array() -> *mut CValue {
    boxed(CValue::Array(Vec::new()))
}

extern "C" fn new_struct() -> *mut CValue {
    boxed(CValue::Struct(Vec::new()))
}

unsafe extern "C" fn push(array: *mut CValue, item: *mut CValue) {
    // SAFETY: `item` is the plugin's to give (contract); taken even when
    // `array` is not an array, so it is never leaked.
    let Some(item) = (unsafe { take(item) }) else {
        return;
    };
    // SAFETY: NULL or a live value of ours.
    if let Some(CValue::Array(items)) = unsafe { array.as_mut() } {
        items.push(item);
    }
}

unsafe extern "C" fn set(structure: *mut CValue, name: *const c_char, value: *mut CValue) {
    // SAFETY: as in `push`.
    let Some(value) = (unsafe { take(value) }) else {
        return;
    };
    // SAFETY: NULL or a live value of ours.
    if let Some(CValue::Struct(members)) = unsafe { structure.as_mut() } {
        // SAFETY: a C string or NULL.
        let name = unsafe { text(name) };
        members.push((with_nul(name.as_bytes()), value));
    }
}

unsafe extern "C" fn value_free(value: *mut CValue) {
    // SAFETY: the plugin's own value (contract).
    drop(unsafe { take(value) });
}

// Replies.

unsafe extern "C" fn reply_value(value: *mut CValue) -> *mut CReply {
    // SAFETY: the plugin's own value (contract).
    let value = unsafe { take(value) }.unwrap_or(CValue::Nil);
    reply(CReply::Value(value))
}

unsafe extern "C" fn reply_fault(code: i32, extra: *const c_char) -> *mut CReply {
    let fault = if extra.is_null() {
        Fault::bare(code)
    } else {
        // SAFETY: a C string (not NULL).
        Fault::with(code, unsafe { text(extra) })
    };
    reply(CReply::Fault(fault))
}

unsafe extern "C" fn reply_fault_string(code: i32, string: *const c_char) -> *mut CReply {
    // SAFETY: a C string or NULL.
    let string = unsafe { text(string) };
    reply(CReply::Fault(Fault::verbatim(code, string)))
}

unsafe extern "C" fn reply_deferred(
    tickets: *const u64,
    count: usize,
    resume: Option<ResumeFn>,
    finish: Option<FinishFn>,
    data: *mut c_void,
    free_data: Option<FreeFn>,
) -> *mut CReply {
    let tickets = if tickets.is_null() {
        Vec::new()
    } else {
        // SAFETY: `count` tickets at `tickets` (the header).
        unsafe { std::slice::from_raw_parts(tickets, count) }
            .iter()
            .map(|&ticket| Ticket(ticket))
            .collect()
    };
    reply(CReply::Deferred(CDeferred {
        tickets,
        resume,
        finish,
        data,
        free_data,
    }))
}

// Outcomes: lent to `resume` only.

unsafe extern "C" fn outcome_fault_code(outcome: *const COutcome) -> i32 {
    // SAFETY: NULL or the outcome lent to `resume`.
    unsafe { outcome.as_ref() }.map_or(0, |o| o.code)
}

unsafe extern "C" fn outcome_fault_string(outcome: *const COutcome) -> *const c_char {
    // SAFETY: as above.
    unsafe { outcome.as_ref() }
        .and_then(|o| o.fault.as_ref())
        .map_or(std::ptr::null(), |fault| fault.as_ptr().cast())
}

unsafe extern "C" fn outcome_value(outcome: *const COutcome) -> *const CValue {
    // SAFETY: as above.
    unsafe { outcome.as_ref() }.map_or(std::ptr::null(), |o| std::ptr::from_ref(&o.value))
}

unsafe extern "C" fn outcome_process(outcome: *const COutcome) -> *const CValue {
    // SAFETY: as above.
    unsafe { outcome.as_ref() }
        .and_then(|o| o.process.as_ref())
        .map_or(std::ptr::null(), std::ptr::from_ref)
}

// The host. SAFETY (every function below): `host` is NULL or the pointer
// the factory received, alive until the namespace is destroyed; strings
// are C strings or NULL.

/// The host behind a C handle, if any.
///
/// # Safety
/// As above.
unsafe fn host<'a>(host: *const SvHost) -> Option<&'a SvHost> {
    // SAFETY: see above.
    unsafe { host.as_ref() }
}

/// Run a command on the host; ticket 0 (which the daemon never issues) for
/// a NULL host.
///
/// # Safety
/// As above.
unsafe fn command(handle: *const SvHost, run: impl FnOnce(&SvHost) -> Ticket) -> u64 {
    // SAFETY: see above.
    unsafe { host(handle) }.map_or(0, |host| run(host).0)
}

unsafe extern "C" fn supervisor_state(handle: *const SvHost) -> i32 {
    // SAFETY: see above.
    unsafe { host(handle) }.map_or(0, |host| host.supervisor_state().code())
}

unsafe extern "C" fn identification(handle: *const SvHost) -> *mut CValue {
    // SAFETY: see above.
    let id = unsafe { host(handle) }.map(|host| host.identification().into_string());
    boxed(CValue::Text(
        SV_STRING,
        with_nul(id.unwrap_or_default().as_bytes()),
    ))
}

unsafe extern "C" fn supervisor_pid(handle: *const SvHost) -> u32 {
    // SAFETY: see above.
    unsafe { host(handle) }.map_or(0, |host| host.supervisor_pid())
}

unsafe extern "C" fn now(handle: *const SvHost) -> i64 {
    // SAFETY: see above.
    unsafe { host(handle) }.map_or(0, |host| host.now())
}

unsafe extern "C" fn process_infos(handle: *const SvHost) -> *mut CValue {
    // SAFETY: see above.
    let items = unsafe { host(handle) }.map_or_else(Vec::new, |host| {
        host.process_infos()
            .iter()
            .map(|info| CValue::from_value(&process_value(info)))
            .collect()
    });
    boxed(CValue::Array(items))
}

unsafe extern "C" fn start_process(
    handle: *const SvHost,
    group: *const c_char,
    name: *const c_char,
    wait: c_int,
) -> u64 {
    // SAFETY: see above.
    let (group, name) = unsafe { (text(group), text(name)) };
    // SAFETY: see above.
    unsafe {
        command(handle, |host| {
            host.start_process(RStr::from_str(&group), RStr::from_str(&name), wait != 0)
        })
    }
}

unsafe extern "C" fn stop_process(
    handle: *const SvHost,
    group: *const c_char,
    name: *const c_char,
    wait: c_int,
) -> u64 {
    // SAFETY: see above.
    let (group, name) = unsafe { (text(group), text(name)) };
    // SAFETY: see above.
    unsafe {
        command(handle, |host| {
            host.stop_process(RStr::from_str(&group), RStr::from_str(&name), wait != 0)
        })
    }
}

unsafe extern "C" fn signal_process(
    handle: *const SvHost,
    group: *const c_char,
    name: *const c_char,
    signal: i32,
) -> u64 {
    // SAFETY: see above.
    let (group, name) = unsafe { (text(group), text(name)) };
    // SAFETY: see above.
    unsafe {
        command(handle, |host| {
            host.signal_process(RStr::from_str(&group), RStr::from_str(&name), signal)
        })
    }
}

unsafe extern "C" fn send_stdin(
    handle: *const SvHost,
    group: *const c_char,
    name: *const c_char,
    data: *const u8,
    len: usize,
) -> u64 {
    // SAFETY: see above.
    let (group, name) = unsafe { (text(group), text(name)) };
    let data: &[u8] = if data.is_null() {
        &[]
    } else {
        // SAFETY: `len` readable bytes (the header).
        unsafe { std::slice::from_raw_parts(data, len) }
    };
    // SAFETY: see above.
    unsafe {
        command(handle, |host| {
            host.send_stdin(
                RStr::from_str(&group),
                RStr::from_str(&name),
                RSlice::from_slice(data),
            )
        })
    }
}

fn channel(channel: u32) -> LogChannel {
    match channel {
        1 => LogChannel::Stdout,
        2 => LogChannel::Stderr,
        _ => LogChannel::Main,
    }
}

unsafe extern "C" fn read_log(
    handle: *const SvHost,
    which: u32,
    group: *const c_char,
    name: *const c_char,
    offset: i64,
    length: i64,
) -> u64 {
    // SAFETY: see above.
    let (group, name) = unsafe { (text(group), text(name)) };
    // SAFETY: see above.
    unsafe {
        command(handle, |host| {
            host.read_log(
                channel(which),
                RStr::from_str(&group),
                RStr::from_str(&name),
                offset,
                length,
            )
        })
    }
}

unsafe extern "C" fn tail_log(
    handle: *const SvHost,
    which: u32,
    group: *const c_char,
    name: *const c_char,
    offset: i64,
    length: i64,
) -> u64 {
    // SAFETY: see above.
    let (group, name) = unsafe { (text(group), text(name)) };
    // SAFETY: see above.
    unsafe {
        command(handle, |host| {
            host.tail_log(
                channel(which),
                RStr::from_str(&group),
                RStr::from_str(&name),
                offset,
                length,
            )
        })
    }
}

unsafe extern "C" fn clear_log(
    handle: *const SvHost,
    which: u32,
    group: *const c_char,
    name: *const c_char,
) -> u64 {
    // SAFETY: see above.
    let (group, name) = unsafe { (text(group), text(name)) };
    // SAFETY: see above.
    unsafe {
        command(handle, |host| {
            host.clear_log(
                channel(which),
                RStr::from_str(&group),
                RStr::from_str(&name),
            )
        })
    }
}

unsafe extern "C" fn reload_config(handle: *const SvHost) -> u64 {
    // SAFETY: see above.
    unsafe { command(handle, |host| host.reload_config()) }
}

unsafe extern "C" fn add_group(handle: *const SvHost, name: *const c_char) -> u64 {
    // SAFETY: see above.
    let name = unsafe { text(name) };
    // SAFETY: see above.
    unsafe { command(handle, |host| host.add_group(RStr::from_str(&name))) }
}

unsafe extern "C" fn remove_group(handle: *const SvHost, name: *const c_char) -> u64 {
    // SAFETY: see above.
    let name = unsafe { text(name) };
    // SAFETY: see above.
    unsafe { command(handle, |host| host.remove_group(RStr::from_str(&name))) }
}

unsafe extern "C" fn publish_event(
    handle: *const SvHost,
    event_name: *const c_char,
    payload: *const c_char,
) -> u64 {
    // SAFETY: see above.
    let (event_name, payload) = unsafe { (text(event_name), text(payload)) };
    // SAFETY: see above.
    unsafe {
        command(handle, |host| {
            host.publish_event(RStr::from_str(&event_name), RStr::from_str(&payload))
        })
    }
}

unsafe extern "C" fn shutdown(handle: *const SvHost) -> u64 {
    // SAFETY: see above.
    unsafe { command(handle, |host| host.shutdown()) }
}

unsafe extern "C" fn restart(handle: *const SvHost) -> u64 {
    // SAFETY: see above.
    unsafe { command(handle, |host| host.restart()) }
}

unsafe extern "C" fn log(handle: *const SvHost, level: u32, message: *const c_char) {
    let level = match level {
        0 => LogLevel::Critical,
        1 => LogLevel::Error,
        2 => LogLevel::Warn,
        4 => LogLevel::Debug,
        5 => LogLevel::Trace,
        6 => LogLevel::Blather,
        _ => LogLevel::Info,
    };
    // SAFETY: see above.
    let message = unsafe { text(message) };
    // SAFETY: see above.
    if let Some(host) = unsafe { host(handle) } {
        host.log(level, RStr::from_str(&message));
    }
}
