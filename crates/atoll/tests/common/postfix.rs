//! A throwaway Postfix instance from the OS packages (configuration, queue,
//! data and log in one temporary directory), for tests that need another
//! MTA: an edge relay in front of atoll's MX, or another domain's server
//! that atoll's outbound path delivers to.
//!
//! Postfix's master starts as root. As another user, or without Postfix
//! installed, a test says why and passes; in CI (CI=true) it fails.

#![allow(dead_code)]

use std::fs::{self, File};
use std::net::SocketAddr;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;

use super::free_port;

const POSTFIX: &str = "/usr/sbin/postfix";

pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

pub fn is_root() -> bool {
    // The owner of /proc/self is our effective user.
    fs::metadata("/proc/self").map(|m| m.uid() == 0).unwrap_or(false)
}

/// Whether this machine can run a Postfix instance; when it cannot, fails
/// in CI and says why elsewhere.
pub fn postfix_runs_here() -> bool {
    let why = if !Path::new(POSTFIX).is_file() {
        Some(format!("{POSTFIX} is missing: install the postfix package (scripts/setup does)"))
    } else if !is_root() {
        Some("Postfix's master must be started as root: run this test as root".to_string())
    } else {
        None
    };
    match why {
        None => true,
        Some(why) if in_ci() => panic!("{why}"),
        Some(why) => {
            eprintln!("skipping: {why}");
            false
        }
    }
}

/// A throwaway Postfix instance: configuration, queue, data and log in one
/// temporary directory. Stopped when dropped, also when a test fails
/// half-way, and whatever of it is still running then is killed.
pub struct Postfix {
    dir: TempDir,
    /// Where its smtpd listens, on 127.0.0.1.
    pub port: u16,
    stopped: bool,
}

impl Postfix {
    /// Starts an instance named `hostname` (its EHLO name and myhostname)
    /// on a free port, with `lines` (what it does with mail) added to its
    /// main.cf; `{dir}` in them stands for the instance's directory.
    /// Retries with another port when another process took the chosen one
    /// before Postfix bound it.
    pub fn start(hostname: &str, lines: &str) -> Postfix {
        let dir = tempfile::Builder::new().prefix("atoll-postfix-").tempdir().expect("temporary directory");
        // The daemons run as the postfix user and must reach the queue
        // and data directories below this one.
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).expect("chmod 755");
        fs::create_dir(dir.path().join("queue")).expect("create queue directory");
        fs::create_dir(dir.path().join("data")).expect("create data directory");
        // Postfix keeps its TLS random seed and caches in data_directory,
        // which must belong to mail_owner (as in bench/smtp.sh).
        let chown = Command::new("chown").arg("postfix").arg(dir.path().join("data")).status().expect("run chown");
        assert!(chown.success(), "chown postfix {}/data failed", dir.path().display());
        // A certificate for smtpd's STARTTLS, when the lines ask for one.
        if lines.contains("smtpd_tls_cert_file") {
            let made = Command::new("openssl")
                .args(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj"])
                .arg(format!("/CN={hostname}"))
                .arg("-keyout")
                .arg(dir.path().join("tls.key"))
                .arg("-out")
                .arg(dir.path().join("tls.pem"))
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .expect("run openssl");
            assert!(made.success(), "openssl could not make a certificate");
        }
        let mut postfix = Postfix { dir, port: 0, stopped: false };
        for _ in 0..5 {
            postfix.port = free_port();
            postfix.configure(hostname, lines);
            let status = postfix.run("start");
            if status.success() {
                return postfix;
            }
            let said = format!("{}\n{}", postfix.command_log(), postfix.maillog());
            assert!(said.contains("Address already in use"), "postfix start failed ({status}):\n{said}");
        }
        panic!("could not start Postfix on a free port:\n{}", postfix.maillog());
    }

