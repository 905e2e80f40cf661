//! Request bodies and recycled buffers for XML-RPC response bodies.
//!
//! Request bodies are read under three bounds: the server's
//! `max_request_bytes` (413), its idle timeout (408), and a budget shared
//! by every connection of the daemon for bodies held in memory at once
//! (503 past it), so many large requests together cannot grow the daemon
//! without limit. When the last body of a large burst is let go, the
//! allocator is asked to hand the freed memory back. An unreadable body is
//! logged as a short excerpt with its size, never whole.
//!
//! Response buffers: A large answer
//! (`getAllProcessInfo` of 100 processes is about 100 KB) allocated afresh
//! per call costs more in the kernel than in the encoder: glibc hands
//! blocks of that size back to the system when they are freed (mmap, or a
//! trimmed heap top), so every call page-faulted its buffer in again. A few
//! buffers are kept instead and handed to hyper as `Bytes` that return to
//! the pool once written. The pool is small and capped, so what it keeps is
//! bounded however many clients there are. An answer written in pieces
//! (`getAllProcessInfo`) is sent in such buffers as it is written. This
//! module only manages buffers; it does not encode or route.

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use std::pin::Pin;
use std::task::{Context, Poll};

use axum::body::{Body, Bytes, HttpBody};
use http_body_util::BodyExt;
use hyper::body::{Frame, SizeHint};

use crate::rpc::ResponsePieces;

/// How many buffers the pool keeps.
const POOLED_BUFFERS: usize = 4;

/// Buffers smaller than this are not worth keeping: malloc serves them
/// from its free lists without a system call.
const MIN_POOLED_CAPACITY: usize = 16 * 1024;

/// Buffers larger than this are let go (a one-off huge log read must not
/// stay resident).
const MAX_POOLED_CAPACITY: usize = 512 * 1024;

static POOL: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// An empty buffer to write a response into: a recycled one when there is
/// one.
pub(super) fn buffer() -> String {
    lock().pop().unwrap_or_default()
}

/// The body of a response holding `text`; the buffer returns to the pool
/// when hyper is done with it.
pub(super) fn body(text: String) -> Body {
    Body::from(Bytes::from_owner(Recycled(text)))
}

/// How much of a streamed answer one frame carries: large enough that
/// the syscalls do not count, small enough that the first bytes go out
/// at once and the buffers stay in the pool.
const PIECE_BYTES: usize = 64 * 1024;

/// The body of a response that starts with `text` and whose rest `pieces`
/// writes as hyper asks for more, each piece in a recycled buffer. Its
/// exact length is known before the first byte, so hyper frames it with a
/// Content-Length, as every other answer.
pub(super) fn streamed(text: String, pieces: ResponsePieces) -> Body {
    Body::new(Streamed {
        first: Some(text),
        pieces,
    })
}

fn lock() -> std::sync::MutexGuard<'static, Vec<String>> {
    // The pool holds only empty buffers: a panic elsewhere cannot leave it
    // inconsistent, so a poisoned lock's data is still good.
    POOL.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A response buffer that goes back to the pool when dropped.
struct Recycled(String);

impl AsRef<[u8]> for Recycled {
    fn as_ref(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

impl Drop for Recycled {
    fn drop(&mut self) {
        let capacity = self.0.capacity();
        if !(MIN_POOLED_CAPACITY..=MAX_POOLED_CAPACITY).contains(&capacity) {
            return;
        }
        let mut text = std::mem::take(&mut self.0);
        text.clear();
        let mut pool = lock();
        if pool.len() < POOLED_BUFFERS {
            pool.push(text);
        }
    }
}

/// What [`streamed`] sends.
struct Streamed {
    first: Option<String>,
    pieces: ResponsePieces,
}

impl HttpBody for Streamed {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = self.get_mut();
        let mut text = this.first.take().unwrap_or_else(buffer);
        this.pieces.write_next(&mut text, PIECE_BYTES);
        Poll::Ready(if text.is_empty() {
            None
        } else {
            Some(Ok(Frame::data(Bytes::from_owner(Recycled(text)))))
        })
    }

    fn is_end_stream(&self) -> bool {
        self.first.is_none() && self.pieces.remaining() == 0
    }

    fn size_hint(&self) -> SizeHint {
        let first = self.first.as_ref().map_or(0, String::len);
        SizeHint::with_exact((first + self.pieces.remaining()) as u64)
    }
}

/// Request bodies every connection together may hold in memory at once.
/// Four bodies of the default largest size fit: a burst of big but
/// legitimate requests is served, a flood of them is refused.
pub const BODY_BUDGET: usize = 64 * 1024 * 1024;

/// The first bytes of every body are not counted against the budget, so
/// ordinary calls (a few hundred bytes) are never refused because large
/// bodies hold it; what they cost is bounded by the connection budgets.
const UNCOUNTED_BYTES: usize = 64 * 1024;

/// A burst whose bodies peaked at this much leaves enough freed memory
/// behind to hand back to the system once it is over.
const TRIM_AFTER_PEAK: usize = 4 * 1024 * 1024;

/// Bytes of request bodies held now, and the most since the last trim.
static IN_FLIGHT: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

/// How much of an unreadable body a log line shows.
const EXCERPT_BYTES: usize = 200;

/// Why a request body was not read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum BodyError {
    /// Larger than the server's `max_request_bytes` (413).
    TooLarge,
    /// The daemon's budget for bodies in flight is used up (503).
    Busy,
    /// The client stopped sending (408).
    Timeout,
    /// The connection failed mid-body (400).
    Broken,
}

/// A body's place in the budget, given back on drop.
#[derive(Debug)]
pub(super) struct BodyLease(usize);

