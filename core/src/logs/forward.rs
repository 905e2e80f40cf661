//! Forwarding children's output to supervisord's own stdout
//! (`forward_output`, for containers): each channel's bytes are cut into
//! whole lines, each written with the process's name and its stream
//! (`web:web_00 | ...`, stderr `web:web_00 ! ...`) or as one JSON object,
//! and every batch of whole lines goes to stdout in one piece, batch after
//! batch, so lines of different children never mix.
//!
//! Who writes a batch: the channel's own task, when nothing is queued for
//! the writer thread and stdout takes the batch without waiting (a regular
//! file always does; a pipe or socket is written with RWF_NOWAIT, which
//! takes what fits); otherwise, and for the rest of a batch a full pipe cut
//! short, the writer thread, in order. Writing on the task that labelled
//! the batch, while it is hot in that core's cache, saves the hand-off (a
//! wake of the thread, whose core reads the batch cold): 0.54 s/GiB
//! instead of 0.62 into a file (`tests/bench/forward.sh`); into a pipe
//! whose reader is slower than the child, about the same as before. A regular
//! file's write waits for no reader, only for the disk, as the channel's
//! log file does, so a channel with a log file still never waits for a
//! reader.
//!
//! A slow reader of stdout: the writer holds at most [`BUDGET`] bytes not
//! yet written (a semaphore of bytes). A channel whose log file also has
//! every byte never waits for room: a batch that does not fit is dropped
//! and counted, and a line saying how many bytes were dropped is queued
//! behind the batches already there, so it is printed once stdout moves
//! again, before the channel's next lines. A channel whose only copy is
//! this one waits for room, so its output task stops reading and the child
//! feels the backpressure it would feel writing to the terminal itself.
//!
//! The output task hands each chunk it read to [`ChannelForward::lines`]
//! while the chunk is hot in its small read buffer, and the channel copies
//! each whole line after its label (and time) into its batch, which is
//! written in one call. Reading the pipe into big batch-sized
//! buffers instead (and labelling in the writer) cost more (0.78 s/GiB
//! against 0.58: a working set of megabytes instead of 64 KiB), and so did
//! writev(2) of the lines where they were read, two slices a line (0.56
//! s/GiB against 0.34 for the same bytes into a file, measured alone).
//!
//! The writer is one per process, made at the first forwarded batch (after
//! daemonizing, which a forwarding config refuses anyway), because stdout
//! is one per process too. It writes while holding std's stdout lock (so
//! the main log's echo never lands inside a batch) and bypasses std's line
//! buffer, which would scan every byte for newlines again. This module
//! owns no pipe and no process: the output task feeds it bytes and awaits
//! [`ChannelForward::send`].

use std::io::Write as _;
use std::os::fd::{AsFd as _, AsRawFd as _, FromRawFd as _, RawFd};
use std::sync::atomic::{AtomicU8, AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, OnceLock};

use tokio::sync::Semaphore;

use super::pipe::grow_pipe;
use super::route::{ForwardFormat, ForwardStyle};

/// Bytes queued for stdout and not yet written, at most: a burst of this
/// much from a child with a log file reaches a reader that was away for a
/// moment without a line dropped. A child writing flat out fills it in
/// milliseconds: with 4 MiB, a writer thread merely waiting for a core of
/// a busy 2-core machine lost a fifth of such a child's lines to a file.
pub const BUDGET: usize = 16 << 20;

/// A line longer than this is forwarded in pieces of this size, so one
/// child that never writes a newline cannot hold unbounded memory.
pub const LONGEST_LINE: usize = 64 * 1024;

/// A channel's lines go to the writer once this many bytes are waiting, or
/// when its pipe is drained: one hand-off (a wake of the writer thread and
/// a few writes) per quarter megabyte rather than per read of a busy child.
pub const BATCH: usize = 256 * 1024;

/// A batch buffer's capacity: a batch and the labelled lines of the read
/// that filled it (64 KiB, as the output task reads).
const BUFFER: usize = BATCH + 128 * 1024;

/// Spare batch buffers kept for reuse, at most.
const SPARES: usize = 8;

/// A drop count the writer has taken (its notice printed): later drops
/// start a new notice.
const TAKEN: u64 = u64::MAX;

/// How a channel's task may write a batch itself ([`Writer::direct`]).
const DIRECT_NEVER: u8 = 0;
/// stdout is a regular file: a plain write(2), which waits for no reader.
const DIRECT_FILE: u8 = 1;
/// Anything else (a pipe, a socket): pwritev2(2) with RWF_NOWAIT, which
/// writes what fits now and never waits.
const DIRECT_NOWAIT: u8 = 2;

