//! IMAP load generator for bench/imap.sh; it speaks plain IMAP and knows
//! nothing of the server behind the port, so atoll and Dovecot get the very
//! same load.
//!
//! Three modes:
//!
//! - load (default): `--clients N` sessions, each logs in once, SELECTs
//!   INBOX and then runs a weighted mix of SELECT, FETCH, STORE, APPEND,
//!   SEARCH and EXPUNGE back to back for `--duration`. Sessions stay open:
//!   login is not part of the mix, so the figure is IMAP work and not
//!   password hashing (argon2id alone costs ~76 ms per login). The mix:
//!   SELECT INBOX again; FETCH of 1–20 consecutive messages' UID, FLAGS,
//!   RFC822.SIZE, ENVELOPE and BODY.PEEK[HEADER] (3 in 4) or one whole
//!   message, BODY.PEEK[] (1 in 4); STORE +FLAGS or -FLAGS \Seen or
//!   \Flagged on one message; APPEND of a 4 KiB message; SEARCH UNSEEN,
//!   SUBJECT or FROM in turn; EXPUNGE: STORE +FLAGS.SILENT \Deleted on one
//!   message, then EXPUNGE (APPEND and EXPUNGE weigh the same by default,
//!   so mailboxes keep their size). Prints two lines:
//!   `imap-load clients=N seconds=S ops/s=T select=… fetch=… store=…
//!   append=… search=… expunge=… no=… errors=… p50=… p99=…` (per-command
//!   figures are ops/s too; `no` counts tagged NO, e.g. FETCH of a message
//!   another session expunged; `errors` counts BAD, I/O errors, timeouts and
//!   unparseable responses), then per-command latency and the mailbox sizes
//!   at the start and the end.
//! - `--idle N`: N sessions log in, SELECT INBOX and enter IDLE; prints a
//!   line with `ready=` once all are idling, then holds them until SIGINT,
//!   SIGTERM or `--duration` (0: no limit), for measuring the server's
//!   memory per idle connection.
//! - `--fill N --lmtp-port P --corpus DIR`: delivers N messages over LMTP,
//!   each to every user in one transaction (the way a list post or a
//!   multi-recipient mail arrives), cycling through the corpus files.
//!
//! Client i logs in as user i mod (number of users): with fewer users than
//! clients, several sessions share a mailbox, as a person's phone, laptop
//! and webmail do. Such sessions see each other's APPENDs and EXPUNGEs;
//! each one tracks EXISTS and EXPUNGE so its sequence numbers stay valid
//! for its own view, as RFC 9051 §7.5.1 and §7.4.1 require of a client.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use atoll_testkit::rng::Rng;
use clap::Parser;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::sync::{Barrier, Semaphore, watch};

#[derive(Parser)]
#[command(name = "imap-load", about = "IMAP load generator (see bench/imap.sh)")]
struct Args {
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    /// IMAP port (cleartext; LOGIN must be allowed without TLS)
    #[arg(long, default_value_t = 143)]
    port: u16,
    /// A file of `address password` lines, or a pattern such as
    /// `user%d@example.org` numbered 1..=--user-count, all with --password
    #[arg(long)]
    users: String,
    #[arg(long, default_value_t = 20)]
    user_count: usize,
    #[arg(long, env = "IMAP_LOAD_PASSWORD", default_value = "")]
    password: String,
    /// Concurrent sessions (load mode)
    #[arg(long, default_value_t = 20)]
    clients: usize,
    /// How long to measure (load mode), or to hold idle sessions (0: until a signal)
    #[arg(long, default_value = "30s", value_parser = humantime::parse_duration)]
    duration: Duration,
    /// Run the mix this long before counting (caches, JIT-free but not cold)
    #[arg(long, default_value = "0s", value_parser = humantime::parse_duration)]
    warmup: Duration,
    /// Weights of the command types, e.g. select=5,fetch=40,store=20,append=10,search=15,expunge=10
    #[arg(long, default_value = DEFAULT_MIX)]
    mix: String,
    /// Idle mode: open this many sessions in IDLE and hold them
    #[arg(long)]
    idle: Option<usize>,
    /// Fill mode: deliver this many messages over LMTP to every user
    #[arg(long)]
    fill: Option<usize>,
    #[arg(long, default_value_t = 24)]
    lmtp_port: u16,
    /// Directory of .eml files to deliver (fill mode)
    #[arg(long)]
    corpus: Option<PathBuf>,
    /// Parallel LMTP connections (fill mode)
    #[arg(long, default_value_t = 4)]
    fill_connections: usize,
    /// Sessions connecting and logging in at the same time (the rest wait)
    #[arg(long, default_value_t = 50)]
    connect_concurrency: usize,
    /// Longest wait for one command's completion before it counts as an error
    #[arg(long, default_value = "60s", value_parser = humantime::parse_duration)]
    timeout: Duration,
    /// Printed in the summary line, e.g. server=atoll
    #[arg(long, default_value = "")]
    label: String,
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

/// APPEND and EXPUNGE weigh the same, so the mailboxes keep their size on
/// average over a run.
const DEFAULT_MIX: &str = "select=5,fetch=40,store=20,append=10,search=15,expunge=10";

/// A response line longer than this is treated as a broken server rather
/// than buffered without end (a SEARCH of 10,000 hits is ~60 KB).
const MAX_LINE: usize = 16 << 20;

/// Size of each APPENDed message.
const APPEND_SIZE: usize = 4096;

/// What SEARCH asks, in turn: flags only, and header matches that hit a few
/// percent (spambayes, razor) to a quarter (example.com) of the corpus.
const SEARCHES: [&str; 5] =
    ["UNSEEN", "SUBJECT \"spambayes\"", "FROM \"example.com\"", "SUBJECT \"razor\"", "FROM \"perl.org\""];

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Op {
    Select,
    Fetch,
    Store,
    Append,
    Search,
    Expunge,
}

const OPS: [Op; 6] = [Op::Select, Op::Fetch, Op::Store, Op::Append, Op::Search, Op::Expunge];

impl Op {
    fn name(self) -> &'static str {
        match self {
            Op::Select => "select",
            Op::Fetch => "fetch",
            Op::Store => "store",
            Op::Append => "append",
            Op::Search => "search",
            Op::Expunge => "expunge",
        }
    }
}

