//! The one log file writer, for the main log and for every child log, as
//! the reference has one `RotatingFileHandler` for both: append mode,
//! rotation by size into `name.1 .. name.N`, reopening for SIGUSR2 and
//! external rotation, and deletion for `clearLog`/`clearProcessLogs`.
//!
//! Writes go straight to the file descriptor (no user-space buffer, so
//! nothing is pending when the process dies and `tail -f` sees every byte at
//! once), one `write` per chunk, and the size is tracked in memory: there is
//! no per-byte work and no extra syscall per write. The writer does blocking
//! file I/O: it is driven from one task per process (or a blocking thread),
//! never from the supervisor task, and never through `tokio::fs`.

use std::fs::{File, OpenOptions};
use std::io::{self, Seek, SeekFrom, Write};
use std::os::fd::BorrowedFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use nix::fcntl::{FcntlArg, OFlag, fcntl};

use super::stage::Through;

/// When a log is rotated: the reference's `*_logfile_maxbytes` and
/// `*_logfile_backups`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rotation {
    /// Rotate once the file holds at least this many bytes after a write;
    /// 0 never rotates.
    pub max_bytes: u64,
    /// Rotated copies kept as `name.1` (newest) .. `name.N` (oldest); 0
    /// keeps none: the file is truncated in place.
    pub backups: u32,
}

impl Rotation {
    /// From `*_logfile_maxbytes` and `*_logfile_backups` as the config layer
    /// holds them: a negative backup count keeps no backups, as in the
    /// reference (its shifting loop is empty then).
    pub fn from_config(max_bytes: u64, backups: i64) -> Rotation {
        Rotation {
            max_bytes,
            backups: u32::try_from(backups.max(0)).unwrap_or(u32::MAX),
        }
    }

    /// A log that grows without limit.
    pub const NEVER: Rotation = Rotation {
        max_bytes: 0,
        backups: 0,
    };
}

/// A log file opened for appending, rotated by size.
#[derive(Debug)]
pub struct RotatingFile {
    path: Arc<Path>,
    file: File,
    rotation: Rotation,
    /// Bytes in the current file, as far as we know; `None` when the target
    /// is not a regular file (a tty, a FIFO, /dev/stdout on a pipe,
    /// /dev/null): such a target never rotates, where the reference fails
    /// with "Illegal seek".
    size: Option<u64>,
    /// Whether `file` has O_APPEND: on for writes, off while splicing
    /// (splice(2) refuses append-mode targets).
    append: bool,
    /// Whether [`RotatingFile::splice_from`] may move bytes into this file:
    /// a regular file no one else was seen writing to.
    splice_ok: bool,
}

/// What one [`RotatingFile::splice_from`] did.
#[derive(Debug)]
pub enum Spliced {
    /// This many bytes moved from the pipe into the log (0: the pipe's
    /// writers are gone and it is empty), with the error of a rotation that
    /// followed and failed (the bytes are in the log regardless).
    Moved(usize, Result<(), LogFileError>),
    /// The pipe is empty (non-blocking splice only).
    WouldBlock,
    /// Nothing moved: copy this chunk instead (read it, then
    /// [`RotatingFile::write_all`]). The target is not a regular file,
    /// another writer was seen appending to it, or the kernel refused;
    /// a write error (disk full) then shows up on the copy path.
    Copy,
}

/// What went wrong, and on which file: I/O errors carry what was attempted.
#[derive(Debug, thiserror::Error)]
pub enum LogFileError {
    /// The log file could not be opened (or created).
    #[error("unable to open log file {path}: {source}")]
    Open {
        /// The log file.
        path: PathBuf,
        /// What the system said.
        source: io::Error,
    },
    /// A write to the log failed (disk full, a FIFO whose reader left...).
    #[error("unable to write to log file {path}: {source}")]
    Write {
        /// The log file.
        path: PathBuf,
        /// What the system said.
        source: io::Error,
    },
    /// A rotation step (rename of a backup) failed; the data was written and
    /// the writer keeps appending to the current file.
    #[error("unable to rotate log file {path}: {source}")]
    Rotate {
        /// The log file.
        path: PathBuf,
        /// What the system said.
        source: io::Error,
    },
    /// Deleting the log for a clear failed.
    #[error("unable to remove log file {path}: {source}")]
    Remove {
        /// The log file.
        path: PathBuf,
        /// What the system said.
        source: io::Error,
    },
}

impl RotatingFile {
    /// Open (creating it with mode 0666 & ~umask) `path` for appending.
    ///
    /// Opening a FIFO blocks until it has a reader, as in the reference: do
    /// it off the supervisor task.
    pub fn open(path: impl AsRef<Path>, rotation: Rotation) -> Result<Self, LogFileError> {
        Self::open_shared(Arc::from(path.as_ref()), rotation)
    }