    /// An edge relay: takes mail for example.org and relays it to `mx`.
    /// Nothing is delivered locally (mydestination and the local maps
    /// empty); any other domain fails at once instead of being looked up
    /// in the DNS. relay_recipient_maps is left empty, so Postfix takes
    /// every address at example.org, as a relay that does not know the
    /// final server's users does.
    pub fn relay(hostname: &str, mx: SocketAddr) -> Postfix {
        let (mx_ip, mx_port) = (mx.ip(), mx.port());
        Postfix::start(
            hostname,
            &format!(
                "mydestination =\n\
                 relay_domains = example.org\n\
                 transport_maps = inline:{{ example.org=relay:[{mx_ip}]:{mx_port} }}\n\
                 default_transport = error:this test relays example.org only\n\
                 local_recipient_maps =\n"
            ),
        )
    }

    /// Another domain's mail server: takes mail for `domain` (every
    /// address) into one maildir, `mail/` below its directory, and offers
    /// STARTTLS with a self-signed certificate.
    pub fn destination(hostname: &str, domain: &str) -> Postfix {
        let postfix = Postfix::start(
            hostname,
            &format!(
                "mydestination =\n\
                 virtual_mailbox_domains = {domain}\n\
                 virtual_mailbox_base = {{dir}}\n\
                 virtual_mailbox_maps = static:mail/\n\
                 virtual_uid_maps = static:65534\n\
                 virtual_gid_maps = static:65534\n\
                 default_transport = error:this server delivers {domain} only\n\
                 local_recipient_maps =\n\
                 smtpd_tls_security_level = may\n\
                 smtpd_tls_cert_file = {{dir}}/tls.pem\n\
                 smtpd_tls_key_file = {{dir}}/tls.key\n"
            ),
        );
        // The virtual delivery agent writes as that uid.
        let mail = postfix.path().join("mail");
        fs::create_dir(&mail).expect("create the maildir's folder");
        let chown = Command::new("chown").arg("65534:65534").arg(&mail).status().expect("run chown");
        assert!(chown.success(), "chown {} failed", mail.display());
        postfix
    }

    /// The messages delivered into the maildir of [`Postfix::destination`].
    pub fn delivered(&self) -> Vec<String> {
        let mut out = Vec::new();
        for sub in ["new", "cur"] {
            let Ok(entries) = fs::read_dir(self.path().join("mail").join(sub)) else { continue };
            for e in entries.flatten() {
                out.push(fs::read_to_string(e.path()).unwrap_or_default());
            }
        }
        out
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    fn configure(&self, hostname: &str, lines: &str) {
        let dir = self.path().display().to_string();
        let port = self.port;
        let lines = lines.replace("{dir}", &dir);
        let main_cf = format!(
            "compatibility_level = 3.6\n\
             queue_directory = {dir}/queue\n\
             data_directory = {dir}/data\n\
             maillog_file = {dir}/maillog\n\
             maillog_file_prefixes = {dir}\n\
             mail_owner = postfix\n\
             setgid_group = postdrop\n\
             myhostname = {hostname}\n\
             inet_interfaces = 127.0.0.1\n\
             inet_protocols = ipv4\n\
             mynetworks = 127.0.0.0/8\n\
             smtp_tls_security_level = may\n\
             smtp_tls_loglevel = 1\n\
             alias_maps =\n\
             alias_database =\n\
             biff = no\n\
             {lines}"
        );
        // The services of a stock Postfix (bench/postfix/master.cf.in),
        // none chrooted: the queue directory is a temporary folder.
        let master_cf = format!(
            "127.0.0.1:{port} inet n - n - - smtpd\n\
             pickup    unix  n       -       n       60      1       pickup\n\
             cleanup   unix  n       -       n       -       0       cleanup\n\
             qmgr      unix  n       -       n       300     1       qmgr\n\
             tlsmgr    unix  -       -       n       1000?   1       tlsmgr\n\
             rewrite   unix  -       -       n       -       -       trivial-rewrite\n\
             bounce    unix  -       -       n       -       0       bounce\n\
             defer     unix  -       -       n       -       0       bounce\n\
             trace     unix  -       -       n       -       0       bounce\n\
             verify    unix  -       -       n       -       1       verify\n\
             flush     unix  n       -       n       1000?   0       flush\n\
             proxymap  unix  -       -       n       -       -       proxymap\n\
             proxywrite unix -       -       n       -       1       proxymap\n\
             smtp      unix  -       -       n       -       -       smtp\n\
             relay     unix  -       -       n       -       -       smtp\n\
             showq     unix  n       -       n       -       -       showq\n\
             error     unix  -       -       n       -       -       error\n\
             retry     unix  -       -       n       -       -       error\n\
             discard   unix  -       -       n       -       -       discard\n\
             local     unix  -       n       n       -       -       local\n\
             virtual   unix  -       n       n       -       -       virtual\n\
             lmtp      unix  -       -       n       -       -       lmtp\n\
             anvil     unix  -       -       n       -       1       anvil\n\
             scache    unix  -       -       n       -       1       scache\n\
             postlog   unix-dgram n  -       n       -       1       postlogd\n"
        );
        fs::write(self.path().join("main.cf"), main_cf).expect("write main.cf");
        fs::write(self.path().join("master.cf"), master_cf).expect("write master.cf");
    }

    /// Runs `postfix -c DIR action`. Its output goes to a file, not a
    /// pipe: the master it starts could hold a pipe open long after.
    fn run(&self, action: &str) -> std::process::ExitStatus {
        let log = File::options().create(true).append(true).open(self.command_log_path()).expect("open command log");
        Command::new(POSTFIX)
            .arg("-c")
            .arg(self.path())
            .arg(action)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("clone log file"))
            .stderr(log)
            .status()
            .expect("run postfix")
    }

