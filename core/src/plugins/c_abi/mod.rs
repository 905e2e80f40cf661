//! Plugins written in C (`sdk/include/supervisor_plugin.h`): loading a
//! library that exports `supervisor_plugin_c` (with libloading), checking
//! its interface version, running its factories, and serving the namespace
//! it builds as an ordinary SDK [`NamespaceBox`], so that the dispatcher,
//! call placement, deferred replies, roles and timeouts treat it exactly
//! as a Rust plugin's.
//!
//! The loader in `plugins/mod.rs` asks here only after abi_stable found no
//! root module in the library: which kind a plugin is depends on the
//! symbol it exports, never on its file name. Libraries are never
//! unloaded. The table C calls is in `api.rs`.

use std::ffi::{CString, c_char, c_int, c_void};
use std::path::Path;
use std::sync::Arc;

use supervisor_sdk::fault::{FAILED, Fault};
use supervisor_sdk::host::{HostBox, Outcome, Ticket};
use supervisor_sdk::namespace::{
    Deferred, MethodInfo, NamespaceBox, Reply, RpcNamespace, namespace_box,
};
use supervisor_sdk::value::Value;

use super::PluginErrorKind;

pub mod api;
mod host;
#[cfg(test)]
mod tests;
pub mod value;

use api::{ABI_VERSION, API, COutcome, CReply, FinishFn, FreeFn, ResumeFn, SvApi};
use value::CValue;

/// The symbol a C plugin exports: `const sv_plugin *supervisor_plugin_c(void)`.
/// Unversioned on purpose: the version is read from what it returns, so a
/// plugin of another version is recognised and refused by name.
pub const ENTRY_SYMBOL: &[u8] = b"supervisor_plugin_c\0";

/// `sv_method`.
#[repr(C)]
pub struct SvMethod {
    name: *const c_char,
    help: *const c_char,
    signature: *const c_char,
    flags: u32,
}

const SV_READS_ONLY: u32 = 1;
const SV_RETURNS_AT_ONCE: u32 = 2;

/// `sv_config_entry`.
#[repr(C)]
pub struct SvConfigEntry {
    key: *const c_char,
    value: *const c_char,
}

/// `sv_namespace`, as a factory fills it in.
#[repr(C)]
pub struct SvNamespace {
    state: *mut c_void,
    methods: *const SvMethod,
    method_count: usize,
    call: Option<
        unsafe extern "C" fn(
            *mut c_void,
            *const c_char,
            *const *const CValue,
            usize,
        ) -> *mut CReply,
    >,
    destroy: Option<unsafe extern "C" fn(*mut c_void)>,
}

type MakeFn = unsafe extern "C" fn(
    *const SvApi,
    *const HostBox,
    *const c_char,
    *const SvConfigEntry,
    usize,
    *mut SvNamespace,
    *mut c_char,
    usize,
) -> c_int;

/// `sv_factory`.
#[repr(C)]
pub struct SvFactory {
    name: *const c_char,
    make: Option<MakeFn>,
}

/// `sv_plugin`.
#[repr(C)]
pub struct SvPlugin {
    abi_version: u32,
    name: *const c_char,
    factories: *const SvFactory,
    factory_count: usize,
}

/// A loaded C plugin library.
#[derive(Debug, Clone, Copy)]
pub struct CPlugin {
    plugin: *const SvPlugin,
}

// SAFETY: `plugin` points to the library's static, read-only data; the
// library is never unloaded.
unsafe impl Send for CPlugin {}
// SAFETY: as above; nothing here is ever written.
unsafe impl Sync for CPlugin {}

/// Open `path` and return its C plugin, `None` when the library does not
/// export [`ENTRY_SYMBOL`], or the error when it exports one of another
/// interface version.
pub fn load(path: &Path) -> Result<Option<CPlugin>, PluginErrorKind> {
    // SAFETY: loading a library runs its initialisers; naming a library in
    // a config section is trusting it, as with every plugin.
    let library =
        unsafe { libloading::Library::new(path) }.map_err(|error| PluginErrorKind::Open {
            path: path.to_path_buf(),
            why: super::one_line(&error.to_string()),
        })?;
    // SAFETY: the header declares the symbol with this signature.
    let entry =
        match unsafe { library.get::<unsafe extern "C" fn() -> *const SvPlugin>(ENTRY_SYMBOL) } {
            Ok(entry) => *entry,
            Err(_) => return Ok(None),
        };
    // Never unloaded: the daemon keeps pointers into it for good.
    std::mem::forget(library);
    let incompatible = |why: String| PluginErrorKind::Incompatible {
        path: path.to_path_buf(),
        why,
    };
    // SAFETY: the plugin's entry point, as the header declares it.
    let plugin = unsafe { entry() };
    if plugin.is_null() {
        return Err(incompatible("its supervisor_plugin_c returned NULL".into()));
    }
    // SAFETY: not NULL; `abi_version` is the first member in every version
    // of the header, so it can be read before the rest is trusted.
    let version = unsafe { (*plugin).abi_version };
    if version != ABI_VERSION {
        return Err(incompatible(format!(
            "it uses the C plugin interface version {version}, this daemon speaks version {ABI_VERSION}"
        )));
    }
    Ok(Some(CPlugin { plugin }))
}

