//! Child output: one task per output pipe reads what the child writes and
//! follows the channel's [`Route`] (decided in `logs::route`, never here).
//! A channel routed to splice (it only logs: no hook, capture mode or
//! events; the log neither strips, nor sends to syslog, nor echoes) has its
//! bytes spliced from the pipe into the log file with no copy through user
//! space (see [`ChildLog::splice_from`]). Any
//! other chunk is read, up to 64 KiB, and handed to the channel's
//! [`ChannelPump`] (capture mode, then the channel's [`ChildLog`]: rotation,
//! ANSI stripping, syslog, the main-log echo; PROCESS_LOG and
//! PROCESS_COMMUNICATION events through an [`EventSink`]), then offers it
//! to the [`OutputHook`] (how a listener's stdout reaches its pool).
//!
//! A forwarded channel whose child writes flat out (a read filled the
//! buffer) is taken out of the runtime's epoll until a read finds its pipe
//! empty (`Source`): epoll watches pipes edge-triggered, and a pipe
//! reports every write, so the idle worker woke and polled once for each
//! 64 KiB the child wrote, only to find the task already reading.
//!
//! The read buffer belongs to the worker thread, not to the pipe, so a
//! thousand idle programs cost no buffer memory; only a pipe found full
//! (a child writing flat out) is grown ([`grow_pipe`]). The supervisor task never
//! touches a pipe: a slow disk delays only the process whose output task
//! is writing (and the runtime worker running it).

use std::cell::RefCell;
use std::io::{self, Read as _};
use std::os::fd::{AsFd, BorrowedFd};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tokio::net::unix::pipe;
use tokio::sync::mpsc;

use crate::events::{self, Event, Publisher};
use crate::logs::forward::ChannelForward;
use crate::logs::pipe::{DEFAULT_PIPE_SIZE, SPLICE_MAX, grow_pipe};
use crate::logs::pump::{ChannelPump, OutputEventSink};
use crate::logs::{ChildLog, LogFileError, MainLog, Route, Spliced};

/// Bytes a process's stdin queue may hold unwritten: past them
/// `sendProcessStdin` is refused (the reference buffers without bound, so
/// a program that never reads its stdin grew its daemon with every send).
/// One send of any size is taken when nothing is pending.
pub const STDIN_QUEUE_BYTES: usize = 16 * 1024 * 1024;

/// A process's stdin queue: [`spawn_pipe_writer`] with a bound on the
/// bytes not yet written.
#[derive(Debug)]
pub struct StdinQueue {
    queue: mpsc::UnboundedSender<Vec<u8>>,
    pending: Arc<std::sync::atomic::AtomicUsize>,
}

/// Why a send to a process's stdin was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StdinRefused {
    /// The child closed its stdin (or never had one).
    Closed,
    /// [`STDIN_QUEUE_BYTES`] would be exceeded; this many are pending.
    Full(usize),
}

impl std::fmt::Display for StdinRefused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StdinRefused::Closed => f.write_str("Process has no stdin channel"),
            StdinRefused::Full(pending) => write!(
                f,
                "Process stdin queue is full ({pending} bytes not read yet, at most {STDIN_QUEUE_BYTES})"
            ),
        }
    }
}

impl StdinQueue {
    /// Feed `pipe` from a task of its own.
    pub fn spawn(pipe: pipe::Sender) -> StdinQueue {
        use std::sync::atomic::Ordering;
        let pending = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let (queue, mut items) = mpsc::unbounded_channel::<Vec<u8>>();
        let written = Arc::clone(&pending);
        tokio::spawn(async move {
            use tokio::io::AsyncWriteExt as _;
            let mut pipe = pipe;
            while let Some(item) = items.recv().await {
                let done = pipe.write_all(&item).await;
                written.fetch_sub(item.len(), Ordering::AcqRel);
                if done.is_err() {
                    return;
                }
            }
        });
        StdinQueue { queue, pending }
    }

