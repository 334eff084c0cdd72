//! The state machine over in-memory connections, with a real directory
//! and island on SQLite in a temporary directory.

use std::time::Duration;

use atoll_directory::{Directory, NewAccount, PasswordInput, Settings};
use atoll_net::{ShutdownTrigger, shutdown_channel};
use atoll_store::{Flags, Island, NewMessage};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader, DuplexStream};

use crate::{Pop3, Pop3Config};

const USER: &str = "ann@example.org";
const PASSWORD: &str = "correct horse";

struct Fixture {
    pop3: Pop3,
    island: Island,
    account: i64,
    _stop: ShutdownTrigger,
    shutdown: atoll_net::Shutdown,
    _tmp: tempfile::TempDir,
}

async fn fixture(config: Pop3Config) -> Fixture {
    let tmp = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}?mode=rwc", tmp.path().join("d.db").display());
    let settings = Settings { rehash_on_login: false, ..Settings::default() };
    let dir = Directory::open(&url, settings).await.expect("directory");
    dir.add_island("main", &tmp.path().join("main").display().to_string()).await.expect("island");
    dir.add_domain("example.org").await.expect("domain");
    let new = NewAccount {
        password: PasswordInput::Plain(PASSWORD.into()),
        island: Some("main".into()),
        ..NewAccount::new(USER)
    };
    let account = dir.add_account(&new).await.expect("account").id;
    let meta = format!("sqlite://{}?mode=rwc", tmp.path().join("meta.db").display());
    let island = Island::open("main", &meta, tmp.path().join("blobs"), 4).await.expect("open island");
    island.ensure_defaults(account).await.expect("mailboxes");
    let (stop, shutdown) = shutdown_channel();
    let pop3 = Pop3::new(config, dir, [island.clone()], None);
    Fixture { pop3, island, account, _stop: stop, shutdown, _tmp: tmp }
}

fn cleartext() -> Pop3Config {
    Pop3Config { allow_plaintext_auth: true, auth_failure_delay: Duration::ZERO, ..Pop3Config::default() }
}

impl Fixture {
    async fn deliver(&self, raw: &[u8]) {
        let m = NewMessage { raw: raw.to_vec(), flags: Flags::default(), internal_date: None };
        self.island.append(self.account, "INBOX", m).await.expect("append");
    }

    async fn connect(&self) -> Client {
        let (server, client) = tokio::io::duplex(1 << 16);
        let pop3 = self.pop3.clone();
        let shutdown = self.shutdown.clone();
        let task = tokio::spawn(async move { pop3.connection(server, None, false, shutdown).await });
        let (r, w) = tokio::io::split(client);
        let mut c = Client { r: BufReader::new(r), w, task };
        let greeting = c.line().await;
        assert!(greeting.starts_with("+OK "), "{greeting}");
        c
    }

    async fn inbox_uids(&self) -> Vec<i64> {
        let mbox = self.island.mailbox(self.account, "INBOX").await.expect("inbox");
        self.island.messages(&mbox).await.expect("messages").iter().map(|m| m.uid).collect()
    }
}