/// One item for the writer thread.
enum Item {
    /// Labelled lines from `start` on (what a direct write left), and the
    /// bytes of the budget they hold.
    Lines {
        buf: Vec<u8>,
        start: usize,
        held: usize,
    },
    /// A channel dropped lines: the notice, with the count as it is when
    /// the writer gets there (drops until the channel's next batch).
    Dropped {
        who: Arc<Identity>,
        count: Arc<AtomicU64>,
    },
    /// Wakes the thread for the rest of a partial direct write, which
    /// waits in [`Writer::serial`] (see [`Writer::write_or_queue`]).
    Rest,
}

/// The writer thread's queue, its budget and the spare buffers, and what
/// lets a channel's task write a batch itself.
struct Writer {
    room: Arc<Semaphore>,
    budget: usize,
    queue: mpsc::Sender<Item>,
    spares: Arc<Mutex<Vec<Vec<u8>>>>,
    /// Held by whoever writes to `out` (the thread, or a task writing
    /// directly), so that batches never mix. It holds the rest of a
    /// partial direct write, which the next holder writes before anything
    /// else: queued behind the other items instead, it would come after
    /// whatever another task queued meanwhile, in the middle of a line.
    serial: Arc<Mutex<Option<Item>>>,
    /// Items queued and not yet written: a task writes directly only when
    /// there are none, so nothing it writes overtakes what was queued.
    queued: Arc<AtomicUsize>,
    /// The descriptor the thread writes (never closed, see
    /// `write_items`).
    fd: RawFd,
    /// `DIRECT_*`: how a task may write a batch itself.
    direct: AtomicU8,
}

/// The writer thread's share of a [`Writer`].
struct Shared {
    room: Arc<Semaphore>,
    spares: Arc<Mutex<Vec<Vec<u8>>>>,
    serial: Arc<Mutex<Option<Item>>>,
    queued: Arc<AtomicUsize>,
}

impl Writer {
    /// A writer of `out` (descriptor 1, or a test's pipe) holding at most
    /// `budget` bytes; None when its thread could not be made.
    fn start(out: std::fs::File, budget: usize) -> Option<Writer> {
        let (queue, items) = mpsc::channel::<Item>();
        let shared = Shared {
            room: Arc::new(Semaphore::new(budget)),
            spares: Arc::new(Mutex::new(Vec::new())),
            serial: Arc::new(Mutex::new(None)),
            queued: Arc::new(AtomicUsize::new(0)),
        };
        let writer = Writer {
            room: Arc::clone(&shared.room),
            budget,
            queue,
            spares: Arc::clone(&shared.spares),
            serial: Arc::clone(&shared.serial),
            queued: Arc::clone(&shared.queued),
            fd: out.as_raw_fd(),
            direct: AtomicU8::new(match out.metadata() {
                Ok(meta) if meta.is_file() => DIRECT_FILE,
                _ => DIRECT_NOWAIT,
            }),
        };
        std::thread::Builder::new()
            .name("forward-stdout".into())
            .spawn(move || write_items(out, &items, &shared))
            .ok()
            .map(|_| writer)
    }

    /// Queue `item` for the thread (counted in `queued`).
    fn queue(&self, item: Item) {
        self.queued.fetch_add(1, Ordering::AcqRel);
        if let Err(mpsc::SendError(item)) = self.queue.send(item) {
            self.queued.fetch_sub(1, Ordering::AcqRel);
            if let Item::Lines { held, .. } = item {
                self.room.add_permits(held);
            }
        }
    }

    /// Write `buf` (its budget `held` already taken) from the calling
    /// task when nothing is queued and `out` takes it without waiting for
    /// a reader; what is left goes to the thread, queued before anyone
    /// else may write. A batch the task wrote itself costs no hand-off to
    /// the thread, whose core would read it cold: this is the common case
    /// while the reader keeps up.
    fn write_or_queue(&self, buf: Vec<u8>, held: usize) {
        let mode = self.direct.load(Ordering::Relaxed);
        // Never waits for the lock: the thread holds it while it writes,
        // and may wait for the reader.
        let mut serial = (mode != DIRECT_NEVER && self.queued.load(Ordering::Acquire) == 0)
            .then(|| self.serial.try_lock().ok())
            .flatten();
        let start = match &serial {
            // Checked again under the lock: the thread may have been
            // given an item since.
            Some(_) if self.queued.load(Ordering::Acquire) == 0 => self.write_direct(mode, &buf),
            _ => 0,
        };
        if start == buf.len() {
            self.room.add_permits(held);
            recycle(&self.spares, buf);
            return;
        }
        match &mut serial {
            // Part written: the rest stays under the lock for the thread,
            // woken by an item that keeps other tasks from writing first.
            Some(rest) if start > 0 => {
                **rest = Some(Item::Lines { buf, start, held });
                self.queue(Item::Rest);
            }
            _ => self.queue(Item::Lines { buf, start, held }),
        }
        drop(serial);
    }

