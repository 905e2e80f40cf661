//! Forwarding children's output to supervisord's own stdout
//! (`forward_output`, for containers): each channel's bytes are cut into
//! whole lines, each written with the process's name and its stream
//! (`web:web_00 | ...`, stderr `web:web_00 ! ...`) or as one JSON object,
//! and every batch of whole lines goes to stdout in one write from one
//! writer thread, so lines of different children never mix.
//!
//! A slow reader of stdout: the writer holds at most [`BUDGET`] bytes not
//! yet written (a semaphore of bytes). A channel whose only copy is this
//! one waits for room, so its output task stops reading and the child
//! feels the backpressure it would feel writing to the terminal itself. A
//! channel whose log file also has every byte waits for room only while
//! stdout moves: once the writer has been stuck in one write for [`STALL`]
//! (nobody reads), it stops waiting, drops what does not fit and counts
//! it, and the next batch that fits starts with a line saying how many
//! bytes were dropped. Dropping as soon as the buffer is full lost lines
//! under any reader: a child bursting faster than a write to a pipe
//! wakes its reader fills a megabyte in a millisecond.
//!
//! The writer is one per process, made at the first forwarded line (after
//! daemonizing, which a forwarding config refuses anyway), because stdout
//! is one per process too. It writes each batch to descriptor 1 in one
//! call while holding std's stdout lock (so the main log's echo never
//! lands inside a batch), bypassing std's line buffer, which would scan
//! every byte for newlines again, and hands the batch's buffer back for
//! the next one. This module owns no pipe and no process: the output task
//! feeds it bytes and awaits [`ChannelForward::send`].

use std::io::Write as _;
use std::os::fd::{AsFd as _, FromRawFd as _};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use tokio::sync::Semaphore;

use super::pipe::grow_pipe;
use super::route::{ForwardFormat, ForwardStyle};

/// Bytes queued for stdout and not yet written, at most.
pub const BUDGET: usize = 1 << 20;

/// A line longer than this is forwarded in pieces of this size, so one
/// child that never writes a newline cannot hold unbounded memory.
pub const LONGEST_LINE: usize = 64 * 1024;

/// How long one write to stdout may take before its reader counts as
/// stalled, and a channel with a log file stops waiting for room.
pub const STALL: Duration = Duration::from_secs(1);

/// A channel's lines go to the writer once this many bytes are waiting, or
/// when its pipe is drained: one hand-off (a wake of the writer thread and
/// a write) per quarter megabyte rather than per read of a busy child.
pub const BATCH: usize = 256 * 1024;

/// Spare batch buffers kept for reuse, at most.
const SPARES: usize = 8;

struct Writer {
    room: Arc<Semaphore>,
    queue: mpsc::Sender<(Vec<u8>, u32)>,
    /// When the write under way began, in microseconds after `epoch` plus
    /// one; 0 when the writer is idle.
    writing_since: Arc<AtomicU64>,
    epoch: Instant,
    /// Buffers of written batches, for the next ones.
    spares: Arc<Mutex<Vec<Vec<u8>>>>,
}

impl Writer {
    /// Whether the write under way has taken [`STALL`] or more.
    fn stalled(&self) -> bool {
        match self.writing_since.load(Ordering::Acquire) {
            0 => false,
            since => {
                let now = u64::try_from(self.epoch.elapsed().as_micros()).unwrap_or(u64::MAX);
                now.saturating_sub(since - 1) >= STALL.as_micros() as u64
            }
        }
    }

    /// An empty buffer, a used one when there is a spare.
    fn buffer(&self) -> Vec<u8> {
        self.spares
            .lock()
            .ok()
            .and_then(|mut spares| spares.pop())
            .unwrap_or_default()
    }
}

static WRITER: OnceLock<Option<Writer>> = OnceLock::new();

