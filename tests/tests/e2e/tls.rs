//! TLS on `[inet_http_server]`: a test CA made here with the openssl CLI
//! (root, intermediate, a server certificate served with its chain, a
//! client certificate), the Python xmlrpc client over https, a client
//! certificate required and refused, plain HTTP on the TLS port, and the
//! certificate re-read on SIGHUP.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use supervisor_tests::{
    ChildGuard, Sandbox, free_port, our_bin, reference_bin, run_with_timeout, start_supervisord,
    stderr_text, stdout_text, wait_for,
};

fn openssl(dir: &Path, args: &[&str]) {
    let out = run_with_timeout(
        Command::new("openssl").args(args).current_dir(dir),
        Duration::from_secs(30),
    );
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        stderr_text(&out)
    );
}

/// A root CA, an intermediate, `server.pem` (leaf then intermediate) with
/// its key for 127.0.0.1, and `client.pem`/`client.key` signed by the root.
fn make_ca(dir: &Path) {
    std::fs::write(
        dir.join("ext.cnf"),
        "[ca]\nbasicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n\
         [server]\nsubjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n\
         [client]\nextendedKeyUsage=clientAuth\n",
    )
    .expect("write ext");
    let key = |name: &str| {
        openssl(
            dir,
            &[
                "genpkey",
                "-algorithm",
                "EC",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-out",
                name,
            ],
        );
    };
    key("root.key");
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-new",
            "-key",
            "root.key",
            "-subj",
            "/CN=test root",
            "-days",
            "2",
            "-out",
            "root.pem",
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ],
    );
    let sign = |name: &str, subject: &str, issuer: &str, ext: &str| {
        key(&format!("{name}.key"));
        openssl(
            dir,
            &[
                "req",
                "-new",
                "-key",
                &format!("{name}.key"),
                "-subj",
                subject,
                "-out",
                &format!("{name}.csr"),
            ],
        );
        openssl(
            dir,
            &[
                "x509",
                "-req",
                "-in",
                &format!("{name}.csr"),
                "-CA",
                &format!("{issuer}.pem"),
                "-CAkey",
                &format!("{issuer}.key"),
                "-CAcreateserial",
                "-days",
                "2",
                "-extfile",
                "ext.cnf",
                "-extensions",
                ext,
                "-out",
                &format!("{name}.pem"),
            ],
        );
    };
    sign("inter", "/CN=test intermediate", "root", "ca");
    sign("leaf", "/CN=localhost", "inter", "server");
    sign("client", "/CN=a client", "root", "client");
    let chain = format!(
        "{}{}",
        std::fs::read_to_string(dir.join("leaf.pem")).expect("leaf"),
        std::fs::read_to_string(dir.join("inter.pem")).expect("inter")
    );
    std::fs::write(dir.join("server.pem"), chain).expect("chain");
}

struct Daemon {
    guard: ChildGuard,
    port: u16,
    dir: PathBuf,
}

fn start(sandbox: &Sandbox, extra: &str) -> Daemon {
    make_ca(sandbox.path());
    let dir = sandbox.path().display();
    let port = free_port();
    let conf = format!(
        "[supervisord]\nlogfile={dir}/main.log\npidfile={dir}/sd.pid\nnodaemon=true\n\
         [unix_http_server]\nfile={dir}/s.sock\n\
         [inet_http_server]\nport=127.0.0.1:{port}\nusername=admin\npassword=a\n\
         tls_cert=server.pem\ntls_key=leaf.key\n{extra}\n\
         [supervisorctl]\nserverurl=https://127.0.0.1:{port}\nusername=admin\npassword=a\ntls_ca={dir}/root.pem\n\
         [rpcinterface:supervisor]\nsupervisor.rpcinterface_factory=supervisor.rpcinterface:make_main_rpcinterface\n"
    );
    let path = sandbox.write("supervisord.conf", &conf);
    let guard = start_supervisord(our_bin("supervisord"), sandbox, &path);
    wait_for("the server to listen", Duration::from_secs(20), || {
        TcpStream::connect(("127.0.0.1", port)).ok()
    });
    Daemon {
        guard,
        port,
        dir: sandbox.path().to_path_buf(),
    }
}

