//! Why a process could not be spawned, in the reference's spawnerr words.
//! Shared by command resolution ([`super::command`]) and the spawn itself
//! ([`super::spawn`]), so neither needs the other for its error type. It
//! only describes failures; it decides nothing.

use crate::pyrepr::{errno_name, py_repr};

/// Why a process could not be spawned. `Display` gives the reference's
/// spawnerr text, which users see in `status` and the main log.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SpawnError {
    /// `shlex` refused the command (`reason` is Python's message).
    #[error("can't parse command {}: {reason}", py_repr(command))]
    CantParse { command: String, reason: String },
    /// The command has no words.
    #[error("command is empty")]
    EmptyCommand,
    /// No such file, on the PATH or as given.
    #[error("can't find command {}", py_repr(.0))]
    NotFound(String),
    /// The command names a directory.
    #[error("command at {} is a directory", py_repr(.0))]
    IsDirectory(String),
    /// The file has no execute bit at all.
    #[error("command at {} is not executable", py_repr(.0))]
    NotExecutable(String),
    /// `access(X_OK)` refused it.
    #[error("no permission to run command {}", py_repr(.0))]
    NoPermission(String),
    /// A NUL byte cannot be passed to `execve` (the reference fails in the
    /// child instead; refusing before the fork is clearer).
    #[error("can't pass {what} to {}: it contains a NUL byte", py_repr(name))]
    NulByte { name: String, what: &'static str },
    /// EMFILE/ENFILE while making the pipes.
    #[error("too many open files to spawn {}", py_repr(name))]
    TooManyFiles { name: String },
    /// The spawn would leave the servers less than their reserve of
    /// descriptors (`super::fd_budget`); the reference has no reserve.
    #[error(
        "too many open files to spawn {} ({open} of limit {limit}, {kept} kept for the servers)",
        py_repr(name)
    )]
    FdReserve {
        name: String,
        open: usize,
        limit: usize,
        kept: usize,
    },
    /// Any other error making the pipes.
    #[error("unknown error making dispatchers for {}: {}", py_repr(name), errno_name(*errno))]
    Pipes { name: String, errno: i32 },
    /// EAGAIN from fork: the process table is full.
    #[error("Too many processes in process table to spawn {}", py_repr(name))]
    ProcessTable { name: String },
    /// Any other fork error.
    #[error("unknown error during fork for {}: {}", py_repr(name), errno_name(*errno))]
    Fork { name: String, errno: i32 },
}
