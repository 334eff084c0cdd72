//! The greylisting engine against a real directory on SQLite, PostgreSQL
//! and MariaDB, with the clock in the test's hands (the `at` argument):
//! each case is what Postgrey 1.37 decides in the same situation, and a
//! random walk compares every decision with a transcription of Postgrey's
//! `smtpd_access_policy`.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::Duration;

use atoll_directory::{Directory, Settings};
use atoll_smtp::greylist::{CleanupReport, Decision, Greylist, GreylistConfig, PassReason, key};
use atoll_testkit::Engine;
use atoll_testkit::rng::Rng;

atoll_testkit::engine_tests!(
    first_attempt_early_retry_and_pass,
    retry_window,
    max_age,
    triplet_keys,
    ipv6_and_mapped_networks,
    lookup_by_host,
    auto_whitelist,
    auto_whitelist_counts_one_pass_an_hour,
    auto_whitelist_off,
    whitelists,
    null_sender,
    disabled,
    cleanup,
    two_nodes_share_the_state,
    storage_writes_that_race,
    agrees_with_postgrey,
);

const T0: i64 = 1_750_000_000;
const HOUR: i64 = 3600;
const DAY: i64 = 24 * HOUR;
const DELAY: i64 = 300;
const MAX_AGE: i64 = 35 * DAY;
const WINDOW: i64 = 2 * DAY;

struct World {
    gl: Greylist,
    dir: Directory,
    url: String,
    _db: atoll_testkit::TestDatabase,
}

async fn world(engine: Engine) -> Option<World> {
    world_with(engine, GreylistConfig::default()).await
}

async fn world_with(engine: Engine, config: GreylistConfig) -> Option<World> {
    let db = atoll_testkit::database(engine).await?;
    let url = db.url.clone();
    let dir = Directory::open(&url, Settings::default()).await.unwrap_or_else(|e| panic!("open {url}: {e}"));
    let gl = Greylist::new(config, dir.clone()).expect("valid configuration");
    Some(World { gl, dir, url, _db: db })
}

fn ip(s: &str) -> IpAddr {
    s.parse().expect("test address")
}

fn defer(seconds: i64) -> Decision {
    Decision::Defer { retry_after_seconds: seconds as u64 }
}

/// The attempt that gets through after waiting `waited` seconds.
fn first_pass(waited: i64) -> Decision {
    Decision::Pass(PassReason::TripletPassed { delayed_seconds: Some(waited as u64) })
}

/// A later mail of a triplet that passed before.
const PASSED: Decision = Decision::Pass(PassReason::TripletPassed { delayed_seconds: None });
const AWL: Decision = Decision::Pass(PassReason::AutoWhitelistedClient);

async fn check(gl: &Greylist, at: i64, client: &str, sender: &str, recipient: &str) -> Decision {
    check_named(gl, at, client, None, sender, recipient).await
}

async fn check_named(
    gl: &Greylist,
    at: i64,
    client: &str,
    hostname: Option<&str>,
    sender: &str,
    recipient: &str,
) -> Decision {
    gl.check(at, ip(client), hostname, sender, recipient)
        .await
        .unwrap_or_else(|e| panic!("check {client} {sender} -> {recipient} at {at}: {e}"))
}

/// The stored triplet, keyed as the engine keys it with the default
/// prefixes.
async fn stored(dir: &Directory, client: &str, sender: &str, recipient: &str) -> Option<atoll_directory::Triplet> {
    let net = key::network_key(ip(client), 24, 64);
    dir.greylist_get(&net, &key::normalize_sender(sender), &key::normalize_recipient(recipient))
        .await
        .expect("greylist_get")
}

async fn client_count(dir: &Directory, client: &str) -> Option<i64> {
    dir.greylist_client(&key::client_key(ip(client))).await.expect("greylist_client").map(|c| c.passed)
}

