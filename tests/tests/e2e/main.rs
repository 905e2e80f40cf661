//! End-to-end tests: every test spawns built binaries (ours, and the
//! reference Supervisor from the test virtualenv) in a temp dir of its own.
//! One test binary, one module per area.

mod api;
mod architecture;
mod capture;
mod config_cli;
mod config_golden;
mod conveniences;
mod cplugin;
mod ctl;
mod daemon;
mod dropin;
mod echo_conf;
mod envfile;
mod events;
mod faults;
mod fcgi;
mod footprint;
mod forward;
mod handlers;
mod http;
mod http_reference;
mod install;
mod limits;
mod logtail;
mod metrics;
mod notify;
mod order;
mod output;
mod packaging;
mod parity;
mod pidproxy;
mod plugin_routes;
mod plugins;
mod readiness;
mod reference;
mod restart;
mod restart_policy;
mod roles;
mod superlance;
mod tls;
mod twins;
mod webui;
