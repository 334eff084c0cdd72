//! Harness for the end-to-end tests: every test gets its own temporary
//! directory holding the data directory (SQLite lives under it) and the
//! working directory the binary runs in, so no `./atoll.toml` and no
//! `ATOLL_*` variable from the outside can leak in.

#![allow(dead_code)]

pub mod dns;
pub mod postfix;

use std::fmt;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use tempfile::TempDir;

/// The user the audit log should name: `cli:` followed by this.
pub const TEST_USER: &str = "atoll-test";

/// A real SHA512-CRYPT hash of "secret" (`openssl passwd -6 -salt saltsalt secret`).
pub const SHA512_SECRET: &str =
    "$6$saltsalt$TVLlQcbpFVof5W3Yz4DTP6gRstiNuHwwTt6GLc1E5n0U0aDehy0S5knV8wiOQSpT0Y77vwPZN.Pq.H91p5hVO1";

/// What one run of the binary did.
pub struct Output {
    pub args: Vec<String>,
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl fmt::Display for Output {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "atoll {:?} exited with {}\n--- stdout ---\n{}--- stderr ---\n{}",
            self.args, self.status, self.stdout, self.stderr
        )
    }
}

impl Output {
    pub fn stderr_lines(&self) -> Vec<&str> {
        self.stderr.lines().collect()
    }

    /// The one line a refused command prints: exactly one line on stderr,
    /// starting with "atoll: ". Returns it without the prefix.
    pub fn one_error_line(&self) -> &str {
        assert!(!self.status.success(), "expected a failure:\n{self}");
        let lines = self.stderr_lines();
        assert_eq!(lines.len(), 1, "expected exactly one line on stderr:\n{self}");
        lines[0].strip_prefix("atoll: ").unwrap_or_else(|| panic!("stderr does not start with \"atoll: \":\n{self}"))
    }
}

/// One installation: a data directory and a working directory.
pub struct Atoll {
    root: TempDir,
}

impl Default for Atoll {
    fn default() -> Self {
        Self::new()
    }
}

impl Atoll {
    pub fn new() -> Atoll {
        let root = tempfile::Builder::new().prefix("atoll-cli-").tempdir().expect("temporary directory");
        std::fs::create_dir(root.path().join("cwd")).expect("create cwd");
        Atoll { root }
    }

    pub fn data_dir(&self) -> PathBuf {
        self.root.path().join("data")
    }

    pub fn cwd(&self) -> PathBuf {
        self.root.path().join("cwd")
    }

    /// Writes `contents` to a file in the working directory; returns its
    /// absolute path.
    pub fn write(&self, name: &str, contents: &str) -> PathBuf {
        let path = self.cwd().join(name);
        std::fs::write(&path, contents).expect("write test file");
        path
    }