    /// [`RotatingFile::open`] keeping the caller's copy of the path: a
    /// child's log shares its spec's (issue 22's memory per program).
    pub fn open_shared(path: Arc<Path>, rotation: Rotation) -> Result<Self, LogFileError> {
        let (file, size) = open_append(&path)?;
        Ok(RotatingFile {
            path,
            file,
            rotation,
            splice_ok: size.is_some(),
            size,
            append: true,
        })
    }

    /// The path this writer was opened with (rotation and reopen keep it).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The rotation policy.
    pub fn rotation(&self) -> Rotation {
        self.rotation
    }

    /// Whether the target is a regular file (not a tty, FIFO, /dev/stdout
    /// on a pipe or /dev/null): only a regular file is rotated or deleted.
    pub fn is_regular_file(&self) -> bool {
        self.size.is_some()
    }

    /// Whether this log rotates: a regular file with `max_bytes > 0`.
    pub fn rotates(&self) -> bool {
        self.size.is_some() && self.rotation.max_bytes > 0
    }

    /// Append `data` in full, then rotate if the file reached `max_bytes`.
    ///
    /// The check comes after the write, as in the reference, so one large
    /// write may leave a rotated file larger than `max_bytes`; no chunk is
    /// ever split across files, lost or written twice. If the rotation
    /// fails, the data is already written and the error says so
    /// ([`LogFileError::Rotate`]); later writes keep going to the log.
    pub fn write_all(&mut self, data: &[u8]) -> Result<(), LogFileError> {
        if data.is_empty() {
            return Ok(());
        }
        if !self.append {
            self.set_append(true)
                .map_err(|source| LogFileError::Write {
                    path: self.path.to_path_buf(),
                    source,
                })?;
        }
        self.file
            .write_all(data)
            .map_err(|source| LogFileError::Write {
                path: self.path.to_path_buf(),
                source,
            })?;
        if let Some(size) = &mut self.size {
            *size += data.len() as u64;
            if self.rotation.max_bytes > 0 && *size >= self.rotation.max_bytes {
                return self.rotate_if_full();
            }
        }
        Ok(())
    }

    /// Close and reopen the file at its path, in append mode: after
    /// SIGUSR2, or after logrotate renamed it away (the new file is created).
    pub fn reopen(&mut self) -> Result<(), LogFileError> {
        let (file, size) = open_append(&self.path)?;
        self.file = file;
        self.size = size;
        self.append = true;
        self.splice_ok = size.is_some();
        Ok(())
    }

    /// Move up to `max_len` bytes from `pipe` into the log with splice(2),
    /// without copying them through user space (by way of a private pipe,
    /// see `stage`, so the child's pipe stays free meanwhile), then rotate if
    /// the file reached `max_bytes`. A splice never crosses the rotation
    /// boundary, so rotated files hold exactly `max_bytes` (the copy path
    /// may overshoot by part of a chunk, as the reference does). With
    /// `nonblocking`, an empty pipe gives [`Spliced::WouldBlock`] instead of
    /// a wait.
    ///
    /// Splice needs a descriptor without O_APPEND, so the write offset is
    /// the end of file as `lseek` finds it just before each splice: external
    /// truncation (logrotate's copytruncate) is followed as in append mode.
    /// If the end moved beyond what this writer put there, someone else
    /// appends to the file too; splicing could then overwrite their bytes,
    /// so this file goes back to append-mode writes for good (until the
    /// next reopen).
    pub fn splice_from(
        &mut self,
        pipe: BorrowedFd<'_>,
        max_len: usize,
        nonblocking: bool,
    ) -> Spliced {
        let Some(size) = self.size else {
            return Spliced::Copy;
        };
        if !self.splice_ok || max_len == 0 {
            return Spliced::Copy;
        }
        if self.append && self.set_append(false).is_err() {
            self.splice_ok = false;
            return Spliced::Copy;
        }
        let end = match (&self.file).seek(SeekFrom::End(0)) {
            Ok(end) => end,
            Err(_) => return Spliced::Copy,
        };
        if end > size {
            self.splice_ok = false;
            self.size = Some(end);
            return Spliced::Copy;
        }
        let limit = match self.rotation.max_bytes.checked_sub(end) {
            Some(room) if room > 0 => max_len.min(usize::try_from(room).unwrap_or(usize::MAX)),
            _ => max_len,
        };
        // The real end, should nothing move (an external truncation).
        self.size = Some(end);
        let moved = match super::stage::splice_through(pipe, &self.file, end, limit, nonblocking) {
            Ok(Through::Moved(moved)) => moved,
            Ok(Through::Stuck {
                written,
                rest,
                error,
            }) => {
                // Out of the pipe but not in the file: the copy path writes
                // the rest after what did land (and reports the error if it
                // persists, as a disk full does).
                if error.raw_os_error() == Some(libc::EINVAL) {
                    self.splice_ok = false;
                }
                self.size = Some(end + written as u64);
                if rest.is_empty() {
                    // The stage could not give them back either.
                    let path = self.path.to_path_buf();
                    return Spliced::Moved(
                        written,
                        Err(LogFileError::Write {
                            path,
                            source: error,
                        }),
                    );
                }
                let result = self.write_all(&rest);
                return Spliced::Moved(written + rest.len(), result);
            }
            Err(error) if error.kind() == io::ErrorKind::WouldBlock => {
                return Spliced::WouldBlock;
            }
            // Nothing moved. EINVAL: this file or pipe cannot splice;
            // anything else (a disk full on a thread's first, direct
            // splice) the copy path's write meets again and reports.
            Err(error) => {
                if error.raw_os_error() == Some(libc::EINVAL) {
                    self.splice_ok = false;
                }
                return Spliced::Copy;
            }
        };
        let size = end + moved as u64;
        self.size = Some(size);
        let rotated = if self.rotation.max_bytes > 0 && size >= self.rotation.max_bytes {
            self.rotate()
        } else {
            Ok(())
        };
        Spliced::Moved(moved, rotated)
    }

