//! Packaging (packaging/): the .deb that packaging/deb/build.sh lays out,
//! built here from this build's debug binaries, inspected with dpkg-deb and
//! installed into a throwaway root; the systemd unit checked by
//! systemd-analyze; the man pages held to each binary's help so they cannot
//! drift; the supervisorctl completions loaded in bash (and zsh and fish
//! where installed) completing actions and, from a test daemon, process and
//! group names. Tools a machine lacks (dpkg, systemd-analyze, zsh, fish)
//! make the part that needs them print a note and pass.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use supervisor_tests::{
    ChildGuard, Sandbox, build_dir, our_bin, run, run_with_timeout, start_supervisord, stderr_text,
    stdout_text, wait_for, workspace_root,
};

const DEADLINE: Duration = Duration::from_secs(20);

fn packaging_dir() -> PathBuf {
    workspace_root().join("packaging")
}

/// True when `tool` runs (`tool --version`); otherwise prints why the part
/// that needs it is skipped.
fn have(tool: &str, for_what: &str) -> bool {
    let found = Command::new(tool)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        eprintln!("note: {tool} is not installed: skipping {for_what}");
    }
    found
}

fn assert_ok(output: &Output, what: &str) {
    assert!(
        output.status.success(),
        "{what} failed ({}):\nstdout:\n{}\nstderr:\n{}",
        output.status,
        stdout_text(output),
        stderr_text(output)
    );
}

/// Build the .deb from this build's binaries into `out`; its path.
fn build_deb(out: &Path) -> PathBuf {
    let output = run_with_timeout(
        Command::new(packaging_dir().join("deb/build.sh"))
            .arg("--binaries")
            .arg(build_dir())
            .arg("--out")
            .arg(out)
            // xz over 70 MB of debug binaries takes minutes.
            .args(["--compression", "none"]),
        Duration::from_secs(120),
    );
    assert_ok(&output, "packaging/deb/build.sh");
    let deb = PathBuf::from(stdout_text(&output).trim());
    assert!(deb.is_file(), "build.sh printed {deb:?}, which is no file");
    deb
}

/// `dpkg-deb -f`: one control field.
fn field(deb: &Path, name: &str) -> String {
    let output = run("dpkg-deb", ["-f".as_ref(), deb.as_os_str(), name.as_ref()]);
    assert_ok(&output, "dpkg-deb -f");
    stdout_text(&output).trim().to_string()
}

/// The workspace version, as [workspace.package] in the root manifest says.
fn workspace_version() -> String {
    let manifest = std::fs::read_to_string(workspace_root().join("Cargo.toml"))
        .expect("the root manifest is readable");
    let package = manifest
        .split("[workspace.package]")
        .nth(1)
        .expect("the root manifest has [workspace.package]");
    package
        .lines()
        .find_map(|l| l.strip_prefix("version = \""))
        .and_then(|v| v.strip_suffix('"'))
        .expect("[workspace.package] has a version")
        .to_string()
}

