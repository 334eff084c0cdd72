//! End-to-end mail authentication at the MX: the real `atoll serve` asking
//! a real DNS server (dnsmasq, with records each test writes) about
//! reverse DNS, SPF, DKIM and DMARC; mail sent by Python's smtplib,
//! signed by the test with mail-auth's DKIM signer, and read back over
//! IMAP to check the Authentication-Results header the MX added.

mod common;

use std::time::Duration;

use base64::Engine as _;
use common::dns::{Dnsmasq, Zone, dns_section, fields, outside_address, stored_headers};
use common::{Atoll, Started, smtplib_send, start_server, wait_for_inbox};
use mail_auth::common::crypto::{Ed25519Key, RsaKey, Sha256};
use mail_auth::common::headers::HeaderWriter;
use mail_auth::dkim::DkimSigner;
use rustls_pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use serde_json::json;

/// How long a message may take from 250 to the mailbox.
const WAIT: Duration = Duration::from_secs(30);
const PASSWORD: &str = "correct horse";
/// The harness names the node "test-node": the authserv-id.
const AUTHSERV_ID: &str = "test-node";

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// example.org with ann, who has a password (for IMAP).
fn installation() -> Atoll {
    let a = Atoll::new();
    a.ok(&["domain", "add", "example.org"]);
    a.ok_with_stdin(&["user", "add", "ann@example.org"], &format!("{PASSWORD}\n"));
    a
}

/// The address the test client connects from (see `outside_address`).
fn client() -> String {
    outside_address().to_string()
}

/// What every test's DNS has: the test client is client.example.net,
/// forward-confirmed; example.com passes SPF from it and asks for
/// p=reject; the other sender domains allow only 203.0.113.7.
fn zone() -> Zone {
    let client = client();
    let mut z = Zone::new();
    z.ptr(&client, "client.example.net")
        .a("client.example.net", &client)
        .txt("example.com", &[&format!("v=spf1 ip4:{client} -all")])
        .txt("_dmarc.example.com", &["v=DMARC1; p=reject"])
        .txt("strict.example.com", &["v=spf1 ip4:203.0.113.7 -all"])
        .txt("_dmarc.strict.example.com", &["v=DMARC1; p=reject"])
        .txt("lenient.example.com", &["v=spf1 ip4:203.0.113.7 -all"])
        .txt("_dmarc.lenient.example.com", &["v=DMARC1; p=none"])
        .txt("quarantine.example.com", &["v=spf1 ip4:203.0.113.7 -all"])
        .txt("_dmarc.quarantine.example.com", &["v=DMARC1; p=quarantine"]);
    z
}

fn message(from: &str, subject: &str, body: &str) -> String {
    format!(
        "From: {from}\r\nTo: ann@example.org\r\nSubject: {subject}\r\n\
         Date: Sun, 22 Nov 2026 10:00:00 +0000\r\nMessage-ID: <{}@example.com>\r\n\r\n{body}",
        subject.replace(' ', "."),
    )
}

/// An ed25519 key (RFC 8463): the signer, and its TXT record.
fn ed25519_key() -> (Ed25519Key, String) {
    let pkcs8 = Ed25519Key::generate_pkcs8().expect("generate an ed25519 key");
    let key = Ed25519Key::from_pkcs8_der(&pkcs8).expect("read the key");
    let txt = format!("v=DKIM1; k=ed25519; p={}", b64(&key.public_key()));
    (key, txt)
}

/// An RSA-2048 key: the signer, and its TXT record as strings of at most
/// 255 octets (the record is longer than one string can be).
fn rsa_key() -> (RsaKey<Sha256>, Vec<String>) {
    let pair = rcgen::KeyPair::generate_rsa_for(&rcgen::PKCS_RSA_SHA256, rcgen::RsaKeySize::_2048)
        .expect("generate an RSA key");
    let der = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(pair.serialize_der()));
    let key = RsaKey::<Sha256>::from_key_der(der).expect("read the key");
    let record = format!("v=DKIM1; k=rsa; p={}", b64(&key.public_key()));
    let strings = record.as_bytes().chunks(255).map(|c| String::from_utf8(c.to_vec()).expect("ASCII")).collect();
    (key, strings)
}