    /// Turn O_APPEND on or off on the descriptor.
    fn set_append(&mut self, on: bool) -> io::Result<()> {
        let flags = OFlag::from_bits_retain(fcntl(&self.file, FcntlArg::F_GETFL)?);
        let flags = if on {
            flags | OFlag::O_APPEND
        } else {
            flags - OFlag::O_APPEND
        };
        fcntl(&self.file, FcntlArg::F_SETFL(flags))?;
        self.append = on;
        Ok(())
    }

    /// Delete the log and start a new empty one (`clearLog`,
    /// `clearProcessLogs`). Rotated backups are kept, as in the reference.
    /// A log that is already gone is not an error. A target that is not a
    /// regular file is only reopened: the reference would delete
    /// /dev/stdout itself.
    pub fn clear(&mut self) -> Result<(), LogFileError> {
        if self.size.is_some() {
            match std::fs::remove_file(&self.path) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(source) => {
                    return Err(LogFileError::Remove {
                        path: self.path.to_path_buf(),
                        source,
                    });
                }
            }
        }
        self.reopen()
    }

    /// The size we tracked crossed `max_bytes`: make sure with the real
    /// end of file (someone may have truncated it, as logrotate's
    /// copytruncate does), then rotate.
    fn rotate_if_full(&mut self) -> Result<(), LogFileError> {
        let real = self
            .file
            .seek(SeekFrom::End(0))
            .map_err(|source| LogFileError::Rotate {
                path: self.path.to_path_buf(),
                source,
            })?;
        self.size = Some(real);
        if real < self.rotation.max_bytes {
            return Ok(());
        }
        self.rotate()
    }

    /// The reference's `doRollover`: shift `name.i` to `name.(i+1)` from the
    /// oldest down, `name` to `name.1`, and start an empty `name`. With no
    /// backups the file is truncated in place. A missing file in the chain
    /// is skipped (the reference ignores ENOENT the same way).
    ///
    /// Only the oldest backup is deleted; every other rename lands on a name
    /// the previous step just vacated, so no rename replaces a file: ext4
    /// flushes a file to disk when a rename replaces another
    /// (auto_da_alloc), which made each rotation wait for the disk. The
    /// reference's stat-then-remove before each rename is skipped for the
    /// same reason. With 10 backups a rotation is 13 syscalls (the reference
    /// makes 41): unlink and open of the oldest, ten renames, one open.
    fn rotate(&mut self) -> Result<(), LogFileError> {
        let mut failure = None;
        // Whether `name` was moved away, so that a fresh file can be made
        // with O_EXCL and its size (0) known without asking.
        let mut moved_away = false;
        if self.rotation.backups > 0 {
            if let Err(e) = retire(&self.backup(self.rotation.backups)) {
                failure.get_or_insert(e);
            }
            for i in (1..self.rotation.backups).rev() {
                if let Err(e) = rename_if_present(&self.backup(i), &self.backup(i + 1)) {
                    failure.get_or_insert(e);
                }
            }
            match std::fs::rename(&self.path, self.backup(1)) {
                Ok(()) => moved_away = true,
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => {
                    failure.get_or_insert(e);
                }
            }
        }
        let (file, size) = self.open_after_rotation(moved_away)?;
        // The old descriptor is closed here; its file lives on as `name.1`,
        // so closing it frees nothing.
        self.file = file;
        self.size = Some(size);
        match failure {
            None => Ok(()),
            Some(source) => Err(LogFileError::Rotate {
                path: self.path.to_path_buf(),
                source,
            }),
        }
    }

    /// The file rotation starts, with its size. It keeps the descriptor's
    /// mode: append for the copy path, no O_APPEND while splicing (which
    /// saves turning the flag off again). The reference reopens with "wb";
    /// we never open an existing file with O_TRUNC, so that data another
    /// writer put there, or a file moving it away failed to move, is not
    /// lost; only with no backups is the log cut in place, as the
    /// reference does.
    ///
    /// When `name` was just moved away the new file is made with O_EXCL:
    /// it is empty for sure, which spares an fstat per rotation. If someone
    /// made a file there in between, it is opened as it is and measured.
    fn open_after_rotation(&self, moved_away: bool) -> Result<(File, u64), LogFileError> {
        let open_error = |source| LogFileError::Open {
            path: self.path.to_path_buf(),
            source,
        };
        let mut options = OpenOptions::new();
        options.write(true).append(self.append).mode(0o666);
        if moved_away {
            match options.clone().create_new(true).open(&self.path) {
                Ok(file) => return Ok((file, 0)),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(open_error(e)),
            }
        }
        let file = options.create(true).open(&self.path).map_err(open_error)?;
        if self.rotation.backups == 0 {
            file.set_len(0).map_err(|source| LogFileError::Rotate {
                path: self.path.to_path_buf(),
                source,
            })?;
        }
        let size = file
            .metadata()
            .map(|m| m.len())
            .map_err(|source| LogFileError::Rotate {
                path: self.path.to_path_buf(),
                source,
            })?;
        Ok((file, size))
    }

    /// `name.N`.
    fn backup(&self, n: u32) -> PathBuf {
        backup_path(&self.path, n)
    }
}

