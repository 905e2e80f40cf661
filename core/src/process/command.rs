//! Turning a configured `command` into what `execve` needs, before any
//! fork, as the reference's `get_execv_args` does: split it like Python's
//! `shlex.split`, find the program on the PATH, and check that it can be
//! run. Every failure is a [`SpawnError`] whose text is the reference's
//! spawnerr. Nothing here forks or touches process state.

use std::os::unix::fs::PermissionsExt;

use super::spawn::SpawnError;

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

/// Why `shlex.split` refused a command; the texts are Python's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SplitError {
    /// A quote was left open.
    NoClosingQuotation,
    /// A backslash ended the command.
    NoEscapedCharacter,
}

impl std::fmt::Display for SplitError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            SplitError::NoClosingQuotation => "No closing quotation",
            SplitError::NoEscapedCharacter => "No escaped character",
        })
    }
}

/// Split a command line as Python's `shlex.split(s)` does (POSIX mode, no
/// comments): whitespace separates words, single quotes are literal,
/// double quotes allow `\"` and `\\`, a backslash outside quotes escapes
/// any character. No variable, glob or tilde expansion.
pub fn split_command(command: &str) -> Result<Vec<String>, SplitError> {
    #[derive(PartialEq)]
    enum Mode {
        Between,
        Word,
        Single,
        Double,
    }
    let mut words = Vec::new();
    let mut word = String::new();
    let mut mode = Mode::Between;
    let mut chars = command.chars();
    while let Some(c) = chars.next() {
        match mode {
            Mode::Between | Mode::Word => match c {
                ' ' | '\t' | '\r' | '\n' => {
                    if mode == Mode::Word {
                        words.push(std::mem::take(&mut word));
                        mode = Mode::Between;
                    }
                }
                '\'' => mode = Mode::Single,
                '"' => mode = Mode::Double,
                '\\' => {
                    word.push(chars.next().ok_or(SplitError::NoEscapedCharacter)?);
                    mode = Mode::Word;
                }
                _ => {
                    word.push(c);
                    mode = Mode::Word;
                }
            },
            Mode::Single => match c {
                '\'' => mode = Mode::Word,
                _ => word.push(c),
            },
            Mode::Double => match c {
                '"' => mode = Mode::Word,
                '\\' => {
                    let next = chars.next().ok_or(SplitError::NoEscapedCharacter)?;
                    if next != '"' && next != '\\' {
                        word.push('\\');
                    }
                    word.push(next);
                }
                _ => word.push(c),
            },
        }
    }
    match mode {
        Mode::Single | Mode::Double => Err(SplitError::NoClosingQuotation),
        Mode::Word => {
            words.push(word);
            Ok(words)
        }
        Mode::Between => Ok(words),
    }
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
    let argv = split_command(command).map_err(|e| SpawnError::CantParse {
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

    fn split(s: &str) -> Vec<String> {
        split_command(s).unwrap()
    }

    #[test]
    fn splitting_follows_python_shlex() {
        assert_eq!(
            split(r#"envdump.sh a "b c" 'd e'"#),
            ["envdump.sh", "a", "b c", "d e"]
        );
        assert_eq!(split(r#"a"b c"d"#), ["ab cd"]);
        assert_eq!(split(r"a\ b \x"), ["a b", "x"]);
        assert_eq!(split(r#""\x \" \\""#), [r#"\x " \"#]);
        assert_eq!(split("'' x"), ["", "x"]);
        assert_eq!(split("a # b"), ["a", "#", "b"]);
        assert_eq!(split("  \t "), Vec::<String>::new());
        assert_eq!(split("'it''s'"), ["its"]);
    }

    #[test]
    fn bad_quoting_is_refused_with_pythons_words() {
        assert_eq!(split_command("a 'b"), Err(SplitError::NoClosingQuotation));
        assert_eq!(
            split_command("a \"b\\"),
            Err(SplitError::NoEscapedCharacter)
        );
        assert_eq!(
            split_command(r#"a\"b c""#),
            Err(SplitError::NoClosingQuotation)
        );
        assert_eq!(split_command("a \\"), Err(SplitError::NoEscapedCharacter));
    }

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