/// `message` with a DKIM-Signature of `domain`/`selector` on top.
fn signed(
    key: impl mail_auth::common::crypto::SigningKey<Hasher = Sha256>,
    domain: &str,
    selector: &str,
    message: &str,
) -> String {
    let signature = DkimSigner::from_key(key)
        .domain(domain)
        .selector(selector)
        .headers(["From", "To", "Subject", "Date", "Message-ID"])
        .sign(message.as_bytes())
        .expect("sign");
    format!("{}{message}", signature.to_header())
}

fn start(a: &Atoll, dns: &Dnsmasq, extra: &str) -> Started {
    start_server(a, &format!("[imap]\nauth_failure_delay = \"0s\"\n\n{}\n{extra}", dns_section(dns)))
}

/// Sends `message` from `sender` to ann; returns the reply to the data.
fn send(s: &Started, sender: &str, message: &str) -> serde_json::Value {
    let spec = json!({"from": sender, "rcpts": ["ann@example.org"], "message": message, "source": client()});
    let r = smtplib_send(s.smtp.port(), &spec);
    assert_eq!(r["rcpt"][0][0], 250, "{r}");
    r["data"].clone()
}

/// The header section of the one message in ann's `mailbox`.
fn stored(a: &Atoll, s: &Started, mailbox: &str) -> String {
    if mailbox == "INBOX" {
        let got = wait_for_inbox(a, s, "ann@example.org", 1, WAIT);
        assert_eq!(got.values().sum::<usize>(), 1, "{got:?}\n{}", s.server.log());
    }
    let mut headers = stored_headers(s, "ann@example.org", PASSWORD, mailbox);
    assert_eq!(headers.len(), 1, "{headers:?}");
    headers.remove(0)
}

/// Our Authentication-Results field, unfolded; there must be exactly one.
fn results(header: &str) -> String {
    let ours: Vec<String> = fields(header, "Authentication-Results")
        .into_iter()
        .filter(|f| f.split(';').next().is_some_and(|id| id.trim() == AUTHSERV_ID))
        .collect();
    assert_eq!(ours.len(), 1, "one Authentication-Results of ours in:\n{header}");
    ours[0].clone()
}

#[test]
fn signed_mail_passes_every_check_and_forged_results_are_removed() {
    let (key, txt) = ed25519_key();
    let mut z = zone();
    z.txt("ed._domainkey.example.com", &[&txt]);
    let Some(dns) = z.start() else { return };
    let a = installation();
    let s = start(&a, &dns, "");

    // A result that claims to be ours, added before it reached us.
    let forged = format!("Authentication-Results: {AUTHSERV_ID}; spf=pass smtp.mailfrom=forged@example.com\r\n");
    let msg = signed(key, "example.com", "ed", &message("Sender <sender@example.com>", "all pass", "Hello.\r\n"));
    let data = send(&s, "sender@example.com", &format!("{forged}{msg}"));
    assert_eq!(data[0], 250, "{data}\n{}", s.server.log());

    let header = stored(&a, &s, "INBOX");
    let ar = results(&header);
    assert!(ar.contains(&format!("iprev=pass (client.example.net) policy.iprev={}", client())), "{ar}");
    assert!(ar.contains("spf=pass smtp.mailfrom=sender@example.com"), "{ar}");
    assert!(ar.contains("dkim=pass header.d=example.com header.s=ed"), "{ar}");
    assert!(ar.contains("dmarc=pass (p=reject) header.from=example.com"), "{ar}");
    assert!(!header.contains("forged@example.com"), "the forged result is gone:\n{header}");
    // RFC 5321 §4.4: the verified name in the from-clause.
    let received = &fields(&header, "Received")[0];
    let from = format!("from client.example.net (client.example.net [{}])", client());
    assert!(received.starts_with(&from), "{received}");
    // The DNS server was asked what the header says it was asked.
    let log = dns.log();
    let ptr = format!("query[PTR] {}", atoll_testkit::dnsmasq::reverse_name(outside_address()));
    for q in [ptr.as_str(), "query[TXT] ed._domainkey.example.com", "query[TXT] _dmarc.example.com"] {
        assert!(log.contains(q), "{q} not asked:\n{log}");
    }
}

