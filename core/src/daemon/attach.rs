//! What a freshly spawned child is connected to: its stdin kept for
//! writes, its logs opened (once, at the first spawn), a listener's pool
//! told of it, and one output pump per piped channel; and later, writing
//! to its stdin and clearing or reopening its logs. It wires the
//! record to the output path (`super::output`) and returns the pumps for
//! the task to run; it decides nothing about state.

use crate::probes::{LineWatch, Probe, ReadySignal};
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::net::unix::pipe;
use tokio::task::JoinSet;

use super::listeners::EventHub;
use super::output::{self, Channel, Destination, OutputHook};
use super::table::Proc;
use crate::events::Publisher;
use crate::logs::{ChildLog, LogLevel, MainLog};
use crate::process::spawn::SpawnedFds;

/// How long a stopping daemon waits for its children's pipes to drain.
const PIPE_DRAIN: Duration = Duration::from_secs(2);

/// What attaching a child reads from the daemon.
pub struct AttachContext<'a> {
    pub main_log: &'a Arc<MainLog>,
    pub publisher: &'a Arc<Publisher>,
    /// Offered every chunk of output, if set.
    pub hook: &'a Option<OutputHook>,
    pub events: &'a Arc<EventHub>,
    /// Called when a `log:` ready check matches this child's output.
    pub ready: Option<ReadySignal>,
}

/// Keep the new child's stdin and start a pump for each output pipe it
/// has (a discarded channel has none).
pub fn attach_output(
    proc: &mut Proc,
    fds: SpawnedFds,
    cx: &AttachContext<'_>,
) -> Vec<impl Future<Output = ()> + Send + 'static> {
    let pid = fds.pid;
    let main_log = Arc::clone(cx.main_log);
    let publisher = Arc::clone(cx.publisher);
    let mut hook = cx.hook.clone();
    if let (Some(Probe::Log(pattern)), Some(signal)) = (proc.ready.as_deref(), &cx.ready) {
        // The channels are routed to be read and copied (`line_watch`),
        // so every chunk passes the hook.
        let watch = LineWatch::new(pattern.clone(), Arc::clone(signal));
        let inner = hook.take();
        hook = Some(Arc::new(move |chunk: &output::OutputChunk<'_>| {
            if let Some(inner) = &inner {
                inner(chunk);
            }
            watch.feed(chunk.channel, chunk.data);
        }));
    }
    let mut stdin = fds.stdin;
    if let Some(pool) = &proc.pool {
        let sender = stdin.take().and_then(|fd| {
            pipe::Sender::from_owned_fd(fd)
                .map_err(|error| {
                    main_log.error(&format!(
                        "unable to watch the stdin pipe of pid {pid}: {error}"
                    ));
                })
                .ok()
        });
        // A listener's stdout speaks the event protocol: its output
        // task runs it through the hub (after it is logged as any
        // output), and envelopes go to its stdin from whichever task
        // dispatches them. The pool learns of the spawn before that
        // task can read a READY.
        cx.events.listener_spawned(pool, &proc.name, sender);
        let events = Arc::clone(cx.events);
        let (pool, name) = (Arc::clone(pool), Arc::clone(&proc.name));
        let inner = hook.take();
        hook = Some(Arc::new(move |chunk: &output::OutputChunk<'_>| {
            if let Some(inner) = &inner {
                inner(chunk);
            }
            if chunk.channel == Channel::Stdout {
                events.listener_output(&pool, &name, chunk.data);
            }
        }));
    }
    for (index, spec) in proc.log_specs.iter().enumerate() {
        if proc.logs[index].is_none()
            && let Some(spec) = spec
        {
            match ChildLog::open(Arc::clone(spec), Some(Arc::clone(&main_log))) {
                Ok(log) => proc.logs[index] = Some(Arc::new(Mutex::new(log))),
                Err(error) => main_log.error(&error.to_string()),
            }
        }
    }
    proc.stdin = stdin;
    proc.stdin_queue = None;
    let channels = [
        (fds.stdout, Channel::Stdout, 0),
        (fds.stderr, Channel::Stderr, 1),
    ];
    let mut pumps = Vec::with_capacity(2);
    for (fd, channel, index) in channels {
        let Some(fd) = fd else { continue };
        let pipe = match pipe::Receiver::from_owned_fd(fd) {
            Ok(pipe) => pipe,
            Err(error) => {
                main_log.error(&format!(
                    "unable to watch the {} pipe of pid {pid}: {error}",
                    channel.name()
                ));
                continue;
            }
        };
        let to = Destination {
            group: Arc::clone(&proc.group),
            process: Arc::clone(&proc.name),
            pid,
            channel,
            log: proc.logs[index].clone(),
            hook: hook.clone(),
            main_log: Arc::clone(&main_log),
            route: proc.routes[index],
            publisher: Arc::clone(&publisher),
        };
        pumps.push(output::pump(pipe, to));
    }
    pumps
}