    /// The binary, ready to run `args` against this installation.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_atoll"));
        cmd.arg("--data-dir")
            .arg(self.data_dir())
            .args(args)
            .current_dir(self.cwd())
            .env_remove("ATOLL_CONFIG")
            .env_remove("ATOLL_DATA_DIR")
            .env_remove("ATOLL_LOG")
            .env_remove("SUDO_USER")
            .env("USER", TEST_USER)
            .env("LOGNAME", TEST_USER)
            .env("NO_COLOR", "1")
            .stdin(Stdio::null());
        cmd
    }

    /// Runs with standard input closed (not a terminal, and empty).
    pub fn run(&self, args: &[&str]) -> Output {
        self.run_with_stdin(args, None)
    }

    /// Runs with `input` piped to standard input, as a script would give a
    /// password.
    pub fn run_with_stdin(&self, args: &[&str], input: Option<&str>) -> Output {
        let mut cmd = self.command(args);
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        if input.is_some() {
            cmd.stdin(Stdio::piped());
        }
        let mut child = cmd.spawn().expect("start atoll");
        if let Some(input) = input {
            // The binary may exit before reading it all (a refused command);
            // a broken pipe is then not the test's concern.
            let mut stdin = child.stdin.take().expect("stdin");
            let _ = stdin.write_all(input.as_bytes());
        }
        let out = child.wait_with_output().expect("wait for atoll");
        Output {
            args: args.iter().map(|s| s.to_string()).collect(),
            status: out.status,
            stdout: String::from_utf8(out.stdout).expect("stdout is UTF-8"),
            stderr: String::from_utf8(out.stderr).expect("stderr is UTF-8"),
        }
    }

    /// Runs and asserts success; returns standard output.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(out.status.success(), "expected success:\n{out}");
        out.stdout
    }

    /// Like [`Atoll::ok`], with `input` on standard input.
    pub fn ok_with_stdin(&self, args: &[&str], input: &str) -> String {
        let out = self.run_with_stdin(args, Some(input));
        assert!(out.status.success(), "expected success:\n{out}");
        out.stdout
    }

    /// Runs with `--json`, asserts success and parses standard output.
    pub fn json(&self, args: &[&str]) -> Value {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        let out = self.run(&all);
        assert!(out.status.success(), "expected success:\n{out}");
        serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("stdout is not JSON ({e}):\n{out}"))
    }

    /// Runs and asserts failure.
    pub fn fail(&self, args: &[&str]) -> Output {
        let out = self.run(args);
        assert!(!out.status.success(), "expected a failure:\n{out}");
        out
    }

    /// Everything an operator can list, as JSON: two equal snapshots mean
    /// that nothing changed in between (the audit log included).
    pub fn snapshot(&self) -> Value {
        serde_json::json!({
            "domains": self.json(&["domain", "list"]),
            "accounts": self.json(&["user", "list"]),
            "aliases": self.json(&["alias", "list"]),
            "forwards": self.json(&["forward", "list"]),
            "lists": self.json(&["list", "show"]),
            "islands": self.json(&["island", "list"]),
            "audit": self.json(&["audit", "--limit", "100000"]),
        })
    }

    /// Addresses of `--json user list`.
    pub fn addresses(&self) -> Vec<String> {
        let list = self.json(&["user", "list"]);
        list.as_array()
            .expect("user list is an array")
            .iter()
            .map(|a| a["address"].as_str().expect("address").to_string())
            .collect()
    }

    /// The `account` object of `--json user show`.
    pub fn account(&self, address: &str) -> Value {
        self.json(&["user", "show", address])["account"].clone()
    }

    /// The audit log, newest first.
    pub fn audit(&self) -> Vec<Value> {
        self.json(&["audit", "--limit", "100000"]).as_array().expect("audit is an array").clone()
    }
}

/// A running `atoll serve`, stopped and reaped when dropped (also when a
/// test fails half-way).
pub struct Server {
    pub child: Child,
    pub log: PathBuf,
}