    /// Write as much of `buf` as `out` takes now; how much that was. An
    /// error other than "would wait" loses the batch (a closed stdout
    /// must not stop the daemon), as the thread's writes do.
    fn write_direct(&self, mode: u8, buf: &[u8]) -> usize {
        // So that the main log's echo never lands inside a batch.
        let _stdout = std::io::stdout().lock();
        let mut done = 0;
        while done < buf.len() {
            let rest = &buf[done..];
            let written = if mode == DIRECT_FILE {
                // SAFETY: `fd` stays open for the process's life, and
                // `rest` is valid for its length.
                unsafe { libc::write(self.fd, rest.as_ptr().cast(), rest.len()) }
            } else {
                let slice = libc::iovec {
                    iov_base: rest.as_ptr().cast_mut().cast(),
                    iov_len: rest.len(),
                };
                // SAFETY: as above; pwritev2 only reads the one iovec,
                // and offset -1 writes at the current position (a pipe's).
                unsafe { libc::pwritev2(self.fd, &slice, 1, -1, libc::RWF_NOWAIT) }
            };
            match usize::try_from(written) {
                Ok(0) => return buf.len(),
                Ok(n) => done += n,
                Err(_) => match std::io::Error::last_os_error().raw_os_error() {
                    Some(libc::EINTR) => {}
                    Some(libc::EAGAIN) => break,
                    // RWF_NOWAIT not supported for this stdout (an older
                    // kernel, a terminal): the thread writes from now on.
                    Some(libc::EOPNOTSUPP | libc::EINVAL | libc::ENOSYS) if done == 0 => {
                        self.direct.store(DIRECT_NEVER, Ordering::Relaxed);
                        break;
                    }
                    _ => return buf.len(),
                },
            }
        }
        done
    }

    /// An empty batch buffer of [`BUFFER`] bytes, a used one when there is
    /// a spare.
    fn buffer(&self) -> Vec<u8> {
        let spare = self.spares.lock().ok().and_then(|mut spares| spares.pop());
        spare.unwrap_or_else(|| Vec::with_capacity(BUFFER))
    }
}

/// Give a written or dropped batch's buffer back for the next batch.
fn recycle(spares: &Mutex<Vec<Vec<u8>>>, mut buf: Vec<u8>) {
    if buf.capacity() != BUFFER {
        return;
    }
    buf.clear();
    if let Ok(mut spares) = spares.lock()
        && spares.len() < SPARES
    {
        spares.push(buf);
    }
}

/// The writer thread: each item in one go under std's stdout lock.
fn write_items(out: std::fs::File, items: &mpsc::Receiver<Item>, shared: &Shared) {
    // Not closed at the end: descriptor 1 stays open for the process's
    // life (std's stdout never closes it).
    let mut out = std::mem::ManuallyDrop::new(out);
    // A pipe to a reader: room for a whole batch or more, so a write
    // rarely waits for the reader mid-batch.
    grow_pipe(out.as_fd());
    let stdout = std::io::stdout();
    let mut notice = Vec::new();
    while let Ok(item) = items.recv() {
        let mut serial = shared
            .serial
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        // A partial direct write's rest first, whichever item woke us.
        for item in [serial.take(), Some(item)].into_iter().flatten() {
            let (bytes, held) = match &item {
                Item::Lines { buf, start, held } => (&buf[*start..], *held),
                Item::Dropped { who, count } => {
                    notice.clear();
                    who.notice(count.swap(TAKEN, Ordering::AcqRel), &mut notice);
                    (&notice[..], 0)
                }
                Item::Rest => (&[][..], 0),
            };
            // A closed stdout (EPIPE) must not stop the daemon; the lines
            // are lost, as the terminal's would be.
            let lock = stdout.lock();
            let _ = out.write_all(bytes);
            drop(lock);
            shared.room.add_permits(held);
            if let Item::Lines { buf, .. } = item {
                recycle(&shared.spares, buf);
            }
        }
        // Counted down under the lock: a task that finds the queue empty
        // under it writes after this item, never before.
        shared.queued.fetch_sub(1, Ordering::AcqRel);
        drop(serial);
    }
}

/// Call `line` for each line of `buf` with its newline, in pieces of at
/// most [`LONGEST_LINE`] bytes: `(piece, None)` when the piece ends with
/// the child's own newline (included), `(piece, Some("\n"))` when it needs
/// one (a piece cut from a longer line, or a last line without one).
fn each_line<'a>(buf: &'a [u8], mut line: impl FnMut(&'a [u8], Option<&'static [u8]>)) {
    const NEWLINE: &[u8] = b"\n";
    let mut rest = buf;
    while !rest.is_empty() {
        let (mut whole, ends) = match memchr::memchr(b'\n', rest) {
            Some(at) => (&rest[..=at], 1),
            None => (rest, 0),
        };
        rest = &rest[whole.len()..];
        while whole.len() - ends > LONGEST_LINE {
            line(&whole[..LONGEST_LINE], Some(NEWLINE));
            whole = &whole[LONGEST_LINE..];
        }
        line(whole, (ends == 0).then_some(NEWLINE));
    }
}