    fn command_log_path(&self) -> PathBuf {
        self.path().join("postfix-command.log")
    }

    pub fn command_log(&self) -> String {
        fs::read_to_string(self.command_log_path()).unwrap_or_default()
    }

    pub fn maillog(&self) -> String {
        fs::read_to_string(self.path().join("maillog")).unwrap_or_default()
    }

    /// Stops the instance and asserts that none of its processes is left.
    pub fn stop(mut self) {
        let status = self.run("stop");
        self.stopped = true;
        assert!(status.success(), "postfix stop failed ({status}):\n{}", self.command_log());
        // The master is gone when `postfix stop` returns; its children
        // were told to go and may take a moment.
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut left = processes(self.path());
        while !left.is_empty() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
            left = processes(self.path());
        }
        assert!(left.is_empty(), "Postfix processes still running after postfix stop: {left:?}");
    }
}

impl Drop for Postfix {
    fn drop(&mut self) {
        if !self.stopped {
            let _ = self.run("stop");
        }
        // A stop that failed, or children that outlived their master.
        for (pid, _) in processes(self.path()) {
            let _ = Command::new("kill").args(["-KILL", &pid.to_string()]).stderr(Stdio::null()).status();
        }
    }
}

/// The processes of the Postfix instance configured in `dir`, with their
/// command lines. Their command lines do not name the directory (the
/// master is `master -w`), but `postfix -c` puts it in MAIL_CONFIG, which
/// the master passes on to every daemon (import_environment).
fn processes(dir: &Path) -> Vec<(u32, String)> {
    let wanted = format!("MAIL_CONFIG={}", dir.display()).into_bytes();
    let mut out = Vec::new();
    for entry in fs::read_dir("/proc").expect("read /proc").flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else { continue };
        // A process that exited meanwhile has nothing to read.
        let Ok(environ) = fs::read(entry.path().join("environ")) else { continue };
        if environ.split(|b| *b == 0).any(|var| var == wanted.as_slice()) {
            let cmdline = fs::read(entry.path().join("cmdline")).unwrap_or_default();
            out.push((pid, String::from_utf8_lossy(&cmdline).replace('\0', " ").trim().to_string()));
        }
    }
    out
}