fn parse_mix(s: &str) -> anyhow::Result<[u32; 6]> {
    let mut w = [0u32; 6];
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (name, weight) = part.split_once('=').with_context(|| format!("--mix: {part:?} is not name=weight"))?;
        let i = OPS
            .iter()
            .position(|o| o.name().eq_ignore_ascii_case(name.trim()))
            .with_context(|| format!("--mix: unknown command {name:?}"))?;
        w[i] = weight.trim().parse().with_context(|| format!("--mix: bad weight in {part:?}"))?;
    }
    if w.iter().all(|&x| x == 0) {
        bail!("--mix: all weights are zero");
    }
    Ok(w)
}

/// An operation drawn with the mix's weights.
fn pick(rng: &mut Rng, weights: &[u32; 6]) -> Op {
    let total: u64 = weights.iter().map(|&w| u64::from(w)).sum();
    let mut r = rng.below_u64(total);
    for (op, &w) in OPS.iter().zip(weights) {
        if r < u64::from(w) {
            return *op;
        }
        r -= u64::from(w);
    }
    Op::Fetch
}

struct User {
    address: String,
    password: String,
}

fn load_users(a: &Args) -> anyhow::Result<Vec<User>> {
    if a.users.contains("%d") {
        if a.user_count == 0 {
            bail!("--user-count must be at least 1");
        }
        return Ok((1..=a.user_count)
            .map(|i| User { address: a.users.replace("%d", &i.to_string()), password: a.password.clone() })
            .collect());
    }
    let text = std::fs::read_to_string(&a.users).with_context(|| format!("cannot read {}", a.users))?;
    let mut users = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (address, password) = line
            .split_once(char::is_whitespace)
            .with_context(|| format!("{}:{}: not `address password`", a.users, n + 1))?;
        users.push(User { address: address.to_string(), password: password.trim().to_string() });
    }
    if users.is_empty() {
        bail!("{}: no users", a.users);
    }
    Ok(users)
}

/// How a command completed.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Status {
    Ok,
    No,
    Bad,
}

/// One response off the wire, classified by its first line.
enum Response {
    Untagged,
    Continuation,
    Tagged { status: Status },
}

/// An IMAP session. Only what the load needs is parsed: tags, completion
/// status, literals (skipped by their announced size) and the EXISTS and
/// EXPUNGE counts of the selected mailbox.
struct Conn {
    rd: BufReader<OwnedReadHalf>,
    wr: OwnedWriteHalf,
    tag: u64,
    /// Messages in the selected mailbox, as this session knows it.
    exists: u64,
    /// The first line of the last response (literals left out).
    head: Vec<u8>,
    scratch: Vec<u8>,
    out: Vec<u8>,
    /// Bytes of literals received, i.e. message data FETCHed.
    literal_bytes: u64,
}

