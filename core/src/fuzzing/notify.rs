//! The datagrams a `ready_check = notify` child sends to its
//! `NOTIFY_SOCKET` (sd_notify(3)): whatever bytes arrive, the probe's
//! reading is systemd's, and other assignments around a `READY=1` never
//! hide it.

use crate::probes::says_ready;

/// systemd's reading, written as a scan rather than a split: a datagram
/// with a NUL is ignored; otherwise it is ready when one of its
/// assignments, separated by `\n` or `\r`, is exactly `READY=1`.
fn model(datagram: &[u8]) -> bool {
    let mut ready = false;
    let mut start = 0;
    for (i, &b) in datagram.iter().enumerate() {
        match b {
            0 => return false,
            b'\n' | b'\r' => {
                ready |= &datagram[start..i] == b"READY=1";
                start = i + 1;
            }
            _ => {}
        }
    }
    ready || &datagram[start..] == b"READY=1"
}

/// Input: one datagram. The probe answers as systemd would; adding other
/// assignments before and after it changes nothing; sent as two datagrams
/// cut at a line break, it is ready when either part is.
pub fn notify_datagram(data: &[u8]) {
    let ready = says_ready(data);
    assert_eq!(ready, model(data), "differs from systemd's reading");
    let mut wrapped = b"STATUS=starting\n".to_vec();
    wrapped.extend_from_slice(data);
    wrapped.extend_from_slice(b"\rMAINPID=1");
    assert_eq!(says_ready(&wrapped), ready, "other assignments changed it");
    if !data.contains(&0)
        && let Some(at) = data.iter().position(|b| *b == b'\n' || *b == b'\r')
    {
        let (first, second) = (&data[..at], &data[at + 1..]);
        assert_eq!(ready, says_ready(first) || says_ready(second));
    }
}