/// The path of backup number `n` of `path` (`name.1` is the newest).
pub fn backup_path(path: &Path, n: u32) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(format!(".{n}"));
    PathBuf::from(name)
}

/// Move `from` to `to`; a missing `from` (a gap in the chain, or a file
/// someone removed) is fine, as in the reference.
fn rename_if_present(from: &Path, to: &Path) -> io::Result<()> {
    match std::fs::rename(from, to) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        result => result,
    }
}

/// Delete the oldest backup, leaving the expensive part to the reaper
/// thread: dropping the last reference to a file frees its page cache
/// (about a quarter of a rotation's CPU for a 1 MB log), and that need not
/// hold up the pipe. The name is gone when this returns; a reader that had
/// the file open keeps reading it intact, as after a plain unlink.
fn retire(path: &Path) -> io::Result<()> {
    // O_NONBLOCK: something that is not a log (a FIFO) must not hang the
    // output task; O_NOFOLLOW: a symlink is only unlinked.
    let held = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOFOLLOW)
        .open(path);
    match std::fs::remove_file(path) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    }
    if let Ok(file) = held {
        reaper::close_later(file);
    }
    Ok(())
}

/// One thread per process that closes the descriptors of deleted backups,
/// started at the first rotation. If it cannot start, or the process forked
/// since (the thread did not come along), files are closed where they are,
/// which is only slower.
mod reaper {
    use std::fs::File;
    use std::sync::OnceLock;
    use std::sync::mpsc::{Sender, channel};

    /// The sender, and the process whose thread receives.
    static REAPER: OnceLock<Option<(u32, Sender<File>)>> = OnceLock::new();

    pub(super) fn close_later(file: File) {
        let reaper = REAPER.get_or_init(|| {
            let (to_reaper, files) = channel::<File>();
            std::thread::Builder::new()
                .name("log-reaper".into())
                .spawn(move || files.into_iter().for_each(drop))
                .ok()
                .map(|_| (std::process::id(), to_reaper))
        });
        if let Some((pid, sender)) = reaper
            && *pid == std::process::id()
        {
            // A send fails only if the thread is gone; the file comes back
            // and is closed here.
            let _ = sender.send(file);
        }
    }
}