async fn first_attempt_early_retry_and_pass(engine: Engine) {
    let Some(w) = world(engine).await else { return };
    let (c, s, r) = ("192.0.2.10", "alice@sender.test", "bob@example.org");
    assert_eq!(check(&w.gl, T0, c, s, r).await, defer(DELAY), "a new triplet waits the whole delay");
    let t = stored(&w.dir, c, s, r).await.expect("the first attempt is recorded");
    assert_eq!((t.first_seen, t.last_seen, t.passed), (T0, T0, 0));
    assert_eq!(check(&w.gl, T0 + 60, c, s, r).await, defer(DELAY - 60), "an early retry waits the rest");
    assert_eq!(check(&w.gl, T0 + DELAY - 1, c, s, r).await, defer(1));
    assert_eq!(check(&w.gl, T0 + DELAY, c, s, r).await, first_pass(DELAY), "the delay has passed");
    assert_eq!(check(&w.gl, T0 + DELAY + 1, c, s, r).await, PASSED, "the next mail passes at once");
    assert_eq!(check(&w.gl, T0 + 10 * DAY, c, s, r).await, PASSED);
    let t = stored(&w.dir, c, s, r).await.expect("stored");
    assert_eq!((t.first_seen, t.last_seen, t.passed), (T0, T0 + 10 * DAY, 3), "early retries kept first_seen");
}

async fn retry_window(engine: Engine) {
    let Some(w) = world(engine).await else { return };
    let c = "192.0.2.10";
    // A retry exactly at the end of the window still counts.
    assert_eq!(check(&w.gl, T0, c, "a@sender.test", "r1@example.org").await, defer(DELAY));
    assert_eq!(check(&w.gl, T0 + WINDOW, c, "a@sender.test", "r1@example.org").await, first_pass(WINDOW));
    // One second later it is a first attempt again.
    assert_eq!(check(&w.gl, T0, c, "a@sender.test", "r2@example.org").await, defer(DELAY));
    let late = T0 + WINDOW + 1;
    assert_eq!(check(&w.gl, late, c, "a@sender.test", "r2@example.org").await, defer(DELAY));
    let t = stored(&w.dir, c, "a@sender.test", "r2@example.org").await.expect("stored");
    assert_eq!((t.first_seen, t.last_seen, t.passed), (late, late, 0), "started afresh");
    assert_eq!(check(&w.gl, late + DELAY - 1, c, "a@sender.test", "r2@example.org").await, defer(1));
    assert_eq!(check(&w.gl, late + DELAY, c, "a@sender.test", "r2@example.org").await, first_pass(DELAY));
    // The window runs from the first attempt: early retries do not move it.
    assert_eq!(check(&w.gl, T0, c, "a@sender.test", "r3@example.org").await, defer(DELAY));
    assert_eq!(check(&w.gl, T0 + 100, c, "a@sender.test", "r3@example.org").await, defer(DELAY - 100));
    assert_eq!(check(&w.gl, T0 + WINDOW + 50, c, "a@sender.test", "r3@example.org").await, defer(DELAY));
}

async fn max_age(engine: Engine) {
    let Some(w) = world(engine).await else { return };
    let c = "192.0.2.10";
    for r in ["r1@example.org", "r2@example.org", "r3@example.org"] {
        assert_eq!(check(&w.gl, T0, c, "a@sender.test", r).await, defer(DELAY));
        assert_eq!(check(&w.gl, T0 + DELAY, c, "a@sender.test", r).await, first_pass(DELAY));
    }
    let last = T0 + DELAY;
    // Seen exactly max_age ago: still known.
    assert_eq!(check(&w.gl, last + MAX_AGE, c, "a@sender.test", "r1@example.org").await, PASSED);
    // A second more: forgotten, greylisted as new.
    assert_eq!(check(&w.gl, last + MAX_AGE + 1, c, "a@sender.test", "r2@example.org").await, defer(DELAY));
    let t = stored(&w.dir, c, "a@sender.test", "r2@example.org").await.expect("stored");
    assert_eq!((t.first_seen, t.passed), (last + MAX_AGE + 1, 0));
    // Mail that keeps coming keeps the triplet, far beyond max_age.
    for month in 1..=4 {
        assert_eq!(check(&w.gl, last + month * 30 * DAY, c, "a@sender.test", "r3@example.org").await, PASSED);
    }
}

