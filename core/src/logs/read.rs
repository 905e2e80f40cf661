//! Reading logs back for the control plane: `readLog`/`readProcess*Log`
//! (a byte range), `tailProcess*Log` (the tail with the reference's offset
//! and overflow rules) and the last N bytes that `supervisorctl tail` and
//! `/logtail` start from. The arithmetic lives once, in the SDK
//! ([`read_span`], [`tail_span`]), where plugins share it; the file
//! functions here only apply it. Only the current file is read,
//! never the rotated backups, as in the reference. This module decides no
//! fault codes: the RPC layer maps [`ReadError`] to NO_FILE, BAD_ARGUMENTS
//! and FAILED.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::Path;

use supervisor_sdk::logs::{BadArguments, read_span, tail_span};

/// One of a process's two logs; the one definition is the config layer's,
/// shared with the events and the output path.
pub use crate::config::Channel;

/// Why a range could not be read; one variant per RPC fault the reference
/// raises for it.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The log file does not exist (fault NO_FILE).
    #[error("no such log file")]
    NoFile,
    /// A negative length, or a length with a negative offset (fault
    /// BAD_ARGUMENTS).
    #[error("bad arguments: negative length, or a length with a negative offset")]
    BadArguments,
    /// Any other I/O error (fault FAILED).
    #[error("unable to read log file: {0}")]
    Failed(io::Error),
}

/// The result of `tailProcess*Log`: the bytes, the offset to ask from next
/// time (always the file size), and whether bytes were skipped because the
/// log grew past `offset + length`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tail {
    /// The bytes read (decode them lossily for XML-RPC).
    pub data: Vec<u8>,
    /// The file size: the offset of the next call.
    pub offset: i64,
    /// True when the log has more than `length` bytes after `offset`, so
    /// only its last `length` bytes were returned.
    pub overflow: bool,
}

/// `readFile`: the bytes of `path` that [`read_span`] selects.
pub fn read_range(path: &Path, offset: i64, length: i64) -> Result<Vec<u8>, ReadError> {
    let mut file = File::open(path).map_err(|e| match e.kind() {
        io::ErrorKind::NotFound => ReadError::NoFile,
        _ => ReadError::Failed(e),
    })?;
    let size = file.metadata().map_err(ReadError::Failed)?.len();
    let span = read_span(size, offset, length).map_err(|BadArguments| ReadError::BadArguments)?;
    read_at(&mut file, span.start, span.len).map_err(ReadError::Failed)
}

/// The last `bytes` bytes of `path` (the whole file if shorter): where
/// `supervisorctl tail` and `/logtail` start.
pub fn tail_bytes(path: &Path, bytes: u64) -> Result<Vec<u8>, ReadError> {
    read_range(path, -i64::try_from(bytes).unwrap_or(i64::MAX), 0)
}

/// `tailFile`: the window [`tail_span`] selects. A log that is missing or
/// unreadable gives no data, the given offset back and no overflow, as the
/// reference does (the RPC layer answers `['', 0, false]` itself when the
/// process has no log file at all).
pub fn tail_file(path: &Path, offset: i64, length: i64) -> Tail {
    let failed = Tail {
        data: Vec::new(),
        offset,
        overflow: false,
    };
    let Ok(mut file) = File::open(path) else {
        return failed;
    };
    let Ok(metadata) = file.metadata() else {
        return failed;
    };
    let size = metadata.len();
    let (span, overflow) = tail_span(size, offset, length);
    match read_at(&mut file, span.start, span.len) {
        Ok(data) => Tail {
            data,
            offset: i64::try_from(size).unwrap_or(i64::MAX),
            overflow,
        },
        Err(_) => failed,
    }
}