/// Open for appending and find out whether the target is a regular file
/// (then return its size) or something that cannot rotate.
fn open_append(path: &Path) -> Result<(File, Option<u64>), LogFileError> {
    let open_error = |source| LogFileError::Open {
        path: path.to_path_buf(),
        source,
    };
    let file = OpenOptions::new()
        .append(true)
        .create(true)
        .mode(0o666)
        .open(path)
        .map_err(open_error)?;
    let metadata = file.metadata().map_err(open_error)?;
    let size = metadata.file_type().is_file().then_some(metadata.len());
    Ok((file, size))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(path: &Path) -> Vec<u8> {
        std::fs::read(path).unwrap_or_default()
    }

    /// Every byte written, in order: the oldest backup first, the current
    /// file last.
    fn all_bytes(path: &Path, backups: u32) -> Vec<u8> {
        let mut out = Vec::new();
        for n in (1..=backups).rev() {
            out.extend(read(&backup_path(path, n)));
        }
        out.extend(read(path));
        out
    }

    #[test]
    fn rotation_loses_and_duplicates_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("child.log");
        // Enough backups to keep everything: the concatenation must be the
        // exact stream, whatever the chunk sizes.
        let rotation = Rotation {
            max_bytes: 5000,
            backups: 100,
        };
        let mut log = RotatingFile::open(&path, rotation).unwrap();
        let mut expected = Vec::new();
        let mut seed = 7u32;
        for i in 0..2000u32 {
            seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
            let len = (seed >> 16) as usize % 300;
            let chunk: Vec<u8> = (0..len).map(|j| (i as usize + j) as u8).collect();
            log.write_all(&chunk).unwrap();
            expected.extend_from_slice(&chunk);
        }
        let got = all_bytes(&path, rotation.backups);
        assert!(backup_path(&path, 50).exists(), "too few rotations to test");
        assert_eq!(got.len(), expected.len());
        assert!(got == expected, "the files do not hold the exact stream");
        // Each rotated file reached max_bytes and overshot by less than one
        // chunk.
        for n in 1..=rotation.backups {
            let len = read(&backup_path(&path, n)).len() as u64;
            if len > 0 {
                assert!((5000..5300).contains(&len), "backup {n} holds {len}");
            }
        }
    }

    #[test]
    fn backups_shift_newest_first_and_the_oldest_falls_off() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.log");
        let rotation = Rotation {
            max_bytes: 4,
            backups: 2,
        };
        let mut log = RotatingFile::open(&path, rotation).unwrap();
        for chunk in [b"aaaa", b"bbbb", b"cccc", b"dd\n\n"] {
            log.write_all(chunk).unwrap();
        }
        log.write_all(b"e").unwrap();
        assert_eq!(read(&path), b"e");
        assert_eq!(read(&backup_path(&path, 1)), b"dd\n\n");
        assert_eq!(read(&backup_path(&path, 2)), b"cccc");
        assert!(!backup_path(&path, 3).exists());
    }

    #[test]
    fn one_large_write_stays_whole_in_one_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.log");
        let rotation = Rotation {
            max_bytes: 1000,
            backups: 2,
        };
        let mut log = RotatingFile::open(&path, rotation).unwrap();
        let big: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
        log.write_all(b"head").unwrap();
        log.write_all(&big).unwrap();
        let mut expected = b"head".to_vec();
        expected.extend_from_slice(&big);
        assert!(read(&backup_path(&path, 1)) == expected);
        assert_eq!(read(&path), b"");
    }

    #[test]
    fn zero_backups_truncate_in_place() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.log");
        let rotation = Rotation {
            max_bytes: 10,
            backups: 0,
        };
        let mut log = RotatingFile::open(&path, rotation).unwrap();
        log.write_all(b"0123456789").unwrap();
        assert_eq!(read(&path), b"");
        log.write_all(b"abc").unwrap();
        assert_eq!(read(&path), b"abc");
        assert!(!backup_path(&path, 1).exists());
    }

    #[test]
    fn zero_max_bytes_never_rotates() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.log");
        let mut log = RotatingFile::open(&path, Rotation::NEVER).unwrap();
        let block = vec![b'x'; 64 * 1024];
        for _ in 0..16 {
            log.write_all(&block).unwrap();
        }
        assert_eq!(read(&path).len(), 16 * 64 * 1024);
        assert!(!backup_path(&path, 1).exists());
    }

    #[test]
    fn appends_to_an_existing_file_and_counts_its_size() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.log");
        std::fs::write(&path, b"old-").unwrap();
        let rotation = Rotation {
            max_bytes: 8,
            backups: 1,
        };
        let mut log = RotatingFile::open(&path, rotation).unwrap();
        log.write_all(b"new").unwrap();
        assert_eq!(read(&path), b"old-new");
        log.write_all(b"!").unwrap();
        assert_eq!(read(&backup_path(&path, 1)), b"old-new!");
        assert_eq!(read(&path), b"");
    }

    #[test]
    fn an_external_truncation_does_not_rotate_early() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.log");
        let rotation = Rotation {
            max_bytes: 10,
            backups: 1,
        };
        let mut log = RotatingFile::open(&path, rotation).unwrap();
        log.write_all(b"123456").unwrap();
        // logrotate's copytruncate
        std::fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .unwrap()
            .set_len(0)
            .unwrap();
        log.write_all(b"abcd").unwrap();
        assert_eq!(read(&path), b"abcd");
        assert!(!backup_path(&path, 1).exists());
    }

    #[test]
    fn a_fifo_never_rotates() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("fifo");
        nix::unistd::mkfifo(&path, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
        let reader_path = path.clone();
        let reader = std::thread::spawn(move || std::fs::read(reader_path).unwrap());
        let rotation = Rotation {
            max_bytes: 5,
            backups: 3,
        };
        let mut log = RotatingFile::open(&path, rotation).unwrap();
        assert!(!log.rotates());
        for _ in 0..10 {
            log.write_all(b"0123456789").unwrap();
        }
        drop(log);
        assert_eq!(reader.join().unwrap().len(), 100);
        assert!(!backup_path(&path, 1).exists());
    }

    #[test]
    fn dev_null_is_neither_renamed_nor_deleted() {
        let rotation = Rotation {
            max_bytes: 1,
            backups: 1,
        };
        let mut log = RotatingFile::open("/dev/null", rotation).unwrap();
        assert!(!log.rotates());
        log.write_all(b"discarded").unwrap();
        log.clear().unwrap();
        assert!(Path::new("/dev/null").exists());
    }

    #[test]
    fn reopen_follows_an_external_rename() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.log");
        let mut log = RotatingFile::open(&path, Rotation::NEVER).unwrap();
        log.write_all(b"before").unwrap();
        let moved = dir.path().join("x.log.rotated");
        std::fs::rename(&path, &moved).unwrap();
        log.write_all(b"-late").unwrap();
        log.reopen().unwrap();
        log.write_all(b"after").unwrap();
        assert_eq!(read(&moved), b"before-late");
        assert_eq!(read(&path), b"after");
    }

    #[test]
    fn clear_deletes_and_starts_empty_keeping_backups() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.log");
        let rotation = Rotation {
            max_bytes: 3,
            backups: 1,
        };
        let mut log = RotatingFile::open(&path, rotation).unwrap();
        log.write_all(b"abc").unwrap();
        log.write_all(b"d").unwrap();
        log.clear().unwrap();
        assert_eq!(read(&path), b"");
        assert_eq!(read(&backup_path(&path, 1)), b"abc");
        log.write_all(b"e").unwrap();
        assert_eq!(read(&path), b"e");
    }

    /// `total` bytes of a counting pattern written into a new pipe by a
    /// thread, in `chunk`-sized writes; returns the read end.
    fn pipe_fed(total: usize, chunk: usize) -> (std::io::PipeReader, Vec<u8>) {
        let (reader, mut writer) = std::io::pipe().unwrap();
        let data: Vec<u8> = (0..total).map(|i| (i % 251) as u8).collect();
        let sent = data.clone();
        std::thread::spawn(move || {
            for piece in sent.chunks(chunk) {
                writer.write_all(piece).unwrap();
            }
        });
        (reader, data)
    }

    /// Splice everything from `pipe` into `log` (blocking), copying the
    /// chunks splice refuses; returns the bytes moved.
    fn splice_all(log: &mut RotatingFile, pipe: &std::io::PipeReader) -> usize {
        use std::io::Read;
        use std::os::fd::AsFd;
        let mut total = 0;
        let mut buf = vec![0; 65536];
        loop {
            match log.splice_from(pipe.as_fd(), 1 << 20, false) {
                Spliced::Moved(0, _) => return total,
                Spliced::Moved(n, result) => {
                    result.unwrap();
                    total += n;
                }
                Spliced::WouldBlock => panic!("a blocking splice said WouldBlock"),
                Spliced::Copy => {
                    let n = (&*pipe).read(&mut buf).unwrap();
                    if n == 0 {
                        return total;
                    }
                    log.write_all(&buf[..n]).unwrap();
                    total += n;
                }
            }
        }
    }

    #[test]
    fn spliced_bytes_all_land_in_the_log_and_backups_of_exactly_max_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.log");
        std::fs::write(&path, b"earlier\n").unwrap();
        let rotation = Rotation {
            max_bytes: 100_000,
            backups: 40,
        };
        let mut log = RotatingFile::open(&path, rotation).unwrap();
        let (pipe, data) = pipe_fed(3_000_000, 65536 + 17);
        assert_eq!(splice_all(&mut log, &pipe), data.len());
        let mut expected = b"earlier\n".to_vec();
        expected.extend_from_slice(&data);
        let got = all_bytes(&path, rotation.backups);
        assert_eq!(got.len(), expected.len());
        assert!(got == expected, "the files do not hold the exact stream");
        // A splice stops at the boundary: every rotated file is exact.
        for n in 1..=30 {
            assert_eq!(read(&backup_path(&path, n)).len(), 100_000, "backup {n}");
        }
        assert_eq!(read(&path).len(), expected.len() % 100_000);
    }

    #[test]
    fn splice_with_no_backups_truncates_in_place() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.log");
        let rotation = Rotation {
            max_bytes: 1000,
            backups: 0,
        };
        let mut log = RotatingFile::open(&path, rotation).unwrap();
        let (pipe, data) = pipe_fed(2500, 700);
        assert_eq!(splice_all(&mut log, &pipe), 2500);
        assert_eq!(read(&path), data[2000..]);
        assert!(!backup_path(&path, 1).exists());
    }

    #[test]
    fn splice_follows_an_external_truncation_without_a_hole() {
        use std::os::fd::AsFd;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.log");
        let mut log = RotatingFile::open(&path, Rotation::NEVER).unwrap();
        let (reader, mut writer) = std::io::pipe().unwrap();
        writer.write_all(b"first").unwrap();
        assert!(matches!(
            log.splice_from(reader.as_fd(), 1024, true),
            Spliced::Moved(5, Ok(()))
        ));
        assert!(matches!(
            log.splice_from(reader.as_fd(), 1024, true),
            Spliced::WouldBlock
        ));
        // logrotate's copytruncate
        std::fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .unwrap()
            .set_len(0)
            .unwrap();
        writer.write_all(b"second").unwrap();
        assert!(matches!(
            log.splice_from(reader.as_fd(), 1024, true),
            Spliced::Moved(6, Ok(()))
        ));
        assert_eq!(read(&path), b"second");
        // The copy path appends after spliced bytes.
        log.write_all(b"+copied").unwrap();
        assert_eq!(read(&path), b"second+copied");
    }

    #[test]
    fn another_writer_of_the_file_turns_splicing_off_and_nothing_is_overwritten() {
        use std::os::fd::AsFd;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.log");
        let mut ours = RotatingFile::open(&path, Rotation::NEVER).unwrap();
        let mut other = RotatingFile::open(&path, Rotation::NEVER).unwrap();
        let (reader, mut writer) = std::io::pipe().unwrap();
        writer.write_all(b"one ").unwrap();
        assert!(matches!(
            ours.splice_from(reader.as_fd(), 1024, true),
            Spliced::Moved(4, Ok(()))
        ));
        other.write_all(b"two ").unwrap();
        writer.write_all(b"three").unwrap();
        assert!(matches!(
            ours.splice_from(reader.as_fd(), 1024, true),
            Spliced::Copy
        ));
        ours.write_all(b"three").unwrap();
        other.write_all(b" four").unwrap();
        assert_eq!(read(&path), b"one two three four");
        // From now on this file is written in append mode only.
        assert!(matches!(
            ours.splice_from(reader.as_fd(), 1024, true),
            Spliced::Copy
        ));
    }

    #[test]
    fn a_fifo_target_is_never_spliced() {
        use std::os::fd::AsFd;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("fifo");
        nix::unistd::mkfifo(&path, nix::sys::stat::Mode::from_bits_truncate(0o600)).unwrap();
        let reader_path = path.clone();
        let fifo_reader = std::thread::spawn(move || std::fs::read(reader_path).unwrap());
        let mut log = RotatingFile::open(&path, Rotation::NEVER).unwrap();
        let (reader, mut writer) = std::io::pipe().unwrap();
        writer.write_all(b"data").unwrap();
        assert!(matches!(
            log.splice_from(reader.as_fd(), 1024, true),
            Spliced::Copy
        ));
        drop(log);
        assert_eq!(fifo_reader.join().unwrap(), b"");
    }

    #[test]
    fn a_reader_holding_a_backup_reads_it_whole_after_it_is_rotated_away() {
        use std::io::Read;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.log");
        let rotation = Rotation {
            max_bytes: 300_000,
            backups: 2,
        };
        let mut log = RotatingFile::open(&path, rotation).unwrap();
        let (pipe, data) = pipe_fed(300_000, 65536);
        splice_all(&mut log, &pipe);
        // `tail -f` style: the reader opened the file when it was current.
        let mut held = File::open(backup_path(&path, 1)).unwrap();
        // Two more rotations: x.log.1 -> x.log.2 -> deleted.
        let (pipe, _) = pipe_fed(600_000, 65536);
        splice_all(&mut log, &pipe);
        let (pipe, _) = pipe_fed(10, 10);
        splice_all(&mut log, &pipe);
        let mut copied = Vec::new();
        for n in 1..=2 {
            copied.push(read(&backup_path(&path, n)).len());
        }
        assert_eq!(copied, [300_000, 300_000]);
        let mut got = Vec::new();
        held.read_to_end(&mut got).unwrap();
        assert_eq!(got.len(), data.len());
        assert!(got == data, "the held file changed under its reader");
    }

    fn has_append(file: &File) -> bool {
        OFlag::from_bits_retain(fcntl(file, FcntlArg::F_GETFL).unwrap()).contains(OFlag::O_APPEND)
    }

    #[test]
    fn a_rotation_opens_the_new_file_in_the_mode_of_the_path_writing() {
        use std::os::fd::AsFd;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.log");
        let rotation = Rotation {
            max_bytes: 1000,
            backups: 20,
        };
        let mut log = RotatingFile::open(&path, rotation).unwrap();
        let mut expected = Vec::new();
        // Splice, copy, splice, copy: each crosses a rotation.
        for round in 0..4u8 {
            let data = vec![b'a' + round; 1500];
            if round % 2 == 0 {
                let (reader, mut writer) = std::io::pipe().unwrap();
                writer.write_all(&data).unwrap();
                drop(writer);
                let mut moved = 0;
                while moved < data.len() {
                    match log.splice_from(reader.as_fd(), 1 << 20, false) {
                        Spliced::Moved(n, result) => {
                            result.unwrap();
                            assert!(n > 0, "the pipe ended early");
                            moved += n;
                        }
                        other => panic!("a regular file was not spliced: {other:?}"),
                    }
                }
                assert!(
                    !has_append(&log.file),
                    "splicing rotated into an O_APPEND file"
                );
            } else {
                log.write_all(&data).unwrap();
                assert!(
                    has_append(&log.file),
                    "copying rotated into a non-append file"
                );
            }
            expected.extend_from_slice(&data);
        }
        let got = all_bytes(&path, rotation.backups);
        assert!(got == expected, "the files do not hold the exact stream");
        // The size known without fstat matches the file.
        assert_eq!(log.size, Some(std::fs::metadata(&path).unwrap().len()));
    }

    #[test]
    fn a_file_made_at_the_name_during_a_rotation_is_kept_and_measured() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.log");
        let rotation = Rotation {
            max_bytes: 1000,
            backups: 3,
        };
        let log = RotatingFile::open(&path, rotation).unwrap();
        // As if someone created the log between our rename and our open.
        std::fs::rename(&path, backup_path(&path, 1)).unwrap();
        std::fs::write(&path, b"intruder\n").unwrap();
        let (file, size) = log.open_after_rotation(true).unwrap();
        assert_eq!(size, 9);
        assert!(has_append(&file));
        assert_eq!(read(&path), b"intruder\n");
    }

    #[test]
    fn open_errors_name_the_file() {
        let err = RotatingFile::open("/nonexistent-dir/x.log", Rotation::NEVER).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("/nonexistent-dir/x.log"), "{text}");
    }

    #[test]
    fn new_files_get_mode_0666_less_umask() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.log");
        let _log = RotatingFile::open(&path, Rotation::NEVER).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        // Whatever the umask, no execute bit and nothing beyond 0666.
        assert_eq!(mode & !0o666, 0);
    }
}