#[test]
fn deb_has_debians_layout_and_installs_into_a_throwaway_root() {
    if !have("dpkg-deb", "the .deb test") || !have("dpkg", "the .deb test") {
        return;
    }
    let sandbox = Sandbox::new();
    let deb = build_deb(&sandbox.path().join("out"));

    // Files.
    let listing = run("dpkg-deb", ["-c".as_ref(), deb.as_os_str()]);
    assert_ok(&listing, "dpkg-deb -c");
    let files: BTreeSet<String> = stdout_text(&listing)
        .lines()
        .filter_map(|l| l.split_whitespace().nth(5))
        .map(|p| p.trim_start_matches('.').trim_end_matches('/').to_string())
        .collect();
    for expected in [
        "/usr/bin/supervisord",
        "/usr/bin/supervisorctl",
        "/usr/bin/echo_supervisord_conf",
        "/usr/bin/pidproxy",
        "/etc/supervisor/supervisord.conf",
        "/etc/supervisor/conf.d",
        "/var/log/supervisor",
        "/lib/systemd/system/supervisor.service",
        "/usr/share/man/man1/supervisord.1.gz",
        "/usr/share/man/man1/supervisorctl.1.gz",
        "/usr/share/man/man1/echo_supervisord_conf.1.gz",
        "/usr/share/man/man1/pidproxy.1.gz",
        "/usr/share/man/man5/supervisord.conf.5.gz",
        "/usr/share/bash-completion/completions/supervisorctl",
        "/usr/share/zsh/vendor-completions/_supervisorctl",
        "/usr/share/fish/vendor_completions.d/supervisorctl.fish",
        "/usr/share/doc/supervisor-rs/copyright",
    ] {
        assert!(
            files.contains(expected),
            "{expected} missing from {files:#?}"
        );
    }
    assert!(
        !files
            .iter()
            .any(|f| f.starts_with("/etc/supervisor/conf.d/")),
        "conf.d must ship empty: {files:#?}"
    );

    // Control fields and relations.
    assert_eq!(field(&deb, "Package"), "supervisor-rs");
    assert_eq!(field(&deb, "Version"), workspace_version());
    let arch = run("dpkg", ["--print-architecture"]);
    assert_eq!(field(&deb, "Architecture"), stdout_text(&arch).trim());
    assert_eq!(field(&deb, "Depends"), "libc6");
    for relation in ["Provides", "Conflicts", "Replaces"] {
        assert_eq!(field(&deb, relation), "supervisor", "{relation}");
    }
    assert!(!field(&deb, "Description").is_empty());

    // Conffiles and maintainer scripts.
    let conffiles = run(
        "dpkg-deb",
        ["-I".as_ref(), deb.as_os_str(), "conffiles".as_ref()],
    );
    assert_ok(&conffiles, "dpkg-deb -I conffiles");
    assert_eq!(
        stdout_text(&conffiles).trim(),
        "/etc/supervisor/supervisord.conf"
    );
    for script in ["postinst", "prerm", "postrm"] {
        let text = run(
            "dpkg-deb",
            ["-I".as_ref(), deb.as_os_str(), script.as_ref()],
        );
        assert_ok(&text, script);
        let text = stdout_text(&text);
        assert!(
            text.contains("[ -d /run/systemd/system ]") && text.contains("DPKG_ROOT"),
            "{script} must act only under systemd and outside DPKG_ROOT:\n{text}"
        );
    }

    // Install into a throwaway root. dpkg --root works unprivileged with
    // --force-not-root, and --force-script-chrootless runs the maintainer
    // scripts without chroot (which needs root) with DPKG_ROOT set, so they
    // leave the host's systemd alone. The root's own dpkg database is empty,
    // so it lacks libc6: --force-depends. dpkg refuses to run unless
    // ldconfig and start-stop-daemon are on PATH, which for a user other
    // than root often lacks the sbin folders.
    let dpkg_path = format!(
        "{}:/usr/local/sbin:/usr/sbin:/sbin",
        std::env::var("PATH").unwrap_or_default()
    );
    let root = sandbox.path().join("root");
    for dir in ["var/lib/dpkg/info", "var/lib/dpkg/updates"] {
        std::fs::create_dir_all(root.join(dir)).expect("can make the dpkg database dirs");
    }
    std::fs::write(root.join("var/lib/dpkg/status"), "").expect("can write the dpkg status");
    let dpkg = |args: &[&str]| {
        run_with_timeout(
            Command::new("dpkg")
                .env("PATH", &dpkg_path)
                .arg(format!("--root={}", root.display()))
                .args([
                    "--force-not-root",
                    "--force-script-chrootless",
                    "--force-depends",
                    "--log=/dev/null",
                ])
                .args(args),
            Duration::from_secs(60),
        )
    };
    assert_ok(&dpkg(&["-i", &deb.to_string_lossy()]), "dpkg -i");
    let status = dpkg(&["-s", "supervisor-rs"]);
    assert!(
        stdout_text(&status).contains("Status: install ok installed"),
        "{}",
        stdout_text(&status)
    );

    let installed = run(root.join("usr/bin/supervisord"), ["--version"]);
    assert_ok(&installed, "the installed supervisord --version");
    let built = run(our_bin("supervisord"), ["--version"]);
    assert_eq!(stdout_text(&installed), stdout_text(&built));

    // The shipped config is valid in the layout the package made: checked
    // as a copy whose /var and /etc/supervisor paths point into the
    // throwaway root (its include glob matches nothing there).
    let conf = root.join("etc/supervisor/supervisord.conf");
    let text = std::fs::read_to_string(&conf).expect("the installed config is readable");
    std::fs::create_dir_all(root.join("var/run")).expect("can make var/run in the root");
    let rooted = sandbox.write(
        "rooted.conf",
        &text
            .replace("/var/", &format!("{}/var/", root.display()))
            .replace(
                "/etc/supervisor/",
                &format!("{}/etc/supervisor/", root.display()),
            ),
    );
    let checked = run(
        root.join("usr/bin/supervisord"),
        ["--test-config".as_ref(), "-c".as_ref(), rooted.as_os_str()],
    );
    assert_ok(&checked, "supervisord --test-config on the shipped config");
    let conf = std::fs::read_to_string(&conf).expect("the installed config is readable");
    for line in [
        "file=/var/run/supervisor.sock",
        "chmod=0700",
        "logfile=/var/log/supervisor/supervisord.log",
        "pidfile=/var/run/supervisord.pid",
        "childlogdir=/var/log/supervisor",
        "supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface",
        "serverurl=unix:///var/run/supervisor.sock",
        "files = /etc/supervisor/conf.d/*.conf",
    ] {
        assert!(
            conf.lines().any(|l| l.starts_with(line)),
            "{line} missing:\n{conf}"
        );
    }

    // The unit.
    let unit_path = root.join("lib/systemd/system/supervisor.service");
    let unit = std::fs::read_to_string(&unit_path).expect("the installed unit is readable");
    for line in [
        "ExecStart=/usr/bin/supervisord -n -c /etc/supervisor/supervisord.conf",
        "ExecStop=/usr/bin/supervisorctl -c /etc/supervisor/supervisord.conf shutdown",
        "ExecReload=/usr/bin/supervisorctl -c /etc/supervisor/supervisord.conf reload",
        "KillMode=process",
        "Restart=on-failure",
        "Type=notify",
        "WantedBy=multi-user.target",
    ] {
        assert!(unit.lines().any(|l| l == line), "{line} missing:\n{unit}");
    }
    verify_unit(&sandbox, &root, &unit);

    // And out again: purge leaves no file of the package behind.
    assert_ok(&dpkg(&["--purge", "supervisor-rs"]), "dpkg --purge");
    for gone in ["usr/bin/supervisord", "etc/supervisor/supervisord.conf"] {
        assert!(!root.join(gone).exists(), "{gone} survived the purge");
    }
}

