//! The web UI's pages on our real daemon: the list shows every process
//! with its state, an old `?action=` link only confirms, the confirmed POST
//! acts and shows the reference's message, a POST from another site is
//! refused, names are escaped, `tail.html` shows output, assets have their
//! content types, every page route needs credentials; and the routes
//! answer with the reference's status codes and content types. And the
//! whole page in a real headless chromium (`tests/browser/ui.mjs`).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::time::Duration;
use supervisor_tests::free_port;

use supervisor_tests::{
    ChildGuard, Sandbox, our_bin, reference_bin, run_with_timeout, start_supervisord, wait_for,
    workspace_root,
};

const DEADLINE: Duration = Duration::from_secs(20);

/// `user:123`, the credentials every daemon here requires.
const AUTH: &str = "Basic dXNlcjoxMjM=";

const PROGRAMS: &str = "[program:talker]\ncommand=/bin/sh -c \"echo hello-from-talker; exec sleep 1000\"\n\
     startsecs=0\n\
     [program:idle]\ncommand=/bin/sleep 1000\nautostart=false\n\
     [program:<script>x]\ncommand=/bin/sleep 1000\nautostart=false\n";

/// A supervisord (ours or the reference) with an authenticated inet server.
struct Daemon {
    _child: ChildGuard,
    addr: SocketAddr,
}

/// One answer: status, lowercased header lines, body.
struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

impl Daemon {
    fn start(bin: &Path, sandbox: &Sandbox, sub: &str) -> Daemon {
        Daemon::with_programs(bin, sandbox, sub, PROGRAMS)
    }

    fn with_programs(bin: &Path, sandbox: &Sandbox, sub: &str, programs: &str) -> Daemon {
        let port = free_port();
        let dir = sandbox.path().join(sub);
        std::fs::create_dir_all(&dir).expect("a dir for the daemon");
        let d = dir.display();
        let conf = dir.join("supervisord.conf");
        std::fs::write(
            &conf,
            format!(
                "[supervisord]\nlogfile={d}/supervisord.log\npidfile={d}/supervisord.pid\n\
                 nodaemon=true\nchildlogdir={d}\n\
                 [inet_http_server]\nport=127.0.0.1:{port}\nusername=user\npassword=123\n\
                 [rpcinterface:supervisor]\n\
                 supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface\n\
                 {programs}"
            ),
        )
        .expect("the config");
        let child = start_supervisord(bin, sandbox, &conf);
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        wait_for("the inet server", DEADLINE, || {
            TcpStream::connect(addr).ok().map(|_| ())
        });
        Daemon {
            _child: child,
            addr,
        }
    }

    fn ours(sandbox: &Sandbox) -> Daemon {
        Daemon::start(&our_bin("supervisord"), sandbox, "ours")
    }

    /// One request on its own connection, with `extra` header lines.
    fn send(&self, method: &str, path: &str, extra: &str, body: &str) -> Answer {
        let mut stream = TcpStream::connect(self.addr).expect("a connection");
        let request = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\n{extra}Content-Length: {}\r\n\
             Connection: close\r\n\r\n{body}",
            self.addr,
            body.len()
        );
        stream.write_all(request.as_bytes()).expect("the request");
        let mut raw = Vec::new();
        let _ = stream.read_to_end(&mut raw);
        let raw = String::from_utf8_lossy(&raw).into_owned();
        let (head, body) = raw.split_once("\r\n\r\n").unwrap_or((&raw, ""));
        let mut lines = head.lines();
        let status = lines
            .next()
            .and_then(|line| line.split(' ').nth(1))
            .and_then(|code| code.parse().ok())
            .unwrap_or(0);
        let headers = lines
            .filter_map(|line| line.split_once(':'))
            .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
            .collect();
        Answer {
            status,
            headers,
            body: body.to_owned(),
        }
    }

    fn get(&self, path: &str) -> Answer {
        self.send("GET", path, &format!("Authorization: {AUTH}\r\n"), "")
    }

    fn post_form(&self, form: &str, extra: &str) -> Answer {
        self.send(
            "POST",
            "/index.html",
            &format!(
                "Authorization: {AUTH}\r\nContent-Type: application/x-www-form-urlencoded\r\n{extra}"
            ),
            form,
        )
    }

    /// The row of `name` in the list, once its state text is `state`.
    fn state_becomes(&self, name: &str, state: &str) -> String {
        wait_for(&format!("{name} {state}"), DEADLINE, || {
            let page = self.get("/").body;
            let row = row_of(&page, name)?;
            row.contains(&format!(">{state}</span>")).then_some(row)
        })
    }
}

