//! supervisord.conf: reading (the INI dialect of Python's ConfigParser),
//! `%(name)s` expansion, `[include]`, typed validation and the diff of two
//! models. Depends on nothing else in this crate.
