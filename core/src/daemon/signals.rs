//! The daemon's inputs from the operating system besides requests: the
//! unix signals supervisord acts on and the reaper's exits. It only
//! delivers them; what a signal means is decided by the daemon's mode
//! (`super::mode`) and what an exit means by the process machine.

use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::mpsc;

use crate::process::reaper::{self, Reaped};

/// The unix signals supervisord acts on (SIGCHLD belongs to the reaper).
/// Install them before the pidfile says the daemon is up, so that a
/// signal sent at once is handled, not fatal.
#[derive(Debug)]
pub struct Signals {
    streams: Vec<(i32, tokio::signal::unix::Signal)>,
    /// Signal numbers sent by a test instead of the OS.
    fake: Option<mpsc::UnboundedReceiver<i32>>,
}

impl Signals {
    /// Install the handlers; needs the runtime (call inside it, or with
    /// its `enter` guard held).
    pub fn install() -> std::io::Result<Signals> {
        let mut streams = Vec::new();
        for sig in [
            libc::SIGTERM,
            libc::SIGINT,
            libc::SIGQUIT,
            libc::SIGHUP,
            libc::SIGUSR2,
        ] {
            streams.push((sig, signal(SignalKind::from_raw(sig))?));
        }
        Ok(Signals {
            streams,
            fake: None,
        })
    }

    /// Signals that only a test sends, through the returned sender: for
    /// a task built inside a test process, whose own signals must keep
    /// their default meaning.
    #[cfg(test)]
    pub fn fake() -> (Signals, mpsc::UnboundedSender<i32>) {
        let (sender, receiver) = mpsc::unbounded_channel();
        let signals = Signals {
            streams: Vec::new(),
            fake: Some(receiver),
        };
        (signals, sender)
    }

    /// The next signal received.
    pub async fn next(&mut self) -> Option<i32> {
        std::future::poll_fn(|cx| {
            if let Some(fake) = &mut self.fake
                && let std::task::Poll::Ready(Some(sig)) = fake.poll_recv(cx)
            {
                return std::task::Poll::Ready(Some(sig));
            }
            for (sig, stream) in &mut self.streams {
                if let std::task::Poll::Ready(Some(())) = stream.poll_recv(cx) {
                    return std::task::Poll::Ready(Some(*sig));
                }
            }
            std::task::Poll::Pending
        })
        .await
    }
}

/// Start the reaper for the current runtime (see [`reaper::start_reaper`]).
pub fn start_reaper() -> std::io::Result<mpsc::UnboundedReceiver<Reaped>> {
    reaper::start_reaper().map(|(_, exits)| exits)
}