    /// Queue `data`, unless the child closed its stdin or too much waits.
    pub fn send(&self, data: Vec<u8>) -> Result<(), StdinRefused> {
        use std::sync::atomic::Ordering;
        let pending = self.pending.load(Ordering::Acquire);
        if pending > 0 && pending.saturating_add(data.len()) > STDIN_QUEUE_BYTES {
            return Err(StdinRefused::Full(pending));
        }
        let len = data.len();
        self.pending.fetch_add(len, Ordering::AcqRel);
        self.queue.send(data).map_err(|_| {
            self.pending.fetch_sub(len, Ordering::AcqRel);
            StdinRefused::Closed
        })
    }
}

/// Write everything sent on the returned queue to `pipe`, in order, from a
/// task of its own, so the sender never waits on a child that reads
/// slowly: how a child's stdin is fed, and a listener's once an envelope
/// did not fit its pipe. A child that closed its stdin loses the rest, as
/// with the reference's dispatcher.
pub fn spawn_pipe_writer(pipe: pipe::Sender) -> mpsc::UnboundedSender<Vec<u8>> {
    let (queue, mut items) = mpsc::unbounded_channel::<Vec<u8>>();
    tokio::spawn(async move {
        use tokio::io::AsyncWriteExt as _;
        let mut pipe = pipe;
        while let Some(item) = items.recv().await {
            if pipe.write_all(&item).await.is_err() {
                return;
            }
        }
    });
    queue
}

/// How much one read takes from a pipe at most.
pub const CHUNK: usize = 64 * 1024;

thread_local! {
    static SCRATCH: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

pub use crate::logs::Channel;

/// One chunk of a child's output, as the hook sees it.
#[derive(Debug)]
pub struct OutputChunk<'a> {
    /// The group's name.
    pub group: &'a str,
    /// The process's name.
    pub process: &'a str,
    /// The child's pid.
    pub pid: i32,
    /// Which pipe.
    pub channel: Channel,
    /// The bytes as read (before ANSI stripping).
    pub data: &'a [u8],
}

/// Called with every chunk of child output after it was logged, on the
/// output task. It must not block (hand the bytes to a channel if the work
/// is slow).
pub type OutputHook = Arc<dyn Fn(&OutputChunk<'_>) + Send + Sync>;

/// A channel's log, shared by the output task that writes it and the
/// supervisor task that reopens or clears it.
pub type SharedLog = Arc<Mutex<ChildLog>>;

/// Lock a shared log. A panic while writing cannot leave the writer in a
/// state worse than a short write, so a poisoned lock is used as is.
pub fn lock(log: &SharedLog) -> MutexGuard<'_, ChildLog> {
    log.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Where one pipe's output goes.
#[derive(Clone)]
pub struct Destination {
    /// The group's name.
    pub group: Arc<str>,
    /// The process's name.
    pub process: Arc<str>,
    /// The child's pid.
    pub pid: i32,
    /// Which pipe.
    pub channel: Channel,
    /// The log, if the channel has one.
    pub log: Option<SharedLog>,
    /// The hook, if one is installed.
    pub hook: Option<OutputHook>,
    /// Where write failures are reported.
    pub main_log: Arc<MainLog>,
    /// Where the channel's output goes, as routed when its group was made.
    pub route: Route,
    /// Where event data is published (shared by every pump).
    pub publisher: Arc<Publisher>,
}

/// Publishes one channel's PROCESS_LOG and PROCESS_COMMUNICATION events:
/// the events of one chunk are collected and sent as one batch by
/// [`EventSink::flush`], so a read holding many capture blocks takes the
/// bus's lock once, and the bus builds an event (copies its data into its
/// own buffer) only when some pool keeps it ([`events::EventBatch`]).
#[derive(Debug)]
pub struct EventSink {
    publisher: Arc<Publisher>,
    group: Arc<str>,
    process: Arc<str>,
    pid: i32,
    channel: events::Channel,
    pending: RefCell<PendingEvents>,
}

/// The events of one chunk, their data back to back in one buffer that is
/// reused from chunk to chunk: collecting costs no allocation per event.
#[derive(Debug, Default)]
struct PendingEvents {
    data: Vec<u8>,
    events: Vec<(events::EventType, std::ops::Range<usize>)>,
}

/// A flush's view of the pending events, as the bus builds them.
struct PendingBatch<'a> {
    sink: &'a EventSink,
    pending: &'a PendingEvents,
}