/// The `<tr>` of the process whose escaped name is `name`.
fn row_of(page: &str, name: &str) -> Option<String> {
    let start = page.find(&format!("<tr data-name=\"{name}\""))?;
    let end = page[start..].find("</tr>")? + start;
    Some(page[start..end].to_owned())
}

#[test]
fn list_shows_every_process_with_its_state() {
    let sandbox = Sandbox::new();
    let ours = Daemon::ours(&sandbox);
    let talker = ours.state_becomes("talker", "running");
    assert!(talker.contains("statusrunning"), "{talker}");
    assert!(talker.contains("pid "), "{talker}");
    let page = ours.get("/index.html");
    assert_eq!(page.status, 200);
    let idle = row_of(&page.body, "idle").expect("idle is listed");
    assert!(idle.contains(">stopped</span>"), "{idle}");
    assert!(idle.contains("index.html?processname=idle&amp;action=start"));
    // Sorted by group then name, as the reference sorts.
    let order: Vec<usize> = ["&lt;script&gt;x", "idle", "talker"]
        .iter()
        .map(|n| page.body.find(&format!("data-name=\"{n}\"")).expect(n))
        .collect();
    assert!(order.windows(2).all(|w| w[0] < w[1]), "{order:?}");
    for link in ["action=refresh", "action=restartall", "action=stopall"] {
        assert!(page.body.contains(link), "{link}");
    }
    // Relative links only, so a proxy at a path prefix works.
    assert!(!page.body.contains("href=\"/") && !page.body.contains("src=\"/"));
}

#[test]
fn names_with_html_are_shown_as_text() {
    let sandbox = Sandbox::new();
    let ours = Daemon::ours(&sandbox);
    // The server answers before the supervisor task published its first
    // list of processes: wait for the list.
    ours.state_becomes("&lt;script&gt;x", "stopped");
    let page = ours.get("/").body;
    assert!(!page.contains("<script>"), "{page}");
    assert!(page.contains("&lt;script&gt;x"), "{page}");
    assert!(page.contains("processname=%3Cscript%3Ex"));
    let confirm = ours.get("/index.html?processname=%3Cscript%3Ex&action=start");
    assert_eq!(confirm.status, 200);
    assert!(!confirm.body.contains("<script>"), "{}", confirm.body);
}

#[test]
fn a_get_action_link_only_confirms_and_the_post_acts() {
    let sandbox = Sandbox::new();
    let ours = Daemon::ours(&sandbox);
    ours.state_becomes("talker", "running");
    let confirm = ours.get("/index.html?processname=talker&action=stop");
    assert_eq!(confirm.status, 200);
    assert!(
        confirm
            .body
            .contains("<form method=\"post\" action=\"index.html\"")
    );
    assert!(confirm.body.contains("name=\"action\" value=\"stop\""));
    // A GET changed nothing.
    ours.state_becomes("talker", "running");

    let done = ours.post_form("processname=talker&action=stop", "");
    assert_eq!(done.status, 303, "{}", done.body);
    let location = done.header("location").expect("a Location");
    assert_eq!(location, "index.html?message=Process%20talker%20stopped");
    let page = ours.get(&format!("/{location}")).body;
    assert!(page.contains("Process talker stopped"), "{page}");
    ours.state_becomes("talker", "stopped");

    let done = ours.post_form("processname=talker&action=start", "");
    assert_eq!(
        done.header("location"),
        Some("index.html?message=Process%20talker%20started")
    );
    ours.state_becomes("talker", "running");

    let done = ours.post_form("processname=talker&action=start", "");
    assert_eq!(
        done.header("location"),
        Some("index.html?message=ERROR%3A%20Process%20talker%3A%20already%20started")
    );
    let done = ours.post_form("processname=talker&action=restart", "");
    assert_eq!(
        done.header("location"),
        Some("index.html?message=Process%20talker%20restarted")
    );
    let done = ours.post_form("processname=talker&action=clearlog", "");
    assert_eq!(
        done.header("location"),
        Some("index.html?message=Log%20for%20talker%20cleared")
    );
    let done = ours.post_form("action=stopall", "");
    assert!(
        done.header("location")
            .is_some_and(|l| l.starts_with("index.html?message=All%20stopped%20at%20")),
        "{:?}",
        done.headers
    );
    ours.state_becomes("talker", "stopped");
    let refreshed = ours.get("/index.html?action=refresh");
    assert_eq!(refreshed.status, 200);
    assert!(refreshed.body.contains("Page refreshed at "));
}

