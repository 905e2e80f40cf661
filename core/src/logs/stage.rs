//! The private pipe spliced child output passes through on its way from the
//! child's pipe to the log file.
//!
//! splice(2) from a pipe into a file holds the pipe's lock while the kernel
//! copies the bytes into the page cache. A child writing flat out wants
//! that lock for its next write, so the two sides take turns a few pages at
//! a time, and each spins on the lock while the other holds it: a fifth of
//! the reader's CPU went to `mutex_spin_on_owner`, which made splicing
//! dearer than read + write. Moving the pages into a pipe of our own first
//! only moves page references under the child's lock; the copy into the
//! file then holds our pipe's lock, which nobody else wants, and the child
//! refills its pipe meanwhile (0.75x cat's CPU instead of 1.1x, 1 GiB).
//!
//! Each thread keeps one stage, made once it first moved bytes, and leaves
//! it empty after every call, so bytes of one log never wait there for
//! another's.

use std::cell::RefCell;
use std::fs::File;
use std::io::{self, Read};
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd, RawFd};

use nix::fcntl::{FcntlArg, OFlag, fcntl};

use super::pipe::flat_out_pipe_size;

thread_local! {
    static STAGE: RefCell<Option<Stage>> = const { RefCell::new(None) };
}

/// One pipe, both ends ours.
struct Stage {
    read: File,
    write: OwnedFd,
    /// What the kernel granted: as much as a grown child pipe holds (what
    /// one call moves at most), or less under the user's pipe limits.
    capacity: usize,
}

impl Stage {
    fn new() -> io::Result<Stage> {
        let (read, write) = nix::unistd::pipe2(OFlag::O_CLOEXEC)?;
        // nix takes the size as an i32; the constant fits. A refusal (the
        // user's pipe limits) leaves the default size, which only moves
        // less per call.
        let _ = fcntl(&write, FcntlArg::F_SETPIPE_SZ(flat_out_pipe_size() as i32));
        let capacity = fcntl(&write, FcntlArg::F_GETPIPE_SZ)?;
        Ok(Stage {
            read: File::from(read),
            write,
            capacity: usize::try_from(capacity).unwrap_or(4096).max(1),
        })
    }
}

/// What [`splice_through`] did.
#[derive(Debug)]
pub(super) enum Through {
    /// This many bytes left the child's pipe and are in the file (0: the
    /// pipe's writers are gone and it is empty).
    Moved(usize),
    /// Bytes left the child's pipe, but the file took only `written` of
    /// them and refused the rest with `error` (disk full, or a file system
    /// that cannot splice): `rest` holds them, in order, for the caller to
    /// write another way, so nothing is lost.
    Stuck {
        written: usize,
        rest: Vec<u8>,
        error: io::Error,
    },
}

/// Move up to `limit` bytes from `pipe` into `file` at `offset` through this
/// thread's stage. An error means nothing left `pipe` (WouldBlock: it is
/// empty and `nonblocking` was asked).
pub(super) fn splice_through(
    pipe: BorrowedFd<'_>,
    file: &File,
    offset: u64,
    limit: usize,
    nonblocking: bool,
) -> io::Result<Through> {
    let flags = libc::SPLICE_F_MOVE
        | if nonblocking {
            libc::SPLICE_F_NONBLOCK
        } else {
            0
        };
    STAGE.with(|cell| {
        let mut slot = cell.borrow_mut();
        let Some(stage) = &mut *slot else {
            // This thread's first bytes go straight to the file, and the
            // stage is made once some did: a pipe that only reports its end
            // (a quiet child exiting) costs no descriptors, and should the
            // stage be refused (no descriptor left) splicing goes on
            // without it.
            let mut position = offset;
            let moved = loop {
                match splice(
                    pipe.as_raw_fd(),
                    Some(&mut position),
                    file.as_raw_fd(),
                    limit,
                    flags,
                ) {
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    result => break result?,
                }
            };
            if moved > 0 {
                *slot = Stage::new().ok();
            }
            return Ok(Through::Moved(moved));
        };
        let staged = loop {
            match splice(
                pipe.as_raw_fd(),
                None,
                stage.write.as_raw_fd(),
                limit.min(stage.capacity),
                flags,
            ) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                result => break result?,
            }
        };
        let mut written = 0;
        let mut position = offset;
        while written < staged {
            match splice(
                stage.read.as_raw_fd(),
                Some(&mut position),
                file.as_raw_fd(),
                staged - written,
                libc::SPLICE_F_MOVE,
            ) {
                Ok(0) => {
                    // The file takes no more (a write past a file size
                    // limit, say) without an error to show for it.
                    let error = io::Error::new(io::ErrorKind::WriteZero, "the file took no bytes");
                    return Ok(unstage(slot, staged - written, written, error));
                }
                Ok(n) => written += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(error) => return Ok(unstage(slot, staged - written, written, error)),
            }
        }
        Ok(Through::Moved(staged))
    })
}

