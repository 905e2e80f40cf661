//! The descriptors a spawn may take. A child's pipes (and the log files
//! opened at its first spawn) are held as long as it lives, so a burst of
//! starts under a low open-files limit could take every descriptor, and
//! the unix socket could then accept nothing: a local administrator locked
//! out until some child exits (issue 18). Before a spawn makes its pipes,
//! [`reserve`] checks that what it will hold still leaves a reserve of
//! descriptors for the servers, and refuses the spawn otherwise with a
//! spawn error naming the figures. It owns only that decision and its
//! estimate of how many descriptors are open; it opens nothing but
//! `/proc/self/fd`, and that only near the limit or when the last count
//! is over a second old.

use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use super::spawn_error::SpawnError;

/// The descriptors a spawn may hold at its peak: both ends of three pipes
/// until the clone, then the two log files its first spawn opens. A
/// channel discarded to `/dev/null` or a socket on stdin holds fewer; the
/// few left over only make the check early by as much.
const NEED: usize = 8;
/// What a spawn still holds in reserve once its pipes exist: the log files
/// the daemon opens for it later. A count sees the pipes themselves.
const LOG_FILES: usize = 2;
/// How long an exact count may stand in for the truth in the fast path.
const REFRESH: Duration = Duration::from_secs(1);

/// Descriptors kept free for the servers under a limit of `limit`: enough
/// for the unix socket to accept a client and answer it (the connection, a
/// log file read for a tail, a config file on reread), a thirty-second of
/// the limit between 8 and 64, so ordinary limits lose next to nothing.
pub fn kept_for(limit: usize) -> usize {
    (limit / 32).clamp(8, 64)
}

/// What a fresh estimate keeps to spare for descriptors opened outside
/// spawns since the count: a quarter of the limit, at most 256. Capped
/// because a count reads all of `/proc/self/fd`: with thousands of
/// programs under a limit of 20000, a quarter-limit margin made every spawn
/// past the first few thousand count again (a start of 4000 programs took
/// six times the plain spawner's time, most of it in that listing).
fn margin(limit: usize) -> usize {
    (limit / 4).min(256)
}

/// The last exact count and what spawns took since.
#[derive(Debug, Default)]
struct Estimate {
    /// Descriptors open at the last count.
    open: usize,
    /// The soft open-files limit at the last count.
    limit: usize,
    /// When the count was made; none before the first.
    at: Option<Instant>,
    /// What spawns let through since the count may hold (counted whole,
    /// though a pipe's child end is closed again after the clone).
    taken: usize,
    /// What spawns under way reserved: their pipes may not exist yet, so
    /// a fresh count cannot see them.
    in_flight: usize,
}

impl Estimate {
    /// Whether the estimate alone shows room for `need` more with the
    /// reserve and a margin to spare (for what connections and other files
    /// opened since the count), so no count is needed.
    fn clearly_fits(&self, need: usize, now: Instant) -> bool {
        let fresh = self.at.is_some_and(|at| now.duration_since(at) < REFRESH);
        fresh
            && self.open
                + self.taken
                + self.in_flight
                + need
                + kept_for(self.limit)
                + margin(self.limit)
                <= self.limit
    }

    /// Whether an exact count leaves room for `need` more and the reserve.
    fn fits(&self, need: usize) -> bool {
        self.open + self.in_flight + need + kept_for(self.limit) <= self.limit
    }
}

static ESTIMATE: Mutex<Estimate> = Mutex::new(Estimate {
    open: 0,
    limit: 0,
    at: None,
    taken: 0,
    in_flight: 0,
});

fn estimate() -> MutexGuard<'static, Estimate> {
    // The estimate stays meaningful whatever a panicking holder left.
    ESTIMATE.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Descriptors a spawn under way holds in the estimate: released when the
/// spawn failed, or when its child's descriptors are all in place (pipes
/// made, log files opened by the daemon), as a count then sees them.
#[must_use = "the reservation lasts as long as the guard"]
#[derive(Debug)]
pub struct Reserved(usize);

impl Reserved {
    /// The spawn's pipes exist (and its child's ends are closed): keep only
    /// the log files in the reserve. A count sees the pipes, so holding
    /// them here too would count them twice: with a thousand spawns
    /// waiting for their log files during a big start, that double count
    /// made every spawn list `/proc/self/fd` again (a 4000-program start
    /// took six times the plain spawner's time).
    pub fn pipes_made(&mut self) {
        let release = self.0.saturating_sub(LOG_FILES);
        if release > 0 {
            let mut estimate = estimate();
            estimate.in_flight = estimate.in_flight.saturating_sub(release);
            self.0 -= release;
        }
    }
}

impl Drop for Reserved {
    fn drop(&mut self) {
        let mut estimate = estimate();
        estimate.in_flight = estimate.in_flight.saturating_sub(self.0);
    }
}

/// Let the spawn of process `name` go ahead if it leaves the servers
/// their reserve; hold the result until the child's descriptors are in
/// place.
pub fn reserve(name: &str) -> Result<Reserved, SpawnError> {
    reserve_with(name, Instant::now(), count_open, soft_limit)
}

fn reserve_with(
    name: &str,
    now: Instant,
    count: impl FnOnce() -> Option<usize>,
    limit: impl FnOnce() -> Option<usize>,
) -> Result<Reserved, SpawnError> {
    let need = NEED;
    let mut estimate = estimate();
    if !estimate.clearly_fits(need, now) {
        let Some(limit) = limit() else {
            // No limit to keep within.
            return Ok(Reserved(0));
        };
        estimate.limit = limit;
        // Not even /proc/self/fd could be opened: nothing is left.
        estimate.open = count().unwrap_or(limit);
        estimate.at = Some(now);
        estimate.taken = 0;
        if !estimate.fits(need) {
            return Err(SpawnError::FdReserve {
                name: name.to_string(),
                open: estimate.open,
                limit,
                kept: kept_for(limit),
            });
        }
    }
    estimate.taken += need;
    estimate.in_flight += need;
    Ok(Reserved(need))
}

