//! The host functions of the `sv_api` table (`api.rs`): a C plugin's
//! snapshot reads and commands, each a thin call of the SDK's `Host`
//! through the handle its factory received. Like the rest of the table,
//! every function takes NULL (answering 0, ticket 0 or an empty value).

use std::ffi::{c_char, c_int};

use abi_stable::std_types::{RSlice, RStr};
use supervisor_sdk::host::{LogChannel, LogLevel, Ticket};

use super::value::{CValue, SV_STRING, SvHost, boxed, process_value, text, with_nul};

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

pub(super) unsafe extern "C" fn supervisor_state(handle: *const SvHost) -> i32 {
    // SAFETY: see above.
    unsafe { host(handle) }.map_or(0, |host| host.supervisor_state().code())
}

pub(super) unsafe extern "C" fn identification(handle: *const SvHost) -> *mut CValue {
    // SAFETY: see above.
    let id = unsafe { host(handle) }.map(|host| host.identification().into_string());
    boxed(CValue::Text(
        SV_STRING,
        with_nul(id.unwrap_or_default().as_bytes()),
    ))
}

pub(super) unsafe extern "C" fn supervisor_pid(handle: *const SvHost) -> u32 {
    // SAFETY: see above.
    unsafe { host(handle) }.map_or(0, |host| host.supervisor_pid())
}

pub(super) unsafe extern "C" fn now(handle: *const SvHost) -> i64 {
    // SAFETY: see above.
    unsafe { host(handle) }.map_or(0, |host| host.now())
}

pub(super) unsafe extern "C" fn process_infos(handle: *const SvHost) -> *mut CValue {
    // SAFETY: see above.
    let items = unsafe { host(handle) }.map_or_else(Vec::new, |host| {
        host.process_infos()
            .iter()
            .map(|info| CValue::from_value(&process_value(info)))
            .collect()
    });
    boxed(CValue::Array(items))
}

pub(super) unsafe extern "C" fn start_process(
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

pub(super) unsafe extern "C" fn stop_process(
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

pub(super) unsafe extern "C" fn signal_process(
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

pub(super) unsafe extern "C" fn send_stdin(
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

pub(super) unsafe extern "C" fn read_log(
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

pub(super) unsafe extern "C" fn tail_log(
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

pub(super) unsafe extern "C" fn clear_log(
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

pub(super) unsafe extern "C" fn reload_config(handle: *const SvHost) -> u64 {
    // SAFETY: see above.
    unsafe { command(handle, |host| host.reload_config()) }
}

pub(super) unsafe extern "C" fn add_group(handle: *const SvHost, name: *const c_char) -> u64 {
    // SAFETY: see above.
    let name = unsafe { text(name) };
    // SAFETY: see above.
    unsafe { command(handle, |host| host.add_group(RStr::from_str(&name))) }
}

pub(super) unsafe extern "C" fn remove_group(handle: *const SvHost, name: *const c_char) -> u64 {
    // SAFETY: see above.
    let name = unsafe { text(name) };
    // SAFETY: see above.
    unsafe { command(handle, |host| host.remove_group(RStr::from_str(&name))) }
}

pub(super) unsafe extern "C" fn publish_event(
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

pub(super) unsafe extern "C" fn shutdown(handle: *const SvHost) -> u64 {
    // SAFETY: see above.
    unsafe { command(handle, |host| host.shutdown()) }
}

pub(super) unsafe extern "C" fn restart(handle: *const SvHost) -> u64 {
    // SAFETY: see above.
    unsafe { command(handle, |host| host.restart()) }
}

pub(super) unsafe extern "C" fn log(handle: *const SvHost, level: u32, message: *const c_char) {
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