async fn triplet_keys(engine: Engine) {
    let Some(w) = world(engine).await else { return };
    let r = "bob@example.org";
    assert_eq!(check(&w.gl, T0, "192.0.2.10", "Bounce-1234@Lists.Example.NET", r).await, defer(DELAY));
    // Another host of the same /24, another VERP number, other case: the
    // same triplet (Postgrey's lookup by subnet and sender substitutions).
    assert_eq!(
        check(&w.gl, T0 + DELAY, "192.0.2.77", "bounce-5678@lists.example.net", "Bob@Example.ORG").await,
        first_pass(DELAY)
    );
    assert_eq!(check(&w.gl, T0 + DELAY + 1, "192.0.2.1", "bounce-1+tag@lists.example.net", r).await, PASSED);
    assert_eq!(
        check(&w.gl, T0 + DELAY + 2, "192.0.2.1", "prvs=0123abcdef=bounce-9@lists.example.net", r).await,
        PASSED
    );
    assert_eq!(
        check(&w.gl, T0 + DELAY + 3, "192.0.2.1", "<bounce-2@lists.example.net>", "<bob@example.org>").await,
        PASSED
    );
    // Anything else is another triplet.
    let at = T0 + DELAY + 10;
    assert_eq!(check(&w.gl, at, "192.0.3.10", "bounce-1@lists.example.net", r).await, defer(DELAY), "another /24");
    assert_eq!(check(&w.gl, at, "192.0.2.10", "bounce-x@lists.example.net", r).await, defer(DELAY), "another sender");
    assert_eq!(check(&w.gl, at, "192.0.2.10", "bounce-1@example.net", r).await, defer(DELAY), "another domain");
    assert_eq!(
        check(&w.gl, at, "192.0.2.10", "bounce-1@lists.example.net", "bob+x@example.org").await,
        defer(DELAY),
        "a recipient's extension is another recipient"
    );
    let t = stored(&w.dir, "192.0.2.200", "bounce-0@lists.example.net", r).await.expect("one stored triplet");
    assert_eq!(t.passed, 4);
}

async fn ipv6_and_mapped_networks(engine: Engine) {
    let Some(w) = world(engine).await else { return };
    let (s, r) = ("a@sender.test", "bob@example.org");
    assert_eq!(check(&w.gl, T0, "2001:db8:1:2::25", s, r).await, defer(DELAY));
    assert_eq!(check(&w.gl, T0 + DELAY, "2001:db8:1:2:ffff::1", s, r).await, first_pass(DELAY), "same /64");
    assert_eq!(check(&w.gl, T0 + DELAY, "2001:db8:1:3::25", s, r).await, defer(DELAY), "another /64");
    assert_eq!(stored(&w.dir, "2001:db8:1:2::", s, r).await.map(|t| t.passed), Some(1), "stored under the 8-byte /64");
    assert_eq!(check(&w.gl, T0, "::ffff:198.51.100.7", s, r).await, defer(DELAY));
    assert_eq!(check(&w.gl, T0 + DELAY, "198.51.100.99", s, r).await, first_pass(DELAY), "a mapped address is IPv4");
}

async fn lookup_by_host(engine: Engine) {
    let config = GreylistConfig { ipv4_prefix: 32, ipv6_prefix: 128, ..GreylistConfig::default() };
    let Some(w) = world_with(engine, config).await else { return };
    let (s, r) = ("a@sender.test", "bob@example.org");
    assert_eq!(check(&w.gl, T0, "192.0.2.10", s, r).await, defer(DELAY));
    assert_eq!(check(&w.gl, T0 + DELAY, "192.0.2.11", s, r).await, defer(DELAY), "a neighbour is another key");
    assert_eq!(check(&w.gl, T0 + DELAY, "192.0.2.10", s, r).await, first_pass(DELAY));
    assert_eq!(check(&w.gl, T0, "2001:db8::1", s, r).await, defer(DELAY));
    assert_eq!(check(&w.gl, T0 + DELAY, "2001:db8::2", s, r).await, defer(DELAY));
    assert_eq!(check(&w.gl, T0 + DELAY, "2001:db8::1", s, r).await, first_pass(DELAY));
}

/// Passes one new triplet of `client` (sender `s`, recipient `r`) through
/// greylisting from `at`: deferred, then let through after the delay.
async fn pass_one(gl: &Greylist, at: i64, client: &str, s: &str, r: &str) {
    assert_eq!(check(gl, at, client, s, r).await, defer(DELAY), "{client} {r} is new at {at}");
    assert_eq!(check(gl, at + DELAY, client, s, r).await, first_pass(DELAY), "{client} {r} passes");
}