impl CPlugin {
    fn factories(&self) -> &[SvFactory] {
        // SAFETY: a checked version-1 plugin: `factories` holds
        // `factory_count` entries of static data (the header).
        unsafe {
            let plugin = &*self.plugin;
            if plugin.factories.is_null() {
                return &[];
            }
            std::slice::from_raw_parts(plugin.factories, plugin.factory_count)
        }
    }

    /// The names of its namespace factories.
    pub fn factory_names(&self) -> Vec<String> {
        self.factories()
            .iter()
            // SAFETY: static C strings or NULL.
            .map(|factory| unsafe { value::text(factory.name) }.into_owned())
            .filter(|name| !name.is_empty())
            .collect()
    }

    /// The plugin's own name, for messages.
    pub fn name(&self) -> String {
        // SAFETY: a static C string or NULL.
        unsafe { value::text((*self.plugin).name) }.into_owned()
    }

    /// Run the factory `factory` for `section` with the section's other
    /// keys, and adapt what it builds. The error is the factory's line.
    pub fn make_namespace(
        &self,
        factory: &str,
        section: &str,
        config: &[(String, String)],
        host: HostBox,
    ) -> Result<NamespaceBox, String> {
        let Some(make) = self
            .factories()
            .iter()
            // SAFETY: static C strings or NULL.
            .find(|f| unsafe { value::text(f.name) } == factory)
            .and_then(|f| f.make)
        else {
            return Err(format!("{} has no factory {factory}", self.name()));
        };
        let owned: Vec<(CString, CString)> = config
            .iter()
            .map(|(key, value)| (c_string(key), c_string(value)))
            .collect();
        let entries: Vec<SvConfigEntry> = owned
            .iter()
            .map(|(key, value)| SvConfigEntry {
                key: key.as_ptr(),
                value: value.as_ptr(),
            })
            .collect();
        let section_c = c_string(section);
        // Boxed before the factory runs: the plugin keeps this address.
        let host = Box::new(host);
        let mut out = SvNamespace {
            state: std::ptr::null_mut(),
            methods: std::ptr::null(),
            method_count: 0,
            call: None,
            destroy: None,
        };
        let mut error = [0 as c_char; 512];
        // SAFETY: every pointer is valid for the call (the header's
        // contract); `error` has the size passed with it.
        let status = unsafe {
            make(
                &raw const API,
                &raw const *host,
                section_c.as_ptr(),
                entries.as_ptr(),
                entries.len(),
                &raw mut out,
                error.as_mut_ptr(),
                error.len() - 1,
            )
        };
        if status != 0 {
            // SAFETY: NUL-terminated: its last byte is never handed out.
            let why = unsafe { value::text(error.as_ptr()) }.into_owned();
            return Err(if why.is_empty() {
                format!("it returned {status} without saying why")
            } else {
                why
            });
        }
        let Some(call) = out.call else {
            return Err("it filled in no call function".into());
        };
        // SAFETY: `out.methods` holds `method_count` entries for now (the
        // header: copied when the factory returns).
        let methods = unsafe { method_infos(&out) }?;
        let owner = Arc::new(Owner {
            state: out.state,
            destroy: out.destroy,
            _host: host,
        });
        let name = section.strip_prefix("rpcinterface:").unwrap_or(section);
        Ok(namespace_box(CNamespace {
            owner,
            call,
            methods,
            namespace: name.to_string(),
        }))
    }
}

/// Text for C, cut at an inner NUL (which no config value or method name
/// can usefully hold).
fn c_string(text: &str) -> CString {
    let end = text.find('\0').unwrap_or(text.len());
    CString::new(&text[..end]).unwrap_or_default()
}

/// The method table a factory filled in, copied.
///
/// # Safety
/// `out.methods` is NULL or holds `out.method_count` entries whose strings
/// are C strings or NULL.
unsafe fn method_infos(out: &SvNamespace) -> Result<Vec<MethodInfo>, String> {
    if out.methods.is_null() {
        return Ok(Vec::new());
    }
    // SAFETY: the caller's contract.
    let table = unsafe { std::slice::from_raw_parts(out.methods, out.method_count) };
    table
        .iter()
        .enumerate()
        .map(|(index, method)| {
            // SAFETY: the caller's contract.
            let (name, help, signature) = unsafe {
                (
                    value::text(method.name),
                    value::text(method.help),
                    value::text(method.signature),
                )
            };
            if name.is_empty() {
                return Err(format!("method {index} of its table has no name"));
            }
            let types: Vec<&str> = signature
                .split(',')
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .collect();
            let mut info = MethodInfo::new(&name, &help, &types);
            if method.flags & SV_READS_ONLY != 0 {
                info = info.reads_only();
            }
            if method.flags & SV_RETURNS_AT_ONCE != 0 {
                info = info.returns_at_once();
            }
            Ok(info)
        })
        .collect()
}