/// The process's stdout writer; None when its thread could not be made
/// (then nothing is forwarded, and the daemon carries on).
fn writer() -> Option<&'static Writer> {
    WRITER
        .get_or_init(|| {
            let (queue, batches) = mpsc::channel::<(Vec<u8>, u32)>();
            let room = Arc::new(Semaphore::new(BUDGET));
            let freed = Arc::clone(&room);
            let writing_since = Arc::new(AtomicU64::new(0));
            let since = Arc::clone(&writing_since);
            let spares = Arc::new(Mutex::new(Vec::new()));
            let returned = Arc::clone(&spares);
            let epoch = Instant::now();
            std::thread::Builder::new()
                .name("forward-stdout".into())
                .spawn(move || {
                    let stdout = std::io::stdout();
                    // SAFETY: descriptor 1 stays open for the process's
                    // life (std's stdout never closes it), and ManuallyDrop
                    // keeps this File from closing it.
                    let mut raw =
                        std::mem::ManuallyDrop::new(unsafe { std::fs::File::from_raw_fd(1) });
                    // A pipe to a reader: room for a whole batch or more,
                    // so a write rarely waits for the reader mid-batch.
                    grow_pipe(raw.as_fd());
                    while let Ok((mut batch, size)) = batches.recv() {
                        let began = u64::try_from(epoch.elapsed().as_micros()).unwrap_or(0);
                        since.store(began + 1, Ordering::Release);
                        // A closed stdout (EPIPE) must not stop the
                        // daemon; the lines are lost, as the terminal's
                        // would be.
                        let lock = stdout.lock();
                        let _ = raw.write_all(&batch);
                        drop(lock);
                        since.store(0, Ordering::Release);
                        freed.add_permits(size as usize);
                        batch.clear();
                        if let Ok(mut spares) = returned.lock()
                            && spares.len() < SPARES
                        {
                            spares.push(batch);
                        }
                    }
                })
                .ok()
                .map(|_| Writer {
                    room,
                    queue,
                    writing_since,
                    epoch,
                    spares,
                })
        })
        .as_ref()
}

/// One channel's forwarding: the partial line held back and the count of
/// bytes dropped since the last notice.
#[derive(Debug)]
pub struct ChannelForward {
    label: String,
    /// `label | ` (or `label ! `): what starts each text line.
    prefix: Vec<u8>,
    process: Arc<str>,
    group: Arc<str>,
    stream: &'static str,
    style: ForwardStyle,
    lossless: bool,
    partial: Vec<u8>,
    /// Child bytes in the batch being built (for the drop count).
    batch_bytes: u64,
    dropped: u64,
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
            prefix: format!("{label} {mark} ").into_bytes(),
            label,
            process,
            group,
            stream,
            style,
            lossless,
            partial: Vec::new(),
            batch_bytes: 0,
            dropped: 0,
        }
    }

    /// Append the whole lines of `data` (after what was held back) to
    /// `out`, formatted; keep the rest for the next chunk.
    pub fn lines(&mut self, data: &[u8], out: &mut Vec<u8>) {
        let now = Stamp::now(self.style);
        if out.capacity() == 0
            && let Some(writer) = writer()
        {
            *out = writer.buffer();
        }
        // One allocation for the whole chunk in the usual case (lines of
        // 40 bytes or more), not a doubling series.
        if self.style.format == ForwardFormat::Text {
            let prefixes = (data.len() / 40 + 1) * (self.prefix.len() + now.len());
            out.reserve(data.len() + self.partial.len() + prefixes);
        }
        let mut rest = data;
        while let Some(at) = memchr::memchr(b'\n', rest) {
            let (line, after) = (&rest[..at], &rest[at + 1..]);
            if self.partial.is_empty() {
                self.format(&now, line, out);
            } else {
                let mut whole = std::mem::take(&mut self.partial);
                whole.extend_from_slice(line);
                self.format(&now, &whole, out);
                whole.clear();
                self.partial = whole;
            }
            rest = after;
        }
        self.partial.extend_from_slice(rest);
        while self.partial.len() >= LONGEST_LINE {
            let piece: Vec<u8> = self.partial.drain(..LONGEST_LINE).collect();
            self.format(&now, &piece, out);
        }
    }

    /// End of the pipe: a last line without a newline is forwarded with
    /// one.
    pub fn finish(&mut self, out: &mut Vec<u8>) {
        if !self.partial.is_empty() {
            let line = std::mem::take(&mut self.partial);
            self.format(&Stamp::now(self.style), &line, out);
        }
    }

    /// Queue a batch from [`lines`](Self::lines) for stdout: waiting for
    /// room when this is the only copy, or while stdout moves; else
    /// dropping it (counted). At the end of the pipe (`last`) a pending
    /// drop notice waits for room too.
    pub async fn send(&mut self, mut batch: Vec<u8>, last: bool) {
        let child_bytes = std::mem::take(&mut self.batch_bytes);
        let Some(writer) = writer() else { return };
        if self.dropped > 0 {
            let mut with_notice = Vec::with_capacity(batch.len() + 160);
            self.notice(&mut with_notice);
            with_notice.extend_from_slice(&batch);
            batch = with_notice;
        }
        if batch.is_empty() {
            return;
        }
        let size = batch.len().min(BUDGET) as u32;
        let permit = match writer.room.try_acquire_many(size) {
            Ok(permit) => Some(permit),
            Err(_) if self.lossless || last => writer.room.acquire_many(size).await.ok(),
            Err(_) if writer.stalled() => None,
            Err(_) => tokio::time::timeout(STALL, writer.room.acquire_many(size))
                .await
                .ok()
                .and_then(Result::ok),
        };
        match permit {
            Some(permit) => {
                permit.forget();
                if writer.queue.send((batch, size)).is_err() {
                    writer.room.add_permits(size as usize);
                }
                self.dropped = 0;
            }
            None => self.dropped += child_bytes,
        }
    }

    fn notice(&self, out: &mut Vec<u8>) {
        let now = Stamp::now(self.style);
        match self.style.format {
            ForwardFormat::Text => {
                now.text(out);
                let _ = writeln!(
                    out,
                    "{} {} [supervisord] {} bytes of output dropped here: supervisord's stdout \
                     was not read fast enough (the log file has them)",
                    self.label,
                    self.mark(),
                    self.dropped
                );
            }
            ForwardFormat::Json => {
                let value = serde_json::json!({
                    "time": now.iso,
                    "process": &*self.process,
                    "group": &*self.group,
                    "stream": self.stream,
                    "dropped_bytes": self.dropped,
                });
                let _ = serde_json::to_writer(&mut *out, &value);
                out.push(b'\n');
            }
        }
    }

    fn mark(&self) -> &'static str {
        if self.stream == "stderr" { "!" } else { "|" }
    }

    fn format(&mut self, now: &Stamp, line: &[u8], out: &mut Vec<u8>) {
        self.batch_bytes += line.len() as u64 + 1;
        match self.style.format {
            ForwardFormat::Text => {
                now.text(out);
                out.extend_from_slice(&self.prefix);
                out.extend_from_slice(line);
                out.push(b'\n');
            }
            ForwardFormat::Json => {
                let value = serde_json::json!({
                    "time": now.iso,
                    "process": &*self.process,
                    "group": &*self.group,
                    "stream": self.stream,
                    "line": String::from_utf8_lossy(line),
                });
                let _ = serde_json::to_writer(&mut *out, &value);
                out.push(b'\n');
            }
        }
    }
}