#[test]
fn bad_names_and_actions_get_an_error_page() {
    let sandbox = Sandbox::new();
    let ours = Daemon::ours(&sandbox);
    let unknown = ours.get("/index.html?processname=nope&action=start");
    assert_eq!(unknown.status, 404);
    assert!(unknown.body.contains("No such process named nope"));
    let bogus = ours.get("/index.html?processname=idle&action=bogus");
    assert_eq!(bogus.status, 400);
    assert!(bogus.body.contains("Unknown action bogus"));
    assert_eq!(ours.get("/index.html?action=start").status, 400);
    let posted = ours.post_form("processname=nope&action=stop", "");
    assert_eq!(
        posted.header("location"),
        Some("index.html?message=No%20such%20process%20named%20nope")
    );
}

#[test]
fn a_cross_origin_post_is_refused() {
    let sandbox = Sandbox::new();
    let ours = Daemon::ours(&sandbox);
    ours.state_becomes("talker", "running");
    for extra in [
        "Origin: http://evil.example\r\n",
        "Sec-Fetch-Site: cross-site\r\n",
    ] {
        let refused = ours.post_form("processname=talker&action=stop", extra);
        assert_eq!(refused.status, 403, "{extra}");
    }
    let same = format!(
        "Origin: http://{}\r\nSec-Fetch-Site: same-origin\r\n",
        ours.addr
    );
    let allowed = ours.post_form("processname=idle&action=start", &same);
    assert_eq!(allowed.status, 303);
    ours.state_becomes("idle", "running");
    ours.state_becomes("talker", "running");
}

#[test]
fn tail_shows_stdout_escaped() {
    let sandbox = Sandbox::new();
    let ours = Daemon::ours(&sandbox);
    let page = wait_for("the talker's output", DEADLINE, || {
        let page = ours.get("/tail.html?processname=talker&limit=2048");
        page.body.contains("hello-from-talker").then_some(page)
    });
    assert_eq!(page.status, 200);
    assert!(page.body.contains("Supervisor tail of process talker"));
    assert!(
        page.body
            .contains("tail.html?processname=talker&amp;limit=2048")
    );
    let none = ours.get("/tail.html");
    assert!(none.body.contains("No process name found"));
    let unknown = ours.get("/tail.html?processname=%3Cb%3E");
    assert_eq!(unknown.status, 200);
    assert!(!unknown.body.contains("<b>"), "{}", unknown.body);
}

#[test]
fn assets_have_their_content_types() {
    let sandbox = Sandbox::new();
    let ours = Daemon::ours(&sandbox);
    let css = ours.get("/stylesheets/supervisor.css");
    assert_eq!(css.status, 200);
    assert_eq!(css.header("content-type"), Some("text/css"));
    let logo = ours.get("/images/supervisor.svg");
    assert_eq!(logo.header("content-type"), Some("image/svg+xml"));
    assert!(logo.body.starts_with("<svg"));
    assert_eq!(ours.get("/images/nope.png").status, 404);
    let script = ours.get("/scripts/live.js");
    assert_eq!(script.header("content-type"), Some("text/javascript"));
    assert!(script.body.contains("api/v1/events"));
    // The page loads it, and nothing from elsewhere.
    let page = ours.get("/");
    assert!(page.body.contains("<script src=\"scripts/live.js\" defer>"));
    assert!(
        page.header("content-security-policy").is_some_and(|csp| csp
            .contains("default-src 'self'")
            && csp.contains("frame-ancestors 'none'")),
        "{:?}",
        page.headers
    );
}