struct Client {
    r: BufReader<tokio::io::ReadHalf<DuplexStream>>,
    w: tokio::io::WriteHalf<DuplexStream>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Client {
    async fn line(&mut self) -> String {
        let mut l = String::new();
        tokio::time::timeout(Duration::from_secs(10), self.r.read_line(&mut l)).await.expect("answer").expect("read");
        l
    }

    async fn send(&mut self, line: &str) -> String {
        self.w.write_all(line.as_bytes()).await.expect("write");
        self.w.write_all(b"\r\n").await.expect("write");
        self.line().await
    }

    /// The lines of a multi-line answer up to its "." line, unstuffed.
    async fn multi(&mut self) -> Vec<String> {
        let mut out = Vec::new();
        loop {
            let l = self.line().await;
            assert!(l.ends_with("\r\n"), "line without CRLF: {l:?}");
            let l = l.trim_end_matches("\r\n");
            if l == "." {
                return out;
            }
            out.push(l.strip_prefix('.').unwrap_or(l).to_string());
        }
    }

    async fn login(&mut self) {
        assert!(self.send(&format!("USER {USER}")).await.starts_with("+OK"));
        let r = self.send(&format!("PASS {PASSWORD}")).await;
        assert!(r.starts_with("+OK"), "{r}");
    }

    /// True when the server closed the connection.
    async fn closed(&mut self) -> bool {
        let mut rest = Vec::new();
        let read = tokio::time::timeout(Duration::from_secs(10), self.r.read_to_end(&mut rest)).await;
        matches!(read, Ok(Ok(_)))
    }
}

const M1: &[u8] = b"Subject: one\r\nFrom: a@example.net\r\n\r\nline 1\r\n.dot line\r\nline 3\r\n";
const M2: &[u8] = b"Subject: two\n\nbare LF body\nno final newline";

#[tokio::test]
async fn transaction_commands() {
    let f = fixture(cleartext()).await;
    f.deliver(M1).await;
    f.deliver(M2).await;
    let mut c = f.connect().await;
    c.login().await;
    let m2_size = b"Subject: two\r\n\r\nbare LF body\r\nno final newline\r\n".len();
    assert_eq!(c.send("STAT").await, format!("+OK 2 {}\r\n", M1.len() + m2_size));
    assert!(c.send("LIST").await.starts_with("+OK"));
    assert_eq!(c.multi().await, [format!("1 {}", M1.len()), format!("2 {m2_size}")]);
    assert_eq!(c.send("LIST 2").await, format!("+OK 2 {m2_size}\r\n"));
    assert!(c.send("LIST 3").await.starts_with("-ERR"), "no such message");

    assert!(c.send("UIDL").await.starts_with("+OK"));
    let uidl = c.multi().await;
    let validity = f.island.mailbox(f.account, "INBOX").await.expect("inbox").uidvalidity;
    assert_eq!(uidl, [format!("1 00000001{validity:08X}"), format!("2 00000002{validity:08X}")]);
    assert_eq!(c.send("UIDL 1").await, format!("+OK {}\r\n", uidl[0]));

    // RETR: the announced size is what comes, line ends and stuffing aside.
    assert_eq!(c.send("RETR 2").await, format!("+OK {m2_size} octets\r\n"));
    let body = c.multi().await;
    assert_eq!(body, ["Subject: two", "", "bare LF body", "no final newline"]);
    assert!(c.send("RETR 1").await.starts_with("+OK"));
    assert_eq!(c.multi().await, ["Subject: one", "From: a@example.net", "", "line 1", ".dot line", "line 3"]);
    assert!(c.send("TOP 1 1").await.starts_with("+OK"));
    assert_eq!(c.multi().await, ["Subject: one", "From: a@example.net", "", "line 1"]);
    assert!(c.send("TOP 1 0").await.starts_with("+OK"));
    assert_eq!(c.multi().await, ["Subject: one", "From: a@example.net", ""]);

    assert!(c.send("DELE 1").await.starts_with("+OK"));
    assert!(c.send("DELE 1").await.starts_with("-ERR"), "already deleted");
    assert!(c.send("RETR 1").await.starts_with("-ERR"), "a deleted message cannot be read");
    assert_eq!(c.send("STAT").await, format!("+OK 1 {m2_size}\r\n"));
    assert!(c.send("LIST").await.starts_with("+OK"));
    assert_eq!(c.multi().await, [format!("2 {m2_size}")], "numbers do not shift");
    assert!(c.send("RSET").await.starts_with("+OK"));
    assert_eq!(c.send("STAT").await, format!("+OK 2 {}\r\n", M1.len() + m2_size));
    assert_eq!(c.send("NOOP").await, "+OK\r\n");
    assert!(c.send("DELE 2").await.starts_with("+OK"));
    assert_eq!(f.inbox_uids().await, [1, 2], "nothing is removed before QUIT");
    assert!(c.send("QUIT").await.starts_with("+OK"));
    assert!(c.closed().await);
    assert_eq!(f.inbox_uids().await, [1], "QUIT removed the deleted message");
    // RETR 1 marked message 1 \Seen (mark_seen is on by default).
    let mbox = f.island.mailbox(f.account, "INBOX").await.expect("inbox");
    let m = f.island.messages(&mbox).await.expect("messages").remove(0);
    assert!(m.flags.has(atoll_store::system::SEEN), "RETR marks \\Seen at QUIT");
}

#[tokio::test]
async fn top_does_not_mark_seen_and_mark_seen_can_be_off() {
    for mark_seen in [true, false] {
        let f = fixture(Pop3Config { mark_seen, ..cleartext() }).await;
        f.deliver(M1).await;
        f.deliver(M2).await;
        let mut c = f.connect().await;
        c.login().await;
        assert!(c.send("TOP 1 0").await.starts_with("+OK"));
        c.multi().await;
        assert!(c.send("RETR 2").await.starts_with("+OK"));
        c.multi().await;
        assert!(c.send("QUIT").await.starts_with("+OK"));
        assert!(c.closed().await);
        let mbox = f.island.mailbox(f.account, "INBOX").await.expect("inbox");
        let seen: Vec<bool> = f
            .island
            .messages(&mbox)
            .await
            .expect("messages")
            .iter()
            .map(|m| m.flags.has(atoll_store::system::SEEN))
            .collect();
        assert_eq!(seen, [false, mark_seen], "mark_seen = {mark_seen}");
    }
}

#[tokio::test]
async fn a_dropped_connection_deletes_nothing_and_frees_the_maildrop() {
    let f = fixture(cleartext()).await;
    f.deliver(M1).await;
    let mut first = f.connect().await;
    first.login().await;
    assert!(first.send("DELE 1").await.starts_with("+OK"));

    let mut second = f.connect().await;
    assert!(second.send(&format!("USER {USER}")).await.starts_with("+OK"));
    let r = second.send(&format!("PASS {PASSWORD}")).await;
    assert!(r.starts_with("-ERR [IN-USE]"), "{r}");
    // Still in AUTHORIZATION: the client may try again later.
    assert!(second.send("STAT").await.starts_with("-ERR"));

    // The connection drops: both halves go, the server reads end of file.
    let Client { r, w, task } = first;
    drop((r, w));
    let _ = tokio::time::timeout(Duration::from_secs(10), task).await.expect("the session ends at once");
    assert_eq!(f.inbox_uids().await, [1], "no UPDATE state without QUIT");
    second.login().await;
    assert_eq!(second.send("STAT").await, format!("+OK 1 {}\r\n", M1.len()));
}

#[tokio::test]
async fn wrong_state_and_malformed_commands_get_err_and_the_session_goes_on() {
    let f = fixture(Pop3Config { max_line_length: 300, ..cleartext() }).await;
    let mut c = f.connect().await;
    for bad in ["STAT", "RETR 1", "NOOP", "DELE 1", "PASS x", "FOO", "RETR x", "", "TOP 1", "LIST 0"] {
        let r = c.send(bad).await;
        assert!(r.starts_with("-ERR "), "{bad:?}: {r}");
    }
    let r = c.send(&"X".repeat(400)).await;
    assert!(r.starts_with("-ERR") && r.contains("too long"), "{r}");
    c.w.write_all(b"USER \xff\xfe\r\n").await.expect("write");
    assert!(c.line().await.starts_with("-ERR"), "not UTF-8");
    c.login().await;
    for bad in ["USER x", "AUTH PLAIN", "STLS", "RETR 99", "TOP 1 -1", "UIDL 4294967296"] {
        let r = c.send(bad).await;
        assert!(r.starts_with("-ERR "), "{bad:?}: {r}");
    }
    assert_eq!(c.send("STAT").await, "+OK 0 0\r\n");
}

#[tokio::test]
async fn passwords_need_tls_unless_allowed() {
    let f = fixture(Pop3Config { auth_failure_delay: Duration::ZERO, ..Pop3Config::default() }).await;
    let mut c = f.connect().await;
    assert!(c.send("CAPA").await.starts_with("+OK"));
    let caps = c.multi().await;
    assert!(caps.contains(&"UIDL".to_string()) && caps.contains(&"TOP".to_string()), "{caps:?}");
    assert!(!caps.iter().any(|l| l == "USER" || l.starts_with("SASL")), "no passwords in clear: {caps:?}");
    for cmd in [format!("USER {USER}"), "AUTH PLAIN".to_string(), "AUTH".to_string()] {
        let r = c.send(&cmd).await;
        assert!(r.starts_with("-ERR [AUTH]"), "{cmd}: {r}");
    }
    assert!(c.send("STLS").await.starts_with("-ERR"), "no TLS configured here");
}

#[tokio::test]
async fn sasl_plain_and_login() {
    use base64::Engine;
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let f = fixture(cleartext()).await;
    let plain = b64(&format!("\0{USER}\0{PASSWORD}"));

    let mut c = f.connect().await;
    assert!(c.send("CAPA").await.starts_with("+OK"));
    assert!(c.multi().await.contains(&"SASL PLAIN LOGIN".to_string()));
    assert!(c.send("AUTH").await.starts_with("+OK"));
    assert_eq!(c.multi().await, ["PLAIN", "LOGIN"]);
    assert!(c.send("AUTH CRAM-MD5").await.starts_with("-ERR"));
    assert_eq!(c.send("AUTH PLAIN").await, "+ \r\n");
    assert!(c.send("*").await.starts_with("-ERR"), "cancelled");
    assert_eq!(c.send("AUTH PLAIN").await, "+ \r\n");
    assert!(c.send("!!!").await.starts_with("-ERR"), "bad base64");
    let r = c.send(&format!("AUTH PLAIN {}", b64(&format!("other@example.org\0{USER}\0{PASSWORD}")))).await;
    assert!(r.starts_with("-ERR [AUTH]"), "acting as someone else: {r}");
    let r = c.send(&format!("AUTH PLAIN {plain}")).await;
    assert!(r.starts_with("+OK"), "initial response: {r}");
    assert!(c.send("QUIT").await.starts_with("+OK"));
    assert!(c.closed().await);

    let mut c = f.connect().await;
    assert_eq!(c.send("AUTH PLAIN").await, "+ \r\n");
    assert!(c.send(&plain).await.starts_with("+OK"), "without initial response");
    assert!(c.send("QUIT").await.starts_with("+OK"));
    assert!(c.closed().await);

    let mut c = f.connect().await;
    assert_eq!(c.send("AUTH LOGIN").await, "+ VXNlcm5hbWU6\r\n");
    assert_eq!(c.send(&b64(USER)).await, "+ UGFzc3dvcmQ6\r\n");
    assert!(c.send(&b64(PASSWORD)).await.starts_with("+OK"), "LOGIN");
}

#[tokio::test]
async fn repeated_failures_disconnect() {
    let f = fixture(cleartext()).await;
    let mut c = f.connect().await;
    for i in 1..=super::MAX_FAILED_LOGINS {
        assert!(c.send(&format!("USER {USER}")).await.starts_with("+OK"));
        let r = c.send("PASS wrong").await;
        assert!(r.starts_with("-ERR [AUTH]"), "attempt {i}: {r}");
    }
    assert!(c.closed().await, "closed after {} failures", super::MAX_FAILED_LOGINS);
}

#[tokio::test]
async fn pipelined_commands_are_all_answered() {
    let f = fixture(cleartext()).await;
    f.deliver(M1).await;
    let mut c = f.connect().await;
    c.w.write_all(format!("USER {USER}\r\nPASS {PASSWORD}\r\nSTAT\r\nUIDL 1\r\nNOOP\r\n").as_bytes())
        .await
        .expect("write");
    let answers = [c.line().await, c.line().await, c.line().await, c.line().await, c.line().await];
    assert!(answers.iter().all(|a| a.starts_with("+OK")), "{answers:?}");
    assert_eq!(answers[2], format!("+OK 1 {}\r\n", M1.len()));
}