/// `systemd-analyze verify` on the installed unit. Given `--root`, it wants
/// a whole systemd installation in that root (sysinit.target and the
/// rest), so it checks instead a copy whose /usr/bin paths point into the
/// throwaway root, under the unit's own name: that still checks every
/// key and that each Exec command is there and executable.
fn verify_unit(sandbox: &Sandbox, root: &Path, unit: &str) {
    if !have("systemd-analyze", "systemd-analyze verify") {
        return;
    }
    let bin = format!("{}/usr/bin/", root.display());
    let copy = sandbox.write("unit/supervisor.service", &unit.replace("/usr/bin/", &bin));
    let output = run(
        "systemd-analyze",
        ["verify".as_ref(), "--man=no".as_ref(), copy.as_os_str()],
    );
    assert_ok(&output, "systemd-analyze verify");
    assert!(
        stderr_text(&output).trim().is_empty(),
        "systemd-analyze verify complained:\n{}",
        stderr_text(&output)
    );
}

/// Option words in a text (roff with `\-` turned into `-`, or help text):
/// `-x` and `--word` standing at the start of a word. `-100` and `Ctrl-C`
/// are not options.
fn options_in(text: &str) -> BTreeSet<String> {
    text.replace("\\-", "-")
        .split(|c: char| c.is_whitespace() || "\"[]|,()".contains(c))
        .filter(|w| {
            let name = w.trim_start_matches('-');
            w.starts_with('-')
                && w.len() - name.len() <= 2
                && name.starts_with(|c: char| c.is_ascii_alphabetic())
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_".contains(c))
        })
        .map(str::to_string)
        .collect()
}

/// One `.TP` entry of a man page section: its tag line and its body.
struct Entry {
    tag: String,
    body: String,
}