static WRITER: OnceLock<Option<Writer>> = OnceLock::new();

/// The process's stdout writer; None when its thread could not be made
/// (then nothing is forwarded, and the daemon carries on).
fn stdout_writer() -> Option<&'static Writer> {
    WRITER
        .get_or_init(|| {
            // SAFETY: descriptor 1 stays open for the process's life, and
            // the writer never closes it (see `write_items`).
            Writer::start(unsafe { std::fs::File::from_raw_fd(1) }, BUDGET)
        })
        .as_ref()
}

/// Who a channel is, as its lines and notices name it.
#[derive(Debug)]
struct Identity {
    label: String,
    /// `label | ` (or `label ! `): what starts each text line.
    prefix: Arc<[u8]>,
    process: Arc<str>,
    group: Arc<str>,
    stream: &'static str,
    style: ForwardStyle,
}

impl Identity {
    /// The line saying `dropped` bytes were dropped.
    fn notice(&self, dropped: u64, out: &mut Vec<u8>) {
        let now = Stamp::now(self.style);
        match self.style.format {
            ForwardFormat::Text => {
                now.text(out);
                let mark = if self.stream == "stderr" { "!" } else { "|" };
                let _ = writeln!(
                    out,
                    "{} {mark} [supervisord] {dropped} bytes of output dropped here: \
                     supervisord's stdout was not read fast enough (the log file has them)",
                    self.label,
                );
            }
            ForwardFormat::Json => {
                let value = serde_json::json!({
                    "time": now.iso,
                    "process": &*self.process,
                    "group": &*self.group,
                    "stream": self.stream,
                    "dropped_bytes": dropped,
                });
                let _ = serde_json::to_writer(&mut *out, &value);
                out.push(b'\n');
            }
        }
    }
}

/// One channel's forwarding: the batch of labelled lines being made, the
/// start of a line held back, and the count of bytes dropped since the
/// channel's last batch that got through.
#[derive(Debug)]
pub struct ChannelForward {
    who: Arc<Identity>,
    lossless: bool,
    writer: Option<&'static Writer>,
    /// Empty (no capacity) between bursts, so an idle channel holds no
    /// batch buffer.
    batch: Vec<u8>,
    /// Child bytes in `batch` (for the drop count).
    batch_bytes: u64,
    partial: Vec<u8>,
    /// The drop count of the notice queued last, until a batch gets
    /// through.
    dropped: Option<Arc<AtomicU64>>,
}

impl std::fmt::Debug for Writer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Writer")
            .field("budget", &self.budget)
            .finish()
    }
}

impl ChannelForward {
    /// Forwarding of `stream` (`stdout`/`stderr`) of `group:process`.
    /// `lossless`: no log file has the bytes (see the module's doc).
    pub fn new(
        group: Arc<str>,
        process: Arc<str>,
        stream: &'static str,
        style: ForwardStyle,
        lossless: bool,
    ) -> Self {
        let label = if *group == *process {
            process.to_string()
        } else {
            format!("{group}:{process}")
        };
        let mark = if stream == "stderr" { "!" } else { "|" };
        ChannelForward {
            who: Arc::new(Identity {
                prefix: format!("{label} {mark} ").into_bytes().into(),
                label,
                process,
                group,
                stream,
                style,
            }),
            lossless,
            writer: None,
            batch: Vec::new(),
            batch_bytes: 0,
            partial: Vec::new(),
            dropped: None,
        }
    }