async fn auto_whitelist(engine: Engine) {
    let Some(w) = world(engine).await else { return };
    let c = "192.0.2.10";
    for i in 0..4 {
        pass_one(&w.gl, T0 + i * HOUR, c, "news@sender.test", &format!("r{i}@example.org")).await;
    }
    assert_eq!(client_count(&w.dir, c).await, Some(4));
    // Four passes are not five: a new triplet is still greylisted.
    pass_one(&w.gl, T0 + 4 * HOUR, c, "news@sender.test", "r4@example.org").await;
    assert_eq!(client_count(&w.dir, c).await, Some(5));

    // Five: the client address passes everything, and nothing is stored.
    let at = T0 + 4 * HOUR + DELAY + 1;
    assert_eq!(check(&w.gl, at, c, "other@elsewhere.test", "new@example.org").await, AWL);
    assert_eq!(stored(&w.dir, c, "other@elsewhere.test", "new@example.org").await, None);
    assert_eq!(check(&w.gl, at, "::ffff:192.0.2.10", "x@elsewhere.test", "new@example.org").await, AWL);
    // Postgrey counts addresses: the neighbour and another /24 still wait.
    assert_eq!(check(&w.gl, at, "192.0.2.11", "other@elsewhere.test", "new@example.org").await, defer(DELAY));
    assert_eq!(check(&w.gl, at, "198.51.100.10", "other@elsewhere.test", "new@example.org").await, defer(DELAY));

    // Seen whitelisted an hour after its last count: refreshed (once).
    let refresh = T0 + 5 * HOUR + DELAY;
    assert_eq!(check(&w.gl, refresh, c, "x@elsewhere.test", "new@example.org").await, AWL);
    assert_eq!(check(&w.gl, refresh + 60, c, "x@elsewhere.test", "new@example.org").await, AWL);
    let entry = w.dir.greylist_client(&key::client_key(ip(c))).await.expect("read").expect("entry");
    assert_eq!((entry.passed, entry.last_seen), (6, refresh));
    // Not seen for longer than max_age: forgotten.
    assert_eq!(check(&w.gl, refresh + MAX_AGE + 1, c, "x@elsewhere.test", "new@example.org").await, defer(DELAY));
}

async fn auto_whitelist_counts_one_pass_an_hour(engine: Engine) {
    let Some(w) = world(engine).await else { return };
    let c = "203.0.113.5";
    // Ten triplets passing within the same hour count once.
    for i in 0..10 {
        pass_one(&w.gl, T0 + i * 60, c, "a@sender.test", &format!("r{i}@example.org")).await;
    }
    assert_eq!(client_count(&w.dir, c).await, Some(1));
    assert_eq!(check(&w.gl, T0 + HOUR, c, "a@sender.test", "new@example.org").await, defer(DELAY));
    // Later mails of passed triplets do not count at all.
    for i in 0..10 {
        assert_eq!(check(&w.gl, T0 + 2 * HOUR + i * HOUR, c, "a@sender.test", "r0@example.org").await, PASSED);
    }
    assert_eq!(client_count(&w.dir, c).await, Some(1));
}

async fn auto_whitelist_off(engine: Engine) {
    let config = GreylistConfig { auto_whitelist_clients: 0, ..GreylistConfig::default() };
    let Some(w) = world_with(engine, config).await else { return };
    let c = "192.0.2.10";
    for i in 0..6 {
        pass_one(&w.gl, T0 + i * HOUR, c, "a@sender.test", &format!("r{i}@example.org")).await;
    }
    assert_eq!(check(&w.gl, T0 + 7 * HOUR, c, "a@sender.test", "new@example.org").await, defer(DELAY));
    assert_eq!(client_count(&w.dir, c).await, None, "nothing counted");
}