/// The `.TP` entries of section `name` of a roff page.
fn entries(page: &str, name: &str) -> Vec<Entry> {
    let mut in_section = false;
    let mut found: Vec<Entry> = Vec::new();
    let mut lines = page.lines().peekable();
    while let Some(line) = lines.next() {
        if let Some(section) = line.strip_prefix(".SH ") {
            in_section = section.trim() == name;
            continue;
        }
        if !in_section {
            continue;
        }
        if line == ".TP" {
            let tag = lines.next().unwrap_or_default().to_string();
            found.push(Entry {
                tag,
                body: String::new(),
            });
        } else if let Some(entry) = found.last_mut() {
            entry.body.push_str(line);
            entry.body.push('\n');
        }
    }
    found
}

fn man_page(name: &str) -> String {
    let file = if name.contains('.') {
        name.to_string()
    } else {
        format!("{name}.1")
    };
    let path = packaging_dir().join("man").join(file);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// The options a help text lists: the first word of each line that starts
/// (after `indent`) with a dash, split at `/` (`-c/--configuration`).
fn help_options(help: &str, indent: &str) -> BTreeSet<String> {
    help.lines()
        .filter_map(|l| l.strip_prefix(indent))
        .filter(|l| l.starts_with('-'))
        .filter_map(|l| l.split_whitespace().next())
        .flat_map(|w| w.split('/'))
        .map(str::to_string)
        .collect()
}

/// The options the OPTIONS section of a man page documents (its tags).
fn man_options(page: &str) -> BTreeSet<String> {
    entries(page, "OPTIONS")
        .iter()
        .flat_map(|e| options_in(&e.tag))
        .collect()
}

/// The actions `supervisorctl help` lists.
fn ctl_actions() -> Vec<String> {
    let help = run(our_bin("supervisorctl"), ["help"]);
    assert_ok(&help, "supervisorctl help");
    let text = stdout_text(&help);
    let table = text
        .split_once("=====\n")
        .map(|(_, rest)| rest)
        .expect("supervisorctl help prints a table under a rule");
    let actions: Vec<String> = table.split_whitespace().map(str::to_string).collect();
    assert!(actions.len() > 10, "too few actions in:\n{text}");
    actions
}

#[test]
fn man_pages_match_the_help() {
    // supervisord: OPTIONS holds exactly what --help lists.
    let help = run(our_bin("supervisord"), ["--help"]);
    assert_ok(&help, "supervisord --help");
    let listed = help_options(&stdout_text(&help), "  ");
    assert!(listed.contains("--configuration") && listed.contains("--test-config"));
    assert_eq!(
        man_options(&man_page("supervisord")),
        listed,
        "supervisord.1"
    );

    // supervisorctl: OPTIONS holds exactly what --help lists ...
    let help = run(our_bin("supervisorctl"), ["--help"]);
    assert_ok(&help, "supervisorctl --help");
    let listed = help_options(&stdout_text(&help), "");
    assert!(listed.contains("--serverurl"), "{listed:?}");
    let page = man_page("supervisorctl");
    assert_eq!(man_options(&page), listed, "supervisorctl.1 OPTIONS");

    // ... and ACTIONS one entry per action of `help` (plus `help` itself),
    // each naming exactly the options `help <action>` shows.
    let mut actions = ctl_actions();
    actions.push("help".to_string());
    let documented: Vec<(String, BTreeSet<String>)> = entries(&page, "ACTIONS")
        .iter()
        .map(|e| {
            let name = e
                .tag
                .split_whitespace()
                .nth(1)
                .expect("an action entry's tag names the action")
                .to_string();
            let options = options_in(&format!("{}\n{}", e.tag, e.body));
            (name, options)
        })
        .collect();
    let documented_names: BTreeSet<&String> = documented.iter().map(|(n, _)| n).collect();
    let action_names: BTreeSet<&String> = actions.iter().collect();
    assert_eq!(documented_names, action_names, "supervisorctl.1 ACTIONS");
    for (action, options) in &documented {
        let help = run(our_bin("supervisorctl"), ["help", action]);
        assert_ok(&help, &format!("supervisorctl help {action}"));
        assert_eq!(
            options,
            &options_in(&stdout_text(&help)),
            "options of {action} in supervisorctl.1 and in `help {action}`"
        );
    }

    // echo_supervisord_conf ignores its arguments: it has no option, and
    // its page claims none.
    let plain = run(our_bin("echo_supervisord_conf"), [] as [&str; 0]);
    let with_help = run(our_bin("echo_supervisord_conf"), ["--help"]);
    assert_eq!(plain.stdout, with_help.stdout);
    assert!(man_options(&man_page("echo_supervisord_conf")).is_empty());

    // pidproxy: no option either; its page names the signals it passes on.
    let usage = stdout_text(&run(our_bin("pidproxy"), [] as [&str; 0]));
    assert!(man_options(&man_page("pidproxy")).is_empty());
    let page = man_page("pidproxy");
    for signal in ["TERM", "HUP", "INT", "USR1", "USR2", "QUIT"] {
        assert!(usage.contains(signal), "{signal} not in:\n{usage}");
        assert!(page.contains(signal), "pidproxy.1 does not name {signal}");
    }
}

/// The kind of a section header: `program` for `[program:x]`, `include`
/// for `[include]`.
fn section_kind(header: &str) -> Option<String> {
    let inner = header.split_once('[')?.1.split_once(']')?.0;
    Some(inner.split(':').next().unwrap_or(inner).to_string())
}

/// Section kinds with their keys, in order, from the sample config (keys
/// switched off by a leading `;` included).
fn sample_sections() -> Vec<(String, BTreeSet<String>)> {
    let sample = run(our_bin("echo_supervisord_conf"), [] as [&str; 0]);
    assert_ok(&sample, "echo_supervisord_conf");
    let mut sections: Vec<(String, BTreeSet<String>)> = Vec::new();
    for line in stdout_text(&sample).lines() {
        let line = line.strip_prefix(';').unwrap_or(line);
        if line.starts_with('[') {
            let kind = section_kind(line).expect("a section header has a kind");
            sections.push((kind, BTreeSet::new()));
        } else if let (Some((key, _)), Some((_, keys))) =
            (line.split_once('='), sections.last_mut())
        {
            let key = key.trim();
            if !key.is_empty()
                && key
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c == '_' || c == '.')
            {
                keys.insert(key.to_string());
            }
        }
    }
    sections
}