impl BodyLease {
    fn take(bytes: usize) -> Result<BodyLease, BodyError> {
        let mut current = IN_FLIGHT.load(Ordering::Relaxed);
        loop {
            let next = current.saturating_add(bytes);
            if next > BODY_BUDGET {
                return Err(BodyError::Busy);
            }
            match IN_FLIGHT.compare_exchange_weak(
                current,
                next,
                Ordering::AcqRel,
                Ordering::Relaxed,
            ) {
                Ok(_) => {
                    PEAK.fetch_max(next, Ordering::Relaxed);
                    return Ok(BodyLease(bytes));
                }
                Err(actual) => current = actual,
            }
        }
    }

    fn grow(&mut self, bytes: usize) -> Result<(), BodyError> {
        let more = BodyLease::take(bytes)?;
        self.0 += more.0;
        std::mem::forget(more);
        Ok(())
    }
}

impl Drop for BodyLease {
    fn drop(&mut self) {
        let left = IN_FLIGHT.fetch_sub(self.0, Ordering::AcqRel) - self.0;
        if left == 0 && PEAK.load(Ordering::Relaxed) >= TRIM_AFTER_PEAK {
            PEAK.store(0, Ordering::Relaxed);
            release_free_memory();
        }
    }
}

/// Give the allocator's free memory back to the system (the daemon's own
/// spawn-burst trim lives in `daemon::memory`, which this module may not
/// depend on).
fn release_free_memory() {
    #[cfg(target_env = "gnu")]
    // SAFETY: malloc_trim only returns free heap pages; it has no
    // preconditions and is thread-safe.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Read a whole request body of at most `limit` bytes (`declared` is its
/// Content-Length, if any), with `idle` to arrive, holding its size in the
/// daemon's budget until the lease is dropped.
pub(super) async fn read(
    body: Body,
    declared: Option<u64>,
    limit: usize,
    idle: Duration,
) -> Result<(Bytes, BodyLease), BodyError> {
    if declared.is_some_and(|length| length > limit as u64) {
        return Err(BodyError::TooLarge);
    }
    // A declared length is reserved up front, so a client cannot get past
    // the budget by announcing much and sending slowly.
    let announced = declared.map_or(0, |n| n as usize);
    let mut lease = BodyLease::take(announced.saturating_sub(UNCOUNTED_BYTES))?;
    let mut data = Vec::with_capacity(announced);
    let mut body = body;
    let read = async {
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|_| BodyError::Broken)?;
            let Some(chunk) = frame.data_ref() else {
                continue;
            };
            if data.len() + chunk.len() > limit {
                return Err(BodyError::TooLarge);
            }
            let needed = (data.len() + chunk.len())
                .saturating_sub(UNCOUNTED_BYTES)
                .saturating_sub(lease.0);
            if needed > 0 {
                lease.grow(needed)?;
            }
            data.extend_from_slice(chunk);
        }
        Ok(())
    };
    match tokio::time::timeout(idle, read).await {
        Err(_elapsed) => Err(BodyError::Timeout),
        Ok(Err(error)) => Err(error),
        Ok(Ok(())) => Ok((Bytes::from(data), lease)),
    }
}

/// A short, printable excerpt of `body` and its size, for a log line.
pub(super) fn excerpt(body: &[u8]) -> String {
    let shown = &body[..body.len().min(EXCERPT_BYTES)];
    let text = String::from_utf8_lossy(shown);
    if shown.len() < body.len() {
        format!("{text:?}... ({} bytes)", body.len())
    } else {
        format!("{text:?} ({} bytes)", body.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_excerpt_is_short_and_says_the_size() {
        let big = vec![b'x'; 16 * 1024 * 1024];
        let line = excerpt(&big);
        assert!(line.len() < 300, "{}", line.len());
        assert!(line.ends_with("... (16777216 bytes)"), "{line}");
        assert_eq!(excerpt(b"<a>"), "\"<a>\" (3 bytes)");
    }

    #[tokio::test]
    async fn bodies_past_the_limit_or_the_budget_are_refused() {
        let idle = Duration::from_secs(5);
        let small = Body::from("hello");
        let (bytes, lease) = read(small, Some(5), 10, idle).await.expect("read");
        assert_eq!(&bytes[..], b"hello");
        drop(lease);
        let too_large = read(Body::from("hello"), None, 4, idle).await;
        assert_eq!(too_large.err(), Some(BodyError::TooLarge));
        assert_eq!(
            read(Body::from("x"), Some(1 << 40), usize::MAX, idle)
                .await
                .err(),
            Some(BodyError::Busy)
        );
    }

    #[tokio::test]
    async fn large_buffers_come_back_small_and_huge_ones_do_not() {
        // Other tests share the pool: only this test's buffers are
        // recognised, by their capacity.
        let mut large = String::with_capacity(MIN_POOLED_CAPACITY + 12_345);
        large.push_str("<answer/>");
        let capacity = large.capacity();
        let body = body(large);
        let bytes = body.collect().await.expect("a full body").to_bytes();
        assert_eq!(&bytes[..], b"<answer/>");
        drop(bytes);
        let pooled: Vec<String> = std::iter::from_fn(|| lock().pop()).collect();
        assert!(
            pooled
                .iter()
                .any(|b| b.capacity() == capacity && b.is_empty()),
            "the written buffer is back, empty"
        );

        let huge = String::with_capacity(MAX_POOLED_CAPACITY + 1);
        let huge_capacity = huge.capacity();
        drop(body_bytes(huge).await);
        assert!(lock().iter().all(|b| b.capacity() != huge_capacity));
        assert!(lock().len() <= POOLED_BUFFERS);
    }

    async fn body_bytes(text: String) -> Bytes {
        body(text).collect().await.expect("a full body").to_bytes()
    }
}