impl Conn {
    async fn connect(host: &str, port: u16, buffer: usize) -> anyhow::Result<Conn> {
        let stream = TcpStream::connect((host, port)).await.with_context(|| format!("connect {host}:{port}"))?;
        // Commands are small and each waits for its answer: no Nagle delay.
        stream.set_nodelay(true)?;
        let (rd, wr) = stream.into_split();
        let mut c = Conn {
            rd: BufReader::with_capacity(buffer, rd),
            wr,
            tag: 0,
            exists: 0,
            head: Vec::new(),
            scratch: Vec::new(),
            out: Vec::new(),
            literal_bytes: 0,
        };
        match c.read_response().await? {
            Response::Untagged if c.head.starts_with(b"* OK") || c.head.starts_with(b"* PREAUTH") => Ok(c),
            _ => bail!("unexpected greeting: {}", c.head_str()),
        }
    }

    fn head_str(&self) -> String {
        String::from_utf8_lossy(&self.head).trim_end().chars().take(200).collect()
    }

    /// Appends one line (through LF) to `buf`, refusing endless ones.
    async fn read_line(rd: &mut BufReader<OwnedReadHalf>, buf: &mut Vec<u8>) -> anyhow::Result<()> {
        loop {
            let avail = rd.fill_buf().await.context("read")?;
            if avail.is_empty() {
                bail!("connection closed by the server");
            }
            if let Some(i) = avail.iter().position(|&b| b == b'\n') {
                buf.extend_from_slice(&avail[..=i]);
                rd.consume(i + 1);
                return Ok(());
            }
            let n = avail.len();
            buf.extend_from_slice(avail);
            rd.consume(n);
            if buf.len() > MAX_LINE {
                bail!("response line longer than {MAX_LINE} bytes");
            }
        }
    }

    /// Reads one whole response: its lines and the literals between them.
    async fn read_response(&mut self) -> anyhow::Result<Response> {
        self.head.clear();
        Self::read_line(&mut self.rd, &mut self.head).await?;
        let mut literal = literal_len(&self.head);
        while let Some(n) = literal {
            let copied = tokio::io::copy(&mut (&mut self.rd).take(n), &mut tokio::io::sink()).await.context("read")?;
            if copied != n {
                bail!("connection closed inside a literal");
            }
            self.literal_bytes += n;
            self.scratch.clear();
            Self::read_line(&mut self.rd, &mut self.scratch).await?;
            literal = literal_len(&self.scratch);
        }
        let line = &self.head;
        if line.starts_with(b"+") {
            return Ok(Response::Continuation);
        }
        if let Some(rest) = line.strip_prefix(b"* ") {
            self.exists = track_exists(rest, self.exists);
            return Ok(Response::Untagged);
        }
        let mut words = line.split(|&b| b == b' ');
        let tag = words.next().unwrap_or_default();
        let status = match words.next().map(|w| w.trim_ascii_end().to_ascii_uppercase()) {
            Some(w) if w == b"OK" => Status::Ok,
            Some(w) if w == b"NO" => Status::No,
            Some(w) if w == b"BAD" => Status::Bad,
            _ => bail!("unparseable response: {}", self.head_str()),
        };
        if tag != format!("a{}", self.tag).as_bytes() {
            bail!("response for another tag: {}", self.head_str());
        }
        Ok(Response::Tagged { status })
    }

    /// Sends `command` (with a literal, sent once the server asks for it)
    /// and reads up to its tagged completion.
    async fn command(&mut self, command: &str, literal: Option<&[u8]>) -> anyhow::Result<Status> {
        self.tag += 1;
        self.out.clear();
        let _ = write!(Bytes(&mut self.out), "a{} {command}", self.tag);
        if let Some(lit) = literal {
            // A synchronizing literal: every server takes it (LITERAL+ is
            // not assumed), at the price of one round trip.
            let _ = write!(Bytes(&mut self.out), " {{{}}}\r\n", lit.len());
            self.wr.write_all(&self.out).await.context("write")?;
            loop {
                match self.read_response().await? {
                    Response::Continuation => break,
                    Response::Untagged => {}
                    Response::Tagged { status } => return Ok(status),
                }
            }
            self.wr.write_all(lit).await.context("write")?;
            self.wr.write_all(b"\r\n").await.context("write")?;
        } else {
            self.out.extend_from_slice(b"\r\n");
            self.wr.write_all(&self.out).await.context("write")?;
        }
        loop {
            if let Response::Tagged { status } = self.read_response().await? {
                return Ok(status);
            }
        }
    }

