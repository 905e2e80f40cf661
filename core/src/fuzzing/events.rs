//! The eventlistener protocol from the listener's side: whatever a
//! listener writes (READY, RESULT framing, garbage), cut anywhere, while
//! events arrive and listeners spawn, run, die and lose their stdin.

use std::sync::{Arc, Mutex};

use crate::events::event::{Event, PublishedEvent, TickPeriod};
use crate::events::pool::{AnsweredEvent, ListenerPool, ResultHandler, Verdict};
use crate::events::{EventType, EventTypeSet, ListenerState};

/// Judges as the default handler does (`OK` processed, `FAIL` rejected,
/// anything else an error) and records every call.
#[derive(Default)]
struct Recorder {
    calls: Mutex<Vec<(i64, Vec<u8>)>>,
}

impl ResultHandler for Recorder {
    fn handle(&self, event: &AnsweredEvent<'_>, result: &[u8]) -> Verdict {
        self.calls
            .lock()
            .expect("the recorder is not poisoned")
            .push((event.serial, result.to_vec()));
        match result {
            b"OK" => Verdict::Processed,
            b"FAIL" => Verdict::Rejected("FAIL".to_string()),
            _ => Verdict::Failed("neither OK nor FAIL".to_string()),
        }
    }
}

/// One step of a run.
#[derive(Debug, Clone)]
enum Op {
    Event,
    Spawned(usize),
    Running(usize, bool),
    Exited(usize),
    StdinFailed(usize),
    Output(usize, Vec<u8>),
}

/// Canned replies, so short inputs reach deep states.
const CANNED: [&[u8]; 5] = [
    b"READY\n",
    b"RESULT 2\nOK",
    b"RESULT 4\nFAIL",
    b"RESULT 2\nOKREADY\n",
    b"RESULT 3\nbad",
];

fn ops(data: &[u8], listeners: usize) -> Vec<Op> {
    let mut out = Vec::new();
    let mut rest = data;
    while let Some((&op, tail)) = rest.split_first() {
        rest = tail;
        let who = usize::from(op >> 4) % listeners;
        out.push(match op & 0x0f {
            0 | 1 => Op::Event,
            2 => Op::Spawned(who),
            3 => Op::Running(who, true),
            4 => Op::Running(who, false),
            5 => Op::Exited(who),
            6 => Op::StdinFailed(who),
            7..=11 => Op::Output(who, CANNED[usize::from(op & 0x0f) - 7].to_vec()),
            _ => {
                let len = rest
                    .first()
                    .map_or(0, |n| usize::from(*n))
                    .min(rest.len().saturating_sub(1));
                let bytes = rest.get(1..1 + len).unwrap_or_default().to_vec();
                rest = &rest[(1 + len).min(rest.len())..];
                Op::Output(who, bytes)
            }
        });
    }
    out
}

/// What a run left: the handler's calls, the envelopes' serials per
/// listener, the buffer and every listener's protocol state.
type Outcome = (
    Vec<(i64, Vec<u8>)>,
    Vec<(usize, i64)>,
    Vec<i64>,
    Vec<ListenerState>,
);

fn run(listeners: usize, buffer: usize, ops: &[Op], split: Option<usize>) -> Outcome {
    let recorder = Arc::new(Recorder::default());
    let mut pool = ListenerPool::new(
        "fuzz",
        Arc::from("fuzzsup"),
        buffer,
        EventTypeSet::subscribing_to([EventType::Tick5]),
        (0..listeners).map(|i| format!("l{i}")),
        recorder.clone(),
    );
    let mut delivered = Vec::new();
    let mut serial = 0;
    for op in ops {
        match op {
            Op::Event => {
                serial += 1;
                let event = Event::Tick {
                    period: TickPeriod::Five,
                    when: serial * 5,
                };
                pool.accept(&Arc::new(PublishedEvent::new(event, serial)));
            }
            Op::Spawned(i) => pool.listener_spawned(*i),
            Op::Running(i, up) => pool.listener_running(*i, *up),
            Op::Exited(i) => pool.listener_exited(*i),
            Op::StdinFailed(i) => pool.stdin_failed(*i),
            Op::Output(i, bytes) => match split {
                // The same bytes in two reads, cut at a point of the
                // fuzzer's choosing (modulo the length).
                Some(at) if !bytes.is_empty() => {
                    let at = at % (bytes.len() + 1);
                    pool.listener_output(*i, &bytes[..at]);
                    pool.listener_output(*i, &bytes[at..]);
                }
                _ => pool.listener_output(*i, bytes),
            },
        }
        for delivery in pool.take_deliveries() {
            delivered.push((delivery.listener, delivery.serial));
        }
        assert!(
            pool.buffered() <= buffer,
            "{} events buffered in a pool of {buffer}",
            pool.buffered()
        );
    }
    let calls = recorder
        .calls
        .lock()
        .expect("the recorder is not poisoned")
        .clone();
    let states = (0..listeners)
        .map(|i| pool.listener_state(i).expect("the listener exists"))
        .collect();
    (calls, delivered, pool.buffered_serials(), states)
}

/// Input: `[listeners, buffer, split] \0 ops` (op bytes: low nibble the
/// kind, high nibble the listener). An event the handler processed is not
/// processed again nor still buffered, the handler only judges events that
/// were delivered, the buffer stays within its size with no serial twice,
/// and a listener's output cut into two reads anywhere gives the same run
/// as in one read.
pub fn listener_replies(data: &[u8]) {
    let (params, body) = super::split_params(data);
    let listeners = 1 + usize::from(params.first().copied().unwrap_or(0) % 3);
    let buffer = 1 + usize::from(params.get(1).copied().unwrap_or(9) % 8);
    let split = usize::from(params.get(2).copied().unwrap_or(3));
    let ops = ops(body, listeners);
    let whole = run(listeners, buffer, &ops, None);
    let (calls, delivered, buffered, _) = &whole;
    let mut processed: Vec<i64> = calls
        .iter()
        .filter(|(_, result)| result == b"OK")
        .map(|(serial, _)| *serial)
        .collect();
    for (serial, _) in calls {
        assert!(
            delivered.iter().any(|(_, s)| s == serial),
            "event {serial} judged but never delivered"
        );
    }
    processed.sort_unstable();
    let count = processed.len();
    processed.dedup();
    assert_eq!(
        count,
        processed.len(),
        "an event was processed twice: {calls:?}"
    );
    for serial in buffered {
        assert!(
            processed.binary_search(serial).is_err(),
            "event {serial} was processed and is still buffered"
        );
    }
    let mut unique = buffered.clone();
    unique.sort_unstable();
    unique.dedup();
    assert_eq!(
        unique.len(),
        buffered.len(),
        "a serial buffered twice: {buffered:?}"
    );
    let cut = run(listeners, buffer, &ops, Some(split));
    assert_eq!(cut, whole, "cutting a listener's output changed the run");
}
