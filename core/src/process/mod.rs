//! Processes: spawning, the per-process state machine, stop/kill escalation
//! and the reaper. The state machine is a pure function; the supervisor task
//! carries out its effects.
pub mod fcgi_socket;