impl events::EventBatch for PendingBatch<'_> {
    fn len(&self) -> usize {
        self.pending.events.len()
    }

    fn event_type(&self, index: usize) -> events::EventType {
        self.pending.events[index].0
    }

    fn build(&self, index: usize) -> Event {
        let (event_type, range) = &self.pending.events[index];
        let data = self.pending.data[range.clone()].to_vec();
        let sink = self.sink;
        match event_type {
            events::EventType::ProcessLogStdout | events::EventType::ProcessLogStderr => {
                Event::ProcessLog {
                    channel: sink.channel,
                    process: Arc::clone(&sink.process),
                    group: Arc::clone(&sink.group),
                    pid: sink.pid,
                    data,
                }
            }
            _ => Event::ProcessCommunication {
                channel: sink.channel,
                process: Arc::clone(&sink.process),
                group: Arc::clone(&sink.group),
                pid: sink.pid,
                data,
            },
        }
    }
}

/// Above this, the collecting buffer is given back after a flush (one
/// burst must not pin its size for the life of the child).
const PENDING_KEEP: usize = 2 * CHUNK;

impl EventSink {
    /// Send the events collected since the last flush, in order.
    pub fn flush(&self) {
        let mut pending = self.pending.borrow_mut();
        if pending.events.is_empty() {
            return;
        }
        self.publisher.publish_batch(&PendingBatch {
            sink: self,
            pending: &pending,
        });
        pending.events.clear();
        pending.data.clear();
        if pending.data.capacity() > PENDING_KEEP {
            pending.data = Vec::new();
        }
    }

    /// Collect an event of `event_type` carrying `data`, if some pool
    /// wants that type (checked first, so that output nobody subscribes to
    /// is not copied).
    fn push(&self, event_type: events::EventType, data: &[u8]) {
        if self.publisher.wants(event_type) {
            let mut pending = self.pending.borrow_mut();
            let start = pending.data.len();
            pending.data.extend_from_slice(data);
            let end = pending.data.len();
            pending.events.push((event_type, start..end));
        }
    }
}

impl OutputEventSink for EventSink {
    fn log_event(&self, data: &[u8]) {
        let event_type = match self.channel {
            events::Channel::Stdout => events::EventType::ProcessLogStdout,
            events::Channel::Stderr => events::EventType::ProcessLogStderr,
        };
        self.push(event_type, data);
    }

    fn communication_event(&self, data: &[u8]) {
        let event_type = match self.channel {
            events::Channel::Stdout => events::EventType::ProcessCommunicationStdout,
            events::Channel::Stderr => events::EventType::ProcessCommunicationStderr,
        };
        self.push(event_type, data);
    }
}

