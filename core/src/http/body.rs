//! Recycled buffers for XML-RPC response bodies. A large answer
//! (`getAllProcessInfo` of 100 processes is about 100 KB) allocated afresh
//! per call costs more in the kernel than in the encoder: glibc hands
//! blocks of that size back to the system when they are freed (mmap, or a
//! trimmed heap top), so every call page-faulted its buffer in again. A few
//! buffers are kept instead and handed to hyper as `Bytes` that return to
//! the pool once written. The pool is small and capped, so what it keeps is
//! bounded however many clients there are. This module only manages
//! buffers; it does not encode or route.

use std::sync::Mutex;

use axum::body::{Body, Bytes};

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

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

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