    /// A command that must succeed (session set-up).
    async fn expect_ok(&mut self, command: &str) -> anyhow::Result<()> {
        match self.command(command, None).await? {
            Status::Ok => Ok(()),
            s => {
                let verb = command.split(' ').next().unwrap_or_default();
                bail!("{verb}: {s:?}: {}", self.head_str())
            }
        }
    }

    async fn login(&mut self, user: &User) -> anyhow::Result<()> {
        self.expect_ok(&format!("LOGIN {} {}", quoted(&user.address), quoted(&user.password))).await
    }
}

/// The message count of the selected mailbox after an untagged response
/// (`rest` follows "* ").
fn track_exists(rest: &[u8], exists: u64) -> u64 {
    let mut words = rest.split(|&b| b == b' ');
    let (Some(n), Some(what)) = (words.next(), words.next()) else { return exists };
    let Some(n) = std::str::from_utf8(n).ok().and_then(|n| n.parse::<u64>().ok()) else { return exists };
    let what = what.trim_ascii_end();
    if what.eq_ignore_ascii_case(b"EXISTS") {
        n
    } else if what.eq_ignore_ascii_case(b"EXPUNGE") {
        exists.saturating_sub(1)
    } else {
        exists
    }
}

/// `{n}` or `{n+}` at the end of a line announces a literal of n bytes.
fn literal_len(line: &[u8]) -> Option<u64> {
    let l = line.strip_suffix(b"\n")?;
    let l = l.strip_suffix(b"\r").unwrap_or(l).strip_suffix(b"}")?;
    let open = l.iter().rposition(|&b| b == b'{')?;
    let digits = &l[open + 1..];
    let digits = digits.strip_suffix(b"+").unwrap_or(digits);
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(digits).ok()?.parse().ok()
}

fn quoted(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

/// `fmt::Write` into a byte buffer.
struct Bytes<'a>(&'a mut Vec<u8>);
impl std::fmt::Write for Bytes<'_> {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        self.0.extend_from_slice(s.as_bytes());
        Ok(())
    }
}

/// Logs in and selects INBOX, within the command timeout.
async fn open_session(a: &Args, user: &User, buffer: usize) -> anyhow::Result<Conn> {
    tokio::time::timeout(a.timeout, async {
        let mut c = Conn::connect(&a.host, a.port, buffer).await?;
        c.login(user).await.with_context(|| user.address.clone())?;
        c.expect_ok("SELECT INBOX").await?;
        Ok(c)
    })
    .await
    .context("timed out logging in")?
}

/// A 4 KiB text message, unique per call (its Message-ID), like a client
/// saving a sent message.
fn append_message(client: usize, n: u64, seed: u64) -> Vec<u8> {
    let mut m = format!(
        "From: Load Client {client} <client{client}@imap-load.invalid>\r\n\
         To: Someone <someone@example.org>\r\n\
         Subject: imap-load message {n} from client {client}\r\n\
         Date: Mon, 23 Nov 2026 10:00:00 +0000\r\n\
         Message-ID: <{seed}.{client}.{n}@imap-load.invalid>\r\n\
         MIME-Version: 1.0\r\n\
         Content-Type: text/plain; charset=us-ascii\r\n\r\n"
    )
    .into_bytes();
    let line = b"The quick brown fox jumps over the lazy dog, again and again.\r\n";
    while m.len() + line.len() <= APPEND_SIZE - 2 {
        m.extend_from_slice(line);
    }
    m.resize(APPEND_SIZE - 2, b'.');
    m.extend_from_slice(b"\r\n");
    m
}