/// Read `pipe` to its end and deliver everything to `to`. Spawn it on the
/// runtime once per pipe of each child.
///
/// An `async` block rather than an `async fn`: the block keeps `pipe` and
/// `to` where it captured them, where an `async fn` would hold a second
/// copy of its arguments in its state; a pump waits in every piped
/// channel of every process, so its size is paid thousands of times.
#[allow(
    clippy::manual_async_fn,
    reason = "an async fn keeps its arguments twice (see above)"
)]
pub fn pump(pipe: pipe::Receiver, to: Destination) -> impl Future<Output = ()> + Send + 'static {
    // Wrapped before the block captures it: a `let` inside would keep the
    // captured pipe and the wrapped one side by side in the state.
    let mut pipe = Source::Polled(pipe);
    async move {
        let mut failing = false;
        let counted = crate::counters::output_bytes(&to.group, &to.process, to.channel.name());
        // Made at the first copied chunk, boxed: most programs are quiet most
        // of the time, and an idle pump then costs a few hundred bytes, not a
        // kilobyte.
        let mut channel: Option<Box<ChannelPump<EventSink>>> = None;
        // Bytes this channel only logs move pipe -> file with splice(2), as
        // its route says, once its log opened (the log checks the main-log
        // echo again at each chunk, and says Copy while it is on).
        let splices = to.route.splices && to.log.is_some();
        let mut grown = false;
        // Whole lines to supervisord's stdout (`logs::forward`), when
        // routed; boxed, as few channels are.
        let mut forward = to.route.forward_to_stdout.then(|| {
            Box::new(ChannelForward::new(
                Arc::clone(&to.group),
                Arc::clone(&to.process),
                to.channel.name(),
                to.route.forward_style,
                to.route.forward_lossless,
            ))
        });
        loop {
            match &pipe {
                // Polled rather than `readable().await`: the waker then waits
                // in the pipe's registration, and this state holds no waiter
                // node (the pump's task is a 128-byte multiple: 512 bytes
                // with it).
                Source::Polled(polled) => {
                    if std::future::poll_fn(|cx| polled.poll_read_ready(cx))
                        .await
                        .is_err()
                    {
                        break;
                    }
                }
                // What `readable` would have taken from the task's budget,
                // so a channel read flat out still lets others run.
                Source::Unpolled(_) => tokio::task::consume_budget().await,
            }
            let spliced = match (&to.log, splices, &pipe) {
                (Some(log), true, Source::Polled(pipe)) => {
                    let mut log = lock(log);
                    pipe.try_io(|| match log.splice_from(pipe.as_fd(), SPLICE_MAX, true) {
                        // Tells tokio the pipe is drained, so the next
                        // `readable` waits for the child.
                        Spliced::WouldBlock => Err(io::ErrorKind::WouldBlock.into()),
                        other => Ok(other),
                    })
                }
                _ => Ok(Spliced::Copy),
            };
            let outcome = match spliced {
                Ok(Spliced::Moved(0, _)) => Ok(0),
                Ok(Spliced::Moved(moved, result)) => {
                    note_write(&to, result, &mut failing);
                    Ok(moved)
                }
                Ok(Spliced::Copy) => SCRATCH.with(|scratch| {
                    let mut buffer = scratch.borrow_mut();
                    if buffer.len() < CHUNK {
                        buffer.resize(CHUNK, 0);
                    }
                    let read = pipe.try_read(&mut buffer[..]);
                    if let Ok(n @ 1..) = read {
                        let channel = channel.get_or_insert_with(|| Box::new(channel_pump(&to)));
                        deliver(&to, channel, &buffer[..n], &mut failing);
                        // Labelled lines into the forwarding batch while the
                        // bytes are hot in this small buffer.
                        if let Some(forward) = &mut forward {
                            forward.lines(&buffer[..n]);
                        }
                    }
                    read
                }),
                Ok(Spliced::WouldBlock) => Err(io::ErrorKind::WouldBlock.into()),
                Err(error) => Err(error),
            };
            // Awaited outside the read: a forward that is the only copy of
            // the output waits here for stdout, and the child with it (one
            // with a log file never waits). A full read leaves more to read:
            // its lines wait for the next ones, up to a batch (the drained
            // pipe's short read or WouldBlock sends them).
            if let Some(forward) = &mut forward
                && (forward.full() || !matches!(outcome, Ok(CHUNK)))
            {
                // Boxed: the send's wait (a semaphore and a timer) would
                // otherwise sit in every pump, forwarding or not.
                Box::pin(forward.send(false)).await;
            }
            // Only a forwarded channel, which always copies, leaves epoll.
            // Decided after the send, so the pump's state need not hold it.
            let unpoll = forward.is_some() && matches!(outcome, Ok(CHUNK));
            let drained =
                matches!(&outcome, Err(error) if error.kind() == io::ErrorKind::WouldBlock);
            match outcome {
                Ok(0) => break,
                Ok(n) => {
                    counted.add(n);
                    if !grown && n >= DEFAULT_PIPE_SIZE {
                        grown = true;
                        grow_pipe(pipe.as_fd());
                    }
                }
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => {}
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => break,
            }
            pipe = match pipe.follow(unpoll, drained) {
                Ok(pipe) => pipe,
                Err(_) => break,
            };
        }
        if let Some(forward) = &mut forward {
            Box::pin(forward.send(true)).await;
        }
        // A channel that never copied has nothing held back to flush.
        if let Some(mut channel) = channel {
            let mut log = to.log.as_ref().map(lock);
            if let Err(error) = channel.finish(log.as_deref_mut()) {
                to.main_log.error(&error.to_string());
            }
            channel.sink().flush();
        }
    }
}

/// A pipe as the output task holds it.
enum Source {
    /// Watched by the runtime's epoll: waited for with `readable`.
    Polled(pipe::Receiver),
    /// Out of epoll while the child writes flat out: read (non-blocking)
    /// until it would block, then polled again.
    Unpolled(std::fs::File),
}