impl Server {
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Sends SIGTERM and waits (bounded) for the process to exit.
    pub fn terminate(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let pid = self.child.id().to_string();
        let sent = Command::new("kill").args(["-TERM", &pid]).status().expect("run kill");
        assert!(sent.success(), "kill -TERM {pid} failed");
        wait_timeout(&mut self.child, timeout)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

/// Waits up to `timeout` for `child` to exit.
pub fn wait_timeout(child: &mut Child, timeout: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            return Some(status);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
}

/// A started `atoll serve` and where it listens.
pub struct Started {
    pub server: Server,
    pub http: SocketAddr,
    pub lmtp: SocketAddr,
    /// IMAP with STARTTLS, and IMAP over implicit TLS.
    pub imap: SocketAddr,
    pub imaps: SocketAddr,
    /// The MX (SMTP).
    pub smtp: SocketAddr,
    /// POP3 with STLS, and POP3 over implicit TLS.
    pub pop3: SocketAddr,
    pub pop3s: SocketAddr,
    pub config: PathBuf,
    /// The DNS server the node asks (see `start_server`); dropped after
    /// the server.
    pub dns: Option<dns::Dnsmasq>,
}

/// Starts `atoll serve` with HTTP, LMTP, IMAP(S), POP3(S) and SMTP on free loopback ports, `extra`
/// appended to its configuration (whole sections, such as `[lmtp]`), and
/// waits until /health answers and LMTP accepts connections. Retries with
/// other ports when another process took one between choosing and binding.
///
/// Unless `extra` has its own `[dns]`, the node asks a dnsmasq of its own
/// that knows no name (every answer NXDOMAIN, at once): the MX's reverse
/// DNS, SPF and DMARC lookups then never depend on the machine's resolver,
/// which may be slow or lose queries. Without dnsmasq installed, the
/// system's resolver is used.
pub fn start_server(a: &Atoll, extra: &str) -> Started {
    let mut dns = None;
    let extra = if extra.contains("[dns]") {
        extra.to_string()
    } else {
        dns = dns::Zone::new().try_start();
        match &dns {
            Some(d) => format!("{}\n{extra}", dns::dns_section(d)),
            None => extra.to_string(),
        }
    };
    for _ in 0..5 {
        let ports = [free_port(), free_port(), free_port(), free_port(), free_port(), free_port(), free_port()];
        if (1..ports.len()).any(|i| ports[..i].contains(&ports[i])) {
            continue;
        }
        let [http, lmtp, imap, imaps, smtp, pop3, pop3s] = ports.map(|p| SocketAddr::from(([127, 0, 0, 1], p)));
        // Every other listener off, so that tests running side by side do
        // not fight over the default ports.
        let config = a.write(
            "serve.toml",
            &format!(
                "[node]\nname = \"test-node\"\nheartbeat = \"1s\"\n\n\
                 [listen]\nhttp = [\"{http}\"]\nlmtp = [\"{lmtp}\"]\nimap = [\"{imap}\"]\nimaps = [\"{imaps}\"]\n\
                 smtp = [\"{smtp}\"]\nsubmission = []\nsubmissions = []\npop3 = [\"{pop3}\"]\npop3s = [\"{pop3s}\"]\n\
                 managesieve = []\n\n\
                 [log]\nlevel = \"info\"\n\n{extra}"
            ),
        );
        let log = a.cwd().join(format!("serve-{}.log", http.port()));
        let log_file = std::fs::File::create(&log).expect("log file");
        let child = a
            .command(&["--config", config.to_str().unwrap(), "serve"])
            .stdout(Stdio::null())
            .stderr(log_file)
            .spawn()
            .expect("start atoll serve");
        let mut server = Server { child, log };

        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = server.child.try_wait().expect("try_wait") {
                let log = server.log();
                if log.contains("could not listen") {
                    break; // a port was taken: try others
                }
                panic!("atoll serve exited with {status} before answering:\n{log}");
            }
            let healthy = matches!(http_get(http, "/health"), Ok((200, _)));
            let listening = |addr| TcpStream::connect_timeout(addr, Duration::from_secs(2)).is_ok();
            let mail = [lmtp, imap, imaps, smtp, pop3, pop3s];
            if healthy && mail.iter().all(listening) {
                return Started { server, http, lmtp, imap, imaps, smtp, pop3, pop3s, config, dns };
            }
            assert!(Instant::now() < deadline, "atoll serve not ready within 20 s:\n{}", server.log());
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    panic!("could not start atoll serve on free ports");
}

/// Starts `atoll serve` with the whole configuration `config` (written to
/// `<name>.toml`), and waits until every address in `ready` accepts
/// connections. For nodes with fewer roles than the embedded default.
pub fn start_custom(a: &Atoll, name: &str, config: &str, ready: &[SocketAddr]) -> Server {
    let path = a.write(&format!("{name}.toml"), config);
    let log = a.cwd().join(format!("{name}.log"));
    let log_file = std::fs::File::create(&log).expect("log file");
    let child = a
        .command(&["--config", path.to_str().expect("config path"), "serve"])
        .stdout(Stdio::null())
        .stderr(log_file)
        .spawn()
        .expect("start atoll serve");
    let mut server = Server { child, log };
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(status) = server.child.try_wait().expect("try_wait") {
            panic!("atoll serve ({name}) exited with {status}:\n{}", server.log());
        }
        if ready.iter().all(|addr| TcpStream::connect_timeout(addr, Duration::from_secs(2)).is_ok()) {
            return server;
        }
        assert!(Instant::now() < deadline, "atoll serve ({name}) not ready within 20 s:\n{}", server.log());
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A TCP port nobody listens on right now.
pub fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral port");
    l.local_addr().expect("local address").port()
}

/// A minimal HTTP/1.0 GET; returns the status code and the body.
pub fn http_get(addr: SocketAddr, path: &str) -> std::io::Result<(u16, String)> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2))?;
    s.set_read_timeout(Some(Duration::from_secs(5)))?;
    s.set_write_timeout(Some(Duration::from_secs(5)))?;
    s.write_all(format!("GET {path} HTTP/1.0\r\nHost: x\r\n\r\n").as_bytes())?;
    let mut response = String::new();
    s.read_to_string(&mut response)?;
    let bad = || std::io::Error::new(std::io::ErrorKind::InvalidData, format!("not an HTTP response: {response:?}"));
    let (head, body) = response.split_once("\r\n\r\n").ok_or_else(bad)?;
    let status = head.split_whitespace().nth(1).and_then(|c| c.parse().ok()).ok_or_else(bad)?;
    Ok((status, body.to_string()))
}

