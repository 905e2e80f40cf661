//! Calling a loaded namespace from the daemon's async side, and carrying a
//! deferred reply to its end: the daemon-side half of the SDK's reply
//! contract (see `supervisor_sdk::namespace::Deferred`), kept next to the
//! loader so the contract has one interpreter.
//!
//! It is also the one place that decides where plugin code runs
//! ([`PlacedMethod`]), per method:
//! - the builtin namespace, inline on the calling task (its reads are
//!   snapshot reads and its waits are deferred replies);
//! - a third-party method that declared it returns at once
//!   (`MethodInfo::may_block == false`), inline too, as cheap as a builtin
//!   call; each of its steps is timed, and one that overruns
//!   [`INLINE_STEP_BUDGET`] moves the method off the runtime for good, so a
//!   broken promise stalls a worker once;
//! - any other third-party method off the runtime's worker threads
//!   ([`Placement::OffWorkers`]), holding one of its namespace's call slots
//!   so a plugin that hangs cannot take every thread.
//!
//! A call's continuations run where the call ran. This module waits for
//! ticket outcomes through a [`TicketWatcher`] (`crate::rpc::ticket`); it
//! never blocks a runtime thread itself. It must not know the registry nor
//! XML-RPC: the bridge adapts what it answers.

use super::LoadedNamespace;
use crate::rpc::ticket::TicketWatcher;
use abi_stable::std_types::{ROption, RVec};
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};
use supervisor_sdk::fault::{FAILED, Fault};
use supervisor_sdk::host::Ticket;
use supervisor_sdk::namespace::{ContinuationBox, Reply};
use supervisor_sdk::value::Value;
use tokio::sync::Semaphore;

/// How long one synchronous step of an inline call (the call itself, or one
/// continuation step of its deferred reply) may take before the method is
/// deemed to block. Generous, so a busy machine's scheduling delays are not
/// mistaken for a blocking plugin; short enough that a broken promise
/// stalls a runtime thread once, briefly.
pub const INLINE_STEP_BUDGET: Duration = Duration::from_millis(50);

/// Where a plugin's code runs.
#[derive(Clone, Copy)]
pub enum Placement<'a> {
    /// On the calling task: the builtin namespace, whose code is ours.
    Inline,
    /// On the calling task, each step timed: a step that takes longer than
    /// [`INLINE_STEP_BUDGET`] calls `overrun` with its duration (a method
    /// that promised to return at once and did not).
    InlineTimed(&'a (dyn Fn(Duration) + Sync)),
    /// Off the runtime's worker threads: a method that may block. On a
    /// multi-threaded runtime the call is polled inside `block_in_place`,
    /// which hands this worker's other tasks to another thread for the
    /// poll's duration (the blocking pool's isolation with one thread
    /// hand-off per poll instead of two); on a current-thread runtime,
    /// which refuses `block_in_place`, each step runs on the blocking pool.
    OffWorkers,
}

impl std::fmt::Debug for Placement<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Placement::Inline => "Inline",
            Placement::InlineTimed(_) => "InlineTimed",
            Placement::OffWorkers => "OffWorkers",
        })
    }
}

/// How one step of plugin code is run once [`Placement::OffWorkers`] is
/// resolved against the runtime's flavor.
#[derive(Clone, Copy)]
enum Step<'a> {
    Here,
    Timed(&'a (dyn Fn(Duration) + Sync)),
    Pool,
}

/// One declared method of a namespace and where its calls run: decided
/// once from its declaration, changed only when an inline method breaks
/// its promise.
#[derive(Debug)]
pub struct PlacedMethod {
    /// The method's name, as the plugin receives it.
    method: String,
    /// `namespace.method`, for the daemon's log.
    full_name: String,
    /// The namespace's code is ours: always inline, never timed.
    builtin: bool,
    /// Called inline: a third-party method that declared it returns at
    /// once, until it overruns [`INLINE_STEP_BUDGET`] (then cleared for
    /// good).
    inline: AtomicBool,
    /// Milliseconds a call may take, its deferred reply and its wait for a
    /// slot included; 0: no deadline (the builtin namespace).
    deadline_ms: AtomicU64,
}

impl PlacedMethod {
    /// `method` of namespace `namespace`, placed by its declaration.
    pub fn new(namespace: &str, method: &str, builtin: bool, may_block: bool) -> PlacedMethod {
        PlacedMethod {
            method: method.to_owned(),
            full_name: format!("{namespace}.{method}"),
            builtin,
            inline: AtomicBool::new(builtin || !may_block),
            deadline_ms: AtomicU64::new(0),
        }
    }

