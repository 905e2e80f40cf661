//! supervisorctl: all the work is in `supervisor::ctl::run`.

fn main() {
    std::process::exit(supervisor::ctl::run(std::env::args_os().collect()));
}