    fn writer(&mut self) -> Option<&'static Writer> {
        if self.writer.is_none() {
            self.writer = stdout_writer();
        }
        self.writer
    }

    /// Add the whole lines of `data` (after what was held back) to the
    /// batch, labelled; hold back the start of a line, up to
    /// [`LONGEST_LINE`] bytes.
    pub fn lines(&mut self, data: &[u8]) {
        if self.batch.capacity() == 0 {
            self.batch = match self.writer() {
                Some(writer) => writer.buffer(),
                None => Vec::with_capacity(BUFFER),
            };
        }
        let who = Arc::clone(&self.who);
        let mut head = Vec::new();
        let head: &[u8] = if who.style.timestamps || who.style.format == ForwardFormat::Json {
            Stamp::now(who.style).head(&who.prefix, &mut head);
            &head
        } else {
            &who.prefix
        };
        let mut rest = data;
        if !self.partial.is_empty() {
            let Some(at) = memchr::memchr(b'\n', rest) else {
                self.partial.extend_from_slice(rest);
                self.cut_partial(head);
                return;
            };
            self.partial.extend_from_slice(&rest[..=at]);
            rest = &rest[at + 1..];
            let line = std::mem::take(&mut self.partial);
            self.add(head, &line);
            self.partial = line;
            self.partial.clear();
        }
        let whole = memchr::memrchr(b'\n', rest).map_or(0, |at| at + 1);
        self.add(head, &rest[..whole]);
        self.partial.extend_from_slice(&rest[whole..]);
        self.cut_partial(head);
    }

    /// Whether the batch should go before more is read.
    pub fn full(&self) -> bool {
        self.batch.len() >= BATCH
    }

    /// Pieces of a line longer than [`LONGEST_LINE`] go as lines of their
    /// own; at most that much is held back.
    fn cut_partial(&mut self, head: &[u8]) {
        if self.partial.len() > LONGEST_LINE {
            let cut = (self.partial.len() - 1) / LONGEST_LINE * LONGEST_LINE;
            let rest = self.partial.split_off(cut);
            let pieces = std::mem::replace(&mut self.partial, rest);
            self.add(head, &pieces);
        }
    }

    /// Lines of `buf` into the batch, each after `head` (text) or as one
    /// JSON object (whose `head` is the time).
    fn add(&mut self, head: &[u8], buf: &[u8]) {
        self.batch_bytes += buf.len() as u64;
        let batch = &mut self.batch;
        match self.who.style.format {
            ForwardFormat::Text => each_line(buf, |line, newline| {
                batch.extend_from_slice(head);
                batch.extend_from_slice(line);
                if let Some(newline) = newline {
                    batch.extend_from_slice(newline);
                }
            }),
            ForwardFormat::Json => each_line(buf, |piece, added| {
                let line = if added.is_some() {
                    piece
                } else {
                    &piece[..piece.len() - 1]
                };
                let value = serde_json::json!({
                    "time": String::from_utf8_lossy(head),
                    "process": &*self.who.process,
                    "group": &*self.who.group,
                    "stream": self.who.stream,
                    "line": String::from_utf8_lossy(line),
                });
                let _ = serde_json::to_writer(&mut *batch, &value);
                batch.push(b'\n');
            }),
        }
    }

    /// Append `data` as if read (tests).
    #[cfg(test)]
    fn push(&mut self, data: &[u8]) {
        self.lines(data);
    }

    /// Hand the batch to the writer: waiting for room when this is the
    /// only copy; else, when it does not fit, dropping it (counted, a
    /// notice queued). At the end of the pipe (`last`) a line held back
    /// goes too.
    pub async fn send(&mut self, last: bool) {
        if last && !self.partial.is_empty() {
            let line = std::mem::take(&mut self.partial);
            let mut head = Vec::new();
            Stamp::now(self.who.style).head(&self.who.prefix, &mut head);
            self.add(&head, &line);
        }
        if self.batch.is_empty() {
            return;
        }
        let child_bytes = std::mem::take(&mut self.batch_bytes);
        let mut buf = std::mem::take(&mut self.batch);
        let Some(writer) = self.writer() else { return };
        if buf.len() < BATCH / 4 {
            // A few lines (a quiet child): a copy of their size holds the
            // budget, and the batch buffer goes back for the next batch.
            let small = buf.clone();
            recycle(&writer.spares, std::mem::replace(&mut buf, small));
        }
        // What the batch holds in memory, up to the whole budget (a
        // bigger one waits for an empty queue).
        let held = buf.capacity().min(writer.budget);
        let permit = if self.lossless {
            writer.room.acquire_many(held as u32).await.ok()
        } else {
            writer.room.try_acquire_many(held as u32).ok()
        };
        let Some(permit) = permit else {
            recycle(&writer.spares, buf);
            self.drop_counted(writer, child_bytes);
            return;
        };
        permit.forget();
        writer.write_or_queue(buf, held);
        self.dropped = None;
    }

    /// Count `bytes` as dropped: into the queued notice while the writer
    /// has not printed it, else in a new notice behind the queued batches.
    fn drop_counted(&mut self, writer: &Writer, bytes: u64) {
        let counted = self.dropped.as_ref().is_some_and(|count| {
            count
                .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                    (n != TAKEN).then(|| n + bytes)
                })
                .is_ok()
        });
        if !counted {
            let count = Arc::new(AtomicU64::new(bytes));
            writer.queue(Item::Dropped {
                who: Arc::clone(&self.who),
                count: Arc::clone(&count),
            });
            self.dropped = Some(count);
        }
    }
}

/// The time of one batch, formatted once for all its lines.
struct Stamp {
    /// `2026-01-02 15:04:05,123 ` for text lines with timestamps.
    text: Option<String>,
    /// RFC 3339 for JSON lines.
    iso: String,
}