/// Lines of `stderr` that report a problem in `file`, as `file: …`.
pub fn lines_about<'a>(stderr: &'a str, file: &Path) -> Vec<&'a str> {
    let prefix = format!("{}: ", file.display());
    stderr.lines().filter(|l| l.starts_with(&prefix)).collect()
}

/// One SMTP session by Python's smtplib (tests/mx_client.py `send`): the
/// replies as JSON.
pub fn smtplib_send(port: u16, spec: &Value) -> Value {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/mx_client.py");
    let out = Command::new("python3")
        .arg(script)
        .arg(port.to_string())
        .arg("send")
        .arg(spec.to_string())
        .output()
        .expect("run python3");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "mx_client.py failed:\n{stdout}\n{stderr}");
    serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {stdout}\n{stderr}"))
}

/// Subjects in an account's INBOX, with how often each is there.
pub fn inbox_subjects(a: &Atoll, s: &Started, address: &str) -> std::collections::HashMap<String, usize> {
    let cfg = s.config.to_str().expect("config path");
    let mut out = std::collections::HashMap::new();
    for m in a.json(&["--config", cfg, "mailbox", "show", address, "INBOX"]).as_array().expect("array") {
        *out.entry(m["subject"].as_str().unwrap_or_default().to_string()).or_default() += 1;
    }
    out
}

/// Waits up to `wait` for `address` to hold `n` messages; returns its
/// subjects as they are then.
pub fn wait_for_inbox(
    a: &Atoll,
    s: &Started,
    address: &str,
    n: usize,
    wait: Duration,
) -> std::collections::HashMap<String, usize> {
    let deadline = Instant::now() + wait;
    loop {
        let got = inbox_subjects(a, s, address);
        if got.values().sum::<usize>() >= n || Instant::now() > deadline {
            return got;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// example.org with ann and bob, the alias team@ to both, and `more`
/// accounts: what the MX tests deliver to.
pub fn mail_installation(more: &[&str]) -> Atoll {
    let a = Atoll::new();
    a.ok(&["domain", "add", "example.org"]);
    for user in ["ann@example.org", "bob@example.org"].iter().chain(more) {
        a.ok(&["user", "add", user, "--no-password"]);
    }
    a.ok(&["alias", "add", "team@example.org", "ann@example.org"]);
    a.ok(&["alias", "add", "team@example.org", "bob@example.org"]);
    a
}