/// The plugin's state and the host handle it was given: destroyed when
/// the namespace and every deferred reply it made are gone.
struct Owner {
    state: *mut c_void,
    destroy: Option<unsafe extern "C" fn(*mut c_void)>,
    // Kept alive (and at its address) for as long as the plugin may call it.
    _host: Box<HostBox>,
}

// SAFETY: the header makes `call` thread-safe and `destroy` run once, after
// everything else: the plugin's state may be shared and sent.
unsafe impl Send for Owner {}
// SAFETY: as above.
unsafe impl Sync for Owner {}

impl Drop for Owner {
    fn drop(&mut self) {
        if let Some(destroy) = self.destroy {
            // SAFETY: the last user of the state is gone (this is the last
            // reference), as the header promises the plugin.
            unsafe { destroy(self.state) };
        }
    }
}

/// A C namespace as the SDK's [`RpcNamespace`].
struct CNamespace {
    owner: Arc<Owner>,
    call: unsafe extern "C" fn(
        *mut c_void,
        *const c_char,
        *const *const CValue,
        usize,
    ) -> *mut CReply,
    methods: Vec<MethodInfo>,
    namespace: String,
}

impl RpcNamespace for CNamespace {
    fn methods(&self) -> Vec<MethodInfo> {
        self.methods.clone()
    }

    fn call(&self, method: &str, params: &[Value]) -> Reply {
        let values: Vec<CValue> = params.iter().map(CValue::from_value).collect();
        let pointers: Vec<*const CValue> = values.iter().map(std::ptr::from_ref).collect();
        let name = c_string(method);
        // SAFETY: the plugin's call function with its own state; the
        // parameters are lent for the call (the header).
        let answer = unsafe {
            (self.call)(
                self.owner.state,
                name.as_ptr(),
                pointers.as_ptr(),
                pointers.len(),
            )
        };
        // SAFETY: NULL or a reply of ours the plugin gives back.
        unsafe { take_reply(answer, &self.owner) }.unwrap_or_else(|| {
            Reply::Fault(Fault::with(
                FAILED,
                format!("{}.{method} returned no reply", self.namespace),
            ))
        })
    }
}

/// The SDK reply for a reply the plugin returned, `None` for NULL.
///
/// # Safety
/// `answer` is NULL or came from `api`'s `reply_*` and was not returned
/// before.
unsafe fn take_reply(answer: *mut CReply, owner: &Arc<Owner>) -> Option<Reply> {
    if answer.is_null() {
        return None;
    }
    // SAFETY: the caller's contract.
    let answer = *unsafe { Box::from_raw(answer) };
    Some(match answer {
        CReply::Value(value) => Reply::Value(value.into_value()),
        CReply::Fault(fault) => Reply::Fault(fault),
        CReply::Deferred(deferred) => {
            let continuation = Arc::new(Continuation {
                resume: deferred.resume,
                finish: deferred.finish,
                data: deferred.data,
                free_data: deferred.free_data,
                owner: Arc::clone(owner),
            });
            let on_finish = Arc::clone(&continuation);
            Reply::Deferred(Deferred::new(
                deferred.tickets,
                move |ticket, outcome| continuation.resume(ticket, &outcome),
                move || on_finish.finish(),
            ))
        }
    })
}

/// A deferred reply's C continuation and the data it was given.
struct Continuation {
    resume: Option<ResumeFn>,
    finish: Option<FinishFn>,
    data: *mut c_void,
    free_data: Option<FreeFn>,
    owner: Arc<Owner>,
}

// SAFETY: the SDK runs one continuation step at a time (its methods take
// `&mut self`), and the header lets it run on any thread.
unsafe impl Send for Continuation {}
// SAFETY: as above: never two steps at once.
unsafe impl Sync for Continuation {}

impl Continuation {
    fn resume(&self, ticket: Ticket, outcome: &Outcome) -> Option<Reply> {
        let Some(resume) = self.resume else {
            return Some(no_function("resume"));
        };
        let lent = COutcome::new(outcome);
        // SAFETY: the plugin's function with its own data; the outcome is
        // lent for the call.
        let answer = unsafe { resume(self.data, ticket.0, &raw const lent) };
        // SAFETY: NULL or a reply of ours the plugin gives back.
        unsafe { take_reply(answer, &self.owner) }
    }

    fn finish(&self) -> Reply {
        let Some(finish) = self.finish else {
            return no_function("finish");
        };
        // SAFETY: the plugin's function with its own data.
        let answer = unsafe { finish(self.data) };
        // SAFETY: NULL or a reply of ours the plugin gives back.
        unsafe { take_reply(answer, &self.owner) }
            .unwrap_or_else(|| no_function("an answer from finish"))
    }
}

fn no_function(what: &str) -> Reply {
    Reply::Fault(Fault::with(
        FAILED,
        format!("the plugin's deferred reply has no {what}"),
    ))
}

impl Drop for Continuation {
    fn drop(&mut self) {
        if let Some(free_data) = self.free_data {
            // SAFETY: called once, when the reply is over (the header).
            unsafe { free_data(self.data) };
        }
    }
}