impl Stamp {
    fn now(style: ForwardStyle) -> Stamp {
        let wants_text = style.timestamps && style.format == ForwardFormat::Text;
        let wants_iso = style.format == ForwardFormat::Json;
        if !wants_text && !wants_iso {
            return Stamp {
                text: None,
                iso: String::new(),
            };
        }
        let now = chrono::Local::now();
        Stamp {
            text: wants_text.then(|| now.format("%Y-%m-%d %H:%M:%S,%3f ").to_string()),
            iso: if wants_iso {
                now.to_rfc3339_opts(chrono::SecondsFormat::Millis, false)
            } else {
                String::new()
            },
        }
    }

    /// What starts each line of a batch: for text, the time (when asked)
    /// and `prefix`; for JSON, the time.
    fn head(&self, prefix: &[u8], out: &mut Vec<u8>) {
        if !self.iso.is_empty() {
            out.extend_from_slice(self.iso.as_bytes());
            return;
        }
        self.text(out);
        out.extend_from_slice(prefix);
    }

    fn text(&self, out: &mut Vec<u8>) {
        if let Some(text) = &self.text {
            out.extend_from_slice(text.as_bytes());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read as _;
    use std::time::{Duration, Instant};

    /// A writer of a pipe of its own, and the pipe's other end.
    fn test_writer(budget: usize) -> (&'static Writer, std::fs::File) {
        let (read, write) = nix::unistd::pipe().unwrap();
        let writer = Writer::start(std::fs::File::from(write), budget).unwrap();
        (Box::leak(Box::new(writer)), std::fs::File::from(read))
    }

    fn forward(
        writer: &'static Writer,
        format: ForwardFormat,
        timestamps: bool,
        lossless: bool,
    ) -> ChannelForward {
        let mut f = ChannelForward::new(
            "web".into(),
            "web_00".into(),
            "stdout",
            ForwardStyle { format, timestamps },
            lossless,
        );
        f.writer = Some(writer);
        f
    }

    /// Read `out` until `len` bytes came (or fail after 20 s).
    fn read_len(out: &mut std::fs::File, len: usize) -> Vec<u8> {
        let mut got = vec![0; len];
        out.read_exact(&mut got).unwrap();
        got
    }

    fn block_on<F: std::future::Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(f)
    }

    #[test]
    fn whole_lines_only_with_the_partial_line_held_back() {
        let (writer, mut out) = test_writer(BUDGET);
        let mut f = forward(writer, ForwardFormat::Text, false, true);
        f.push(b"one\ntw");
        block_on(f.send(false));
        assert_eq!(read_len(&mut out, 17), b"web:web_00 | one\n");
        f.push(b"o\nthree");
        block_on(f.send(false));
        assert_eq!(read_len(&mut out, 17), b"web:web_00 | two\n");
        block_on(f.send(true));
        assert_eq!(read_len(&mut out, 19), b"web:web_00 | three\n");
        let mut err = ChannelForward::new(
            "solo".into(),
            "solo".into(),
            "stderr",
            ForwardStyle::default(),
            true,
        );
        err.writer = Some(writer);
        err.push(b"oops\n");
        block_on(err.send(false));
        assert_eq!(read_len(&mut out, 12), b"solo ! oops\n");
    }

    #[test]
    fn a_line_without_end_is_cut_at_the_longest_line() {
        let (writer, mut out) = test_writer(BUDGET);
        let mut f = forward(writer, ForwardFormat::Text, false, true);
        let prefix = b"web:web_00 | ".as_slice();
        f.push(&vec![b'x'; LONGEST_LINE + 10]);
        block_on(f.send(false));
        let first = read_len(&mut out, prefix.len() + LONGEST_LINE + 1);
        assert_eq!(first, [prefix, &[b'x'; LONGEST_LINE], b"\n"].concat());
        // The rest of that line, then a line of two pieces and one of
        // exactly the longest length, whole.
        let mut more = vec![b'\n'];
        more.extend_from_slice(&[b'y'; LONGEST_LINE + 5]);
        more.push(b'\n');
        more.extend_from_slice(&[b'z'; LONGEST_LINE]);
        more.push(b'\n');
        f.push(&more);
        block_on(f.send(true));
        let rest = read_len(&mut out, 4 * prefix.len() + 10 + 2 * LONGEST_LINE + 5 + 4);
        let wanted = [
            prefix,
            &[b'x'; 10],
            b"\n",
            prefix,
            &[b'y'; LONGEST_LINE],
            b"\n",
            prefix,
            &[b'y'; 5],
            b"\n",
            prefix,
            &[b'z'; LONGEST_LINE],
            b"\n",
        ]
        .concat();
        assert_eq!(rest, wanted);
    }

    #[test]
    fn json_lines_and_timestamps() {
        let (writer, mut out) = test_writer(BUDGET);
        let mut f = forward(writer, ForwardFormat::Json, false, true);
        f.push(b"say \"hi\"\n");
        block_on(f.send(false));
        let mut reader = std::io::BufReader::new(&mut out);
        let mut line = String::new();
        std::io::BufRead::read_line(&mut reader, &mut line).unwrap();
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["process"], "web_00");
        assert_eq!(v["group"], "web");
        assert_eq!(v["stream"], "stdout");
        assert_eq!(v["line"], "say \"hi\"");
        assert!(v["time"].as_str().unwrap().len() >= 23, "{v}");
        let mut t = forward(writer, ForwardFormat::Text, true, true);
        t.push(b"x\ny\n");
        block_on(t.send(false));
        for wanted in ["x", "y"] {
            line.clear();
            std::io::BufRead::read_line(&mut reader, &mut line).unwrap();
            assert!(
                line.ends_with(&format!(" web:web_00 | {wanted}\n")),
                "{line}"
            );
            assert_eq!(line.as_bytes()[4], b'-');
            assert_eq!(line.as_bytes()[19], b',');
        }
    }

