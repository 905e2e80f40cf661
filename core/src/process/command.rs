//! Turning a configured `command` into what `execve` needs, before any
//! fork, as the reference's `get_execv_args` does: split it with
//! `shlex.split` ([`crate::config::shlex`]), find the program on the PATH,
//! and check that it can be run. Every failure is a [`SpawnError`] whose text is the reference's
//! spawnerr. Nothing here forks or touches process state.

use std::os::unix::fs::PermissionsExt;

use super::spawn_error::SpawnError;
use crate::config::shlex;

/// The PATH the reference falls back to when none is set.
const DEFAULT_PATH: [&str; 3] = ["/bin", "/usr/bin", "/usr/local/bin"];

/// A resolved command: the file to execute and the argument vector (whose
/// first element is the program as configured, not the resolved file).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecTarget {
    /// The file `execve` runs.
    pub filename: String,
    /// The argument vector, `argv[0]` as configured.
    pub argv: Vec<String>,
}

/// The directories searched for a bare program name: the program's own
/// `environment` PATH when it sets one, else supervisord's PATH when set
/// and not empty, else `/bin:/usr/bin:/usr/local/bin`.
pub fn search_path(program_path: Option<&str>, daemon_path: Option<&str>) -> Vec<String> {
    match (program_path, daemon_path) {
        (Some(path), _) => path.split(':').map(str::to_owned).collect(),
        (None, Some(path)) if !path.is_empty() => path.split(':').map(str::to_owned).collect(),
        _ => DEFAULT_PATH.iter().map(|d| (*d).to_owned()).collect(),
    }
}

/// Resolve `command` for a process whose `environment` is given: the
/// [`search_path`] of its own PATH (the last `PATH` entry wins) and
/// supervisord's. The one lookup of both the spawner and the builtin
/// namespace's pre-start check, so they can never disagree.
pub fn resolve_for(
    command: &str,
    environment: &[(String, String)],
) -> Result<ExecTarget, SpawnError> {
    let program_path = environment
        .iter()
        .rev()
        .find(|(k, _)| k == "PATH")
        .map(|(_, v)| v.as_str());
    let daemon_path = std::env::var("PATH").ok();
    resolve(command, &search_path(program_path, daemon_path.as_deref()))
}

/// Python's `os.path.join(dir, name)` for a name without a slash.
fn join(dir: &str, name: &str) -> String {
    if dir.is_empty() || dir.ends_with('/') {
        format!("{dir}{name}")
    } else {
        format!("{dir}/{name}")
    }
}

/// Resolve `command` as the reference does before forking. A program with
/// a `/` is used as given (relative to the daemon's directory for these
/// checks, as in the reference); otherwise the first PATH directory where
/// the name exists wins, executable or not.
pub fn resolve(command: &str, search: &[String]) -> Result<ExecTarget, SpawnError> {
    let argv = shlex::split(command).map_err(|e| SpawnError::CantParse {
        command: command.to_owned(),
        reason: e.to_string(),
    })?;
    let Some(program) = argv.first() else {
        return Err(SpawnError::EmptyCommand);
    };
    let found = if program.contains('/') {
        std::fs::metadata(program)
            .ok()
            .map(|meta| (program.clone(), meta))
    } else {
        search.iter().find_map(|dir| {
            let candidate = join(dir, program);
            std::fs::metadata(&candidate)
                .ok()
                .map(|meta| (candidate, meta))
        })
    };
    let Some((filename, meta)) = found else {
        return Err(SpawnError::NotFound(program.clone()));
    };
    if meta.is_dir() {
        return Err(SpawnError::IsDirectory(filename));
    }
    if meta.permissions().mode() & 0o111 == 0 {
        return Err(SpawnError::NotExecutable(filename));
    }
    if nix::unistd::access(filename.as_str(), nix::unistd::AccessFlags::X_OK).is_err() {
        return Err(SpawnError::NoPermission(filename));
    }
    Ok(ExecTarget { filename, argv })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_program_path_wins_then_the_daemons_then_the_default() {
        assert_eq!(search_path(Some("/x:/y"), Some("/z")), ["/x", "/y"]);
        assert_eq!(search_path(None, Some("/z")), ["/z"]);
        assert_eq!(search_path(None, Some("")), DEFAULT_PATH);
        assert_eq!(search_path(None, None), DEFAULT_PATH);
    }

    #[test]
    fn resolution_errors_carry_the_reference_texts() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_str().unwrap().to_owned();
        let plain = format!("{root}/plain");
        std::fs::write(&plain, "data").unwrap();
        let path = vec![root.clone()];

        let err = |cmd: &str| resolve(cmd, &path).unwrap_err().to_string();
        assert_eq!(err("nosuchprog -x"), "can't find command 'nosuchprog'");
        assert_eq!(err("/no/such/bin"), "can't find command '/no/such/bin'");
        assert_eq!(err(&root), format!("command at '{root}' is a directory"));
        assert_eq!(
            err(&plain),
            format!("command at '{plain}' is not executable")
        );
        assert_eq!(
            err("plain"),
            format!("command at '{plain}' is not executable")
        );
        assert_eq!(err(""), "command is empty");
        assert_eq!(
            err("a 'b"),
            "can't parse command \"a 'b\": No closing quotation"
        );
    }

    #[test]
    fn a_bare_name_is_found_on_the_path_and_argv0_stays_as_configured() {
        let target = resolve(
            "sh -c 'exit 3'",
            &search_path(None, Some("/nonexistent:/bin")),
        )
        .unwrap();
        assert_eq!(target.filename, "/bin/sh");
        assert_eq!(target.argv, ["sh", "-c", "exit 3"]);
    }
}
