//! The daemon's side of `sdk/include/supervisor_plugin.h`: the `sv_api`
//! table a C plugin calls (values, replies, outcomes, the host), and the
//! C-side types it is made of. Every value, reply and outcome a C plugin
//! touches is allocated and freed here, so no allocator crosses the
//! boundary; every function takes NULL (and bad UTF-8) without failing,
//! because a panic cannot unwind out of an `extern "C"` function.
//!
//! This file knows nothing of libraries or namespaces (`mod.rs` loads and
//! adapts them); it converts between the header's shapes and the SDK's.

use std::ffi::{CStr, c_char, c_int, c_void};

use supervisor_sdk::fault::Fault;
use supervisor_sdk::host::{Outcome, Ticket};

#[allow(clippy::wildcard_imports)] // the table names every host function
use super::host::*;
use super::value::{
    CValue, SV_BASE64, SV_DATETIME, SV_NIL, SV_STRING, SvHost, boxed, process_value, text, with_nul,
};

/// `SV_ABI_VERSION`: the version of the header this daemon implements.
pub const ABI_VERSION: u32 = 1;

/// `sv_resume_fn`.
pub type ResumeFn = unsafe extern "C" fn(*mut c_void, u64, *const COutcome) -> *mut CReply;
/// `sv_finish_fn`.
pub type FinishFn = unsafe extern "C" fn(*mut c_void) -> *mut CReply;
/// `free_data` of `reply_deferred`.
pub type FreeFn = unsafe extern "C" fn(*mut c_void);

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