    /// Two children's channels (the only copies) sending flat out from
    /// two threads into a pipe read in small pieces: batches the tasks
    /// write themselves, the rest of one a full pipe cut short, and those
    /// the thread writes never mix lines, and each channel's lines come
    /// in order.
    #[test]
    fn lines_stay_whole_and_in_order_when_tasks_write_directly() {
        let (writer, out) = test_writer(BUDGET);
        const LINES: usize = 20_000;
        let senders: Vec<_> = ["a", "b"]
            .into_iter()
            .map(|name| {
                std::thread::spawn(move || {
                    let mut f = ChannelForward::new(
                        name.into(),
                        name.into(),
                        "stdout",
                        ForwardStyle::default(),
                        true,
                    );
                    f.writer = Some(writer);
                    block_on(async {
                        for chunk in (0..LINES).collect::<Vec<_>>().chunks(700) {
                            let mut data = Vec::new();
                            for n in chunk {
                                writeln!(data, "{n:0>200}").unwrap();
                            }
                            f.push(&data);
                            f.send(false).await;
                        }
                    });
                })
            })
            .collect();
        let mut reader = std::io::BufReader::with_capacity(512, out);
        let mut next = [0usize; 2];
        let mut line = String::new();
        while next != [LINES; 2] {
            line.clear();
            std::io::BufRead::read_line(&mut reader, &mut line).unwrap();
            let (who, n) = line.trim_end().split_once(" | ").expect(&line);
            let at = usize::from(who == "b");
            assert!(who == "a" || who == "b", "{line:?}");
            assert_eq!(n.len(), 200, "{line:?}");
            assert_eq!(n.parse::<usize>().unwrap(), next[at], "{line:?}");
            next[at] += 1;
        }
        for sender in senders {
            sender.join().unwrap();
        }
    }

