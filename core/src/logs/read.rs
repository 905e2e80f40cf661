//! Reading logs back for the control plane: `readLog`/`readProcess*Log`
//! (a byte range), `tailProcess*Log` (the tail with the reference's offset
//! and overflow rules) and the last N bytes that `supervisorctl tail` and
//! `/logtail` start from. The arithmetic lives in two pure functions
//! ([`read_window`], [`tail_window`]) so it is written once and tested as a
//! table; the file functions only apply it. Only the current file is read,
//! never the rotated backups, as in the reference. This module decides no
//! fault codes: the RPC layer maps [`ReadError`] to NO_FILE, BAD_ARGUMENTS
//! and FAILED.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::Path;

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

/// Which bytes of a file of `size` bytes `readFile(offset, length)` returns:
/// `(start, len)` with `len == None` meaning "to the end".
///
/// The reference's rules: `offset >= 0` reads `length` bytes from `offset`
/// (`length == 0`: to the end; past the end: nothing); `offset < 0` reads the
/// last `-offset` bytes (the whole file if it is shorter) and requires
/// `length == 0`; a negative length is BAD_ARGUMENTS.
pub fn read_window(size: u64, offset: i64, length: i64) -> Result<(u64, Option<u64>), ReadError> {
    if offset < 0 {
        if length != 0 {
            return Err(ReadError::BadArguments);
        }
        let start = size.saturating_sub(offset.unsigned_abs());
        return Ok((start, Some(size - start)));
    }
    if length < 0 {
        return Err(ReadError::BadArguments);
    }
    let start = offset.unsigned_abs();
    Ok((start, (length > 0).then_some(length.unsigned_abs())))
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

/// Which bytes of a file of `size` bytes `tailFile(offset, length)` returns:
/// `(start, len, overflow)`. A line-by-line transcription of the
/// reference's `tailFile`, so that clients which resume from the returned
/// offset see the same windows.
pub fn tail_window(size: u64, offset: i64, length: i64) -> (u64, u64, bool) {
    let size = i64::try_from(size).unwrap_or(i64::MAX);
    let (mut offset, mut length) = (offset, length);
    let mut overflow = false;
    if size > offset.saturating_add(length) {
        overflow = true;
        offset = size - 1;
    }
    if offset.saturating_add(length) > size {
        if offset > size - 1 {
            length = 0;
        }
        offset = size - length;
    }
    let start = offset.max(0).unsigned_abs();
    let len = length.max(0).unsigned_abs();
    (start, len, overflow)
}

/// `readFile`: the bytes of `path` that [`read_window`] selects.
pub fn read_range(path: &Path, offset: i64, length: i64) -> Result<Vec<u8>, ReadError> {
    let mut file = File::open(path).map_err(|e| match e.kind() {
        io::ErrorKind::NotFound => ReadError::NoFile,
        _ => ReadError::Failed(e),
    })?;
    let size = file.metadata().map_err(ReadError::Failed)?.len();
    let (start, len) = read_window(size, offset, length)?;
    read_at(&mut file, start, len.unwrap_or(size.saturating_sub(start))).map_err(ReadError::Failed)
}

/// The last `bytes` bytes of `path` (the whole file if shorter): where
/// `supervisorctl tail` and `/logtail` start.
pub fn tail_bytes(path: &Path, bytes: u64) -> Result<Vec<u8>, ReadError> {
    read_range(path, -i64::try_from(bytes).unwrap_or(i64::MAX), 0)
}

/// `tailFile`: the window [`tail_window`] selects. A log that is missing or
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
    let (start, len, overflow) = tail_window(size, offset, length);
    match read_at(&mut file, start, len) {
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
    /// it is shorter), returning at most `max_chunk` bytes per poll.
    pub fn open(path: &Path, head: u64, max_chunk: u64) -> io::Result<Self> {
        let file = File::open(path)?;
        let metadata = file.metadata()?;
        Ok(LogFollower {
            path: path.to_path_buf(),
            identity: identity(&metadata),
            position: metadata.len().saturating_sub(head),
            file,
            max_chunk: max_chunk.max(1),
        })
    }

    /// The bytes appended since the last poll (empty if none).
    pub fn poll(&mut self) -> io::Result<Vec<u8>> {
        let size = self.file.metadata()?.len();
        if size < self.position {
            self.position = 0;
            return Ok(TRUNCATED_MARKER.to_vec());
        }
        if size > self.position {
            return self.read_more(size);
        }
        // Nothing new in the file we hold: has the path moved on to
        // another file?
        let Ok(current) = std::fs::metadata(&self.path) else {
            // Renamed away and not yet recreated: keep the old one.
            return Ok(Vec::new());
        };
        if identity(&current) == self.identity {
            return Ok(Vec::new());
        }
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

    fn read_more(&mut self, size: u64) -> io::Result<Vec<u8>> {
        let want = (size - self.position).min(self.max_chunk);
        let data = read_at(&mut self.file, self.position, want)?;
        self.position += data.len() as u64;
        Ok(data)
    }
}

fn identity(metadata: &std::fs::Metadata) -> (u64, u64) {
    use std::os::unix::fs::MetadataExt;
    (metadata.dev(), metadata.ino())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (file size, offset, length) and the expected window.
    type Case<W> = (u64, i64, i64, W);

    #[test]
    fn read_window_follows_read_file() {
        // (size, offset, length) -> (start, len)
        let cases: &[Case<(u64, Option<u64>)>] = &[
            (13, 0, 0, (0, None)),
            (13, 0, 5, (0, Some(5))),
            (13, 10, 100, (10, Some(100))),
            (13, 100, 5, (100, Some(5))),
            (13, -5, 0, (8, Some(5))),
            (13, -100, 0, (0, Some(13))),
            (0, -5, 0, (0, Some(0))),
        ];
        for &(size, offset, length, expected) in cases {
            let got = read_window(size, offset, length).unwrap();
            assert_eq!(got, expected, "read_window({size}, {offset}, {length})");
        }
        assert!(matches!(
            read_window(13, -5, 1),
            Err(ReadError::BadArguments)
        ));
        assert!(matches!(
            read_window(13, 0, -1),
            Err(ReadError::BadArguments)
        ));
    }

    #[test]
    fn tail_window_follows_tail_file() {
        // The examples the spec verified on a 13-byte file, then the edges.
        let cases: &[Case<(u64, u64, bool)>] = &[
            (13, 0, 5, (8, 5, true)),
            (13, 0, 1000, (0, 1000, false)),
            (13, 100, 5, (13, 0, false)),
            (13, 13, 5, (13, 0, false)),
            (13, 10, 5, (8, 5, false)),
            (13, 8, 5, (8, 5, false)),
            (0, 0, 1600, (0, 0, false)),
            (13, 0, 0, (12, 0, true)),
            (13, -3, 5, (8, 5, true)),
            (13, 5, -1, (12, 0, true)),
        ];
        for &(size, offset, length, expected) in cases {
            let got = tail_window(size, offset, length);
            assert_eq!(got, expected, "tail_window({size}, {offset}, {length})");
        }
    }

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
                let data = follower.poll().unwrap();
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
    fn the_follower_reports_a_truncation() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.log");
        std::fs::write(&path, b"0123456789").unwrap();
        let mut follower = LogFollower::open(&path, 1024, 1 << 20).unwrap();
        assert_eq!(follower.poll().unwrap(), b"0123456789");
        std::fs::write(&path, b"ab").unwrap();
        assert_eq!(follower.poll().unwrap(), TRUNCATED_MARKER);
        assert_eq!(follower.poll().unwrap(), b"ab");
        assert_eq!(follower.poll().unwrap(), b"");
    }
}
