//! The content-filter clients against the real daemons (spamd, clamd,
//! rspamd from the OS packages, started per test by
//! common/filter_daemons.rs) and against small fake servers that are down,
//! silent, or answer nonsense.

#[path = "common/filter_daemons.rs"]
mod daemons;

use std::sync::Arc;
use std::time::Duration;

use atoll_smtp::filter::{
    self, Endpoint, Envelope, FilterConfig, FilterError, Filters, OnFailure, Outcome, Policy, Scanner, SpamAction,
    Verdict, VirusAction,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// Generous: the daemons run on a busy 2-core machine next to other tests.
const REAL_TIMEOUT: Duration = Duration::from_secs(60);

fn message(subject: &str, body: &str) -> Vec<u8> {
    format!(
        "From: Ann Example <ann@example.net>\r\n\
         To: Bob Example <bob@example.org>\r\n\
         Subject: {subject}\r\n\
         Date: Tue, 4 Nov 2025 10:15:00 +0000\r\n\
         Message-ID: <{}@example.net>\r\n\
         MIME-Version: 1.0\r\n\
         Content-Type: text/plain; charset=us-ascii\r\n\
         \r\n\
         {body}\r\n",
        subject.len()
    )
    .into_bytes()
}

fn ham() -> Vec<u8> {
    message(
        "Minutes of Tuesday's meeting",
        "Hi Bob,\r\n\r\nhere are the minutes of Tuesday's meeting. We agreed to move the\r\n\
         backup window to Sunday night and to review the mail quotas in March.\r\n\r\n\
         See you on Thursday,\r\nAnn",
    )
}

fn gtube() -> Vec<u8> {
    message("Test spam mail (GTUBE)", &format!("This is the GTUBE test.\r\n\r\n{}\r\n", daemons::gtube()))
}

fn eicar() -> Vec<u8> {
    format!(
        "From: Ann Example <ann@example.net>\r\n\
         To: Bob Example <bob@example.org>\r\n\
         Subject: the file\r\n\
         Date: Tue, 4 Nov 2025 10:15:00 +0000\r\n\
         Message-ID: <eicar@example.net>\r\n\
         MIME-Version: 1.0\r\n\
         Content-Type: multipart/mixed; boundary=\"b1\"\r\n\
         \r\n\
         --b1\r\n\
         Content-Type: text/plain\r\n\
         \r\n\
         Attached.\r\n\
         --b1\r\n\
         Content-Type: application/octet-stream; name=\"eicar.com\"\r\n\
         Content-Disposition: attachment; filename=\"eicar.com\"\r\n\
         \r\n\
         {}\r\n\
         --b1--\r\n",
        daemons::eicar()
    )
    .into_bytes()
}

fn envelope() -> Envelope {
    Envelope {
        client_ip: Some("192.0.2.7".parse().unwrap()),
        client_hostname: Some("mail.example.net".into()),
        helo: Some("mail.example.net".into()),
        mail_from: "ann@example.net".into(),
        rcpt_to: vec!["bob@example.org".into()],
        queue_id: Some("T1".into()),
        auth_user: None,
    }
}

fn config(endpoint: &str, timeout: Duration) -> FilterConfig {
    let mut config = FilterConfig::new(endpoint.parse().unwrap(), 4 << 20);
    config.timeout = timeout;
    config
}

fn verdict(outcome: &Outcome) -> &Verdict {
    match outcome {
        Outcome::Verdict(v) => v,
        other => panic!("expected a verdict, got {other:?}"),
    }
}

// ------------------------------------------------------------ real daemons

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spamd_calls_gtube_spam_and_ham_clean() {
    let Some(spamd) = daemons::spamd().await else { return };
    let config = config(&spamd.addr(), REAL_TIMEOUT);

    let v = filter::spamd::check(&config, None, &gtube()).await.unwrap();
    let Verdict::Spam { score, threshold, tests, headers } = &v else { panic!("GTUBE not spam: {v:?}") };
    assert!(score >= threshold, "{v:?}");
    assert!(tests.iter().any(|t| t == "GTUBE"), "{tests:?}");
    assert_eq!(headers[0].name, "X-Spam-Flag");

    // With a User header too (spamd runs without per-user configuration,
    // so the verdict is the same).
    let v = filter::spamd::check(&config, Some("bob"), &ham()).await.unwrap();
    assert_eq!(v, Verdict::Clean);

    // Through the policy: tag (the default) adds the headers and accepts.
    let filters =
        Filters { scanners: vec![Scanner::Spamd { config: config.clone(), user: None }], ..Filters::default() };
    let d = filters.check(&gtube(), &envelope()).await;
    assert!(d.accepts() && !d.junk, "{d:?}");
    let mut written = Vec::new();
    for h in &d.headers {
        h.write(&mut written);
    }
    let written = String::from_utf8(written).unwrap();
    assert!(written.starts_with("X-Spam-Flag: YES\r\nX-Spam-Score: "), "{written}");
    assert!(written.contains("X-Spam-Status: Yes, score=") && written.contains("GTUBE"), "{written}");

    let filters = Filters { policy: Policy { spam: SpamAction::Junk, ..Policy::default() }, ..filters };
    let d = filters.check(&gtube(), &envelope()).await;
    assert!(d.accepts() && d.junk && d.headers.len() == 3, "{d:?}");
    let d = filters.check(&ham(), &envelope()).await;
    assert!(d.accepts() && !d.junk && d.headers.is_empty(), "{d:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clamd_finds_eicar_passes_clean_and_reports_its_size_limit() {
    let Some(clamd) = daemons::clamd().await else { return };
    let tcp = config(&clamd.addr(), REAL_TIMEOUT);
    let unix = config(&clamd.path("clamd.sock").display().to_string(), REAL_TIMEOUT);
    assert!(matches!(unix.endpoint, Endpoint::Unix(_)));

    for config in [&tcp, &unix] {
        let v = filter::clamd::check(config, &eicar()).await.unwrap();
        let Verdict::Virus { name } = &v else { panic!("EICAR not found over {}: {v:?}", config.endpoint) };
        assert!(name.starts_with(daemons::EICAR_SIGNATURE), "{name}");
        assert_eq!(filter::clamd::check(config, &ham()).await.unwrap(), Verdict::Clean);
    }

    // Larger than clamd's StreamMaxLength, and our max_size set above it
    // (a misconfiguration): a clear error, not a verdict.
    let mut big = ham();
    big.extend(std::iter::repeat_n(b'a', daemons::CLAMD_STREAM_MAX + 1000));
    let e = filter::clamd::check(&tcp, &big).await.unwrap_err();
    assert!(matches!(&e, FilterError::SizeLimit(s) if s.contains("size limit exceeded")), "{e}");

    // The policy: a virus is refused with 554 (or 550), and the size-limit
    // failure follows on_failure.
    let mut filters = Filters { scanners: vec![Scanner::Clamd { config: tcp.clone() }], policy: Policy::default() };
    let d = filters.check(&eicar(), &envelope()).await;
    let reply = d.reply.expect("refused");
    assert_eq!((reply.code, reply.status), (554, [5, 7, 1]));
    assert!(reply.text.contains(daemons::EICAR_SIGNATURE), "{reply}");
    filters.policy.virus = VirusAction::Reject550;
    assert_eq!(filters.check(&eicar(), &envelope()).await.reply.expect("refused").code, 550);
    assert!(filters.check(&ham(), &envelope()).await.accepts());
    let d = filters.check(&big, &envelope()).await;
    assert_eq!(d.reply.as_ref().expect("tempfail").code, 451);
    assert!(matches!(d.scans[0].outcome, Outcome::Failed(FilterError::SizeLimit(_))), "{d:?}");

    // Under max_size's own limit the big message is not sent at all.
    filters.scanners[0].config_mut().max_size = daemons::CLAMD_STREAM_MAX;
    let d = filters.check(&big, &envelope()).await;
    assert!(d.accepts(), "{d:?}");
    assert!(matches!(d.scans[0].outcome, Outcome::Skipped { .. }), "{d:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rspamd_rejects_gtube_and_has_no_action_for_ham() {
    let Some(rspamd) = daemons::rspamd().await else { return };
    let config = config(&rspamd.addr(), REAL_TIMEOUT);

    let v = filter::rspamd::check(&config, &envelope(), &gtube()).await.unwrap();
    let Verdict::Spam { tests, .. } = &v else { panic!("GTUBE not spam: {v:?}") };
    assert!(tests.iter().any(|t| t == "GTUBE"), "{tests:?}");

    let v = filter::rspamd::check(&config, &Envelope::default(), &ham()).await.unwrap();
    assert_eq!(v, Verdict::Clean);

    let filters = Filters {
        scanners: vec![Scanner::Rspamd { config }],
        policy: Policy { spam: SpamAction::Reject, ..Policy::default() },
    };
    let d = filters.check(&gtube(), &envelope()).await;
    let reply = d.reply.expect("refused");
    assert_eq!((reply.code, reply.status), (550, [5, 7, 1]));
    assert!(filters.check(&ham(), &envelope()).await.accepts());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn all_three_daemons_together() {
    let (spamd, clamd, rspamd) = tokio::join!(daemons::spamd(), daemons::clamd(), daemons::rspamd());
    let (Some(spamd), Some(clamd), Some(rspamd)) = (spamd, clamd, rspamd) else { return };
    let filters = Filters {
        scanners: vec![
            Scanner::Spamd { config: config(&spamd.addr(), REAL_TIMEOUT), user: None },
            Scanner::Clamd { config: config(&clamd.addr(), REAL_TIMEOUT) },
            Scanner::Rspamd { config: config(&rspamd.addr(), REAL_TIMEOUT) },
        ],
        policy: Policy { spam: SpamAction::Junk, virus: VirusAction::Reject554 },
    };

    let d = filters.check(&ham(), &envelope()).await;
    let log: Vec<String> = d.scans.iter().map(ToString::to_string).collect();
    assert_eq!(log, ["spamd=clean", "clamd=clean", "rspamd=clean"]);
    assert!(d.accepts() && !d.junk && d.headers.is_empty(), "{d:?}");

    // Both spam filters call it spam; the headers are spamd's, the first
    // configured.
    let d = filters.check(&gtube(), &envelope()).await;
    assert!(d.accepts() && d.junk, "{d:?}");
    assert!(matches!(verdict(&d.scans[0].outcome), Verdict::Spam { .. }), "{d:?}");
    assert_eq!(verdict(&d.scans[1].outcome), &Verdict::Clean);
    assert!(matches!(verdict(&d.scans[2].outcome), Verdict::Spam { .. }), "{d:?}");
    let Verdict::Spam { headers, .. } = verdict(&d.scans[0].outcome) else { unreachable!() };
    assert_eq!(&d.headers, headers);

    let d = filters.check(&eicar(), &envelope()).await;
    assert_eq!(d.reply.as_ref().expect("refused").code, 554, "{d:?}");
    assert!(matches!(verdict(&d.scans[1].outcome), Verdict::Virus { .. }), "{d:?}");
}

// ------------------------------------------------------------ fake servers

/// What a fake scanner does with each connection.
#[derive(Clone)]
enum Behaviour {
    /// Writes these bytes, then reads until the client is done.
    Answer(Vec<u8>),
    /// Writes without end.
    Endless,
    /// Reads and never answers.
    Silent,
    /// Answers like `Answer` once the barrier's other parties (connections
    /// to other fakes) have arrived.
    AfterBarrier(Arc<tokio::sync::Barrier>, Vec<u8>),
}

async fn fake(behaviour: Behaviour) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let behaviour = behaviour.clone();
            tokio::spawn(async move {
                let (mut rx, mut tx) = stream.split();
                let drain = async {
                    let mut buf = vec![0; 65536];
                    while let Ok(n) = rx.read(&mut buf).await {
                        if n == 0 {
                            break;
                        }
                    }
                };
                match behaviour {
                    Behaviour::Answer(bytes) => {
                        let _ = tx.write_all(&bytes).await;
                        let _ = tokio::time::timeout(Duration::from_secs(5), drain).await;
                    }
                    Behaviour::Endless => {
                        let junk = vec![b'x'; 65536];
                        let write = async { while tx.write_all(&junk).await.is_ok() {} };
                        tokio::join!(write, drain);
                    }
                    Behaviour::Silent => {
                        drain.await;
                        // Keep the connection open, say nothing.
                        std::future::pending::<()>().await
                    }
                    Behaviour::AfterBarrier(barrier, bytes) => {
                        barrier.wait().await;
                        let _ = tx.write_all(&bytes).await;
                        let _ = tokio::time::timeout(Duration::from_secs(5), drain).await;
                    }
                }
            });
        }
    });
    addr
}