    /// stdout a regular file: the task writes the batch itself, so the
    /// lines are in the file when `send` returns.
    #[test]
    fn a_regular_file_is_written_by_the_task_itself() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("stdout");
        let file = std::fs::File::create(&path).unwrap();
        let writer: &'static Writer = Box::leak(Box::new(Writer::start(file, BUDGET).unwrap()));
        assert_eq!(writer.direct.load(Ordering::Relaxed), DIRECT_FILE);
        let mut f = forward(writer, ForwardFormat::Text, false, false);
        f.push(b"one\ntwo\n");
        block_on(f.send(false));
        assert_eq!(
            std::fs::read(&path).unwrap(),
            b"web:web_00 | one\nweb:web_00 | two\n"
        );
        assert_eq!(writer.queued.load(Ordering::Acquire), 0);
    }

    /// stdout a terminal, which RWF_NOWAIT does not serve: the first
    /// batch goes to the thread, and so does every later one.
    #[test]
    fn a_terminal_is_written_by_the_thread() {
        let pty = nix::pty::openpty(None, None).unwrap();
        let writer: &'static Writer = Box::leak(Box::new(
            Writer::start(std::fs::File::from(pty.slave), BUDGET).unwrap(),
        ));
        let mut f = forward(writer, ForwardFormat::Text, false, true);
        let mut terminal = std::io::BufReader::new(std::fs::File::from(pty.master));
        let mut line = String::new();
        for wanted in ["one", "two"] {
            f.push(format!("{wanted}\n").as_bytes());
            block_on(f.send(false));
            assert_eq!(writer.direct.load(Ordering::Relaxed), DIRECT_NEVER);
            line.clear();
            std::io::BufRead::read_line(&mut terminal, &mut line).unwrap();
            // The terminal's own newline translation adds a \r.
            assert_eq!(line.trim_end(), format!("web:web_00 | {wanted}"));
        }
    }

    /// The rest of a task's partial direct write comes before an item
    /// another task queued while the first still wrote (as happens when
    /// the second found the lock taken), so no line is cut by another.
    #[test]
    fn a_partial_direct_write_ends_before_anything_queued_meanwhile() {
        let (writer, mut out) = test_writer(BUDGET);
        let first = b"a | first line\n".to_vec();
        let second = b"b | second line\n".to_vec();
        {
            // What write_or_queue does for a write the pipe took 5 bytes of
            // (the task holds the lock throughout), with another task's
            // batch queued in between.
            let mut serial = writer.serial.lock().unwrap();
            // SAFETY: the writer's descriptor stays open (leaked writer).
            let fd = unsafe { std::os::fd::BorrowedFd::borrow_raw(writer.fd) };
            assert_eq!(nix::unistd::write(fd, &first[..5]).unwrap(), 5);
            writer.queue(Item::Lines {
                buf: second.clone(),
                start: 0,
                held: 0,
            });
            *serial = Some(Item::Lines {
                buf: first.clone(),
                start: 5,
                held: 0,
            });
            writer.queue(Item::Rest);
        }
        let mut got = vec![0; first.len() + second.len()];
        out.read_exact(&mut got).unwrap();
        assert_eq!(got, [first, second].concat());
    }

    /// Bytes waiting in the pipe whose read end is `out`, and its size.
    fn pipe_fill(out: &std::fs::File) -> (usize, usize) {
        use std::os::fd::AsRawFd as _;
        let mut waiting: libc::c_int = 0;
        // SAFETY: FIONREAD writes one int to the pointer given.
        let _ = unsafe { libc::ioctl(out.as_raw_fd(), libc::FIONREAD, &mut waiting) };
        let size = nix::fcntl::fcntl(out, nix::fcntl::FcntlArg::F_GETPIPE_SZ).unwrap();
        (waiting as usize, size as usize)
    }

    /// A budget of one batch, nobody reading: a channel with a log file
    /// drops without ever waiting, each drop counted in a notice that
    /// follows what was queued before it; one without a log file waits
    /// for room. Every byte is either forwarded or counted.
    #[test]
    fn a_logged_channel_never_waits_and_the_only_copy_always_does() {
        let (writer, mut out) = test_writer(BUFFER);
        let chunk: Vec<u8> = std::iter::repeat_n([[b'a'; 99].as_slice(), b"\n"].concat(), 3000)
            .flatten()
            .collect();
        let mut logged = forward(writer, ForwardFormat::Text, false, false);
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let send = |f: &mut ChannelForward| {
            f.push(&chunk);
            runtime.block_on(async {
                tokio::time::timeout(Duration::from_millis(500), f.send(false))
                    .await
                    .is_ok()
            })
        };
        // Until stdout's pipe is full (the writer stuck in a write).
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut sent = 0;
        loop {
            assert!(send(&mut logged), "a logged channel waited for stdout");
            sent += 1;
            // Full: less than a page free (a page is filled or merged
            // into, not shared).
            let (waiting, size) = pipe_fill(&out);
            if size - waiting < 4096 {
                break;
            }
            assert!(Instant::now() < deadline, "stdout's pipe never filled");
        }
        // The next batch is the writer's stuck one, or it was already:
        // the budget is one batch, so this drops by the second send.
        for _ in 0..2 {
            assert!(send(&mut logged), "a logged channel waited for stdout");
            sent += 1;
        }
        assert!(logged.dropped.is_some(), "not dropped past the budget");
        let mut only = forward(writer, ForwardFormat::Text, false, true);
        assert!(!send(&mut only), "the only copy did not wait for room");
        // A reader now: lines and notices account for every byte sent.
        let total = sent * chunk.len();
        let mut reader = std::io::BufReader::new(&mut out);
        let (mut forwarded, mut dropped, mut last_notice) = (0, 0, false);
        let mut line = String::new();
        while forwarded + dropped < total {
            line.clear();
            std::io::BufRead::read_line(&mut reader, &mut line).unwrap();
            if let Some(a) = line.strip_prefix("web:web_00 | a") {
                assert_eq!(a.len(), 99, "{line}");
                forwarded += 100;
                last_notice = false;
            } else {
                let count = line
                    .strip_prefix("web:web_00 | [supervisord] ")
                    .and_then(|l| l.split_once(" bytes of output dropped here: "))
                    .unwrap_or_else(|| panic!("{line:?}"))
                    .0;
                let count: usize = count.parse().unwrap();
                assert!(count > 0 && count.is_multiple_of(chunk.len()), "{line}");
                dropped += count;
                last_notice = true;
            }
        }
        assert_eq!(forwarded + dropped, total);
        assert!(last_notice, "the last send's drop has no notice");
    }
}
