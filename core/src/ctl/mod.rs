//! supervisorctl: the client transport, its commands and the interactive
//! shell. Never depends on `process`.