/// Runs one operation of the mix; returns what it turned out to be (one
/// that needs a message is an APPEND in an empty mailbox).
async fn run_op(
    c: &mut Conn,
    op: Op,
    rng: &mut Rng,
    client: usize,
    seq: u64,
    seed: u64,
) -> anyhow::Result<(Op, Status)> {
    let n = c.exists;
    let op = if n == 0 && matches!(op, Op::Fetch | Op::Store | Op::Expunge) { Op::Append } else { op };
    let status = match op {
        Op::Select => c.command("SELECT INBOX", None).await?,
        Op::Fetch => {
            // Three in four: a page of the message list (1–20 consecutive
            // messages' headers); one in four: reading one whole message.
            if rng.below_u64(4) == 0 {
                let m = 1 + rng.below_u64(n);
                c.command(&format!("FETCH {m} (UID FLAGS BODY.PEEK[])"), None).await?
            } else {
                let first = 1 + rng.below_u64(n);
                let last = (first + rng.below_u64(20)).min(n);
                c.command(&format!("FETCH {first}:{last} (UID FLAGS RFC822.SIZE ENVELOPE BODY.PEEK[HEADER])"), None)
                    .await?
            }
        }
        Op::Store => {
            // Setting and clearing equally often keeps UNSEEN searches and
            // flag counts steady over the run.
            let m = 1 + rng.below_u64(n);
            let sign = if rng.below_u64(2) == 0 { '+' } else { '-' };
            let flag = if rng.below_u64(2) == 0 { "\\Seen" } else { "\\Flagged" };
            c.command(&format!("STORE {m} {sign}FLAGS ({flag})"), None).await?
        }
        Op::Append => {
            let msg = append_message(client, seq, seed);
            c.command("APPEND INBOX (\\Seen)", Some(&msg)).await?
        }
        Op::Search => {
            let what = SEARCHES[rng.below(SEARCHES.len())];
            c.command(&format!("SEARCH {what}"), None).await?
        }
        Op::Expunge => {
            let m = 1 + rng.below_u64(n);
            match c.command(&format!("STORE {m} +FLAGS.SILENT (\\Deleted)"), None).await? {
                Status::Ok => c.command("EXPUNGE", None).await?,
                other => other,
            }
        }
    };
    Ok((op, status))
}

#[derive(Default)]
struct Stats {
    ok: [u64; 6],
    no: [u64; 6],
    /// BAD, I/O errors, timeouts and responses that do not parse.
    errors: u64,
    /// Latency of successful operations, microseconds.
    latency: [Vec<u32>; 6],
    literal_bytes: u64,
    reconnects: u64,
    /// Mailbox size seen right after the first SELECT and at the end.
    exists_start: Option<u64>,
    exists_end: Option<u64>,
}

/// Prints the first few errors; a run with thousands of them would drown
/// the summary.
fn report_error(e: &anyhow::Error) {
    static SHOWN: AtomicUsize = AtomicUsize::new(0);
    if SHOWN.fetch_add(1, Ordering::Relaxed) < 10 {
        eprintln!("imap-load: {e:#}");
    }
}

struct Shared {
    args: Args,
    users: Vec<User>,
    mix: [u32; 6],
    connecting: Semaphore,
    ready: Barrier,
    start: watch::Receiver<Option<Instant>>,
}

async fn load_client(id: usize, s: Arc<Shared>) -> Stats {
    let a = &s.args;
    let user = &s.users[id % s.users.len()];
    let mut rng = Rng::new(a.seed.wrapping_mul(1_000_003).wrapping_add(id as u64));
    let mut st = Stats::default();
    let mut conn = {
        let _permit = s.connecting.acquire().await;
        match open_session(a, user, 64 << 10).await {
            Ok(c) => {
                st.exists_start = Some(c.exists);
                Some(c)
            }
            Err(e) => {
                report_error(&e);
                st.errors += 1;
                None
            }
        }
    };
    // The clock starts once every session is open, so that the connection
    // storm is not part of the measurement.
    s.ready.wait().await;
    let mut start_rx = s.start.clone();
    let Ok(start) = start_rx.wait_for(Option::is_some).await.map(|s| s.unwrap_or_else(Instant::now)) else {
        return st;
    };
    let counting_from = start + a.warmup;
    let end = counting_from + a.duration;
    let mut seq = 0u64;
    while Instant::now() < end {
        let Some(c) = conn.as_mut() else {
            // A lost session is opened again, as a client would.
            tokio::time::sleep(Duration::from_millis(100)).await;
            match open_session(a, user, 64 << 10).await {
                Ok(c) => {
                    st.reconnects += 1;
                    conn = Some(c);
                }
                Err(e) => {
                    report_error(&e);
                    st.errors += 1;
                }
            }
            continue;
        };
        let op = pick(&mut rng, &s.mix);
        seq += 1;
        let began = Instant::now();
        let result = tokio::time::timeout(a.timeout, run_op(c, op, &mut rng, id, seq, a.seed)).await;
        let done = Instant::now();
        let counted = began >= counting_from && done <= end;
        match result {
            Ok(Ok((op, status))) => {
                let i = op as usize;
                match status {
                    Status::Ok if counted => {
                        st.ok[i] += 1;
                        st.latency[i].push(u32::try_from((done - began).as_micros()).unwrap_or(u32::MAX));
                    }
                    Status::No if counted => st.no[i] += 1,
                    Status::Bad => {
                        report_error(&anyhow::anyhow!("{} BAD: {}", op.name(), c.head_str()));
                        st.errors += 1;
                    }
                    _ => {}
                }
            }
            Ok(Err(e)) => {
                report_error(&e.context(op.name()));
                st.errors += 1;
                conn = None;
            }
            Err(_) => {
                report_error(&anyhow::anyhow!("{}: no completion within {:?}", op.name(), a.timeout));
                st.errors += 1;
                conn = None;
            }
        }
    }
    if let Some(mut c) = conn {
        st.exists_end = Some(c.exists);
        st.literal_bytes = c.literal_bytes;
        // Polite, but not worth waiting long for.
        let _ = tokio::time::timeout(Duration::from_secs(5), c.command("LOGOUT", None)).await;
    }
    st
}

fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    f64::from(sorted[i.min(sorted.len() - 1)]) / 1000.0
}

async fn load(a: Args, users: Vec<User>) -> anyhow::Result<()> {
    let mix = parse_mix(&a.mix)?;
    if a.clients == 0 {
        bail!("--clients must be at least 1");
    }
    let (start_tx, start_rx) = watch::channel(None);
    let clients = a.clients;
    let s = Arc::new(Shared {
        connecting: Semaphore::new(a.connect_concurrency.max(1)),
        ready: Barrier::new(clients + 1),
        start: start_rx,
        mix,
        users,
        args: a,
    });
    let tasks: Vec<_> = (0..clients).map(|i| tokio::spawn(load_client(i, s.clone()))).collect();
    s.ready.wait().await;
    let start = Instant::now();
    start_tx.send(Some(start)).context("clients gone")?;
    let mut total = Stats::default();
    let (mut lo, mut hi) = (u64::MAX, 0u64);
    let (mut end_lo, mut end_hi) = (u64::MAX, 0u64);
    for t in tasks {
        let st = t.await.context("client task")?;
        for i in 0..OPS.len() {
            total.ok[i] += st.ok[i];
            total.no[i] += st.no[i];
            total.latency[i].extend_from_slice(&st.latency[i]);
        }
        total.errors += st.errors;
        total.reconnects += st.reconnects;
        total.literal_bytes += st.literal_bytes;
        if let Some(e) = st.exists_start {
            (lo, hi) = (lo.min(e), hi.max(e));
        }
        if let Some(e) = st.exists_end {
            (end_lo, end_hi) = (end_lo.min(e), end_hi.max(e));
        }
    }
    let secs = s.args.duration.as_secs_f64();
    let ops: u64 = total.ok.iter().sum();
    let no: u64 = total.no.iter().sum();
    let mut all: Vec<u32> = total.latency.iter().flatten().copied().collect();
    all.sort_unstable();
    let label = if s.args.label.is_empty() { String::new() } else { format!("server={} ", s.args.label) };
    let mut line = format!("imap-load {label}clients={clients} seconds={secs:.0} ops/s={:.1}", ops as f64 / secs);
    for (i, op) in OPS.iter().enumerate() {
        let _ = write!(line, " {}={:.1}", op.name(), total.ok[i] as f64 / secs);
    }
    let _ = write!(
        line,
        " no={no} errors={} p50={:.2}ms p99={:.2}ms",
        total.errors,
        percentile(&all, 0.50),
        percentile(&all, 0.99)
    );
    println!("{line}");
    // The details: per-command latency, how big the mailboxes were, how
    // much message data came back, so that two servers' runs can be
    // checked for doing the same work.
    let mut detail = format!("imap-load {label}clients={clients} latency");
    for (i, op) in OPS.iter().enumerate() {
        total.latency[i].sort_unstable();
        let _ = write!(
            detail,
            " {}={:.2}/{:.2}ms",
            op.name(),
            percentile(&total.latency[i], 0.50),
            percentile(&total.latency[i], 0.99)
        );
    }
    let range = |lo: u64, hi: u64| if lo > hi { "-".to_string() } else { format!("{lo}..{hi}") };
    let _ = write!(
        detail,
        " (p50/p99) messages={}->{} fetched={:.1}MiB reconnects={}",
        range(lo, hi),
        range(end_lo, end_hi),
        total.literal_bytes as f64 / f64::from(1 << 20),
        total.reconnects
    );
    println!("{detail}");
    Ok(())
}

