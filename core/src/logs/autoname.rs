//! AUTO child log files: their names in `childlogdir`
//! (`<process>-<channel>---<identifier>-<8 random chars>.log`, created empty
//! with mode 0600 as Python's `mkstemp` does) and the removal at start-up of
//! the ones earlier runs left behind, unless `nocleanup`. The name rule is a
//! pure function ([`is_auto_log_name`]) so it is tested on its own; this
//! module touches no file outside `childlogdir`.

use std::fs::OpenOptions;
use std::io;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use crate::pyrepr::py_repr;

/// The characters of the random part, as Python's `tempfile` draws them.
const RANDOM_CHARS: &[u8; 37] = b"abcdefghijklmnopqrstuvwxyz0123456789_";

/// How many names to try before giving up, as Python's `TMP_MAX`.
const ATTEMPTS: u32 = 10_000;

/// The fixed start of an AUTO log's name.
pub fn auto_log_prefix(process_name: &str, channel: &str, identifier: &str) -> String {
    format!("{process_name}-{channel}---{identifier}-")
}

/// Create a new, empty AUTO log file for one channel of one process and
/// return its path. A new name is drawn at every call (every daemon start,
/// every added group), never reusing an existing file.
pub fn create_auto_log(
    childlogdir: &Path,
    process_name: &str,
    channel: &str,
    identifier: &str,
) -> io::Result<PathBuf> {
    let prefix = auto_log_prefix(process_name, channel, identifier);
    for _ in 0..ATTEMPTS {
        let path = childlogdir.join(format!("{prefix}{}.log", random_part()?));
        match OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
        {
            Ok(_) => return Ok(path),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => {
                return Err(io::Error::new(
                    e.kind(),
                    format!("unable to create AUTO log {}: {e}", path.display()),
                ));
            }
        }
    }
    Err(io::Error::new(
        io::ErrorKind::AlreadyExists,
        format!(
            "no free AUTO log name {prefix}XXXXXXXX.log in {}",
            childlogdir.display()
        ),
    ))
}

/// Eight characters from [`RANDOM_CHARS`], from the kernel's generator.
fn random_part() -> io::Result<String> {
    let mut bytes = [0u8; 8];
    let mut filled = 0;
    while filled < bytes.len() {
        // SAFETY: the pointer and length describe the unfilled tail of a
        // live local buffer.
        let n = unsafe {
            libc::getrandom(bytes[filled..].as_mut_ptr().cast(), bytes.len() - filled, 0)
        };
        if n < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        filled += n.unsigned_abs();
    }
    // 256 is not a multiple of 37: the bias is irrelevant for a name that
    // is only made unique by O_EXCL.
    Ok(bytes
        .iter()
        .map(|b| char::from(RANDOM_CHARS[usize::from(*b) % RANDOM_CHARS.len()]))
        .collect())
}

/// Whether `file_name` is an AUTO log (or a rotated one) of a daemon with
/// this `identifier`: the reference deletes the names its regex
/// `.+?---<identifier>-\S+\.log\.{0,1}\d{0,4}` matches from the start of
/// the name. That is: at least one character (not a new line) before
/// `---<identifier>-`, then one or more non-blank characters, then `.log`
/// (anything may follow).
///
/// One deliberate difference: the reference pastes the identifier into the
/// regex unescaped, so an identifier with `.` or `*` matches other names
/// too, and one with `(` crashes it; we compare it literally, so we never
/// delete more than the reference would.
pub fn is_auto_log_name(file_name: &str, identifier: &str) -> bool {
    let marker = format!("---{identifier}-");
    let mut search_from = 1;
    while let Some(found) = file_name.get(search_from..).and_then(|s| s.find(&marker)) {
        let at = search_from + found;
        if file_name[..at].contains('\n') {
            return false;
        }
        let tail = &file_name[at + marker.len()..];
        // `\S+\.log`: the blank-free run right after the marker must hold a
        // `.log` that is not at its very start.
        let run_end = tail.find(char::is_whitespace).unwrap_or(tail.len());
        if tail[..run_end]
            .match_indices(".log")
            .any(|(index, _)| index >= 1)
        {
            return true;
        }
        search_from = at + 1;
    }
    false
}

/// What the start-up cleanup did, with the warnings to log.
#[derive(Debug, Default)]
pub struct Cleanup {
    /// Files removed.
    pub removed: Vec<PathBuf>,
    /// Warnings for the main log, worded as the reference words them.
    pub warnings: Vec<String>,
}

