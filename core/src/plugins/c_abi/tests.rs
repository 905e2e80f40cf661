//! The C interface driven from Rust: a plugin written against the
//! header's shapes (extern "C" functions calling the `sv_api` table), run
//! on the SDK's `TestHost`. The real C compiler's side is the e2e test
//! `cplugin.rs`.

use std::ffi::{CStr, c_char, c_int, c_void};
use std::sync::atomic::{AtomicUsize, Ordering};

use supervisor_sdk::host::Outcome;
use supervisor_sdk::state::ProcessState;
use supervisor_sdk::testing::{TestHost, process_info};
use supervisor_sdk::value::{Value, ValueKind};

use super::api::{API, COutcome, CReply, SvApi};
use super::value::CValue;
use super::*;

#[test]
fn values_cross_both_ways_with_their_kinds_and_member_order() {
    let value = Value::structure([
        ("z", Value::int(-3)),
        ("a", Value::array([Value::bool(true), Value::double(1.5)])),
        ("m", Value::string("é\u{1}")),
        (
            "d",
            Value::new(ValueKind::DateTime("20261124T01:02:03".into())),
        ),
        ("b", Value::base64(vec![0u8, 255])),
        ("n", Value::nil()),
    ]);
    assert_eq!(CValue::from_value(&value).into_value(), value);
}

#[test]
fn the_table_reads_and_builds_values_and_takes_null() {
    let api = &API;
    // SAFETY: the header's contract: values made by the table, C strings.
    unsafe {
        let structure = (api.new_struct)();
        (api.set)(structure, c"b".as_ptr(), (api.new_int)(2));
        (api.set)(
            structure,
            c"a".as_ptr(),
            (api.new_string)(c"xy".as_ptr(), usize::MAX),
        );
        // An item given to a non-array is taken (freed), not leaked.
        (api.push)(structure, (api.new_int)(9));
        assert_eq!((api.len)(structure), 2);
        assert_eq!(CStr::from_ptr((api.member_name)(structure, 1)), c"a");
        let mut len = 0;
        let text = (api.as_string)((api.get)(structure, c"a".as_ptr()), &raw mut len);
        assert_eq!((CStr::from_ptr(text), len), (c"xy", 2));
        assert_eq!((api.as_int)((api.item)(structure, 0)), 2);
        assert!((api.item)(structure, 2).is_null());
        // NULL anywhere answers nothing rather than crashing.
        assert_eq!((api.kind)(std::ptr::null()), 0);
        assert!((api.get)(structure, std::ptr::null()).is_null());
        assert!((api.as_string)(std::ptr::null(), &raw mut len).is_null());
        assert_eq!((api.supervisor_pid)(std::ptr::null()), 0);
        let reply = (api.reply_value)(structure);
        let Some(Reply::Value(value)) = take_reply(reply, &owner_for_tests()) else {
            panic!("a value reply");
        };
        let names: Vec<&str> = value
            .as_struct()
            .expect("a struct")
            .iter()
            .map(|m| m.name.as_str())
            .collect();
        assert_eq!(names, ["b", "a"]);
    }
}

fn owner_for_tests() -> Arc<Owner> {
    Arc::new(Owner {
        state: std::ptr::null_mut(),
        destroy: None,
        _host: Box::new(TestHost::default().handle()),
    })
}

/// The fake plugin's state: the table and host it was given.
struct Fake {
    api: *const SvApi,
    host: *const HostBox,
}

static DESTROYED: AtomicUsize = AtomicUsize::new(0);
static DATA_FREED: AtomicUsize = AtomicUsize::new(0);

unsafe extern "C" fn fake_resume(
    data: *mut c_void,
    _ticket: u64,
    outcome: *const COutcome,
) -> *mut CReply {
    // SAFETY: `data` is the `Fake` the call passed; the table is API.
    unsafe {
        let api = &*(*data.cast::<Fake>()).api;
        match (api.outcome_fault_code)(outcome) {
            0 => (api.reply_value)((api.new_bool)(1)),
            code => (api.reply_fault_string)(code, (api.outcome_fault_string)(outcome)),
        }
    }
}

unsafe extern "C" fn fake_free(data: *mut c_void) {
    // SAFETY: the box `fake_call` leaked.
    drop(unsafe { Box::from_raw(data.cast::<Fake>()) });
    DATA_FREED.fetch_add(1, Ordering::SeqCst);
}

unsafe extern "C" fn fake_call(
    state: *mut c_void,
    method: *const c_char,
    params: *const *const CValue,
    count: usize,
) -> *mut CReply {
    // SAFETY: the header's contract for `call`.
    unsafe {
        let fake = &*state.cast::<Fake>();
        let api = &*fake.api;
        match CStr::from_ptr(method).to_bytes() {
            b"start" if count == 1 => {
                let name = (api.as_string)(*params, std::ptr::null_mut());
                let ticket = (api.start_process)(fake.host, name, name, 1);
                let data = Box::into_raw(Box::new(Fake {
                    api: fake.api,
                    host: fake.host,
                }));
                (api.reply_deferred)(
                    &raw const ticket,
                    1,
                    Some(fake_resume),
                    None,
                    data.cast(),
                    Some(fake_free),
                )
            }
            b"count" => (api.reply_value)((api.new_int)(
                (api.len)((api.process_infos)(fake.host)) as i32
            )),
            _ => (api.reply_fault)(1, std::ptr::null()),
        }
    }
}

