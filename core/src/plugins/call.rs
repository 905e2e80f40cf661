//! Calling a loaded namespace from the daemon's async side, and carrying a
//! deferred reply to its end: the daemon-side half of the SDK's reply
//! contract (see `supervisor_sdk::namespace::Deferred`), kept next to the
//! loader so the contract has one interpreter.
//!
//! The builtin namespace is called inline (its reads are snapshot reads
//! and its waits are deferred replies). A third-party namespace, and its
//! continuations, run on tokio's blocking pool, since the daemon cannot
//! know what they do. This module waits for ticket outcomes through a
//! [`TicketWatcher`] the daemon provides; it never blocks a runtime thread.

use super::LoadedNamespace;
use super::convert::{value_from_dxr, value_to_dxr};
use abi_stable::std_types::{ROption, RVec};
use std::future::Future;
use std::sync::Arc;
use supervisor_sdk::fault::{FAILED, Fault};
use supervisor_sdk::host::{Outcome, Ticket};
use supervisor_sdk::namespace::{ContinuationBox, Reply};
use supervisor_sdk::value::Value;

/// Where the daemon delivers the outcomes of host commands.
pub trait TicketWatcher: Send {
    /// Deliver the outcomes of `tickets` through [`TicketWatcher::next`].
    fn watch(&mut self, tickets: &[Ticket]);

    /// The next watched ticket to complete, with its outcome; `None` when
    /// none can complete any more (the daemon is going away).
    fn next(&mut self) -> impl Future<Output = Option<(Ticket, Outcome)>> + Send;
}

/// Call `method` of a loaded namespace with XML-RPC parameters and settle
/// the reply. Plugin panics arrive here as faults already (the SDK catches
/// them inside the plugin). The fault is the SDK's; its code and string go
/// to the client unchanged.
pub async fn call_namespace<W: TicketWatcher>(
    loaded: &LoadedNamespace,
    method: &str,
    params: &[dxr::Value],
    watcher: &mut W,
) -> Result<dxr::Value, Fault> {
    let params: RVec<Value> = params.iter().map(value_from_dxr).collect();
    let reply = if loaded.builtin {
        loaded.namespace.call(method.into(), params)
    } else {
        let namespace = Arc::clone(&loaded.namespace);
        let method = method.to_string();
        blocking(move || namespace.call(method.as_str().into(), params)).await?
    };
    settle(reply, watcher, !loaded.builtin)
        .await
        .map(|value| value_to_dxr(&value))
}

/// Carry `reply` to a value or a fault: wait for a deferred reply's tickets
/// and feed each outcome to its continuation (on the blocking pool when
/// `on_blocking_pool`), following a continuation that defers again.
pub async fn settle<W: TicketWatcher>(
    mut reply: Reply,
    watcher: &mut W,
    on_blocking_pool: bool,
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
            reply = run(continuation, on_blocking_pool, |c| c.finish()).await?.1;
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
            let (back, answer) = run(continuation, on_blocking_pool, move |c| {
                c.resume(ticket, outcome)
            })
            .await?;
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

/// Run `step` on the continuation, on the blocking pool if asked, handing
/// the continuation back with the result.
async fn run<T, F>(
    mut continuation: ContinuationBox,
    on_blocking_pool: bool,
    step: F,
) -> Result<(ContinuationBox, T), Fault>
where
    T: Send + 'static,
    F: FnOnce(&mut ContinuationBox) -> T + Send + 'static,
{
    if on_blocking_pool {
        blocking(move || {
            let result = step(&mut continuation);
            (continuation, result)
        })
        .await
    } else {
        let result = step(&mut continuation);
        Ok((continuation, result))
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