/// Read the `left` bytes the file refused back out of the stage, which is
/// then empty again. Should even that fail the stage is dropped (a new one
/// is made at the next call), so no stale byte can reach another log.
fn unstage(
    mut slot: std::cell::RefMut<'_, Option<Stage>>,
    left: usize,
    written: usize,
    error: io::Error,
) -> Through {
    let mut rest = vec![0; left];
    let emptied = match &mut *slot {
        Some(stage) => stage.read.read_exact(&mut rest).is_ok(),
        None => false,
    };
    if !emptied {
        *slot = None;
        rest.clear();
    }
    Through::Stuck {
        written,
        rest,
        error,
    }
}

/// splice(2) from a pipe into `to`, at `*position` when given (and advanced
/// by the kernel), else at `to`'s own offset.
fn splice(
    from: RawFd,
    position: Option<&mut u64>,
    to: RawFd,
    len: usize,
    flags: libc::c_uint,
) -> io::Result<usize> {
    let mut offset: libc::loff_t = 0;
    let offset_ptr = match &position {
        Some(at) => {
            offset = libc::loff_t::try_from(**at)
                .map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
            &mut offset as *mut libc::loff_t
        }
        None => std::ptr::null_mut(),
    };
    // SAFETY: both descriptors are open for the call (the caller borrows or
    // owns them) and `offset_ptr` is null or points at a live loff_t the
    // kernel may update; no other memory is touched.
    let moved = unsafe { libc::splice(from, std::ptr::null_mut(), to, offset_ptr, len, flags) };
    let moved = usize::try_from(moved).map_err(|_| io::Error::last_os_error())?;
    if let Some(at) = position {
        *at = offset as u64;
    }
    Ok(moved)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::os::fd::AsFd;

    #[test]
    fn bytes_pass_through_in_order_and_the_stage_is_left_empty() {
        let dir = tempfile::tempdir().unwrap();
        let file = File::create(dir.path().join("log")).unwrap();
        let (reader, mut writer) = std::io::pipe().unwrap();
        let data: Vec<u8> = (0..60_000u32).map(|i| (i % 251) as u8).collect();
        writer.write_all(&data).unwrap();
        drop(writer);
        let mut offset = 0;
        let mut calls = 0;
        loop {
            calls += 1;
            match splice_through(reader.as_fd(), &file, offset, 7000, false).unwrap() {
                Through::Moved(0) => break,
                Through::Moved(n) => offset += n as u64,
                stuck => panic!("{stuck:?}"),
            }
        }
        assert_eq!(std::fs::read(dir.path().join("log")).unwrap(), data);
        assert!(calls > 2, "most calls went through the stage");
        assert_stage_empty();
    }

    #[test]
    fn an_empty_pipe_would_block_and_moves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let file = File::create(dir.path().join("log")).unwrap();
        let (reader, _writer) = std::io::pipe().unwrap();
        // Straight to the file first, then through the stage.
        for _ in 0..2 {
            let error = splice_through(reader.as_fd(), &file, 0, 4096, true).unwrap_err();
            assert_eq!(error.kind(), io::ErrorKind::WouldBlock);
            prime_stage();
        }
    }

    #[test]
    fn a_pipe_that_only_ends_makes_no_stage() {
        let dir = tempfile::tempdir().unwrap();
        let file = File::create(dir.path().join("log")).unwrap();
        let (reader, writer) = std::io::pipe().unwrap();
        drop(writer);
        assert!(matches!(
            splice_through(reader.as_fd(), &file, 0, 4096, true).unwrap(),
            Through::Moved(0)
        ));
        STAGE.with(|cell| assert!(cell.borrow().is_none()));
    }

    #[test]
    fn bytes_a_file_refuses_come_back_whole() {
        // A descriptor opened read-only refuses every write (EBADF): the
        // bytes are out of the child's pipe by then, and must come back.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        File::create(&path).unwrap();
        let read_only = File::open(&path).unwrap();
        let (reader, mut writer) = std::io::pipe().unwrap();
        writer.write_all(b"keep every byte").unwrap();
        prime_stage();
        match splice_through(reader.as_fd(), &read_only, 0, 4096, false).unwrap() {
            Through::Stuck {
                written,
                rest,
                error,
            } => {
                assert_eq!(written, 0);
                assert_eq!(rest, b"keep every byte");
                assert_eq!(error.raw_os_error(), Some(libc::EBADF));
            }
            moved => panic!("{moved:?}"),
        }
        assert_stage_empty();
    }

    /// Make this thread's stage: its first bytes went straight to a file.
    fn prime_stage() {
        let dir = tempfile::tempdir().unwrap();
        let file = File::create(dir.path().join("first")).unwrap();
        let (reader, mut writer) = std::io::pipe().unwrap();
        writer.write_all(b"x").unwrap();
        splice_through(reader.as_fd(), &file, 0, 4096, false).unwrap();
        STAGE.with(|cell| assert!(cell.borrow().is_some()));
    }

    fn assert_stage_empty() {
        STAGE.with(|cell| {
            let slot = cell.borrow();
            let stage = slot.as_ref().expect("a stage was made");
            let mut pending: libc::c_int = 0;
            // SAFETY: FIONREAD writes one c_int through the pointer.
            let rc = unsafe { libc::ioctl(stage.read.as_raw_fd(), libc::FIONREAD, &mut pending) };
            assert_eq!(rc, 0);
            assert_eq!(pending, 0);
        });
    }
}