#[test]
fn config_man_page_matches_the_sample() {
    // The page's sections (.SS "[kind:x]") with the keys of their entries.
    let page = man_page("supervisord.conf.5");
    let mut documented: Vec<(String, BTreeSet<String>)> = Vec::new();
    let mut lines = page.lines();
    while let Some(line) = lines.next() {
        if let Some(header) = line.strip_prefix(".SS ") {
            let kind = section_kind(header).expect("each .SS names a section");
            documented.push((kind, BTreeSet::new()));
        } else if line.starts_with(".SH ") {
            documented.push((String::new(), BTreeSet::new()));
        } else if line == ".TP"
            && let Some(key) = lines.next().and_then(|t| t.strip_prefix(".B "))
            && let Some((_, keys)) = documented.last_mut()
        {
            keys.insert(key.to_string());
        }
    }
    documented.retain(|(kind, _)| !kind.is_empty());

    let sample = sample_sections();
    let kinds = |s: &[(String, BTreeSet<String>)]| -> Vec<String> {
        s.iter().map(|(k, _)| k.clone()).collect()
    };
    assert_eq!(kinds(&documented), kinds(&sample), "sections, in order");
    let program = &sample
        .iter()
        .find(|(k, _)| k == "program")
        .expect("the sample has [program:x]")
        .1;
    for ((kind, in_page), (_, in_sample)) in documented.iter().zip(&sample) {
        // Listeners and FastCGI programs take [program:x]'s keys; their
        // part of the page lists only their own.
        let inherits = kind == "eventlistener" || kind == "fcgi-program";
        let missing: Vec<&String> = in_sample
            .iter()
            .filter(|k| !(in_page.contains(*k) || (inherits && program.contains(*k))))
            .collect();
        let unknown: Vec<&String> = in_page.difference(in_sample).collect();
        assert!(
            missing.is_empty() && unknown.is_empty(),
            "[{kind}] in supervisord.conf.5: undocumented {missing:?}, not in the sample {unknown:?}"
        );
    }
}