/// The running output pumps, so that shutdown can let them drain the
/// pipes.
#[derive(Default)]
pub struct Pumps {
    running: JoinSet<()>,
}

impl Pumps {
    /// Run `pumps` (a new child's).
    pub fn run(
        &mut self,
        pumps: impl IntoIterator<Item = impl Future<Output = ()> + Send + 'static>,
    ) {
        // Forget the pumps that finished, so the set stays small.
        while self.running.try_join_next().is_some() {}
        for pump in pumps {
            self.running.spawn(pump);
        }
    }

    /// Let the pumps read what the children wrote before they died. A
    /// pipe that a surviving grandchild still holds never ends, so the
    /// wait is bounded.
    pub async fn drain(&mut self) {
        let drained = tokio::time::timeout(PIPE_DRAIN, async {
            while self.running.join_next().await.is_some() {}
        })
        .await;
        if drained.is_err() {
            self.running.abort_all();
        }
    }
}

/// Queue `data` for the process's stdin, in order, written by a task of
/// its own so a child that does not read never blocks the supervisor
/// task. Refused when the process has no stdin any more, or when its queue
/// holds too much unread (see [`output::STDIN_QUEUE_BYTES`]).
pub fn queue_stdin(
    proc: &mut Proc,
    events: &EventHub,
    data: Vec<u8>,
) -> Result<(), output::StdinRefused> {
    use output::StdinRefused::Closed;
    if let Some(pool) = &proc.pool {
        // A listener's stdin belongs to its pool's writer.
        return events
            .write_stdin(pool, &proc.name, data)
            .then_some(())
            .ok_or(Closed);
    }
    if proc.stdin_queue.is_none() {
        let fd = proc.stdin.take().ok_or(Closed)?;
        let pipe = pipe::Sender::from_owned_fd(fd).map_err(|_| Closed)?;
        proc.stdin_queue = Some(output::StdinQueue::spawn(pipe));
    }
    proc.stdin_queue.as_ref().ok_or(Closed)?.send(data)
}

/// Truncate both logs of `proc` (`clearProcessLogs`); the last failure.
pub fn clear_logs(proc: &Proc) -> Result<(), String> {
    let mut failure = Ok(());
    for log in proc.logs.iter().flatten() {
        if let Err(error) = output::lock(log).clear() {
            failure = Err(error.to_string());
        }
    }
    failure
}

/// Reopen the main log and both logs of every one of `procs` (SIGUSR2),
/// saying in the main log which could not be.
pub fn reopen_logs<'a>(main_log: &MainLog, procs: impl Iterator<Item = &'a Proc>) {
    main_log.log(
        LogLevel::Info,
        "received SIGUSR2 indicating log reopen request",
    );
    if let Err(error) = main_log.reopen() {
        eprintln!("supervisord: {error}");
    }
    main_log.log(LogLevel::Info, "supervisord logreopen");
    for proc in procs {
        for log in proc.logs.iter().flatten() {
            if let Err(error) = output::lock(log).reopen() {
                main_log.error(&error.to_string());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn draining_waits_for_ended_pipes_but_not_for_held_ones() {
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let mut pumps = Pumps::default();
        let ended = async move {
            let _ = rx.await;
        };
        pumps.run([Box::pin(ended) as std::pin::Pin<Box<dyn Future<Output = ()> + Send>>]);
        drop(tx);
        let start = tokio::time::Instant::now();
        pumps.drain().await;
        assert!(start.elapsed() < PIPE_DRAIN, "an ended pipe drains at once");
        pumps.run([Box::pin(std::future::pending::<()>())
            as std::pin::Pin<Box<dyn Future<Output = ()> + Send>>]);
        pumps.drain().await;
        assert!(start.elapsed() >= PIPE_DRAIN, "a held pipe is waited for");
    }
}