async fn whitelists(engine: Engine) {
    let config = GreylistConfig {
        whitelist_clients: vec![
            "192.0.2.0/24".into(),
            "2001:db8:feed::/48".into(),
            "trusted.example".into(),
            r"/^mx\d+\.partner\.example$/".into(),
        ],
        whitelist_recipients: vec![
            "postmaster@".into(),
            "abuse@example.org".into(),
            "open.example".into(),
            r"/^noreply-\d+@example\.org$/".into(),
        ],
        ..GreylistConfig::default()
    };
    let Some(w) = world_with(engine, config).await else { return };
    let gl = &w.gl;
    let client = Decision::Pass(PassReason::WhitelistedClient);
    let recipient = Decision::Pass(PassReason::WhitelistedRecipient);
    let (s, r) = ("a@sender.test", "bob@example.org");
    assert_eq!(check_named(gl, T0, "192.0.2.9", None, s, r).await, client);
    assert_eq!(check_named(gl, T0, "::ffff:192.0.2.9", None, s, r).await, client);
    assert_eq!(check_named(gl, T0, "2001:db8:feed:1::1", None, s, r).await, client);
    assert_eq!(check_named(gl, T0, "203.0.113.9", Some("mail.trusted.example"), s, r).await, client);
    assert_eq!(check_named(gl, T0, "203.0.113.9", Some("MX12.Partner.Example"), s, r).await, client);
    assert_eq!(stored(&w.dir, "192.0.2.9", s, r).await, None, "a whitelisted client leaves no triplet");
    // Both whitelisted: the client is asked first, as in Postgrey.
    assert_eq!(check_named(gl, T0, "192.0.2.9", None, s, "postmaster@example.org").await, client);

    for rcpt in ["PostMaster@example.org", "abuse+x@example.org", "anyone@lists.open.example", "noreply-42@example.org"]
    {
        assert_eq!(check_named(gl, T0, "203.0.113.9", None, s, rcpt).await, recipient, "{rcpt}");
        assert_eq!(stored(&w.dir, "203.0.113.9", s, rcpt).await, None, "{rcpt} leaves no triplet");
    }

    // Near misses are greylisted.
    assert_eq!(check_named(gl, T0, "192.0.3.9", None, s, r).await, defer(DELAY));
    assert_eq!(check_named(gl, T0, "203.0.113.9", Some("mx.partner.example"), s, r).await, defer(DELAY));
    assert_eq!(check_named(gl, T0, "203.0.113.9", Some("untrusted.example"), s, r).await, defer(DELAY));
    assert_eq!(check_named(gl, T0, "203.0.113.9", None, s, "abuse@other.test").await, defer(DELAY));
    assert_eq!(check_named(gl, T0, "203.0.113.9", None, s, "noreply-x@example.org").await, defer(DELAY));
}

async fn null_sender(engine: Engine) {
    let Some(w) = world(engine).await else { return };
    let (c, r) = ("192.0.2.10", "bob@example.org");
    assert_eq!(check(&w.gl, T0, c, "", r).await, defer(DELAY));
    assert_eq!(stored(&w.dir, c, "", r).await.map(|t| t.first_seen), Some(T0), "keyed by the empty sender");
    assert_eq!(check(&w.gl, T0 + DELAY, c, "<>", r).await, first_pass(DELAY), "<> is the null sender");
    assert_eq!(check(&w.gl, T0 + DELAY, c, "someone@sender.test", r).await, defer(DELAY), "another triplet");
}

async fn disabled(engine: Engine) {
    let config = GreylistConfig { enabled: false, ..GreylistConfig::default() };
    let Some(w) = world_with(engine, config).await else { return };
    for at in [T0, T0 + 1] {
        assert_eq!(
            check(&w.gl, at, "192.0.2.10", "a@sender.test", "bob@example.org").await,
            Decision::Pass(PassReason::Disabled)
        );
    }
    assert_eq!(stored(&w.dir, "192.0.2.10", "a@sender.test", "bob@example.org").await, None);
}

