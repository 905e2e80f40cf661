//! What a freshly spawned child is connected to: its stdin kept for
//! writes, its logs opened (once, at the first spawn), a listener's pool
//! told of it, and one output pump per piped channel. It wires the
//! record to the output path (`super::output`) and returns the pumps for
//! the task to run; it decides nothing about state.

use std::future::Future;
use std::sync::{Arc, Mutex};

use tokio::net::unix::pipe;

use super::listeners::EventHub;
use super::output::{self, Channel, Destination, OutputHook};
use super::table::Proc;
use crate::events::Publisher;
use crate::logs::{ChildLog, ChildLogSpec, MainLog};
use crate::process::spawn::SpawnedFds;

/// What attaching a child reads from the daemon.
pub struct AttachContext<'a> {
    pub main_log: &'a Arc<MainLog>,
    pub publisher: &'a Publisher,
    /// Offered every chunk of output, if set.
    pub hook: &'a Option<OutputHook>,
    pub events: &'a Arc<EventHub>,
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
    let publisher = cx.publisher.clone();
    let mut hook = cx.hook.clone();
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
            match ChildLog::open(ChildLogSpec::clone(spec), Some(Arc::clone(&main_log))) {
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
            publisher: publisher.clone(),
        };
        pumps.push(output::pump(pipe, to));
    }
    pumps
}