#[test]
fn completions_know_every_action() {
    let dir = packaging_dir().join("completions");
    for file in ["supervisorctl.bash", "_supervisorctl", "supervisorctl.fish"] {
        let text = std::fs::read_to_string(dir.join(file)).expect("completion file is readable");
        let words: BTreeSet<&str> = text
            .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .collect();
        for action in ctl_actions() {
            assert!(words.contains(action.as_str()), "{file} misses {action}");
        }
    }
}

/// A daemon in `sandbox` running a lone program, a two-process program and
/// a group, up and answering `avail`; its config file.
fn daemon_for_names(sandbox: &Sandbox) -> (ChildGuard, PathBuf) {
    let dir = sandbox.path().display();
    let conf = sandbox.write(
        "supervisord.conf",
        &format!(
            "[unix_http_server]\nfile={dir}/s.sock\n\
             [supervisord]\nlogfile={dir}/sd.log\npidfile={dir}/sd.pid\n\
             childlogdir={dir}\nnodaemon=true\n\
             [rpcinterface:supervisor]\n\
             supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface\n\
             [supervisorctl]\nserverurl=unix://{dir}/s.sock\n\
             [program:alpha]\ncommand=sleep 1000\nautostart=false\n\
             [program:multi]\ncommand=sleep 1000\nautostart=false\n\
             process_name=%(program_name)s_%(process_num)s\nnumprocs=2\n\
             [program:member]\ncommand=sleep 1000\nautostart=false\n\
             [group:grp]\nprograms=member\n"
        ),
    );
    let daemon = start_supervisord(our_bin("supervisord"), sandbox, &conf);
    wait_for("the daemon to answer avail", DEADLINE, || {
        run(
            our_bin("supervisorctl"),
            ["-c".as_ref(), conf.as_os_str(), "avail".as_ref()],
        )
        .status
        .success()
        .then_some(())
    });
    (daemon, conf)
}

/// PATH with this build's binaries first, so `supervisorctl` in a
/// completion script is ours.
fn path_with_our_bins() -> String {
    format!(
        "{}:{}",
        build_dir().display(),
        std::env::var("PATH").unwrap_or_default()
    )
}

/// The candidates a completion shell gives for `line`, one a line in its
/// output, sorted.
fn candidates(output: &Output, shell: &str, line: &str) -> Vec<String> {
    assert_ok(output, &format!("{shell} completing {line:?}"));
    let mut found: Vec<String> = stdout_text(output).lines().map(str::to_string).collect();
    found.sort();
    found
}

#[test]
fn bash_completes_actions_and_names_from_the_daemon() {
    let sandbox = Sandbox::new();
    let (_daemon, conf) = daemon_for_names(&sandbox);
    let conf = conf.display().to_string();
    let script = packaging_dir().join("completions/supervisorctl.bash");
    // COMP_LINE/COMP_POINT as bash sets them for a completion function;
    // COMP_WORDBREAKS is bash's default (so the part of a name before its
    // colon is left out of what bash inserts).
    let complete = |line: &str| {
        let output = run_with_timeout(
            Command::new("bash")
                .arg("-c")
                .arg(
                    "source \"$1\"; COMP_LINE=$2; COMP_POINT=${#2}; _supervisorctl; \
                     printf '%s\\n' \"${COMPREPLY[@]}\"",
                )
                .arg("bash")
                .arg(&script)
                .arg(line)
                .env("PATH", path_with_our_bins())
                .current_dir(sandbox.path()),
            DEADLINE,
        );
        candidates(&output, "bash", line)
    };
    assert_eq!(complete("supervisorctl sta"), ["start", "status"]);
    assert_eq!(
        complete(&format!("supervisorctl -c {conf} resta")),
        ["restart"]
    );
    assert_eq!(
        complete(&format!("supervisorctl -c {conf} start ")),
        [
            "all",
            "alpha",
            "grp:*",
            "grp:member",
            "multi:*",
            "multi:multi_0",
            "multi:multi_1"
        ]
    );
    assert_eq!(
        complete(&format!("supervisorctl -c {conf} stop al")),
        ["all", "alpha"]
    );
    // After the colon bash inserts only what follows it.
    assert_eq!(
        complete(&format!("supervisorctl -c {conf} restart multi:m")),
        ["multi_0", "multi_1"]
    );
    // -s reaches the same daemon as -c.
    let url = format!("unix://{}/s.sock", sandbox.path().display());
    assert_eq!(
        complete(&format!("supervisorctl -s {url} signal HUP g")),
        ["grp:*", "grp:member"]
    );
    assert_eq!(
        complete(&format!("supervisorctl -c {conf} update ")),
        ["--dry-run", "all", "alpha", "grp", "multi"]
    );
    // No daemon there: actions still complete, names are just absent.
    assert_eq!(
        complete("supervisorctl -c /nonexistent/supervisord.conf start "),
        ["all"]
    );
}