impl Source {
    fn as_fd(&self) -> BorrowedFd<'_> {
        match self {
            Source::Polled(pipe) => pipe.as_fd(),
            Source::Unpolled(file) => file.as_fd(),
        }
    }

    fn try_read(&self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Source::Polled(pipe) => pipe.try_read(buf),
            // Non-blocking still: tokio's pipes are, and unpolling keeps
            // the mode.
            Source::Unpolled(file) => {
                let mut file: &std::fs::File = file;
                file.read(buf)
            }
        }
    }

    /// Out of epoll (`unpoll`) or back in, as the last read says; an error
    /// (epoll refused the pipe back) ends the channel's reading, as a
    /// failing `readable` does.
    fn follow(self, unpoll: bool, drained: bool) -> io::Result<Source> {
        Ok(match self {
            Source::Polled(pipe) if unpoll => Source::Unpolled(pipe.into_nonblocking_fd()?.into()),
            Source::Unpolled(file) if drained => {
                Source::Polled(pipe::Receiver::from_owned_fd_unchecked(file.into())?)
            }
            same => same,
        })
    }
}

/// Report a failing log write once per failing streak, not once per chunk.
fn note_write(to: &Destination, result: Result<(), LogFileError>, failing: &mut bool) {
    match result {
        Err(error) if !*failing => {
            *failing = true;
            to.main_log.error(&format!(
                "unable to write the {} log of {}: {error}",
                to.channel.name(),
                to.process
            ));
        }
        Err(_) => {}
        Ok(()) => *failing = false,
    }
}

fn channel_pump(to: &Destination) -> ChannelPump<EventSink> {
    let sink = EventSink {
        publisher: Arc::clone(&to.publisher),
        group: Arc::clone(&to.group),
        process: Arc::clone(&to.process),
        pid: to.pid,
        channel: to.channel,
        pending: RefCell::new(PendingEvents::default()),
    };
    ChannelPump::new(
        to.process.to_string(),
        to.channel.name(),
        to.route.pump,
        sink,
        Some(Arc::clone(&to.main_log)),
    )
}

fn deliver(
    to: &Destination,
    channel: &mut ChannelPump<EventSink>,
    data: &[u8],
    failing: &mut bool,
) {
    {
        let mut log = to.log.as_ref().map(lock);
        let written = channel.handle_chunk(log.as_deref_mut(), data);
        channel.sink().flush();
        note_write(to, written, failing);
    }
    if let Some(hook) = &to.hook {
        hook(&OutputChunk {
            group: &to.group,
            process: &to.process,
            pid: to.pid,
            channel: to.channel,
            data,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::types::LogLevel;
    use crate::logs::{MainLogConfig, MainLogTarget};

    /// Every piped channel of every process has a pump waiting for
    /// output: its size is paid thousands of times (issue 22's memory per
    /// program), so what only some channels need is boxed.
    #[tokio::test]
    async fn a_pump_waiting_for_output_is_small() {
        let (_writer, reader) = pipe::pipe().expect("a pipe");
        let main_log = MainLog::open(MainLogConfig {
            level: LogLevel::Info,
            target: MainLogTarget::Nowhere,
            echo_to_stdout: false,
        })
        .expect("a main log that goes nowhere");
        let bus = events::EventBus::new("test");
        let to = Destination {
            group: Arc::from("g"),
            process: Arc::from("p"),
            pid: 1,
            channel: Channel::Stdout,
            log: None,
            hook: None,
            main_log: Arc::new(main_log),
            route: Route::default(),
            publisher: Arc::new(bus.publisher()),
        };
        let pump = pump(reader, to);
        let size = std::mem::size_of_val(&pump);
        // 264 bytes with Rust 1.95 before forwarded channels could leave
        // epoll, 272 since (704 before its forward and the second
        // copy of its arguments went, 392 before it polled its pipe itself
        // and shared the publisher). Tokio's task cell is a multiple of 128
        // bytes holding the future and about 110 bytes of its own: 272 is
        // the most that keeps a pump's task at 384 bytes, not 512.
        assert!(size <= 272, "a pump future of {size} bytes");
    }
}
