//! The configuration's defaults, error reporting and example files.

use std::path::PathBuf;

use atoll_config::{Config, Role, from_str, load};

#[test]
fn empty_file_is_the_embedded_default() {
    let c = from_str("", "atoll.toml").unwrap();
    assert_eq!(c, Config::default());
    assert_eq!(c.node.roles, Role::ALL.to_vec());
    assert_eq!(c.node.islands, vec!["default".to_string()]);
    assert_eq!(c.listen.imap, vec!["127.0.0.1:2143", "[::1]:2143"]);
    assert_eq!(c.listen.smtp, vec!["127.0.0.1:2525", "[::1]:2525"]);
    assert_eq!(c.listen.http, vec!["127.0.0.1:8080", "[::1]:8080"]);
    assert_eq!(c.directory_url(), "sqlite://atoll-data/directory.db?mode=rwc");
}

#[test]
fn every_problem_is_reported_with_file_and_key() {
    let text = r#"
        [directroy]
        url = "x"

        [node]
        roles = ["mx", "mail"]
        colour = "blue"

        [directory]
        url = "postgress://db/atoll"
        cache_ttl = "soon"

        [listen]
        imap = ["127.0.0.1:143", "localhost"]
    "#;
    let err = from_str(text, "/etc/atoll.toml").unwrap_err();
    let shown = err.to_string();
    let keys: Vec<&str> = err.problems.iter().map(|p| p.key.as_str()).collect();
    assert!(keys.contains(&"directroy"), "{shown}");
    assert!(keys.contains(&"node.colour"), "{shown}");
    assert!(keys.contains(&"node"), "unknown role must be reported: {shown}");
    assert!(shown.contains("unknown variant `mail`"), "{shown}");
    assert!(keys.contains(&"directory"), "bad duration must be reported: {shown}");
    assert!(shown.contains("invalid duration \"soon\""), "{shown}");
    assert!(keys.contains(&"listen.imap[1]"), "{shown}");
    for line in shown.lines() {
        assert!(line.starts_with("/etc/atoll.toml: "), "{line}");
    }
}

#[test]
fn semantic_checks() {
    let text = r#"
        [directory]
        url = "postgress://db/atoll"
        max_connections = 0
        [addressing]
        subaddress_separators = "+a"
        [listen]
        imap = ["127.0.0.1:143"]
        pop3 = ["127.0.0.1:143"]
        [log]
        level = "loud"
    "#;
    let err = from_str(text, "a.toml").unwrap_err();
    let shown = err.to_string();
    assert!(shown.contains("a.toml: directory.url: unsupported scheme \"postgress\""), "{shown}");
    assert!(shown.contains("directory.max_connections"), "{shown}");
    assert!(shown.contains("addressing.subaddress_separators: 'a'"), "{shown}");
    assert!(shown.contains("listen.pop3[0]: 127.0.0.1:143 is already used by listen.imap[0]"), "{shown}");
    assert!(shown.contains("log.level"), "{shown}");
}

#[test]
fn syntax_error_names_the_line() {
    let err = from_str("[node]\nname = \"a\"\nroles = [\n", "b.toml").unwrap_err();
    assert_eq!(err.problems.len(), 1);
    assert!(err.to_string().starts_with("b.toml: line "), "{err}");
}

#[test]
fn values_are_read() {
    let c = from_str(
        r#"
        [node]
        name = "mx1"
        roles = ["mx"]
        islands = []
        [directory]
        url = "mariadb://atoll:pw@db1/atoll"
        cache_ttl = "5s"
        [addressing]
        subaddress_separators = "+-"
    "#,
        "c.toml",
    )
    .unwrap();
    assert_eq!(c.node.roles, vec![Role::Mx]);
    assert_eq!(c.directory.cache_ttl.as_secs(), 5);
    assert_eq!(c.directory_url(), "mysql://atoll:pw@db1/atoll");
    assert_eq!(c.addressing.subaddress_separators, "+-");
}