unsafe extern "C" fn fake_destroy(state: *mut c_void) {
    // SAFETY: the box `fake_make` made.
    drop(unsafe { Box::from_raw(state.cast::<Fake>()) });
    DESTROYED.fetch_add(1, Ordering::SeqCst);
}

static FAKE_METHODS: Static<[SvMethod; 2]> = Static([
    SvMethod {
        name: c"start".as_ptr(),
        help: c"Start and wait.".as_ptr(),
        signature: c"boolean, string".as_ptr(),
        flags: SV_RETURNS_AT_ONCE,
    },
    SvMethod {
        name: c"count".as_ptr(),
        help: std::ptr::null(),
        signature: std::ptr::null(),
        flags: SV_READS_ONLY,
    },
]);

unsafe extern "C" fn fake_make(
    api: *const SvApi,
    host: *const HostBox,
    _section: *const c_char,
    config: *const SvConfigEntry,
    count: usize,
    out: *mut SvNamespace,
    error: *mut c_char,
    size: usize,
) -> c_int {
    // SAFETY: the header's contract for a factory.
    unsafe {
        if count > 0 && CStr::from_ptr((*config).key) == c"refuse" {
            let why = c"refused on purpose";
            let n = why.to_bytes_with_nul().len().min(size);
            std::ptr::copy_nonoverlapping(why.as_ptr(), error, n);
            return 1;
        }
        let state = Box::into_raw(Box::new(Fake { api, host }));
        *out = SvNamespace {
            state: state.cast(),
            methods: FAKE_METHODS.0.as_ptr(),
            method_count: FAKE_METHODS.0.len(),
            call: Some(fake_call),
            destroy: Some(fake_destroy),
        };
        0
    }
}

struct Static<T>(T);
// SAFETY: the fake plugin's tables are immutable statics.
unsafe impl<T> Sync for Static<T> {}

static FAKE_FACTORIES: Static<[SvFactory; 1]> = Static([SvFactory {
    name: c"make_fake".as_ptr(),
    make: Some(fake_make),
}]);

static FAKE_PLUGIN: Static<SvPlugin> = Static(SvPlugin {
    abi_version: ABI_VERSION,
    name: c"fake 1.0".as_ptr(),
    factories: FAKE_FACTORIES.0.as_ptr(),
    factory_count: 1,
});

#[test]
fn a_c_namespace_reads_the_host_defers_on_a_ticket_and_is_destroyed_last() {
    let plugin = CPlugin {
        plugin: &raw const FAKE_PLUGIN.0,
    };
    assert_eq!(plugin.factory_names(), ["make_fake"]);
    let refused = plugin.make_namespace(
        "make_fake",
        "rpcinterface:fake",
        &[("refuse".into(), "1".into())],
        TestHost::default().handle(),
    );
    assert_eq!(refused.err().as_deref(), Some("refused on purpose"));

    let host = TestHost::with_processes(vec![process_info("web", ProcessState::Stopped, 0)]);
    let namespace = plugin
        .make_namespace("make_fake", "rpcinterface:fake", &[], host.handle())
        .expect("the factory builds");
    let methods = namespace.methods();
    assert_eq!(methods[0].signature.as_slice(), ["boolean", "string"]);
    assert!(!methods[0].may_block && methods[0].changes_state);
    assert!(methods[1].may_block && !methods[1].changes_state);

    let count = host.drive(&namespace, "count", vec![], &|_| Outcome::done(), false);
    assert_eq!(count, Ok(Value::int(1)));
    let started = host.drive(
        &namespace,
        "start",
        vec![Value::string("web")],
        &|_| Outcome::done(),
        false,
    );
    assert_eq!(started, Ok(Value::bool(true)));
    assert_eq!(host.state().commands.len(), 1);
    assert_eq!(DATA_FREED.load(Ordering::SeqCst), 1, "free_data ran once");

    // A deferred reply still pending keeps the state alive after the
    // namespace is dropped; destroy runs once both are gone.
    let Reply::Deferred(pending) =
        namespace.call("start".into(), vec![Value::string("web")].into())
    else {
        panic!("start defers");
    };
    drop(namespace);
    assert_eq!(DESTROYED.load(Ordering::SeqCst), 0);
    drop(pending);
    assert_eq!(DATA_FREED.load(Ordering::SeqCst), 2);
    assert_eq!(DESTROYED.load(Ordering::SeqCst), 1);
}