/// getState through Python's xmlrpc client over https, trusting the test
/// root, with the client certificate if `client`: "ok RUNNING" or the
/// error's class name.
fn python_get_state(daemon: &Daemon, client: bool) -> String {
    const SCRIPT: &str = r#"
import ssl, sys, xmlrpc.client as x
port, root, cert, key = sys.argv[1], sys.argv[2], sys.argv[3] or None, sys.argv[4] or None
context = ssl.create_default_context(cafile=root)
if cert:
    context.load_cert_chain(cert, key)
proxy = x.ServerProxy('https://admin:a@127.0.0.1:%s/RPC2' % port, context=context)
try:
    print('ok', proxy.supervisor.getState()['statename'])
except Exception as e:
    print(type(e).__name__)
"#;
    let dir = daemon.dir.display();
    let (cert, key) = if client {
        (format!("{dir}/client.pem"), format!("{dir}/client.key"))
    } else {
        (String::new(), String::new())
    };
    let out = run_with_timeout(
        Command::new(reference_bin("python")).args([
            "-c",
            SCRIPT,
            &daemon.port.to_string(),
            &format!("{dir}/root.pem"),
            &cert,
            &key,
        ]),
        Duration::from_secs(20),
    );
    assert!(out.status.success(), "{}", stderr_text(&out));
    stdout_text(&out).trim().to_owned()
}

#[test]
fn https_with_a_chain_serves_python_and_answers_plain_http_clearly() {
    let sandbox = Sandbox::new();
    let daemon = start(&sandbox, "");
    assert_eq!(python_get_state(&daemon, false), "ok RUNNING");
    // Plain HTTP on the TLS port: a plain answer that says why.
    let mut stream = TcpStream::connect(("127.0.0.1", daemon.port)).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    stream
        .write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .expect("write");
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    assert!(answer.contains("use an https:// URL"), "{answer}");
    // TLS 1.1 is refused.
    let out = run_with_timeout(
        Command::new("openssl").args([
            "s_client",
            "-connect",
            &format!("127.0.0.1:{}", daemon.port),
            "-tls1_1",
        ]),
        Duration::from_secs(20),
    );
    assert!(!out.status.success(), "{}", stdout_text(&out));
    // A new certificate is read on SIGHUP.
    let before = std::fs::read(sandbox.path().join("server.pem")).expect("cert");
    make_ca(sandbox.path());
    assert_ne!(
        before,
        std::fs::read(sandbox.path().join("server.pem")).expect("cert")
    );
    // The old certificate does not chain to the new root.
    assert_ne!(python_get_state(&daemon, false), "ok RUNNING");
    daemon.guard.signal(nix::sys::signal::Signal::SIGHUP);
    wait_for("the new certificate", Duration::from_secs(20), || {
        (python_get_state(&daemon, false) == "ok RUNNING").then_some(())
    });
}

#[test]
fn a_required_client_certificate_is_checked() {
    let sandbox = Sandbox::new();
    let daemon = start(&sandbox, "tls_client_ca=root.pem");
    assert_eq!(python_get_state(&daemon, true), "ok RUNNING");
    let refused = python_get_state(&daemon, false);
    assert_ne!(refused, "ok RUNNING");
    assert!(
        [
            "SSLError",
            "ConnectionResetError",
            "SSLEOFError",
            "RemoteDisconnected"
        ]
        .contains(&refused.as_str()),
        "{refused}"
    );
}