#[test]
fn lmtp_limits() {
    let d = Config::default();
    assert_eq!(d.lmtp.max_message_size, 50 << 20);
    assert_eq!(d.lmtp.max_recipients, 1000);
    assert_eq!(d.lmtp.timeout.as_secs(), 300);

    let c = from_str("[lmtp]\nmax_message_size = \"10M\"\nmax_recipients = 50\ntimeout = \"2m\"\n", "c.toml").unwrap();
    assert_eq!(c.lmtp.max_message_size, 10 << 20);
    assert_eq!(c.lmtp.max_recipients, 50);
    assert_eq!(c.lmtp.timeout.as_secs(), 120);
    let c = from_str("[lmtp]\nmax_message_size = 20000\n", "c.toml").unwrap();
    assert_eq!(c.lmtp.max_message_size, 20000);
    // `config show` writes sizes back the way they are read.
    let shown = toml::to_string(&c).unwrap();
    assert_eq!(from_str(&shown, "shown.toml").unwrap(), c);

    let err = from_str("[lmtp]\nmax_message_size = \"huge\"\n", "c.toml").unwrap_err();
    assert!(err.to_string().contains("c.toml: lmtp: invalid size \"huge\""), "{err}");
    let err =
        from_str("[lmtp]\nmax_message_size = \"2G\"\nmax_recipients = 0\ntimeout = \"0s\"\n", "c.toml").unwrap_err();
    let keys: Vec<&str> = err.problems.iter().map(|p| p.key.as_str()).collect();
    assert_eq!(keys, ["lmtp.max_message_size", "lmtp.max_recipients", "lmtp.timeout"], "{err}");
    let err = from_str("[lmtp]\nmax_size = 1\n", "c.toml").unwrap_err();
    assert!(err.to_string().contains("c.toml: lmtp.max_size: unknown key"), "{err}");
}

#[test]
fn mx_and_queue_settings() {
    let d = Config::default();
    assert_eq!(d.mx.max_recipients, 1000);
    assert_eq!(d.mx.max_connections_per_ip, 20);
    assert_eq!(d.queue.give_up_after.as_secs(), 5 * 86_400);
    let c = from_str(
        "[mx]\nmax_message_size = \"25M\"\nmax_connections_per_ip = 5\n[queue]\nretry_initial = \"30s\"\nretry_max = \"2h\"\n",
        "c.toml",
    )
    .unwrap();
    assert_eq!(c.mx.max_message_size, 25 << 20);
    assert_eq!(c.mx.max_connections_per_ip, 5);
    assert_eq!(c.queue.retry_initial.as_secs(), 30);
    assert_eq!(c.queue.retry_max.as_secs(), 7200);
    let shown = toml::to_string(&c).unwrap();
    assert_eq!(from_str(&shown, "shown.toml").unwrap(), c);
    // RFC 5321 §4.5.3.1.8: at least 100 recipients; a retry schedule that
    // shrinks is a typo.
    let err = from_str("[mx]\nmax_recipients = 10\n[queue]\nretry_initial = \"2h\"\nretry_max = \"1h\"\n", "c.toml")
        .unwrap_err();
    let keys: Vec<&str> = err.problems.iter().map(|p| p.key.as_str()).collect();
    assert_eq!(keys, ["mx.max_recipients", "queue.retry_initial"], "{err}");
    let err = from_str("[mx]\nmax_recipient = 100\n", "c.toml").unwrap_err();
    assert!(err.to_string().contains("c.toml: mx.max_recipient: unknown key"), "{err}");
}

#[test]
fn outbound_section() {
    let c = from_str("", "c.toml").unwrap();
    assert_eq!((c.outbound.port, c.outbound.per_destination, c.outbound.relay.as_str()), (25, 20, ""));
    assert_eq!(c.queue.delay_warning.as_secs(), 4 * 3600);
    let c = from_str("[outbound]\nrelay = \"smarthost.example.net:587\"\n[queue]\ndelay_warning = \"0s\"\n", "c.toml")
        .unwrap();
    assert_eq!(c.outbound.relay, "smarthost.example.net:587");
    assert!(c.queue.delay_warning.is_zero());
    let err = from_str("[outbound]\nrelay = \"smarthost\"\nper_destination = 0\n", "c.toml").unwrap_err();
    let keys: Vec<&str> = err.problems.iter().map(|p| p.key.as_str()).collect();
    assert_eq!(keys, ["outbound.relay", "outbound.per_destination"], "{err}");
}

