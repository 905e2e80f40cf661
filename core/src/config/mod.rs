//! supervisord.conf: reading (the INI dialect of Python's ConfigParser),
//! `%(name)s` expansion, `[include]`, typed validation and the diff of two
//! models. Depends on nothing else in this crate but the text forms of
//! `pyrepr`, and starts nothing: it reads files and the user database,
//! and returns data.
//!
//! Being at the bottom, it also holds the vocabulary the other modules
//! share, each defined once: [`Channel`], [`AutoRestart`], [`LogLevel`],
//! the event type names ([`event_types`]), the `LIBRARY:FACTORY` grammar
//! ([`plugin_spec`]) and Python's `shlex` lexer ([`shlex`]). `process`,
//! `logs`, `events` and `plugins` use (and re-export) these rather than
//! keep their own copies.
//!
//! Entry points: [`load_config`] for supervisord, [`load_ctl_config`] and
//! [`find_config_file`] for both command-line tools, [`diff()`] for reload.

// A ConfigError carries its whole location (136 bytes); it is made once per
// load on a cold path, and the public signatures others code against
// return it unboxed.
#![allow(clippy::result_large_err)]

pub mod ctl;
pub mod diff;
pub mod envfile;
pub mod error;
pub mod event_types;
pub mod expand;
pub mod ini;
pub mod known;
pub mod lifecycle;
pub mod load;
pub mod model;
pub mod plugin_spec;
pub mod shlex;
pub mod summary;
pub mod types;
pub mod unknown;

pub use ctl::{CtlConfig, find_config_file, load_ctl_config, search_paths};
pub use diff::{ConfigDiff, diff};
pub use error::{ConfigError, ConfigErrors, MessageLevel, ParseMessage};
pub use event_types::{EventType, EventTypeSet, UnknownEventType};
pub use load::{LoadOptions, load_config, load_config_with, program_from_options};
pub use model::*;
pub use plugin_spec::{
    BUILTIN_RPCINTERFACE, DEFAULT_RESULT_HANDLER, EXT_RPCINTERFACE, PluginSpec, SpecError,
};
pub use summary::summary;
pub use types::{AutoRestart, Channel, LogFile, LogLevel, Owner, UserSpec};