    /// Bound each call to `deadline` (`plugin_call_timeout`); never for
    /// the builtin namespace. A call past it ends with a `FAILED` fault and
    /// a log line naming plugin and method; its deferred reply is dropped.
    /// A synchronous step that blocks is not interrupted: it ends at the
    /// first point the call yields.
    pub fn set_deadline(&self, deadline: Option<Duration>) {
        let millis = match deadline {
            Some(deadline) if !self.builtin => u64::try_from(deadline.as_millis())
                .unwrap_or(u64::MAX)
                .max(1),
            _ => 0,
        };
        self.deadline_ms.store(millis, Ordering::Relaxed);
    }

    /// Whether calls run inline now (the declaration, unless the method
    /// broke that promise since).
    pub fn calls_inline(&self) -> bool {
        self.builtin || self.inline.load(Ordering::Relaxed)
    }

    /// Where the next call runs.
    fn placement<'a>(&self, overrun: &'a (dyn Fn(Duration) + Sync)) -> Placement<'a> {
        if self.builtin {
            Placement::Inline
        } else if self.inline.load(Ordering::Relaxed) {
            Placement::InlineTimed(overrun)
        } else {
            Placement::OffWorkers
        }
    }

    /// An inline step of this method overran its budget: call it off the
    /// runtime threads from now on, and say so once.
    fn overran(&self, spent: Duration) {
        if self.inline.swap(false, Ordering::Relaxed) {
            tracing::warn!(
                "plugin method {}() declared that it returns at once but took {} ms; \
                 it is called on the blocking pool from now on",
                self.full_name,
                spent.as_millis()
            );
        }
    }

    /// Call this method of `loaded` and settle its reply where it is
    /// placed. A call placed off the workers first takes one of `slots`
    /// (its namespace's) and holds it until it is answered, deferred waits
    /// included; the slot is given back if the future is dropped.
    pub async fn call<W: TicketWatcher>(
        &self,
        loaded: &LoadedNamespace,
        params: Vec<Value>,
        slots: &Semaphore,
        watcher: &mut W,
    ) -> Result<Value, Fault> {
        let overrun = |spent| self.overran(spent);
        let placement = self.placement(&overrun);
        let call = async {
            let _slot = match placement {
                Placement::OffWorkers => Some(
                    slots
                        .acquire()
                        .await
                        .map_err(|_| Fault::with(FAILED, "the plugin namespace is closed"))?,
                ),
                _ => None,
            };
            call_namespace(loaded, &self.method, params, placement, watcher).await
        };
        let millis = self.deadline_ms.load(Ordering::Relaxed);
        if millis == 0 {
            return call.await;
        }
        let deadline = Duration::from_millis(millis);
        match tokio::time::timeout(deadline, call).await {
            Ok(answer) => answer,
            Err(_elapsed) => {
                tracing::error!(
                    "plugin call {}() did not answer within its {} s deadline \
                     (plugin_call_timeout / supervisor.call_timeout): ended with a fault",
                    self.full_name,
                    deadline.as_secs_f64()
                );
                Err(Fault::with(
                    FAILED,
                    format!(
                        "{}() did not answer within {} seconds",
                        self.full_name,
                        deadline.as_secs_f64()
                    ),
                ))
            }
        }
    }
}

/// Whether `block_in_place` may be used here.
fn multi_threaded() -> bool {
    tokio::runtime::Handle::current().runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread
}

/// Call `method` of a loaded namespace with the request's parameters and
/// settle the reply, running plugin code where `placement` says. Plugin
/// panics arrive here as faults already (the SDK catches them inside the
/// plugin). The fault is the SDK's; its code and string go to the client
/// unchanged.
pub async fn call_namespace<W: TicketWatcher>(
    loaded: &LoadedNamespace,
    method: &str,
    params: Vec<Value>,
    placement: Placement<'_>,
    watcher: &mut W,
) -> Result<Value, Fault> {
    placed(placement, |step| {
        call_and_settle(loaded, method, params, step, watcher)
    })
    .await
}

