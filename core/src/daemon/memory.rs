//! How the daemon tunes glibc's allocator: one arena for the whole
//! process, and handing freed memory back once the daemon is quiet after
//! a burst of spawns or after replacing a large snapshot (the daemon goes
//! back to a small steady state; the heap would otherwise keep its peak,
//! and a freed snapshot of thousands of processes in its middle). It only
//! calls the allocator; it knows nothing of processes beyond a count of
//! spawns in flight.

use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use tokio::time::Instant;

/// A burst of at least this many concurrent spawns leaves enough freed
/// memory behind to hand back to the system once it is over.
const BURST_TRIM_THRESHOLD: usize = 32;

/// Keep glibc's allocator to one arena. By default every thread that
/// allocates (runtime workers, spawner threads) gets an arena of its own,
/// each keeping freed memory; the daemon allocates little and rarely, so
/// the contention one arena could cause is negligible and the resident
/// memory saved is not.
pub fn one_malloc_arena() {
    #[cfg(target_env = "gnu")]
    // SAFETY: mallopt only changes allocator tuning; called before any
    // other thread exists.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 1);
    }
}

/// A freed block this big is worth a trim: glibc hands back only the top
/// of its heap by itself, and a block in the middle (the snapshot the
/// next one replaced) stays resident until reused.
pub const TRIM_WORTHY: usize = 256 * 1024;

/// How long the daemon goes without a new request before a requested trim
/// runs: a start of thousands of programs publishes for a while, and one
/// trim at its end does the work of all.
const QUIET: Duration = Duration::from_millis(500);

/// When the pending trim is due; `None` when none is pending.
static TRIM_DUE: Mutex<Option<Instant>> = Mutex::new(None);

/// Give the free memory back once no request came for `QUIET` (500 ms), from a
/// task of the current runtime (none outside one: nothing to trim then).
pub fn trim_when_quiet() {
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        return;
    };
    let now = Instant::now();
    let mut due = TRIM_DUE.lock().unwrap_or_else(PoisonError::into_inner);
    // A trim long overdue lost its task with the runtime of a life that
    // ended (a restart): start another.
    let pending = due.replace(now + QUIET).is_some_and(|at| now <= at + QUIET);
    drop(due);
    if pending {
        return;
    }
    runtime.spawn(async {
        loop {
            let at = {
                let mut due = TRIM_DUE.lock().unwrap_or_else(PoisonError::into_inner);
                match *due {
                    Some(at) if at > Instant::now() => at,
                    _ => {
                        *due = None;
                        break;
                    }
                }
            };
            tokio::time::sleep_until(at).await;
        }
        release_free_memory();
    });
}

/// Give the allocator's free memory back to the system.
fn release_free_memory() {
    #[cfg(target_env = "gnu")]
    // SAFETY: malloc_trim only returns free heap pages; it has no
    // preconditions and is thread-safe.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Spawns handed to the spawner and not reported yet, and the most there
/// were since the last burst ended.
#[derive(Debug, Default)]
pub struct SpawnBurst {
    in_flight: usize,
    peak: usize,
}

impl SpawnBurst {
    /// A spawn was handed to the spawner.
    pub fn started(&mut self) {
        self.in_flight += 1;
        self.peak = self.peak.max(self.in_flight);
    }

    /// A spawn was reported; true when that ended a burst big enough to
    /// trim after (and asks for a trim once the daemon is quiet).
    pub fn finished(&mut self) -> bool {
        self.in_flight = self.in_flight.saturating_sub(1);
        if self.in_flight == 0 && self.peak >= BURST_TRIM_THRESHOLD {
            self.peak = 0;
            trim_when_quiet();
            return true;
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_end_of_a_big_burst_trims() {
        let mut burst = SpawnBurst::default();
        burst.started();
        assert!(!burst.finished(), "one spawn is no burst");
        for _ in 0..BURST_TRIM_THRESHOLD {
            burst.started();
        }
        for _ in 1..BURST_TRIM_THRESHOLD {
            assert!(!burst.finished(), "still in flight");
        }
        assert!(burst.finished(), "the last of the burst trims");
        burst.started();
        assert!(!burst.finished(), "the peak was reset");
        assert!(!burst.finished(), "a stray report does not underflow");
    }

    /// One test for both cases: they share the daemon-wide pending trim.
    #[test]
    fn a_requested_trim_waits_for_quiet_and_survives_a_lost_runtime() {
        let runtime = || {
            tokio::runtime::Builder::new_current_thread()
                .enable_time()
                .start_paused(true)
                .build()
                .expect("a runtime")
        };
        let pending = || {
            TRIM_DUE
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .is_some()
        };
        runtime().block_on(async {
            trim_when_quiet();
            assert!(pending());
            for _ in 0..3 {
                tokio::time::sleep(QUIET / 2).await;
                trim_when_quiet();
                assert!(pending(), "each request pushes the trim back");
            }
            tokio::time::sleep(QUIET * 2).await;
            assert!(!pending(), "trimmed once quiet");
        });
        // A life asks for a trim and ends before it runs; the next life's
        // request still trims.
        runtime().block_on(async { trim_when_quiet() });
        assert!(pending());
        runtime().block_on(async {
            tokio::time::sleep(QUIET * 3).await;
            trim_when_quiet();
            tokio::time::sleep(QUIET * 2).await;
        });
        assert!(!pending(), "the next life's request trimmed");
    }
}