/// Up to `len` bytes from `start` (fewer if the file is shorter, even if it
/// shrank since its size was taken).
fn read_at(file: &mut File, start: u64, len: u64) -> io::Result<Vec<u8>> {
    if len == 0 {
        return Ok(Vec::new());
    }
    file.seek(SeekFrom::Start(start))?;
    let mut data = Vec::with_capacity(usize::try_from(len.min(1 << 20)).unwrap_or(0));
    file.take(len).read_to_end(&mut data)?;
    Ok(data)
}

/// What `/logtail` prints when the log it follows shrank in place, as the
/// reference prints it.
pub const TRUNCATED_MARKER: &[u8] = b"==> File truncated <==\n";

/// Follows a log as `tail -f` does, for `/logtail` and `/mainlogtail`:
/// each [`poll`] returns what was appended since the last one. Across a
/// rotation (the path now names a new file) it first drains the old file
/// through the descriptor it holds, then moves to the new file from its
/// start, so nothing written between two polls is lost; the reference
/// jumps to the new file and drops the old file's last bytes. A rotation
/// that happens twice between two polls still skips the middle file: poll
/// more often than the log rotates. A log truncated in place yields
/// [`TRUNCATED_MARKER`] and is followed from its start again.
///
/// [`poll`]: LogFollower::poll
#[derive(Debug)]
pub struct LogFollower {
    path: std::path::PathBuf,
    file: File,
    identity: (u64, u64),
    position: u64,
    max_chunk: u64,
}

impl LogFollower {
    /// Start following `path` from its last `head` bytes (the whole file if
    /// it is shorter), returning at most `max_chunk` bytes per poll. A
    /// directory is refused here rather than failing at the first read.
    pub fn open(path: &Path, head: u64, max_chunk: u64) -> io::Result<Self> {
        let file = File::open(path)?;
        let metadata = file.metadata()?;
        if metadata.is_dir() {
            return Err(io::ErrorKind::IsADirectory.into());
        }
        Ok(LogFollower {
            path: path.to_path_buf(),
            identity: identity(&metadata),
            position: metadata.len().saturating_sub(head),
            file,
            max_chunk: max_chunk.max(1),
        })
    }

    /// When the file being followed was last modified.
    pub fn modified(&self) -> io::Result<std::time::SystemTime> {
        self.file.metadata()?.modified()
    }

    /// Whether [`poll`](LogFollower::poll) has anything to return: the
    /// file grew or shrank, or its path now names another file. Reads
    /// metadata only (two `stat` calls), so a caller may ask on every tick
    /// and move the read itself off its thread only when this says yes.
    pub fn has_news(&self) -> io::Result<bool> {
        Ok(!matches!(self.news()?, News::Nothing))
    }

    /// The bytes appended since the last poll (empty if none).
    pub fn poll(&mut self) -> io::Result<Vec<u8>> {
        match self.news()? {
            News::Nothing => Ok(Vec::new()),
            News::Truncated => {
                self.position = 0;
                Ok(TRUNCATED_MARKER.to_vec())
            }
            News::Grown(size) => self.read_more(size),
            News::Replaced => {
                let file = File::open(&self.path)?;
                let metadata = file.metadata()?;
                self.file = file;
                self.identity = identity(&metadata);
                self.position = 0;
                if metadata.len() > 0 {
                    return self.read_more(metadata.len());
                }
                Ok(Vec::new())
            }
        }
    }

    fn news(&self) -> io::Result<News> {
        let size = self.file.metadata()?.len();
        if size < self.position {
            return Ok(News::Truncated);
        }
        if size > self.position {
            return Ok(News::Grown(size));
        }
        // Nothing new in the file we hold: has the path moved on to
        // another file? Renamed away and not yet recreated: keep the old.
        Ok(match std::fs::metadata(&self.path) {
            Ok(current) if identity(&current) != self.identity => News::Replaced,
            _ => News::Nothing,
        })
    }

    fn read_more(&mut self, size: u64) -> io::Result<Vec<u8>> {
        let want = (size - self.position).min(self.max_chunk);
        let data = read_at(&mut self.file, self.position, want)?;
        self.position += data.len() as u64;
        Ok(data)
    }
}