/// The time of one chunk, formatted once for all its lines.
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

    /// The length of the text stamp (0 without timestamps).
    fn len(&self) -> usize {
        self.text.as_ref().map_or(0, String::len)
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

    fn forward(format: ForwardFormat, timestamps: bool, group: &str) -> ChannelForward {
        ChannelForward::new(
            group.into(),
            "web_00".into(),
            "stdout",
            ForwardStyle { format, timestamps },
            true,
        )
    }

    #[test]
    fn whole_lines_only_with_the_partial_line_held_back() {
        let mut f = forward(ForwardFormat::Text, false, "web");
        let mut out = Vec::new();
        f.lines(b"one\ntw", &mut out);
        assert_eq!(out, b"web:web_00 | one\n");
        out.clear();
        f.lines(b"o\nthree", &mut out);
        assert_eq!(out, b"web:web_00 | two\n");
        out.clear();
        f.finish(&mut out);
        assert_eq!(out, b"web:web_00 | three\n");
        let mut err = ChannelForward::new(
            "solo".into(),
            "solo".into(),
            "stderr",
            ForwardStyle::default(),
            true,
        );
        out.clear();
        err.lines(b"oops\n", &mut out);
        assert_eq!(out, b"solo ! oops\n");
    }

    #[test]
    fn a_line_without_end_is_cut_at_the_longest_line() {
        let mut f = forward(ForwardFormat::Text, false, "web");
        let mut out = Vec::new();
        f.lines(&vec![b'x'; LONGEST_LINE + 10], &mut out);
        assert_eq!(out.len(), "web:web_00 | \n".len() + LONGEST_LINE);
        out.clear();
        f.finish(&mut out);
        assert_eq!(
            out,
            [b"web:web_00 | ".as_slice(), &[b'x'; 10], b"\n"].concat()
        );
    }

    #[test]
    fn json_lines_and_timestamps() {
        let mut f = forward(ForwardFormat::Json, false, "web");
        let mut out = Vec::new();
        f.lines(b"say \"hi\"\n", &mut out);
        let v: serde_json::Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(v["process"], "web_00");
        assert_eq!(v["group"], "web");
        assert_eq!(v["stream"], "stdout");
        assert_eq!(v["line"], "say \"hi\"");
        assert!(v["time"].as_str().unwrap().len() >= 23, "{v}");
        let mut t = forward(ForwardFormat::Text, true, "web");
        out.clear();
        t.lines(b"x\n", &mut out);
        let text = String::from_utf8(out).unwrap();
        assert!(text.ends_with(" web:web_00 | x\n"), "{text}");
        assert_eq!(text.as_bytes()[4], b'-');
        assert_eq!(text.as_bytes()[19], b',');
    }
}