#[test]
fn rsa_2048_key_in_a_multi_string_txt_record() {
    let (key, strings) = rsa_key();
    assert!(strings.len() >= 2, "the key needs several strings: {strings:?}");
    let mut z = zone();
    let parts: Vec<&str> = strings.iter().map(String::as_str).collect();
    z.txt("rsa._domainkey.example.com", &parts);
    let Some(dns) = z.start() else { return };
    let a = installation();
    let s = start(&a, &dns, "");

    let msg = signed(key, "example.com", "rsa", &message("sender@example.com", "rsa signed", "Hello.\r\n"));
    assert_eq!(send(&s, "sender@example.com", &msg)[0], 250);
    let ar = results(&stored(&a, &s, "INBOX"));
    assert!(ar.contains("dkim=pass header.d=example.com header.s=rsa"), "{ar}");
    assert!(ar.contains("dmarc=pass"), "{ar}");
}

#[test]
fn a_tampered_body_fails_dkim() {
    let (key, txt) = ed25519_key();
    let mut z = zone();
    z.txt("ed._domainkey.example.com", &[&txt]);
    let Some(dns) = z.start() else { return };
    let a = installation();
    let s = start(&a, &dns, "");

    let msg = signed(key, "example.com", "ed", &message("sender@example.com", "tampered", "Pay 10 EUR.\r\n"));
    let tampered = msg.replace("Pay 10 EUR.", "Pay 1000 EUR.");
    assert_ne!(msg, tampered);
    assert_eq!(send(&s, "sender@example.com", &tampered)[0], 250);
    let ar = results(&stored(&a, &s, "INBOX"));
    assert!(ar.contains("dkim=fail (body hash did not verify) header.d=example.com header.s=ed"), "{ar}");
    // SPF still passes aligned, so DMARC passes (RFC 7489 §4.2).
    assert!(ar.contains("spf=pass"), "{ar}");
    assert!(ar.contains("dmarc=pass"), "{ar}");
}

#[test]
fn an_spf_failure_is_recorded_under_p_none() {
    let Some(dns) = zone().start() else { return };
    let a = installation();
    let s = start(&a, &dns, "");

    let msg = message("someone@lenient.example.com", "spf fails", "Hello.\r\n");
    assert_eq!(send(&s, "someone@lenient.example.com", &msg)[0], 250);
    let ar = results(&stored(&a, &s, "INBOX"));
    assert!(ar.contains("spf=fail smtp.mailfrom=someone@lenient.example.com"), "{ar}");
    assert!(ar.contains("dkim=none"), "{ar}");
    assert!(ar.contains("dmarc=fail (p=none) header.from=lenient.example.com"), "{ar}");
}

#[test]
fn a_domain_without_a_dmarc_record_has_dmarc_none() {
    let mut z = zone();
    z.txt("example.net", &["v=spf1 ip4:203.0.113.7 ~all"]);
    let Some(dns) = z.start() else { return };
    let a = installation();
    let s = start(&a, &dns, "");
    let msg = message("someone@example.net", "no dmarc", "Hello.\r\n");
    assert_eq!(send(&s, "someone@example.net", &msg)[0], 250);
    let ar = results(&stored(&a, &s, "INBOX"));
    assert!(ar.contains("spf=softfail smtp.mailfrom=someone@example.net"), "{ar}");
    assert!(ar.contains("dmarc=none header.from=example.net"), "{ar}");
}

#[test]
fn dmarc_reject_is_refused_at_the_end_of_data_unless_only_recorded() {
    let Some(dns) = zone().start() else { return };
    let a = installation();
    let s = start(&a, &dns, "");
    let msg = message("ceo@strict.example.com", "forged ceo", "Wire the money.\r\n");
    let data = send(&s, "ceo@strict.example.com", &msg);
    // RFC 7489 §6.7: 550 5.7.1.
    assert_eq!(data[0], 550, "{data}");
    assert!(data[1].as_str().unwrap().starts_with("5.7.1"), "{data}");
    assert!(data[1].as_str().unwrap().contains("strict.example.com"), "{data}");
    // Nothing was queued: the spool is empty and the mailbox stays empty.
    let cfg = s.config.to_str().unwrap();
    assert_eq!(a.json(&["--config", cfg, "queue", "list"]), json!([]));
    assert!(s.server.log().contains("smtp: refused by DMARC policy"), "{}", s.server.log());
    // A message that passes is delivered; the refused one never arrives.
    let ok = message("sender@example.com", "after the refusal", "Hello.\r\n");
    assert_eq!(send(&s, "sender@example.com", &ok)[0], 250);
    let got = wait_for_inbox(&a, &s, "ann@example.org", 1, WAIT);
    assert_eq!(got.keys().collect::<Vec<_>>(), ["after the refusal"], "{got:?}");
    drop(s);

    // dmarc_reject = "record": accepted, and the header says why it might
    // not have been.
    let a = installation();
    let s = start(&a, &dns, "[mx.authentication]\ndmarc_reject = \"record\"\n");
    assert_eq!(send(&s, "ceo@strict.example.com", &msg)[0], 250);
    let ar = results(&stored(&a, &s, "INBOX"));
    assert!(ar.contains("dmarc=fail (p=reject) header.from=strict.example.com"), "{ar}");
}