/// What changed in a followed log since the last poll, checked in this
/// order: the held file first (drain it), then the path.
enum News {
    Nothing,
    /// The held file is shorter than what was read: truncated in place.
    Truncated,
    /// The held file has bytes past the position; its size.
    Grown(u64),
    /// The held file is drained and the path names another file.
    Replaced,
}

fn identity(metadata: &std::fs::Metadata) -> (u64, u64) {
    use std::os::unix::fs::MetadataExt;
    (metadata.dev(), metadata.ino())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_reads_apply_the_windows() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.log");
        std::fs::write(&path, b"hello\nworld\nx").unwrap();
        assert_eq!(read_range(&path, 0, 5).unwrap(), b"hello");
        assert_eq!(read_range(&path, 6, 0).unwrap(), b"world\nx");
        assert_eq!(read_range(&path, 100, 0).unwrap(), b"");
        assert_eq!(read_range(&path, -7, 0).unwrap(), b"world\nx");
        assert_eq!(tail_bytes(&path, 1).unwrap(), b"x");
        assert_eq!(tail_bytes(&path, 1600).unwrap(), b"hello\nworld\nx");
        assert!(matches!(
            read_range(&dir.path().join("missing"), 0, 0),
            Err(ReadError::NoFile)
        ));
        assert_eq!(
            tail_file(&path, 0, 5),
            Tail {
                data: b"rld\nx".to_vec(),
                offset: 13,
                overflow: true
            }
        );
        assert_eq!(
            tail_file(&dir.path().join("missing"), 42, 5),
            Tail {
                data: Vec::new(),
                offset: 42,
                overflow: false
            }
        );
    }

    #[test]
    fn the_follower_sees_every_byte_across_rotations() {
        use crate::logs::{RotatingFile, Rotation};
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.log");
        let rotation = Rotation {
            max_bytes: 1000,
            backups: 2,
        };
        let mut log = RotatingFile::open(&path, rotation).unwrap();
        log.write_all(b"already there\n").unwrap();
        let mut follower = LogFollower::open(&path, 6, 64).unwrap();
        let mut seen = Vec::new();
        let mut written = b"there\n".to_vec();
        for i in 0..500u32 {
            let chunk = format!("line {i} {}\n", "x".repeat((i % 37) as usize));
            log.write_all(chunk.as_bytes()).unwrap();
            written.extend_from_slice(chunk.as_bytes());
            // Poll until caught up (the chunk cap splits big reads).
            loop {
                let news = follower.has_news().unwrap();
                let data = follower.poll().unwrap();
                assert!(news || data.is_empty(), "poll found what has_news missed");
                if data.is_empty() {
                    break;
                }
                seen.extend(data);
            }
        }
        assert!(backup_exists(&path), "the log never rotated");
        assert!(seen == written, "the follower lost or repeated bytes");
    }

    fn backup_exists(path: &Path) -> bool {
        crate::logs::backup_path(path, 2).exists()
    }

    #[test]
    fn the_follower_refuses_a_directory() {
        let dir = tempfile::tempdir().unwrap();
        let error = LogFollower::open(dir.path(), 1024, 1024).unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::IsADirectory);
    }

    #[test]
    fn the_follower_reports_a_truncation() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.log");
        std::fs::write(&path, b"0123456789").unwrap();
        let mut follower = LogFollower::open(&path, 1024, 1 << 20).unwrap();
        assert_eq!(follower.poll().unwrap(), b"0123456789");
        std::fs::write(&path, b"ab").unwrap();
        assert!(follower.has_news().unwrap());
        assert_eq!(follower.poll().unwrap(), TRUNCATED_MARKER);
        assert_eq!(follower.poll().unwrap(), b"ab");
        assert!(!follower.has_news().unwrap());
        assert_eq!(follower.poll().unwrap(), b"");
    }
}