/// Run `work` with its steps placed as `placement` says: the one place
/// that turns [`Placement::OffWorkers`] into `block_in_place` or the pool.
async fn placed<'a, F>(placement: Placement<'a>, work: impl FnOnce(Step<'a>) -> F) -> F::Output
where
    F: Future,
{
    match placement {
        Placement::Inline => work(Step::Here).await,
        Placement::InlineTimed(overrun) => work(Step::Timed(overrun)).await,
        Placement::OffWorkers if multi_threaded() => {
            // Plugin code runs only inside these polls.
            let mut work = std::pin::pin!(work(Step::Here));
            std::future::poll_fn(|cx| tokio::task::block_in_place(|| work.as_mut().poll(cx))).await
        }
        Placement::OffWorkers => work(Step::Pool).await,
    }
}

async fn call_and_settle<W: TicketWatcher>(
    loaded: &LoadedNamespace,
    method: &str,
    params: Vec<Value>,
    step: Step<'_>,
    watcher: &mut W,
) -> Result<Value, Fault> {
    let params = RVec::from(params);
    let reply = match step {
        Step::Here => loaded.namespace.call(method.into(), params),
        Step::Timed(overrun) => timed(overrun, || loaded.namespace.call(method.into(), params)),
        Step::Pool => {
            let namespace = Arc::clone(&loaded.namespace);
            let method = method.to_string();
            blocking(move || namespace.call(method.as_str().into(), params)).await?
        }
    };
    settle_steps(reply, watcher, step).await
}

/// Run one synchronous step of an inline call, reporting an overrun.
fn timed<T>(overrun: &(dyn Fn(Duration) + Sync), step: impl FnOnce() -> T) -> T {
    let started = Instant::now();
    let result = step();
    let spent = started.elapsed();
    if spent > INLINE_STEP_BUDGET {
        overrun(spent);
    }
    result
}

/// Carry `reply` to a value or a fault: wait for a deferred reply's tickets
/// and feed each outcome to its continuation (where `placement` says),
/// following a continuation that defers again.
pub async fn settle<W: TicketWatcher>(
    reply: Reply,
    watcher: &mut W,
    placement: Placement<'_>,
) -> Result<Value, Fault> {
    placed(placement, |step| settle_steps(reply, watcher, step)).await
}

async fn settle_steps<W: TicketWatcher>(
    mut reply: Reply,
    watcher: &mut W,
    step: Step<'_>,
) -> Result<Value, Fault> {
    loop {
        let deferred = match reply {
            Reply::Value(value) => return Ok(value),
            Reply::Fault(fault) => return Err(fault),
            Reply::Deferred(deferred) => deferred,
        };
        let mut pending: Vec<Ticket> = deferred.tickets.into_vec();
        let mut continuation = deferred.continuation;
        if pending.is_empty() {
            reply = run(continuation, step, |c| c.finish()).await?.1;
            continue;
        }
        watcher.watch(&pending);
        let mut next_reply = None;
        while !pending.is_empty() {
            let Some((ticket, outcome)) = watcher.next().await else {
                return Err(Fault::with(
                    FAILED,
                    "the daemon stopped before the command completed",
                ));
            };
            let Some(position) = pending.iter().position(|t| *t == ticket) else {
                // Not one of ours (a stale delivery): ignore it.
                continue;
            };
            pending.swap_remove(position);
            let (back, answer) =
                run(continuation, step, move |c| c.resume(ticket, outcome)).await?;
            continuation = back;
            if let ROption::RSome(answer) = answer {
                next_reply = Some(answer);
                break;
            }
        }
        reply = next_reply.unwrap_or_else(|| {
            Reply::Fault(Fault::with(
                FAILED,
                "the plugin left its deferred reply unanswered after every command completed",
            ))
        });
    }
}

/// Run `work` on the continuation where `step` says, handing the
/// continuation back with the result.
async fn run<T, F>(
    mut continuation: ContinuationBox,
    step: Step<'_>,
    work: F,
) -> Result<(ContinuationBox, T), Fault>
where
    T: Send + 'static,
    F: FnOnce(&mut ContinuationBox) -> T + Send + 'static,
{
    match step {
        Step::Here => {
            let result = work(&mut continuation);
            Ok((continuation, result))
        }
        Step::Timed(overrun) => {
            let result = timed(overrun, || work(&mut continuation));
            Ok((continuation, result))
        }
        Step::Pool => {
            blocking(move || {
                let result = work(&mut continuation);
                (continuation, result)
            })
            .await
        }
    }
}

/// Run plugin code on the blocking pool. The SDK catches plugin panics
/// inside the plugin, so a join error means the runtime is shutting down
/// (or a bug of ours): either way the caller gets a fault, not a crash.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, Fault> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|error| Fault::with(FAILED, format!("plugin call did not complete: {error}")))
}