async fn cleanup(engine: Engine) {
    let Some(w) = world(engine).await else { return };
    let c = "192.0.2.10";
    pass_one(&w.gl, T0, c, "a@sender.test", "passed@example.org").await;
    assert_eq!(check(&w.gl, T0, c, "a@sender.test", "waiting@example.org").await, defer(DELAY));
    let nothing = CleanupReport::default();

    // The triplet that never passed goes once the retry window is over.
    assert_eq!(w.gl.cleanup(T0 + WINDOW).await.expect("cleanup"), nothing);
    assert!(stored(&w.dir, c, "a@sender.test", "waiting@example.org").await.is_some());
    assert_eq!(w.gl.cleanup(T0 + WINDOW + 1).await.expect("cleanup"), CleanupReport { triplets: 1, clients: 0 });
    assert_eq!(stored(&w.dir, c, "a@sender.test", "waiting@example.org").await, None);
    assert!(stored(&w.dir, c, "a@sender.test", "passed@example.org").await.is_some());

    // The passed triplet and the client go after max_age.
    let last = T0 + DELAY;
    assert_eq!(w.gl.cleanup(last + MAX_AGE).await.expect("cleanup"), nothing);
    assert_eq!(w.gl.cleanup(last + MAX_AGE + 1).await.expect("cleanup"), CleanupReport { triplets: 1, clients: 1 });
    assert_eq!(stored(&w.dir, c, "a@sender.test", "passed@example.org").await, None);
    assert_eq!(client_count(&w.dir, c).await, None);

    // Many rows over many hours are deleted slice by slice, all of them,
    // and only those.
    for i in 0..40 {
        let r = format!("r{i}@example.org");
        assert_eq!(check(&w.gl, T0 + i * 5 * HOUR, "198.51.100.1", "a@sender.test", &r).await, defer(DELAY));
    }
    let end = T0 + 39 * 5 * HOUR;
    assert_eq!(check(&w.gl, end + 10, "198.51.100.1", "a@sender.test", "young@example.org").await, defer(DELAY));
    let report = w.gl.cleanup(end + WINDOW + 1).await.expect("cleanup");
    assert_eq!(report, CleanupReport { triplets: 40, clients: 0 });
    assert!(stored(&w.dir, "198.51.100.1", "a@sender.test", "young@example.org").await.is_some());
    assert_eq!(w.gl.cleanup(end + WINDOW + 1).await.expect("cleanup"), CleanupReport::default(), "idempotent");
}

/// Two MX nodes: two engines, each with its own connections to the same
/// directory.
async fn two_nodes_share_the_state(engine: Engine) {
    let Some(w) = world(engine).await else { return };
    let other = Directory::open(&w.url, Settings::default()).await.expect("second node");
    let node_b = Greylist::new(GreylistConfig::default(), other).expect("config");
    let node_a = w.gl.clone();

    // The first attempt on one node, the retry on the other.
    assert_eq!(check(&node_a, T0, "192.0.2.10", "a@sender.test", "bob@example.org").await, defer(DELAY));
    assert_eq!(check(&node_b, T0 + DELAY, "192.0.2.10", "a@sender.test", "bob@example.org").await, first_pass(DELAY));

    // Both nodes see the first attempts of the same triplets at once: no
    // error, both defer, one triplet each.
    let c = "198.51.100.7";
    let recipients: Vec<String> = (0..20).map(|i| format!("r{i}@example.org")).collect();
    let run = |gl: Greylist, at: i64| {
        let recipients = recipients.clone();
        tokio::spawn(async move {
            let mut out = Vec::new();
            for r in &recipients {
                out.push(gl.check(at, ip(c), None, "a@sender.test", r).await.expect("check"));
            }
            out
        })
    };
    let (a, b) = tokio::join!(run(node_a.clone(), T0), run(node_b.clone(), T0));
    for decisions in [a.expect("node a"), b.expect("node b")] {
        assert!(decisions.iter().all(|d| *d == defer(DELAY)), "{decisions:?}");
    }
    for r in &recipients {
        let t = stored(&w.dir, c, "a@sender.test", r).await.expect("stored");
        assert_eq!((t.first_seen, t.passed), (T0, 0), "{r}");
    }

    // Both retry at once: both pass, and the client is counted once for
    // the hour, whoever got there first.
    let (a, b) = tokio::join!(run(node_a, T0 + DELAY), run(node_b, T0 + DELAY));
    for decisions in [a.expect("node a"), b.expect("node b")] {
        assert!(decisions.iter().all(|d| *d == first_pass(DELAY) || *d == PASSED), "{decisions:?}");
    }
    for r in &recipients {
        assert_eq!(stored(&w.dir, c, "a@sender.test", r).await.map(|t| t.passed), Some(2), "{r}");
    }
    assert_eq!(client_count(&w.dir, c).await, Some(1));
}

