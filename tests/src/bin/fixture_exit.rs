//! Test fixture: `fixture_exit CODE [MILLIS]` waits MILLIS milliseconds
//! (default 0) and exits with CODE, so tests control both how long a
//! process lives and how it ends.

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let code: i32 = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(0);
    let millis: u64 = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(0);
    if millis > 0 {
        std::thread::sleep(std::time::Duration::from_millis(millis));
    }
    std::process::exit(code);
}
