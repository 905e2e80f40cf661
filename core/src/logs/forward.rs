//! Forwarding children's output to supervisord's own stdout
//! (`forward_output`, for containers): each channel's bytes are cut into
//! whole lines, each written with the process's name and its stream
//! (`web:web_00 | ...`, stderr `web:web_00 ! ...`) or as one JSON object,
//! and every batch of whole lines goes to stdout in one write from one
//! writer thread, so lines of different children never mix.
//!
//! A slow reader of stdout: the writer holds at most [`BUDGET`] bytes not
//! yet written (a semaphore of bytes). A channel whose log file also has
//! every byte never waits for room: what does not fit is dropped and
//! counted, and the next batch that fits starts with a line saying how
//! many bytes were dropped. A channel whose only copy is this one waits
//! for room, so its output task stops reading and the child feels the
//! backpressure it would feel writing to the terminal itself.
//!
//! The writer is one per process, made at the first forwarded line (after
//! daemonizing, which a forwarding config refuses anyway), because stdout
//! is one per process too. This module owns no pipe and no process: the
//! output task feeds it bytes and awaits [`ChannelForward::send`].

use std::io::Write as _;
use std::sync::mpsc;
use std::sync::{Arc, OnceLock};

use tokio::sync::Semaphore;

use super::route::{ForwardFormat, ForwardStyle};

/// Bytes queued for stdout and not yet written, at most.
pub const BUDGET: usize = 1 << 20;

/// A line longer than this is forwarded in pieces of this size, so one
/// child that never writes a newline cannot hold unbounded memory.
pub const LONGEST_LINE: usize = 64 * 1024;

struct Writer {
    room: Arc<Semaphore>,
    queue: mpsc::Sender<(Vec<u8>, u32)>,
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
            std::thread::Builder::new()
                .name("forward-stdout".into())
                .spawn(move || {
                    let stdout = std::io::stdout();
                    while let Ok((batch, size)) = batches.recv() {
                        // A closed stdout (EPIPE) must not stop the
                        // daemon; the lines are lost, as the terminal's
                        // would be.
                        let mut out = stdout.lock();
                        let _ = out.write_all(&batch).and_then(|()| out.flush());
                        drop(out);
                        freed.add_permits(size as usize);
                    }
                })
                .ok()
                .map(|_| Writer { room, queue })
        })
        .as_ref()
}

/// One channel's forwarding: the partial line held back and the count of
/// bytes dropped since the last notice.
#[derive(Debug)]
pub struct ChannelForward {
    label: String,
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
        ChannelForward {
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
        // One allocation for the whole chunk in the usual case (lines of
        // 40 bytes or more), not a doubling series.
        if self.style.format == ForwardFormat::Text {
            let prefixes = (data.len() / 40 + 1) * (self.label.len() + 3 + now.len());
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
    /// room when this is the only copy, else dropping it (counted) when
    /// there is none. At the end of the pipe (`last`) a pending drop
    /// notice waits for room too.
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
        let permit = if self.lossless || last {
            writer.room.acquire_many(size).await.ok()
        } else {
            writer.room.try_acquire_many(size).ok()
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
                out.extend_from_slice(self.label.as_bytes());
                out.push(b' ');
                out.extend_from_slice(self.mark().as_bytes());
                out.push(b' ');
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
