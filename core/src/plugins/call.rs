//! Calling a loaded namespace from the daemon's async side, and carrying a
//! deferred reply to its end: the daemon-side half of the SDK's reply
//! contract (see `supervisor_sdk::namespace::Deferred`), kept next to the
//! loader so the contract has one interpreter.
//!
//! Where plugin code runs is the caller's [`Placement`]: inline on the
//! calling task (the builtin namespace, whose reads are snapshot reads and
//! whose waits are deferred replies), inline but timed (a third-party
//! method that declared it returns at once), or on tokio's blocking pool
//! (a method that may block); a call's continuations run where the call
//! ran. This module waits for ticket outcomes through a [`TicketWatcher`]
//! (`crate::rpc::ticket`); it never blocks a runtime thread itself.

use super::LoadedNamespace;
use crate::rpc::ticket::TicketWatcher;
use abi_stable::std_types::{ROption, RVec};
use std::sync::Arc;
use std::time::{Duration, Instant};
use supervisor_sdk::fault::{FAILED, Fault};
use supervisor_sdk::host::Ticket;
use supervisor_sdk::namespace::{ContinuationBox, Reply};
use supervisor_sdk::value::Value;

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
    /// On tokio's blocking pool: a method that may block.
    BlockingPool,
}

impl std::fmt::Debug for Placement<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Placement::Inline => "Inline",
            Placement::InlineTimed(_) => "InlineTimed",
            Placement::BlockingPool => "BlockingPool",
        })
    }
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
    let params = RVec::from(params);
    let reply = match placement {
        Placement::Inline => loaded.namespace.call(method.into(), params),
        Placement::InlineTimed(overrun) => {
            timed(overrun, || loaded.namespace.call(method.into(), params))
        }
        Placement::BlockingPool => {
            let namespace = Arc::clone(&loaded.namespace);
            let method = method.to_string();
            blocking(move || namespace.call(method.as_str().into(), params)).await?
        }
    };
    settle(reply, watcher, placement).await
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
    mut reply: Reply,
    watcher: &mut W,
    placement: Placement<'_>,
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
            reply = run(continuation, placement, |c| c.finish()).await?.1;
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
                run(continuation, placement, move |c| c.resume(ticket, outcome)).await?;
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

/// Run `step` on the continuation where `placement` says, handing the
/// continuation back with the result.
async fn run<T, F>(
    mut continuation: ContinuationBox,
    placement: Placement<'_>,
    step: F,
) -> Result<(ContinuationBox, T), Fault>
where
    T: Send + 'static,
    F: FnOnce(&mut ContinuationBox) -> T + Send + 'static,
{
    match placement {
        Placement::Inline => {
            let result = step(&mut continuation);
            Ok((continuation, result))
        }
        Placement::InlineTimed(overrun) => {
            let result = timed(overrun, || step(&mut continuation));
            Ok((continuation, result))
        }
        Placement::BlockingPool => {
            blocking(move || {
                let result = step(&mut continuation);
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