/// The same chunks through the reference's `RotatingFileHandler` (from the
/// test virtualenv) and through ours must leave the same files with the
/// same bytes.
#[cfg(test)]
mod reference_tests {
    use super::*;
    use std::process::{Command, Stdio};

    const WRITER: &str = r#"
import sys
from supervisor.loggers import RotatingFileHandler, LogRecord, LevelsByName
path, maxbytes, backups = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
handler = RotatingFileHandler(path, 'ab', maxbytes, backups)
handler.setFormat('%(message)s')
for line in sys.stdin:
    handler.emit(LogRecord(LevelsByName.INFO, bytes.fromhex(line.strip())))
handler.close()
"#;

    fn python() -> Option<PathBuf> {
        let python = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/.venv/bin/python");
        python.exists().then_some(python)
    }

    fn files_of(dir: &Path) -> Vec<(String, Vec<u8>)> {
        let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
            .unwrap()
            .map(|entry| {
                let entry = entry.unwrap();
                (
                    entry.file_name().to_string_lossy().into_owned(),
                    std::fs::read(entry.path()).unwrap(),
                )
            })
            .collect();
        files.sort();
        files
    }

    #[test]
    fn rotation_leaves_the_same_files_as_the_reference() {
        let Some(python) = python() else {
            eprintln!("skipped: the reference is not installed (run tests/run.sh)");
            return;
        };
        let mut seed = 42u32;
        let chunks: Vec<Vec<u8>> = (0..400u32)
            .map(|i| {
                seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
                let len = (seed >> 16) as usize % 700;
                (0..len).map(|j| (i as usize * 7 + j) as u8).collect()
            })
            .collect();
        for (max_bytes, backups) in [(1000u64, 3u32), (1000, 0), (50_000, 2), (0, 5)] {
            let ours = tempfile::tempdir().unwrap();
            let theirs = tempfile::tempdir().unwrap();
            // Both start from an existing file, to check appending too.
            std::fs::write(ours.path().join("x.log"), b"previous run\n").unwrap();
            std::fs::write(theirs.path().join("x.log"), b"previous run\n").unwrap();

            let mut log =
                RotatingFile::open(ours.path().join("x.log"), Rotation { max_bytes, backups })
                    .unwrap();
            for chunk in &chunks {
                log.write_all(chunk).unwrap();
            }
            drop(log);

            let mut child = Command::new(&python)
                .args(["-c", WRITER])
                .arg(theirs.path().join("x.log"))
                .arg(max_bytes.to_string())
                .arg(backups.to_string())
                .stdin(Stdio::piped())
                .spawn()
                .unwrap();
            {
                let mut stdin = child.stdin.take().unwrap();
                for chunk in &chunks {
                    let hex: String = chunk.iter().map(|b| format!("{b:02x}")).collect();
                    writeln!(stdin, "{hex}").unwrap();
                }
            }
            assert!(child.wait().unwrap().success());

            let (ours, theirs) = (files_of(ours.path()), files_of(theirs.path()));
            let names = |files: &[(String, Vec<u8>)]| {
                files
                    .iter()
                    .map(|(n, d)| (n.clone(), d.len()))
                    .collect::<Vec<_>>()
            };
            assert_eq!(
                names(&ours),
                names(&theirs),
                "max_bytes={max_bytes} backups={backups}"
            );
            assert!(
                ours == theirs,
                "contents differ with max_bytes={max_bytes} backups={backups}"
            );
        }
    }
}
