//! How the daemon tunes glibc's allocator: one arena for the whole
//! process, and handing freed memory back once a burst of spawns is over
//! (the daemon goes back to a small steady state; the heap would
//! otherwise keep its peak). It only calls the allocator; it knows
//! nothing of processes beyond a count of spawns in flight.

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
    /// trim after (and trims).
    pub fn finished(&mut self) -> bool {
        self.in_flight = self.in_flight.saturating_sub(1);
        if self.in_flight == 0 && self.peak >= BURST_TRIM_THRESHOLD {
            self.peak = 0;
            release_free_memory();
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
}