#[test]
fn every_page_route_needs_credentials() {
    let sandbox = Sandbox::new();
    let ours = Daemon::ours(&sandbox);
    for path in [
        "/",
        "/index.html",
        "/index.html?processname=talker&action=stop",
        "/tail.html?processname=talker",
        "/ok.html",
        "/stylesheets/supervisor.css",
        "/images/supervisor.gif",
    ] {
        assert_eq!(ours.send("GET", path, "", "").status, 401, "{path}");
    }
    let post = ours.send(
        "POST",
        "/index.html",
        "Content-Type: application/x-www-form-urlencoded\r\n",
        "processname=talker&action=stop",
    );
    assert_eq!(post.status, 401);
}

#[test]
fn routes_answer_as_the_reference_does() {
    let sandbox = Sandbox::new();
    let ours = Daemon::ours(&sandbox);
    let theirs = Daemon::start(&reference_bin("supervisord"), &sandbox, "reference");
    let routes = [
        ("/", true),
        ("/index.html", true),
        ("/tail.html", true),
        ("/tail.html?processname=talker", true),
        ("/ok.html", true),
        ("/stylesheets/supervisor.css", true),
        // Ours is an SVG at the reference's GIF name: same status only.
        ("/images/supervisor.gif", false),
        ("/images/nope.gif", true),
        ("/stylesheets/nope.css", true),
    ];
    for (path, same_type) in routes {
        let (mine, reference) = (ours.get(path), theirs.get(path));
        assert_eq!(mine.status, reference.status, "{path}");
        if same_type {
            assert_eq!(
                mine.header("content-type"),
                reference.header("content-type"),
                "{path}"
            );
        }
    }
}

/// What `tests/browser/ui.mjs` expects: a talker writing to stdout and
/// stderr, a stopped program, one named with HTML, and a group of two.
const BROWSER_PROGRAMS: &str = "[program:talker]\n\
     command=/bin/sh -c \"i=0; while :; do i=$((i+1)); echo tick-$i; echo err-$i >&2; sleep 0.2; done\"\n\
     startsecs=0\n\
     [program:idle]\ncommand=/bin/sleep 1000\nautostart=false\nstartsecs=0\n\
     [program:<i>html]\ncommand=/bin/sleep 1000\nautostart=false\n\
     [group:web]\nprograms=w1,w2\n\
     [program:w1]\ncommand=/bin/sleep 1000\nstartsecs=0\n\
     [program:w2]\ncommand=/bin/sleep 1000\nstartsecs=0\n";

/// The page in Debian's chromium driven by playwright-core (installed by
/// tests/run.sh): the list and its states, start/stop/restart seen live,
/// a group action, a signal, the filter, the log view following output,
/// the page behind a proxy at a path prefix, a cross-origin POST refused,
/// a name with HTML shown as text. `SV_SCREENSHOTS=DIR` also writes the
/// README's screenshots there.
#[test]
fn the_page_works_in_a_real_browser() {
    let dir = workspace_root().join("tests/browser");
    assert!(
        dir.join("node_modules/playwright-core").is_dir(),
        "playwright-core is missing: run tests/run.sh (or `npm ci` in {})",
        dir.display()
    );
    let sandbox = Sandbox::new();
    let ours = Daemon::with_programs(&our_bin("supervisord"), &sandbox, "ours", BROWSER_PROGRAMS);
    let mut node = std::process::Command::new("node");
    node.arg("ui.mjs")
        .current_dir(&dir)
        .env("SV_URL", format!("http://{}/", ours.addr))
        .env("SV_USER", "user")
        .env("SV_PASS", "123")
        .env("HOME", sandbox.path());
    let output = run_with_timeout(&mut node, Duration::from_secs(170));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    println!("{stdout}");
    assert!(
        output.status.success() && stdout.contains(" passed, 0 failed"),
        "browser checks failed:\n{stdout}\n{stderr}"
    );
}