/// The three scanners, all at `addr`.
fn all_at(addr: &str, timeout: Duration, on_failure: OnFailure) -> Vec<Scanner> {
    let config = FilterConfig { on_failure, ..config(addr, timeout) };
    vec![
        Scanner::Spamd { config: config.clone(), user: Some("bob".into()) },
        Scanner::Clamd { config: config.clone() },
        Scanner::Rspamd { config },
    ]
}

/// An address nothing listens on.
async fn nothing_listening() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    drop(listener);
    addr
}

#[tokio::test]
async fn a_scanner_that_is_down_follows_on_failure() {
    let addr = nothing_listening().await;
    let filters = Filters { scanners: all_at(&addr, REAL_TIMEOUT, OnFailure::Tempfail), ..Filters::default() };
    let d = filters.check(&ham(), &envelope()).await;
    assert_eq!(d.reply.expect("tempfail").to_string(), "451 4.7.1 content filter unavailable, try again later");
    for scan in &d.scans {
        assert!(matches!(scan.outcome, Outcome::Failed(FilterError::Connect { .. })), "{scan:?}");
    }

    let filters = Filters { scanners: all_at(&addr, REAL_TIMEOUT, OnFailure::Accept), ..Filters::default() };
    let d = filters.check(&ham(), &envelope()).await;
    assert!(d.accepts() && d.headers.is_empty() && !d.junk, "{d:?}");

    // A unix socket that does not exist.
    let gone = Endpoint::Unix("/nonexistent/atoll-test/scanner.sock".into());
    let e = filter::clamd::check(&FilterConfig::new(gone, 1000), &ham()).await.unwrap_err();
    assert!(matches!(e, FilterError::Connect { .. }), "{e}");
}