#[test]
fn missing_file_is_a_clear_error() {
    let err = load(&PathBuf::from("/nonexistent/atoll.toml")).unwrap_err();
    assert!(err.to_string().starts_with("/nonexistent/atoll.toml: cannot read:"), "{err}");
}

#[test]
fn example_configurations_are_valid() {
    let examples = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../examples");
    let mut n = 0;
    for entry in std::fs::read_dir(&examples).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "toml") {
            load(&path).unwrap_or_else(|e| panic!("{e}"));
            n += 1;
        }
    }
    assert!(n >= 2, "expected the all-in-one and cluster examples in {}", examples.display());
}

#[test]
fn pop3_settings() {
    let d = Config::default();
    assert_eq!(d.pop3.idle_timeout.as_secs(), 10 * 60);
    assert!(!d.pop3.allow_plaintext_auth, "passwords over cleartext must be refused by default");
    assert!(d.pop3.mark_seen, "RETR marks \\Seen by default, as in Dovecot");

    let c = from_str(
        "[pop3]\nmax_line_length = \"8K\"\nidle_timeout = \"15m\"\nallow_plaintext_auth = true\nmark_seen = false\nauth_failure_delay = \"0s\"\n",
        "c.toml",
    )
    .unwrap();
    assert_eq!(c.pop3.max_line_length, 8 << 10);
    assert_eq!(c.pop3.idle_timeout.as_secs(), 15 * 60);
    assert!(c.pop3.allow_plaintext_auth && !c.pop3.mark_seen);
    assert!(c.pop3.auth_failure_delay.is_zero());

    let err = from_str(
        "[pop3]\nmax_line_length = 100\nidle_timeout = \"1m\"\nauth_failure_delay = \"2h\"\nsecret = 1\n",
        "c.toml",
    )
    .unwrap_err();
    let keys: Vec<&str> = err.problems.iter().map(|p| p.key.as_str()).collect();
    assert_eq!(keys, ["pop3.secret", "pop3.max_line_length", "pop3.idle_timeout", "pop3.auth_failure_delay"], "{err}");
    assert!(err.to_string().contains("RFC 1939 §3"), "{err}");
}

#[test]
fn imap_and_tls_settings() {
    let d = Config::default();
    assert_eq!(d.imap.idle_timeout.as_secs(), 30 * 60);
    assert!(!d.imap.allow_plaintext_auth, "passwords over cleartext must be refused by default");
    assert_eq!(d.tls, Default::default());

    let c = from_str(
        "[imap]\nmax_line_length = \"128K\"\nmax_message_size = \"20M\"\nidle_timeout = \"1h\"\nallow_plaintext_auth = true\n",
        "c.toml",
    )
    .unwrap();
    assert_eq!(c.imap.max_line_length, 128 << 10);
    assert_eq!(c.imap.max_message_size, 20 << 20);
    assert_eq!(c.imap.idle_timeout.as_secs(), 3600);
    assert!(c.imap.allow_plaintext_auth);

    let err = from_str(
        "[imap]\nmax_line_length = 10\nidle_timeout = \"5m\"\nauth_failure_delay = \"2h\"\n[store]\ngc_interval = \"1s\"\n[tls]\ncertificate = \"/nonexistent/c.pem\"\n",
        "c.toml",
    )
    .unwrap_err();
    let keys: Vec<&str> = err.problems.iter().map(|p| p.key.as_str()).collect();
    assert_eq!(
        keys,
        ["imap.max_line_length", "imap.idle_timeout", "imap.auth_failure_delay", "store.gc_interval", "tls.key"],
        "{err}"
    );
    assert_eq!((d.store.gc_interval.as_secs(), d.store.gc_grace.as_secs()), (3600, 3600));
    let c = from_str("[store]\ngc_interval = \"10m\"\ngc_grace = \"0s\"\n", "c.toml").unwrap();
    assert_eq!((c.store.gc_interval.as_secs(), c.store.gc_grace.as_secs()), (600, 0));
    assert!(err.to_string().contains("RFC 9051 §5.4"), "{err}");

    let err =
        from_str("[tls]\ncertificate = \"/nonexistent/c.pem\"\nkey = \"/nonexistent/k.pem\"\n", "c.toml").unwrap_err();
    let keys: Vec<&str> = err.problems.iter().map(|p| p.key.as_str()).collect();
    assert_eq!(keys, ["tls.certificate", "tls.key"], "{err}");
    assert!(err.to_string().contains("/nonexistent/c.pem"), "{err}");
}