async fn times(d: &Directory, net: &[u8], s: &str, r: &str) -> Option<(i64, i64, i64)> {
    d.greylist_get(net, s, r).await.expect("get").map(|t| (t.first_seen, t.last_seen, t.passed))
}

/// The directory's writes in the situations two nodes produce: an insert
/// that finds the row already there, a compare-and-set that lost.
async fn storage_writes_that_race(engine: Engine) {
    let Some(w) = world(engine).await else { return };
    let d = &w.dir;
    let net = key::network_key(ip("192.0.2.1"), 24, 64);
    let (s, r) = ("a@sender.test", "bob@example.org");

    // A restart inserts, or resets what is there.
    d.greylist_restart(&net, s, r, T0).await.expect("restart");
    assert_eq!(times(d, &net, s, r).await, Some((T0, T0, 0)));
    d.greylist_record(&net, s, r, T0 + DELAY, true).await.expect("record");
    assert_eq!(times(d, &net, s, r).await, Some((T0, T0 + DELAY, 1)));
    d.greylist_restart(&net, s, r, T0 + 60 * DAY).await.expect("restart again");
    assert_eq!(times(d, &net, s, r).await, Some((T0 + 60 * DAY, T0 + 60 * DAY, 0)));
    // Recording on a triplet that vanished (a cleanup elsewhere) stores it.
    let other = key::network_key(ip("192.0.2.2"), 32, 64);
    d.greylist_record(&other, s, r, T0, false).await.expect("record unknown");
    assert_eq!(d.greylist_get(&other, s, r).await.expect("get").map(|t| t.first_seen), Some(T0));

    // The client counter is compare-and-set.
    let client = key::client_key(ip("192.0.2.1"));
    assert!(d.greylist_client_set(&client, 1, T0, None).await.expect("insert"));
    assert!(!d.greylist_client_set(&client, 1, T0 + 1, None).await.expect("insert again"), "it exists");
    assert!(!d.greylist_client_set(&client, 2, T0 + HOUR, Some(T0 - 1)).await.expect("stale"), "stale read");
    let entry = d.greylist_client(&client).await.expect("read").expect("entry");
    assert_eq!((entry.passed, entry.last_seen), (1, T0), "the losers changed nothing");
    assert!(d.greylist_client_set(&client, 2, T0 + HOUR, Some(T0)).await.expect("cas"));
    let entry = d.greylist_client(&client).await.expect("read").expect("entry");
    assert_eq!((entry.passed, entry.last_seen), (2, T0 + HOUR));
}

/// Postgrey 1.37's `smtpd_access_policy`, transcribed from its Perl (the
/// keys are the engine's, tested on their own in `key`): first and last
/// seen per triplet, passed when `last - first >= delay`; the client
/// auto-whitelist as (count, last). The one documented difference is
/// applied the way atoll applies it: entries older than max-age are
/// forgotten when they are read instead of at night.
struct Postgrey {
    delay: i64,
    max_age: i64,
    retry_window: i64,
    awl_clients: i64,
    db: HashMap<(Vec<u8>, String, String), (i64, i64)>,
    cawl: HashMap<Vec<u8>, (i64, i64)>,
}