#[test]
fn bad_tls_settings_are_named() {
    let sandbox = Sandbox::new();
    let dir = sandbox.path().display();
    for (extra, needles) in [
        (
            "tls_cert=/nonexistent.pem\ntls_key=/nonexistent.key\n",
            &["tls_cert", "/nonexistent.pem"][..],
        ),
        ("tls_cert=/x.pem\n", &["tls_cert", "needs tls_key"][..]),
        (
            "tls_client_ca=/x.pem\n",
            &["tls_client_ca", "needs tls_cert"][..],
        ),
    ] {
        let conf = sandbox.write(
            "bad.conf",
            &format!(
                "[supervisord]\nlogfile={dir}/bad.log\n[inet_http_server]\nport=127.0.0.1:{}\n{extra}",
                free_port()
            ),
        );
        let out = run_with_timeout(
            Command::new(our_bin("supervisord"))
                .arg("-n")
                .arg("-c")
                .arg(&conf),
            Duration::from_secs(20),
        );
        assert!(!out.status.success(), "{extra}");
        let errors = stderr_text(&out);
        for needle in needles {
            assert!(errors.contains(needle), "{needle:?} in {errors}");
        }
    }
}

/// `supervisorctl -c conf pid` with `[supervisorctl]` trusting as `trust`
/// says: its exit status, stdout and stderr.
fn ctl_pid(daemon: &Daemon, trust: &str) -> (bool, String, String) {
    let dir = daemon.dir.display();
    let conf = std::fs::write(
        daemon.dir.join("ctl.conf"),
        format!(
            "[supervisorctl]\nserverurl=https://127.0.0.1:{}\nusername=admin\npassword=a\n{trust}\n",
            daemon.port
        ),
    );
    conf.expect("write ctl.conf");
    let out = run_with_timeout(
        Command::new(our_bin("supervisorctl"))
            .arg("-c")
            .arg(format!("{dir}/ctl.conf"))
            .arg("pid"),
        Duration::from_secs(20),
    );
    (out.status.success(), stdout_text(&out), stderr_text(&out))
}

#[test]
fn our_supervisorctl_speaks_https() {
    let sandbox = Sandbox::new();
    let daemon = start(&sandbox, "");
    let pid = daemon.guard.id().to_string();
    let dir = daemon.dir.display();
    // Trusting the test root.
    let (ok, out, err) = ctl_pid(&daemon, &format!("tls_ca={dir}/root.pem"));
    assert!(ok, "{out}{err}");
    assert_eq!(out.trim(), pid);
    // Trusting another CA (the client's certificate is no CA of the
    // server's): refused.
    let (ok, out, _) = ctl_pid(&daemon, &format!("tls_ca={dir}/client.pem"));
    assert!(!ok || out.trim() != pid, "{out}");
    // The explicit opt-out works, and says it is insecure.
    let (ok, out, err) = ctl_pid(&daemon, "tls_insecure_skip_verify=true");
    assert!(ok, "{out}{err}");
    assert_eq!(out.trim(), pid);
    assert!(err.contains("NOT verified"), "{err}");
}

#[test]
fn our_supervisorctl_shows_its_client_certificate_when_the_server_requires_one() {
    let sandbox = Sandbox::new();
    let daemon = start(&sandbox, "tls_client_ca=root.pem");
    let pid = daemon.guard.id().to_string();
    let dir = daemon.dir.display();
    let trust = format!("tls_ca={dir}/root.pem");
    // With the client certificate (relative to the config file's folder).
    let (ok, out, err) = ctl_pid(
        &daemon,
        &format!("{trust}\ntls_cert=client.pem\ntls_key={dir}/client.key"),
    );
    assert!(ok, "{out}{err}");
    assert_eq!(out.trim(), pid);
    // Without one: the server ends the session, and ctl says why.
    let (ok, out, err) = ctl_pid(&daemon, &trust);
    assert!(!ok, "{out}{err}");
    assert_ne!(out.trim(), pid);
    assert!(
        format!("{out}{err}").contains("CertificateRequired"),
        "{out}{err}"
    );
    // Half a pair is a config error naming the option.
    let (ok, out, err) = ctl_pid(&daemon, &format!("{trust}\ntls_cert=client.pem"));
    assert!(!ok);
    assert!(
        format!("{out}{err}").contains("tls_cert needs tls_key"),
        "{out}{err}"
    );
    // A key that is not the certificate's: named.
    let (ok, out, err) = ctl_pid(
        &daemon,
        &format!("{trust}\ntls_cert=client.pem\ntls_key=root.key"),
    );
    assert!(!ok);
    assert!(format!("{out}{err}").contains("tls_key"), "{out}{err}");
}