#[test]
fn fish_completes_names_from_the_daemon() {
    if !have("fish", "the fish completion test") {
        return;
    }
    let sandbox = Sandbox::new();
    let (_daemon, conf) = daemon_for_names(&sandbox);
    let script = packaging_dir().join("completions/supervisorctl.fish");
    let complete = |line: &str| {
        let output = run_with_timeout(
            Command::new("fish")
                .arg("--no-config")
                .arg("-c")
                .arg("source $argv[1]; complete -C $argv[2]")
                .arg(&script)
                .arg(line)
                .env("PATH", path_with_our_bins())
                .current_dir(sandbox.path()),
            DEADLINE,
        );
        candidates(&output, "fish", line)
    };
    let conf = conf.display();
    assert_eq!(
        complete(&format!("supervisorctl -c {conf} sta")),
        ["start", "status"]
    );
    assert_eq!(
        complete(&format!("supervisorctl -c {conf} stop multi")),
        ["multi:*", "multi:multi_0", "multi:multi_1"]
    );
    assert_eq!(
        complete(&format!("supervisorctl -c {conf} signal HUP g")),
        ["grp:*", "grp:member"]
    );
}

/// Drives an interactive zsh on a pseudo-terminal (zsh/zpty): loads the
/// completion system with the packaged function first in fpath, wraps
/// compadd to print every candidate it is given, types `$2` and a TAB, and
/// prints the candidates once the completion has finished. zpty's reads
/// block until output arrives; the test's deadline bounds the whole run.
const ZSH_DRIVER: &str = r#"zmodload zsh/zpty
zpty z zsh -f -i
zpty -w z "PS1=''; fpath=($1 \$fpath); autoload -Uz compinit; compinit -u -D"
zpty -w z "comppostfuncs=(_done); _done() { print -r -- '<done>' }"
zpty -w z "compadd () { builtin compadd -O __hits \"\$@\"; print -rl -- '<hit>'\${^__hits}; builtin compadd \"\$@\" }"
zpty -w z "bindkey '^I' complete-word; print -r -- READY"
zpty -r z line '*READY*'
zpty -w z "$2"$'\t'
out=''
while zpty -r z line; do
  out+=$line
  [[ $line == *'<done>'* ]] && break
done
print -r -- $out | grep -ao '<hit>[^[:cntrl:]]*' | sed 's/<hit>//' | sort -u
zpty -d z
"#;

#[test]
fn zsh_completes_names_from_the_daemon() {
    if !have("zsh", "the zsh completion test") {
        return;
    }
    let sandbox = Sandbox::new();
    let (_daemon, conf) = daemon_for_names(&sandbox);
    let driver = sandbox.write("zsh-driver.zsh", ZSH_DRIVER);
    let fpath = packaging_dir().join("completions");
    let complete = |line: &str| {
        let output = run_with_timeout(
            Command::new("zsh")
                .arg("-f")
                .arg(&driver)
                .arg(&fpath)
                .arg(line)
                .env("PATH", path_with_our_bins())
                .current_dir(sandbox.path()),
            DEADLINE,
        );
        candidates(&output, "zsh", line)
    };
    let conf = conf.display();
    assert_eq!(
        complete(&format!("supervisorctl -c {conf} sta")),
        ["start", "status"]
    );
    assert_eq!(
        complete(&format!("supervisorctl -c {conf} stop multi")),
        ["multi:*", "multi:multi_0", "multi:multi_1"]
    );
    assert_eq!(
        complete(&format!("supervisorctl -c {conf} tail alpha ")),
        ["stderr", "stdout"]
    );
}
