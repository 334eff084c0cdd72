//! Real content-filter daemons for the filter tests: spamd, clamd and
//! rspamd from the OS packages (scripts/setup installs them), each started
//! in the foreground in its own temporary directory, on a free loopback
//! port, with a configuration of its own that needs no network and no
//! downloaded rules or signatures.
//!
//! In CI (CI=true or ATOLL_TEST_REQUIRE_ENGINES=1) a missing daemon fails
//! the test; elsewhere the test says so and passes.

#![allow(dead_code)]

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;

/// How long a daemon may take to load its rules and listen.
const START_TIMEOUT: Duration = Duration::from_secs(120);

/// The EICAR test file (eicar.org), built from two halves so that this
/// source file is not itself taken for the test file.
pub fn eicar() -> String {
    ["X5O!P%@AP[4\\PZX54(P^)7CC)7}$", "EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*"].concat()
}

/// The GTUBE string every spam filter is built to recognise.
pub fn gtube() -> String {
    ["XJS*C4JDBQADN1.NSBN3*2IDNEN*", "GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X"].concat()
}

/// The name the clamd test database gives EICAR (clamd adds
/// ".UNOFFICIAL" to names from unsigned databases).
pub const EICAR_SIGNATURE: &str = "Atoll.Test.EICAR";

/// StreamMaxLength of the test clamd.
pub const CLAMD_STREAM_MAX: usize = 1 << 20;

fn required() -> bool {
    std::env::var("ATOLL_TEST_REQUIRE_ENGINES").is_ok_and(|v| v == "1")
        || std::env::var("CI").is_ok_and(|v| v == "true")
}

fn find(binary: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let dirs = std::env::split_paths(&path).chain(["/usr/sbin".into(), "/usr/bin".into(), "/sbin".into()]);
    dirs.map(|d: PathBuf| d.join(binary)).find(|p| p.is_file())
}

fn binary(name: &str, package: &str) -> Option<PathBuf> {
    if let Some(path) = find(name) {
        return Some(path);
    }
    if required() {
        panic!("{name} is missing: install the {package} package (scripts/setup does)");
    }
    eprintln!("skipping: {name} is missing (install the {package} package; scripts/setup does)");
    None
}

fn is_root() -> bool {
    // The owner of /proc/self is our effective user.
    fs::metadata("/proc/self").map(|m| std::os::unix::fs::MetadataExt::uid(&m) == 0).unwrap_or(false)
}

/// A TCP port on 127.0.0.1 that is free right now.
pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    listener.local_addr().expect("local address").port()
}

/// A daemon running in its own process group; stopped (the whole group,
/// workers included) when dropped.
pub struct Daemon {
    pub name: &'static str,
    pub port: u16,
    pub dir: TempDir,
    child: Child,
}

impl Daemon {
    pub fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn log(&self) -> String {
        let mut out = String::new();
        for name in ["stdout.log", "stderr.log", "daemon.log"] {
            if let Ok(text) = fs::read_to_string(self.path(name)) {
                let tail: Vec<&str> = text.lines().rev().take(40).collect();
                out.push_str(&format!("--- {name} ---\n"));
                for line in tail.into_iter().rev() {
                    out.push_str(line);
                    out.push('\n');
                }
            }
        }
        out
    }

    /// Waits until the daemon accepts connections on its port (and on
    /// `socket`, when given).
    async fn ready(mut self, socket: Option<&Path>) -> Daemon {
        let start = Instant::now();
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("{} exited with {status} while starting:\n{}", self.name, self.log());
            }
            let tcp = tokio::net::TcpStream::connect(self.addr()).await.is_ok();
            let unix = match socket {
                Some(path) => tokio::net::UnixStream::connect(path).await.is_ok(),
                None => true,
            };
            if tcp && unix {
                eprintln!("{} ready on {} after {:?}", self.name, self.addr(), start.elapsed());
                return self;
            }
            if start.elapsed() > START_TIMEOUT {
                panic!("{} did not listen within {START_TIMEOUT:?}:\n{}", self.name, self.log());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    fn signal(&self, signal: &str) {
        // A negative pid names the process group (kill(1)).
        let _ = Command::new("kill")
            .args([format!("-{signal}"), "--".into(), format!("-{}", self.child.id())])
            .stderr(Stdio::null())
            .status();
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.signal("TERM");
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                // The leader is gone; workers still in the group go too.
                self.signal("KILL");
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        self.signal("KILL");
        let _ = self.child.wait();
    }
}

/// A directory the daemon can read, and write where it must, whatever
/// user it ends up running as.
fn daemon_dir(name: &str) -> TempDir {
    let dir = tempfile::Builder::new().prefix(&format!("atoll-{name}-")).tempdir().expect("temporary directory");
    fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).expect("chmod");
    dir
}

fn writable_dir(path: &Path) {
    fs::create_dir_all(path).expect("create directory");
    fs::set_permissions(path, fs::Permissions::from_mode(0o777)).expect("chmod");
}