/// Descriptors open now, not counting the one the count itself uses.
fn count_open() -> Option<usize> {
    let entries = std::fs::read_dir("/proc/self/fd").ok()?;
    Some(entries.count().saturating_sub(1))
}

/// The soft open-files limit; none when unlimited.
fn soft_limit() -> Option<usize> {
    let (soft, _) =
        nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE).ok()?;
    (soft != nix::sys::resource::RLIM_INFINITY).then(|| usize::try_from(soft).unwrap_or(usize::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The tests share the one estimate: each starts from a clean one and
    /// holds this lock throughout.
    static SERIAL: Mutex<()> = Mutex::new(());

    fn fresh() -> MutexGuard<'static, ()> {
        let serial = SERIAL.lock().unwrap_or_else(PoisonError::into_inner);
        *estimate() = Estimate::default();
        serial
    }

    #[test]
    fn the_reserve_is_a_small_share_of_the_limit() {
        assert_eq!(kept_for(64), 8);
        assert_eq!(kept_for(1024), 32);
        assert_eq!(kept_for(1 << 20), 64);
    }

    #[test]
    fn a_spawn_that_would_eat_into_the_reserve_is_refused_with_the_figures() {
        let _serial = fresh();
        let now = Instant::now();
        // 64 - 8 kept = 56: 48 open + 8 needed fits exactly.
        let made = reserve_with("web", now, || Some(48), || Some(64)).expect("fits");
        drop(made);
        let refused = reserve_with("web", now, || Some(49), || Some(64)).unwrap_err();
        assert_eq!(
            refused.to_string(),
            "too many open files to spawn 'web' (49 of limit 64, 8 kept for the servers)"
        );
    }

    #[test]
    fn spawns_under_way_count_before_their_pipes_exist() {
        let _serial = fresh();
        let now = Instant::now();
        let first = reserve_with("web", now, || Some(40), || Some(64)).expect("fits");
        // The count does not see the first spawn's pipes yet.
        assert!(reserve_with("web", now, || Some(41), || Some(64)).is_err());
        drop(first);
        assert!(reserve_with("web", now, || Some(41), || Some(64)).is_ok());
    }

    #[test]
    fn far_from_the_limit_no_count_is_made_for_a_second() {
        let _serial = fresh();
        let now = Instant::now();
        let counts = std::cell::Cell::new(0);
        let count = || {
            counts.set(counts.get() + 1);
            Some(100)
        };
        for _ in 0..50 {
            drop(reserve_with("web", now, count, || Some(4096)).expect("fits"));
        }
        assert_eq!(
            counts.get(),
            1,
            "one count for 50 spawns far from the limit"
        );
        drop(reserve_with("web", now + REFRESH, count, || Some(4096)).expect("fits"));
        assert_eq!(counts.get(), 2, "a second later the count is made again");
        // Near the limit (a quarter of it or less to spare), every spawn
        // counts.
        *estimate() = Estimate::default();
        let near = || {
            counts.set(counts.get() + 1);
            Some(900)
        };
        for _ in 0..3 {
            drop(reserve_with("web", now, near, || Some(1024)).expect("fits"));
        }
        assert_eq!(counts.get(), 5);
        // Thousands of programs open under a high limit: spawns go on
        // without a count while the estimate leaves the capped margin.
        *estimate() = Estimate::default();
        let many = || {
            counts.set(counts.get() + 1);
            Some(15_000)
        };
        for _ in 0..500 {
            drop(reserve_with("web", now, many, || Some(20_000)).expect("fits"));
        }
        assert_eq!(
            counts.get(),
            6,
            "one count for 500 spawns with 4680 to spare"
        );
    }

    #[test]
    fn spawns_waiting_for_their_log_files_hold_only_those() {
        let _serial = fresh();
        let now = Instant::now();
        let counts = std::cell::Cell::new(0);
        // Each spawn adds its three pipe ends to what a count sees.
        let count = || {
            counts.set(counts.get() + 1);
            Some(6_000 + 3 * counts.get())
        };
        let mut waiting = Vec::new();
        for _ in 0..1000 {
            let mut reserved = reserve_with("web", now, count, || Some(20_000)).expect("fits");
            reserved.pipes_made();
            waiting.push(reserved);
        }
        assert_eq!(estimate().in_flight, 1000 * LOG_FILES);
        assert!(
            counts.get() <= 3,
            "{} counts for 1000 spawns waiting for their log files",
            counts.get()
        );
        drop(waiting);
        assert_eq!(estimate().in_flight, 0);
    }

    #[test]
    fn no_way_to_count_means_no_room() {
        let _serial = fresh();
        let refused = reserve_with("web", Instant::now(), || None, || Some(64)).unwrap_err();
        assert!(refused.to_string().contains("(64 of limit 64"), "{refused}");
    }

    #[test]
    fn the_real_count_sees_the_descriptors_held() {
        let held: Vec<std::fs::File> = (0..50)
            .map(|_| std::fs::File::open("/dev/null").unwrap())
            .collect();
        let open = count_open().expect("/proc/self/fd is readable");
        assert!(open >= held.len(), "{open} counted with 50 held");
    }
}