#[tokio::test]
async fn garbage_is_an_error_not_a_panic() {
    let garbage = fake(Behaviour::Answer(b"\xff\xfe garbage\r\n\r\n\0".to_vec())).await;
    let c = config(&garbage, REAL_TIMEOUT);
    for e in [
        filter::spamd::check(&c, None, &ham()).await.unwrap_err(),
        filter::clamd::check(&c, &ham()).await.unwrap_err(),
        filter::rspamd::check(&c, &envelope(), &ham()).await.unwrap_err(),
    ] {
        assert!(matches!(&e, FilterError::Protocol { line, .. } if line.contains("garbage")), "{e}");
    }

    // Plausible at first sight.
    let spamd = fake(Behaviour::Answer(b"SPAMD/1.1 0 EX_OK\r\nSpam: perhaps\r\n\r\n".to_vec())).await;
    let e = filter::spamd::check(&config(&spamd, REAL_TIMEOUT), None, &ham()).await.unwrap_err();
    assert!(matches!(&e, FilterError::Protocol { line, .. } if line == "Spam: perhaps"), "{e}");
    let clamd = fake(Behaviour::Answer(b"stream: who knows\0".to_vec())).await;
    let e = filter::clamd::check(&config(&clamd, REAL_TIMEOUT), &ham()).await.unwrap_err();
    assert!(matches!(&e, FilterError::Protocol { line, .. } if line == "stream: who knows"), "{e}");
    let rspamd = fake(Behaviour::Answer(b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nnot json!".to_vec())).await;
    let e = filter::rspamd::check(&config(&rspamd, REAL_TIMEOUT), &envelope(), &ham()).await.unwrap_err();
    assert!(matches!(e, FilterError::Protocol { .. }), "{e}");
    let rspamd = fake(Behaviour::Answer(
        b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 25\r\n\r\n{\"error\":\"out of memory\"}".to_vec(),
    ))
    .await;
    let e = filter::rspamd::check(&config(&rspamd, REAL_TIMEOUT), &envelope(), &ham()).await.unwrap_err();
    assert!(matches!(&e, FilterError::Scanner(s) if s == "HTTP 500: out of memory"), "{e}");

    // A scanner that talks without end is cut off, for each protocol.
    let endless = fake(Behaviour::Endless).await;
    let c = config(&endless, REAL_TIMEOUT);
    for e in [
        filter::spamd::check(&c, None, &ham()).await.unwrap_err(),
        filter::clamd::check(&c, &ham()).await.unwrap_err(),
        filter::rspamd::check(&c, &envelope(), &ham()).await.unwrap_err(),
    ] {
        assert!(matches!(e, FilterError::TooLong(_)), "{e}");
    }

    // Through the policy: nonsense is a failure like any other.
    let filters = Filters { scanners: all_at(&garbage, REAL_TIMEOUT, OnFailure::Tempfail), ..Filters::default() };
    assert_eq!(filters.check(&ham(), &envelope()).await.reply.expect("tempfail").code, 451);
}

#[tokio::test]
async fn a_silent_scanner_times_out() {
    let silent = fake(Behaviour::Silent).await;
    let timeout = Duration::from_millis(300);
    let c = config(&silent, timeout);
    for e in [
        filter::spamd::check(&c, None, &ham()).await.unwrap_err(),
        filter::clamd::check(&c, &ham()).await.unwrap_err(),
        filter::rspamd::check(&c, &envelope(), &ham()).await.unwrap_err(),
    ] {
        assert!(matches!(e, FilterError::Timeout(t) if t == timeout), "{e}");
    }
    let filters = Filters { scanners: all_at(&silent, timeout, OnFailure::Accept), ..Filters::default() };
    let d = filters.check(&ham(), &envelope()).await;
    assert!(d.accepts(), "{d:?}");
    assert!(d.scans.iter().all(|s| matches!(s.outcome, Outcome::Failed(FilterError::Timeout(_)))), "{d:?}");
}

#[tokio::test]
async fn scanners_are_asked_at_once() {
    // Each fake answers only once both have been connected to: asked one
    // after the other, the first would wait out its timeout and fail.
    let barrier = Arc::new(tokio::sync::Barrier::new(2));
    let spamd_reply = b"SPAMD/1.1 0 EX_OK\r\nContent-length: 5\r\nSpam: True ; 20.0 / 5.0\r\n\r\nRULE1".to_vec();
    let spamd = fake(Behaviour::AfterBarrier(barrier.clone(), spamd_reply)).await;
    let clamd = fake(Behaviour::AfterBarrier(barrier, b"stream: OK\0".to_vec())).await;
    let timeout = Duration::from_secs(20);
    let filters = Filters {
        scanners: vec![
            Scanner::Spamd { config: config(&spamd, timeout), user: None },
            Scanner::Clamd { config: config(&clamd, timeout) },
        ],
        policy: Policy { spam: SpamAction::Reject, ..Policy::default() },
    };
    let d = filters.check(&ham(), &envelope()).await;
    assert!(matches!(verdict(&d.scans[0].outcome), Verdict::Spam { score, .. } if *score == 20.0), "{d:?}");
    assert_eq!(verdict(&d.scans[1].outcome), &Verdict::Clean);
    assert_eq!(d.reply.expect("refused").to_string(), "550 5.7.1 message rejected as spam (score 20.0/5.0)");
}

#[tokio::test]
async fn a_message_over_max_size_is_not_sent() {
    // Nothing listens: had the scanner been asked, the check would fail.
    let addr = nothing_listening().await;
    let mut scanners = all_at(&addr, REAL_TIMEOUT, OnFailure::Tempfail);
    for s in &mut scanners {
        s.config_mut().max_size = 100;
    }
    let filters = Filters { scanners, ..Filters::default() };
    let d = filters.check(&ham(), &envelope()).await;
    assert!(d.accepts(), "{d:?}");
    for scan in &d.scans {
        assert!(matches!(scan.outcome, Outcome::Skipped { max_size: 100, .. }), "{scan:?}");
    }
}