impl Postgrey {
    fn decide(&mut self, now: i64, client: IpAddr, sender: &str, recipient: &str) -> Decision {
        let cawl_key = key::client_key(client);
        if self.cawl.get(&cawl_key).is_some_and(|&(_, last)| now - last > self.max_age) {
            self.cawl.remove(&cawl_key);
        }
        let (mut cawl_count, cawl_last) = self.cawl.get(&cawl_key).map_or((0, None), |&(n, l)| (n, Some(l)));
        if self.awl_clients > 0
            && let Some(last) = cawl_last
            && cawl_count >= self.awl_clients
        {
            if now >= last + 3600 || last > now {
                self.cawl.insert(cawl_key, (cawl_count + 1, now));
            }
            return AWL;
        }

        let triplet =
            (key::network_key(client, 24, 64), key::normalize_sender(sender), key::normalize_recipient(recipient));
        if self.db.get(&triplet).is_some_and(|&(_, last)| now - last > self.max_age) {
            self.db.remove(&triplet);
        }
        let mut last_was_successful = false;
        let first = match self.db.get(&triplet) {
            Some(&(first, last)) => {
                let mut first = first;
                if last - first >= self.delay {
                    last_was_successful = true;
                } else if now - first > self.retry_window {
                    first = now;
                }
                first.min(now)
            }
            None => now,
        };
        self.db.insert(triplet, (first, now));
        let diff = self.delay - (now - first);
        if self.awl_clients > 0 && diff <= 0 && !last_was_successful && cawl_last.is_none_or(|l| now >= l + 3600) {
            cawl_count += 1;
            self.cawl.insert(cawl_key, (cawl_count, now));
        }
        if diff > 0 {
            defer(diff)
        } else if last_was_successful {
            PASSED
        } else {
            first_pass(now - first)
        }
    }
}

/// A random walk of attempts (a few clients, senders and recipients whose
/// keys collide in the ways Postgrey's normalisation makes them collide,
/// time steps from seconds to weeks, a cleanup now and then, which must
/// change no decision): every decision must be Postgrey's.
async fn agrees_with_postgrey(engine: Engine) {
    let Some(w) = world(engine).await else { return };
    let mut model = Postgrey {
        delay: DELAY,
        max_age: MAX_AGE,
        retry_window: WINDOW,
        awl_clients: 5,
        db: HashMap::new(),
        cawl: HashMap::new(),
    };
    let clients = ["192.0.2.1", "192.0.2.2", "192.0.3.1", "2001:db8::1", "2001:db8::2", "2001:db8:0:1::1"];
    let senders = ["a@s.test", "bounce-1@s.test", "Bounce-2@S.test", "b@s.test", ""];
    let recipients = ["r1@example.org", "R1@example.org", "r2@example.org"];
    let mut rng = Rng::new(0x6772_6579);
    let mut now = T0;
    let mut seen: HashMap<&'static str, u32> = HashMap::new();
    for step in 0..400 {
        now += match rng.below(100) {
            0..30 => rng.below_u64(60) as i64,
            30..65 => 1 + rng.below_u64(2 * DELAY as u64) as i64,
            65..90 => HOUR + rng.below_u64(3 * HOUR as u64) as i64,
            90..98 => DAY + rng.below_u64(2 * DAY as u64) as i64,
            _ => 30 * DAY + rng.below_u64(10 * DAY as u64) as i64,
        };
        if rng.below(20) == 0 {
            w.gl.cleanup(now).await.expect("cleanup");
        }
        let client = ip(clients[rng.below(clients.len())]);
        let sender = senders[rng.below(senders.len())];
        let recipient = recipients[rng.below(recipients.len())];
        let want = model.decide(now, client, sender, recipient);
        let got = w.gl.check(now, client, None, sender, recipient).await.expect("check");
        assert_eq!(got, want, "step {step} at T0+{}: {client} {sender:?} -> {recipient}", now - T0);
        let kind = match got {
            Decision::Defer { retry_after_seconds } if retry_after_seconds == DELAY as u64 => "new",
            Decision::Defer { .. } => "early",
            Decision::Pass(PassReason::TripletPassed { delayed_seconds: Some(_) }) => "first pass",
            Decision::Pass(PassReason::TripletPassed { delayed_seconds: None }) => "passed",
            Decision::Pass(PassReason::AutoWhitelistedClient) => "awl",
            Decision::Pass(_) => "other",
        };
        *seen.entry(kind).or_default() += 1;
    }
    // The walk went through every branch of the algorithm.
    for kind in ["new", "early", "first pass", "passed", "awl"] {
        assert!(seen.get(kind).is_some_and(|&n| n > 0), "no {kind} decision in {seen:?}");
    }
}

#[test]
fn durations_are_the_tests() {
    // The constants above are the defaults they stand for.
    let c = GreylistConfig::default();
    assert_eq!(
        (c.delay, c.max_age, c.retry_window),
        (Duration::from_secs(DELAY as u64), Duration::from_secs(MAX_AGE as u64), Duration::from_secs(WINDOW as u64))
    );
}