#[test]
fn filters_and_greylist_settings() {
    let d = Config::default();
    assert!(!d.greylist.enabled, "greylisting is opt-in");
    assert!(d.filters.scanner.is_empty());
    let c = from_str(
        "[greylist]\nenabled = true\ndelay = \"2m\"\nwhitelist_clients = [\"192.0.2.0/24\"]\n\
         [filters]\nspam = \"junk\"\n[[filters.scanner]]\nkind = \"spamd\"\naddress = \"127.0.0.1:783\"\nmax_size = \"1M\"\n",
        "c.toml",
    )
    .unwrap();
    assert!(c.greylist.enabled);
    assert_eq!(c.greylist.delay.as_secs(), 120);
    assert_eq!(c.greylist.whitelist_clients, ["192.0.2.0/24"]);
    assert_eq!(c.filters.spam, "junk");
    assert_eq!(c.filters.scanner[0].kind, "spamd");
    assert_eq!(c.filters.scanner[0].max_size, 1 << 20);
    assert_eq!(c.filters.scanner[0].on_failure, "tempfail");
    let shown = toml::to_string(&c).unwrap();
    assert_eq!(from_str(&shown, "shown.toml").unwrap(), c);
    let err = from_str(
        "[filters]\nspam = \"bin\"\n[[filters.scanner]]\nkind = \"spamassassin\"\non_failure = \"drop\"\n",
        "c.toml",
    )
    .unwrap_err();
    let keys: Vec<&str> = err.problems.iter().map(|p| p.key.as_str()).collect();
    assert_eq!(
        keys,
        ["filters.spam", "filters.scanner[0].kind", "filters.scanner[0].address", "filters.scanner[0].on_failure"],
        "{err}"
    );
}

#[test]
fn dns_and_mx_authentication_settings() {
    let d = Config::default();
    assert!(d.dns.nameservers.is_empty(), "the system's resolv.conf by default");
    assert_eq!(d.dns.timeout.as_secs(), 5);
    let a = &d.mx.authentication;
    assert!(a.iprev && a.spf && a.dkim && a.dmarc);
    assert_eq!((a.dmarc_reject.as_str(), a.dmarc_quarantine.as_str()), ("reject", "junk"));

    let c = from_str(
        "[dns]\nnameservers = [\"127.0.0.1:5353\", \"192.0.2.53\", \"[::1]:53\"]\ntimeout = \"2s\"\n\
         [mx.authentication]\ndmarc_reject = \"record\"\ndmarc_quarantine = \"record\"\niprev = false\n",
        "c.toml",
    )
    .unwrap();
    let addrs: Vec<String> = c.dns.nameserver_addrs().unwrap().iter().map(ToString::to_string).collect();
    assert_eq!(addrs, ["127.0.0.1:5353", "192.0.2.53:53", "[::1]:53"]);
    assert_eq!(c.dns.timeout.as_secs(), 2);
    assert!(!c.mx.authentication.iprev);
    assert_eq!(c.mx.authentication.dmarc_reject, "record");
    let shown = toml::to_string(&c).unwrap();
    assert_eq!(from_str(&shown, "shown.toml").unwrap(), c);

    let err = from_str(
        "[dns]\nnameservers = [\"ns1.example.org\"]\ntimeout = \"0s\"\n\
         [mx.authentication]\nspf = false\ndmarc_reject = \"bounce\"\ndmarc_quarantine = \"spam\"\n",
        "c.toml",
    )
    .unwrap_err();
    let keys: Vec<&str> = err.problems.iter().map(|p| p.key.as_str()).collect();
    assert_eq!(
        keys,
        [
            "mx.authentication.dmarc",
            "mx.authentication.dmarc_reject",
            "mx.authentication.dmarc_quarantine",
            "dns.nameservers",
            "dns.timeout"
        ],
        "{err}"
    );
    assert!(err.to_string().contains("\"ns1.example.org\" is not an address"), "{err}");
    let err = from_str("[mx.authentication]\nspf_check = true\n", "c.toml").unwrap_err();
    assert!(err.to_string().contains("mx.authentication.spf_check: unknown key"), "{err}");
}