fn spawn(name: &'static str, mut cmd: Command, dir: TempDir, port: u16) -> Daemon {
    let stdout = fs::File::create(dir.path().join("stdout.log")).expect("log file");
    let stderr = fs::File::create(dir.path().join("stderr.log")).expect("log file");
    cmd.current_dir(dir.path()).stdin(Stdio::null()).stdout(stdout).stderr(stderr).process_group(0);
    let child = cmd.spawn().unwrap_or_else(|e| panic!("start {name}: {e}"));
    Daemon { name, port, dir, child }
}

/// SpamAssassin's spamd with the rules the package ships, network tests
/// off (`--local`), no Bayes, no per-user configuration.
pub async fn spamd() -> Option<Daemon> {
    let bin = binary("spamd", "spamd")?;
    let dir = daemon_dir("spamd");
    let home = dir.path().join("home");
    writable_dir(&home);
    let port = free_port();
    let mut cmd = Command::new(bin);
    cmd.arg("--local")
        .arg("--nouser-config")
        .arg(format!("--listen=127.0.0.1:{port}"))
        .arg("--allowed-ips=127.0.0.1")
        .arg("--max-children=1")
        .arg("--min-children=1")
        .arg(format!("--helper-home-dir={}", home.display()))
        .arg(format!("--pidfile={}", dir.path().join("spamd.pid").display()))
        .arg("--syslog=stderr")
        .arg("--cf=use_bayes 0")
        .arg("--cf=bayes_auto_learn 0");
    if is_root() {
        // spamd would fall back to "nobody" for the scans; say so.
        cmd.arg("--username=nobody");
    }
    Some(spawn("spamd", cmd, dir, port).ready(None).await)
}

/// clamd with a database of one signature, for EICAR; listening on TCP
/// and on the unix socket `clamd.sock` in its directory.
pub async fn clamd() -> Option<Daemon> {
    let bin = binary("clamd", "clamav-daemon")?;
    let dir = daemon_dir("clamd");
    let db = dir.path().join("db");
    fs::create_dir(&db).expect("create db dir");
    let hex: String = eicar().bytes().map(|b| format!("{b:02x}")).collect();
    // An extended signature (.ndb): Name:TargetType:Offset:HexSignature;
    // target 0 is any file, so it also matches inside a decoded MIME part.
    fs::write(db.join("atoll-test.ndb"), format!("{EICAR_SIGNATURE}:0:*:{hex}\n")).expect("write signature");
    let tmp = dir.path().join("tmp");
    writable_dir(&tmp);
    let port = free_port();
    let socket = dir.path().join("clamd.sock");
    let conf = dir.path().join("clamd.conf");
    fs::write(
        &conf,
        format!(
            "Foreground yes\n\
             TCPSocket {port}\n\
             TCPAddr 127.0.0.1\n\
             LocalSocket {socket}\n\
             DatabaseDirectory {db}\n\
             TemporaryDirectory {tmp}\n\
             LogFile {log}\n\
             StreamMaxLength {max}\n\
             MaxThreads 4\n",
            socket = socket.display(),
            db = db.display(),
            tmp = tmp.display(),
            log = dir.path().join("daemon.log").display(),
            max = CLAMD_STREAM_MAX,
        ),
    )
    .expect("write clamd.conf");
    let mut cmd = Command::new(bin);
    cmd.arg(format!("--config-file={}", conf.display()));
    Some(spawn("clamd", cmd, dir, port).ready(Some(&socket)).await)
}

/// rspamd with a configuration of its own: one normal worker, no Lua
/// rules, no Redis, no DNS; GTUBE is recognised by rspamd's core (its
/// built-in test pattern, no rule needed).
pub async fn rspamd() -> Option<Daemon> {
    let bin = binary("rspamd", "rspamd")?;
    let dir = daemon_dir("rspamd");
    let db = dir.path().join("db");
    writable_dir(&db);
    // The package's public suffix list takes rspamd over ten seconds to
    // compile at start; the test messages need three suffixes.
    let tld = dir.path().join("tld.dat");
    fs::write(&tld, "com\nnet\norg\n").expect("write suffix list");
    let port = free_port();
    let conf = dir.path().join("rspamd.conf");
    fs::write(
        &conf,
        format!(
            r#"options {{
    pidfile = "{pid}";
    filters = "";
    url_tld = "{tld}";
    hs_cache_dir = "{db}";
    history_file = "{db}/history";
    stats_file = "{db}/stats.ucl";
    control_socket = "{db}/rspamd.sock mode=0600";
    dns {{
        nameserver = ["127.0.0.1:1"];
        timeout = 1s;
        retransmits = 1;
    }}
}}
logging {{
    type = "console";
    level = "warning";
}}
actions {{
    reject = 15;
    add_header = 6;
    greylist = 4;
}}
worker "normal" {{
    bind_socket = "127.0.0.1:{port}";
    count = 1;
    task_timeout = 8s;
}}
"#,
            pid = dir.path().join("rspamd.pid").display(),
            tld = tld.display(),
            db = db.display(),
        ),
    )
    .expect("write rspamd.conf");
    let mut cmd = Command::new(bin);
    cmd.arg("--no-fork").arg(format!("--config={}", conf.display()));
    if is_root() {
        // rspamd will not run its workers as root.
        cmd.args(["--user=nobody", "--group=nogroup"]);
    }
    Some(spawn("rspamd", cmd, dir, port).ready(None).await)
}