#[test]
fn dmarc_quarantine_files_into_junk() {
    let Some(dns) = zone().start() else { return };
    let a = installation();
    let s = start(&a, &dns, "");
    let msg = message("news@quarantine.example.com", "quarantined", "Hello.\r\n");
    assert_eq!(send(&s, "news@quarantine.example.com", &msg)[0], 250);
    let cfg = s.config.to_str().unwrap();
    let deadline = std::time::Instant::now() + WAIT;
    while a.json(&["--config", cfg, "mailbox", "show", "ann@example.org", "Junk"]).as_array().unwrap().is_empty() {
        assert!(std::time::Instant::now() < deadline, "nothing in Junk:\n{}", s.server.log());
        std::thread::sleep(Duration::from_millis(100));
    }
    let ar = results(&stored(&a, &s, "Junk"));
    assert!(ar.contains("dmarc=fail (p=quarantine) header.from=quarantine.example.com"), "{ar}");
    assert!(common::inbox_subjects(&a, &s, "ann@example.org").is_empty());
}

#[test]
fn dns_down_gives_temperror_and_the_message_is_kept() {
    // A name server that never answers.
    let silent = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let a = installation();
    let s = start_server(
        &a,
        &format!(
            "[imap]\nauth_failure_delay = \"0s\"\n\n[dns]\nnameservers = [\"{}\"]\ntimeout = \"1s\"\n",
            silent.local_addr().unwrap()
        ),
    );
    let msg = message("sender@example.com", "dns down", "Hello.\r\n");
    assert_eq!(send(&s, "sender@example.com", &msg)[0], 250);
    let header = stored(&a, &s, "INBOX");
    let ar = results(&header);
    assert!(ar.contains(&format!("iprev=temperror policy.iprev={}", client())), "{ar}");
    assert!(ar.contains("spf=temperror"), "{ar}");
    assert!(ar.contains("dmarc=temperror"), "{ar}");
    // No name: the Received line has the address only.
    let from = format!("from client.example.net ([{}])", client());
    assert!(fields(&header, "Received")[0].starts_with(&from), "{header}");
}

#[test]
fn greylisting_whitelists_a_client_by_its_reverse_dns_name() {
    let greylist = "[greylist]\nenabled = true\nwhitelist_clients = [\"example.net\"]\n";
    let rcpt = |s: &Started, subject: &str| {
        let spec = json!({"from": "sender@example.com", "rcpts": ["ann@example.org"], "source": client(),
                          "message": message("sender@example.com", subject, "Hi.\r\n")});
        smtplib_send(s.smtp.port(), &spec)["rcpt"][0].clone()
    };
    // client.example.net is under example.net: whitelisted, no delay.
    let Some(dns) = zone().start() else { return };
    let a = installation();
    let s = start(&a, &dns, greylist);
    let r = rcpt(&s, "whitelisted");
    assert_eq!(r[0], 250, "{r}\n{}", s.server.log());
    drop(s);

    // The same client without a PTR record has no name: greylisted.
    let mut z = Zone::new();
    z.txt("example.com", &[&format!("v=spf1 ip4:{} -all", client())]);
    let Some(dns) = z.start() else { return };
    let a = installation();
    let s = start(&a, &dns, greylist);
    let r = rcpt(&s, "greylisted");
    assert_eq!(r[0], 451, "{r}");
    assert!(r[1].as_str().unwrap().starts_with("4.7.1"), "{r}");
}