/// Idle mode: `n` sessions in IDLE, held until a signal or the duration.
async fn idle(a: Args, users: Vec<User>, n: usize) -> anyhow::Result<()> {
    let a = Arc::new(a);
    let users = Arc::new(users);
    let connecting = Arc::new(Semaphore::new(a.connect_concurrency.max(1)));
    let alive = Arc::new(AtomicUsize::new(0));
    let (done_tx, mut done_rx) = tokio::sync::mpsc::channel::<bool>(n.max(1));
    let began = Instant::now();
    for i in 0..n {
        let (a, users, connecting, alive, done_tx) =
            (a.clone(), users.clone(), connecting.clone(), alive.clone(), done_tx.clone());
        tokio::spawn(async move {
            let user = &users[i % users.len()];
            let permit = connecting.acquire().await;
            // Small buffers: 5,000 sessions of this process should not
            // weigh much either (its memory is not what is measured, but
            // it shares the machine).
            let session = async {
                let mut c = open_session(&a, user, 4096).await?;
                tokio::time::timeout(a.timeout, async {
                    c.tag += 1;
                    let cmd = format!("a{} IDLE\r\n", c.tag);
                    c.wr.write_all(cmd.as_bytes()).await.context("write")?;
                    loop {
                        match c.read_response().await? {
                            Response::Continuation => return Ok(()),
                            Response::Untagged => {}
                            Response::Tagged { status } => bail!("IDLE: {status:?}: {}", c.head_str()),
                        }
                    }
                })
                .await
                .context("timed out entering IDLE")??;
                anyhow::Ok(c)
            }
            .await;
            drop(permit);
            let mut c = match session {
                Ok(c) => c,
                Err(e) => {
                    report_error(&e);
                    let _ = done_tx.send(false).await;
                    return;
                }
            };
            alive.fetch_add(1, Ordering::Relaxed);
            let _ = done_tx.send(true).await;
            drop(done_tx);
            // Read whatever the server says while idling (keepalives,
            // EXISTS) until it hangs up.
            let mut line = Vec::new();
            loop {
                line.clear();
                if Conn::read_line(&mut c.rd, &mut line).await.is_err() {
                    break;
                }
            }
            alive.fetch_sub(1, Ordering::Relaxed);
        });
    }
    drop(done_tx);
    let (mut ready, mut errors) = (0usize, 0usize);
    // Each session reports once (and keeps its sender while it idles, so
    // the channel never closes): count n reports.
    for _ in 0..n {
        let Some(ok) = done_rx.recv().await else { break };
        if ok {
            ready += 1;
        } else {
            errors += 1;
        }
    }
    let label = if a.label.is_empty() { String::new() } else { format!("server={} ", a.label) };
    println!("imap-load {label}idle={n} ready={ready} errors={errors} seconds={:.1}", began.elapsed().as_secs_f64());
    // The script waits for the line above before measuring.
    use std::io::Write as _;
    let _ = std::io::stdout().flush();
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    let until = async {
        if a.duration.is_zero() { std::future::pending::<()>().await } else { tokio::time::sleep(a.duration).await }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
        _ = until => {}
    }
    println!("imap-load {label}idle={n} alive={}", alive.load(Ordering::Relaxed));
    Ok(())
}

/// Reads the corpus: files sorted by name, each without a leading mbox
/// `From ` line and with CRLF line ends, as they would arrive by SMTP.
fn load_corpus(dir: &Path) -> anyhow::Result<Vec<Vec<u8>>> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("cannot read {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .collect();
    paths.sort();
    let mut out = Vec::with_capacity(paths.len());
    for p in paths {
        let raw = std::fs::read(&p).with_context(|| format!("cannot read {}", p.display()))?;
        let mut body: &[u8] = &raw;
        if body.starts_with(b"From ") {
            let eol = body.iter().position(|&b| b == b'\n').map_or(body.len(), |i| i + 1);
            body = &body[eol..];
        }
        let mut m = Vec::with_capacity(body.len() + body.len() / 30);
        for line in body.split_inclusive(|&b| b == b'\n') {
            let text = line.strip_suffix(b"\n").unwrap_or(line);
            let text = text.strip_suffix(b"\r").unwrap_or(text);
            m.extend_from_slice(text);
            m.extend_from_slice(b"\r\n");
        }
        out.push(m);
    }
    if out.is_empty() {
        bail!("{}: no messages", dir.display());
    }
    Ok(out)
}