/// Delete the AUTO logs of earlier runs of a daemon with this `identifier`
/// from `childlogdir` (skip this when `nocleanup` is set). Never fails: an
/// unreadable folder or a file that cannot be deleted becomes a warning.
pub fn clear_auto_logs(childlogdir: &Path, identifier: &str) -> Cleanup {
    let mut cleanup = Cleanup::default();
    let entries = match std::fs::read_dir(childlogdir) {
        Ok(entries) => entries,
        Err(_) => {
            cleanup.warnings.push("Could not clear childlog dir".into());
            return cleanup;
        }
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if !is_auto_log_name(name, identifier) {
            continue;
        }
        let path = entry.path();
        match std::fs::remove_file(&path) {
            Ok(()) => cleanup.removed.push(path),
            Err(_) => cleanup.warnings.push(format!(
                "Failed to clean up {}",
                py_repr(&path.to_string_lossy())
            )),
        }
    }
    cleanup
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auto_names_follow_the_reference_pattern() {
        let dir = tempfile::tempdir().unwrap();
        let path = create_auto_log(dir.path(), "sleeper", "stdout", "specsup").unwrap();
        let name = path.file_name().unwrap().to_str().unwrap();
        let random = name
            .strip_prefix("sleeper-stdout---specsup-")
            .and_then(|rest| rest.strip_suffix(".log"))
            .unwrap();
        assert_eq!(random.len(), 8);
        assert!(random.bytes().all(|b| RANDOM_CHARS.contains(&b)));
        use std::os::unix::fs::PermissionsExt;
        let meta = std::fs::metadata(&path).unwrap();
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
        assert_eq!(meta.len(), 0);
        let again = create_auto_log(dir.path(), "sleeper", "stdout", "specsup").unwrap();
        assert_ne!(path, again);
        assert!(is_auto_log_name(name, "specsup"));
    }

    #[test]
    fn the_cleanup_rule_matches_the_reference_regex() {
        // (name, identifier, deleted by the reference)
        let cases = [
            (
                "sleeper-stdout---supervisor-1y0vc67t.log",
                "supervisor",
                true,
            ),
            (
                "sleeper-stdout---supervisor-1y0vc67t.log.1",
                "supervisor",
                true,
            ),
            (
                "sleeper-stdout---supervisor-1y0vc67t.log.10",
                "supervisor",
                true,
            ),
            ("a---supervisor-x.logfile", "supervisor", true),
            ("x---supervisor-a-b.log", "supervisor", true),
            ("sleeper-stdout---other-1y0vc67t.log", "supervisor", false),
            ("---supervisor-1y0vc67t.log", "supervisor", false),
            ("x---supervisor-.log", "supervisor", false),
            ("x---supervisor-a b.log", "supervisor", false),
            ("x---supervisor-ab.txt", "supervisor", false),
            ("x----supervisor-ab.log", "supervisor", true),
            ("x---supervisor-ab.log", "super", false),
            ("my.log", "supervisor", false),
        ];
        for (name, identifier, deleted) in cases {
            assert_eq!(
                is_auto_log_name(name, identifier),
                deleted,
                "{name} with identifier {identifier}"
            );
        }
    }

    #[test]
    fn cleanup_removes_only_this_identifiers_auto_logs() {
        let dir = tempfile::tempdir().unwrap();
        let keep = ["app.log", "x-stdout---other-abcdefgh.log"];
        let remove = [
            "x-stdout---supervisor-abcdefgh.log",
            "x-stdout---supervisor-abcdefgh.log.1",
        ];
        for name in keep.iter().chain(&remove) {
            std::fs::write(dir.path().join(name), b"").unwrap();
        }
        let cleanup = clear_auto_logs(dir.path(), "supervisor");
        assert!(cleanup.warnings.is_empty());
        assert_eq!(cleanup.removed.len(), 2);
        for name in keep {
            assert!(dir.path().join(name).exists(), "{name} was removed");
        }
        for name in remove {
            assert!(!dir.path().join(name).exists(), "{name} was kept");
        }
        let missing = clear_auto_logs(&dir.path().join("nope"), "supervisor");
        assert_eq!(missing.warnings, ["Could not clear childlog dir"]);
    }
}
