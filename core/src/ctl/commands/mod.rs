//! What each action does: the reference's output lines and exit status
//! (`supervisorctl.py`'s `DefaultControllerPlugin`), plus our additions
//! that no script can trip over (`status --json`, colour on a terminal,
//! `update --dry-run`, and `scale` and `update --only-changed`, which
//! need the bundled `ext` namespace). One file per concern; each command is a function
//! of the controller and the rest of the line, named in the table of
//! `actions`, which is the only caller.
//!
//! Commands never parse the command line or a config file, never own the
//! line editor and never print their own usage: they return
//! [`Outcome::ShowUsage`](super::controller::Outcome::ShowUsage) and the
//! table prints it.

pub mod control;
pub mod ext;
pub mod groups;
pub mod logs;
pub mod server;
pub mod status;