/// One LMTP/SMTP reply: its code (the last line's).
async fn lmtp_reply(rd: &mut BufReader<OwnedReadHalf>) -> anyhow::Result<(u16, String)> {
    let mut text = String::new();
    loop {
        let mut line = Vec::new();
        Conn::read_line(rd, &mut line).await?;
        let s = String::from_utf8_lossy(&line).trim_end().to_string();
        let code = s.get(..3).and_then(|c| c.parse::<u16>().ok()).with_context(|| format!("bad LMTP reply {s:?}"))?;
        text.push_str(&s);
        if s.as_bytes().get(3) != Some(&b'-') {
            return Ok((code, text));
        }
        text.push(' ');
    }
}

async fn fill_connection(
    a: Arc<Args>,
    users: Arc<Vec<User>>,
    corpus: Arc<Vec<Vec<u8>>>,
    next: Arc<AtomicUsize>,
    total: usize,
) -> anyhow::Result<()> {
    let stream = TcpStream::connect((a.host.as_str(), a.lmtp_port))
        .await
        .with_context(|| format!("connect LMTP {}:{}", a.host, a.lmtp_port))?;
    stream.set_nodelay(true)?;
    let (rd, mut wr) = stream.into_split();
    let mut rd = BufReader::new(rd);
    let expect = |(code, text): (u16, String), want: u16| {
        if code / 100 == want / 100 { Ok(()) } else { Err(anyhow::anyhow!("LMTP: {text}")) }
    };
    expect(lmtp_reply(&mut rd).await?, 220)?;
    wr.write_all(b"LHLO imap-load.invalid\r\n").await?;
    expect(lmtp_reply(&mut rd).await?, 250)?;
    let mut envelope = String::from("MAIL FROM:<fill@imap-load.invalid>\r\n");
    for u in users.iter() {
        let _ = write!(envelope, "RCPT TO:<{}>\r\n", u.address);
    }
    let step = (total / 10).max(1);
    loop {
        let i = next.fetch_add(1, Ordering::Relaxed);
        if i >= total {
            break;
        }
        // Both servers advertise PIPELINING: the envelope goes in one write.
        wr.write_all(envelope.as_bytes()).await?;
        for _ in 0..=users.len() {
            expect(lmtp_reply(&mut rd).await?, 250)?;
        }
        wr.write_all(b"DATA\r\n").await?;
        expect(lmtp_reply(&mut rd).await?, 354)?;
        // A header that makes every delivery unique, so that neither
        // server can share a body between the corpus' repeats (atoll's
        // blobs are content-addressed); the recipients of one
        // transaction may share it, on both servers.
        let mut data = format!("X-Imap-Load: {i}\r\n").into_bytes();
        for line in corpus[i % corpus.len()].split_inclusive(|&b| b == b'\n') {
            if line.starts_with(b".") {
                data.push(b'.');
            }
            data.extend_from_slice(line);
        }
        data.extend_from_slice(b".\r\n");
        wr.write_all(&data).await?;
        for u in users.iter() {
            expect(lmtp_reply(&mut rd).await?, 250).with_context(|| format!("message {i} to {}", u.address))?;
        }
        if (i + 1).is_multiple_of(step) {
            eprintln!("imap-load: fill: {} of {total} messages delivered", i + 1);
        }
    }
    wr.write_all(b"QUIT\r\n").await?;
    let _ = lmtp_reply(&mut rd).await;
    Ok(())
}

async fn fill(a: Args, users: Vec<User>, n: usize) -> anyhow::Result<()> {
    let dir = a.corpus.clone().context("--fill needs --corpus DIR")?;
    let corpus = Arc::new(load_corpus(&dir)?);
    let began = Instant::now();
    let (a, users) = (Arc::new(a), Arc::new(users));
    let next = Arc::new(AtomicUsize::new(0));
    let tasks: Vec<_> = (0..a.fill_connections.max(1))
        .map(|_| tokio::spawn(fill_connection(a.clone(), users.clone(), corpus.clone(), next.clone(), n)))
        .collect();
    for t in tasks {
        t.await.context("fill task")??;
    }
    let secs = began.elapsed().as_secs_f64();
    let label = if a.label.is_empty() { String::new() } else { format!("server={} ", a.label) };
    println!(
        "imap-load {label}fill messages={n} users={} deliveries={} seconds={secs:.1} deliveries/s={:.0}",
        users.len(),
        n * users.len(),
        (n * users.len()) as f64 / secs
    );
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let a = Args::parse();
    let users = load_users(&a)?;
    match (a.idle, a.fill) {
        (Some(_), Some(_)) => bail!("--idle and --fill are separate runs"),
        (Some(n), None) => idle(a, users, n).await,
        (None, Some(n)) => fill(a, users, n).await,
        (None, None) => load(a, users).await,
    }
}
