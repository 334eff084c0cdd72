//! The other extensions: SASL-IR, ID, QUOTA, BINARY, SAVEDATE, WITHIN,
//! UTF-8 and modified UTF-7 mailbox names, literals of every kind.

use atoll_message::Partial;

use super::*;

#[test]
fn sasl_ir() {
    // RFC 4959 §3.
    assert_eq!(
        p("A01 AUTHENTICATE PLAIN dGVzdAB0ZXN0AHRlc3Q="),
        CommandKind::Authenticate { mechanism: "PLAIN".into(), initial: Some("dGVzdAB0ZXN0AHRlc3Q=".into()) }
    );
    // "=" is an empty initial response.
    assert_eq!(
        p("A02 AUTHENTICATE plain ="),
        CommandKind::Authenticate { mechanism: "PLAIN".into(), initial: Some(String::new()) }
    );
    assert_eq!(
        p("A03 AUTHENTICATE XOAUTH2 dXNlcj1hAWF1dGg9QmVhcmVyIHQBAQ=="),
        CommandKind::Authenticate {
            mechanism: "XOAUTH2".into(),
            initial: Some("dXNlcj1hAWF1dGg9QmVhcmVyIHQBAQ==".into())
        }
    );
    for line in [
        &b"A1 AUTHENTICATE PLAIN abc"[..],
        b"A1 AUTHENTICATE PLAIN ab=c",
        b"A1 AUTHENTICATE PLAIN a===",
        b"A1 AUTHENTICATE PLAIN !",
        b"A1 AUTHENTICATE",
        b"A1 AUTHENTICATE PLAIN ",
    ] {
        bad(line);
    }
}

#[test]
fn id() {
    // RFC 2971 §3.1's examples.
    assert_eq!(
        p("a023 ID (\"name\" \"sodr\" \"version\" \"19.34\" \"vendor\" \"Pink Floyd Music Limited\")"),
        CommandKind::Id(Some(vec![
            ("name".into(), Some("sodr".into())),
            ("version".into(), Some("19.34".into())),
            ("vendor".into(), Some("Pink Floyd Music Limited".into())),
        ]))
    );
    assert_eq!(p("a042 ID NIL"), CommandKind::Id(None));
    assert_eq!(p("a1 ID (\"os\" NIL)"), CommandKind::Id(Some(vec![("os".into(), None)])));
    assert_eq!(p("a1 ID ()"), CommandKind::Id(Some(vec![])));
    let many = format!("a1 ID ({})", (0..31).map(|i| format!("\"k{i}\" NIL")).collect::<Vec<_>>().join(" "));
    bad(many.as_bytes());
    bad(format!("a1 ID (\"{}\" NIL)", "k".repeat(31)).as_bytes());
    bad(b"a1 ID (name value)");
    bad(b"a1 ID (\"name\")");
    bad(b"a1 ID");
}

#[test]
fn quota() {
    // RFC 9208 §4.2-3.
    assert_eq!(p("G0001 GETQUOTA \"!partition/sda4\""), CommandKind::GetQuota("!partition/sda4".into()));
    assert_eq!(p("G0002 GETQUOTAROOT INBOX"), CommandKind::GetQuotaRoot("INBOX".into()));
    assert_eq!(p("G0003 GETQUOTA \"\""), CommandKind::GetQuota(String::new()));
    bad(b"G0004 GETQUOTAROOT");
}

#[test]
fn binary() {
    // RFC 3516 §4.2 and §4.4.
    let (_, _, items, _, _) = fetch_of(p("t FETCH 1 (BINARY[1.2]<0.10> BINARY.PEEK[] BINARY.SIZE[3] BINARY[4])"));
    assert_eq!(
        items,
        [
            FetchItem::Binary { path: vec![1, 2], partial: Some(Partial { origin: 0, count: 10 }), peek: false },
            FetchItem::Binary { path: vec![], partial: None, peek: true },
            FetchItem::BinarySize { path: vec![3] },
            FetchItem::Binary { path: vec![4], partial: None, peek: false },
        ]
    );
    let CommandKind::Append(a) = p_bytes(b"A003 APPEND Drafts (\\Seen $MDNSent) ~{7}\r\nab\0\r\n\xffz") else {
        panic!("APPEND")
    };
    assert_eq!((a.binary, a.message.as_slice(), a.flags.len()), (true, &b"ab\0\r\n\xffz"[..], 2));
    let CommandKind::Append(a) = p_bytes(b"A004 APPEND Drafts ~{3+}\r\nabc") else { panic!("APPEND") };
    assert!(a.binary);
    for line in [
        &b"t FETCH 1 BINARY.SIZE[1]<0.5>"[..],
        b"t FETCH 1 BINARY[HEADER]",
        b"t FETCH 1 BINARY[1.MIME]",
        b"t FETCH 1 BINARY",
        b"t FETCH 1 BINARY.PEEK",
        b"t FETCH 1 BINARY[0]",
        // literal8 is for APPEND only (RFC 3516 §4.4).
        b"t LOGIN ~{3}\r\nann pw",
    ] {
        bad(line);
    }
}

#[test]
fn savedate_and_within() {
    // RFC 8514 §3-4.
    let (_, _, items, _, _) = fetch_of(p("a FETCH 1:* (UID SAVEDATE)"));
    assert_eq!(items, [FetchItem::Uid, FetchItem::SaveDate]);
    let (_, s) =
        search_of(p("a SEARCH SAVEDBEFORE 1-Jan-2020 SAVEDON 2-Jan-2020 SAVEDSINCE 3-Jan-2020 SAVEDATESUPPORTED"));
    assert_eq!(
        s.keys,
        vec![
            SearchKey::SavedBefore(day(2020, 1, 1)),
            SearchKey::SavedOn(day(2020, 1, 2)),
            SearchKey::SavedSince(day(2020, 1, 3)),
            SearchKey::SaveDateSupported
        ]
    );
    // RFC 5032 §3.
    let (_, s) = search_of(p("a UID SEARCH YOUNGER 3600 OLDER 60"));
    assert_eq!(s.keys, vec![SearchKey::Younger(3600), SearchKey::Older(60)]);
    bad(b"a SEARCH YOUNGER 0");
    bad(b"a SEARCH OLDER -1");
}

#[test]
fn mailbox_names_and_inbox() {
    // INBOX in any case is INBOX (RFC 9051 §5.1); other names keep their case.
    for line in ["a SELECT inbox", "a SELECT InBoX", "a SELECT \"INBOX\"", "a SELECT {5}\r\niNbOx"] {
        assert!(matches!(p(line), CommandKind::Select { mailbox, .. } if mailbox == "INBOX"), "{line}");
    }
    assert_eq!(p("a DELETE Inbox.Sub"), CommandKind::Delete("Inbox.Sub".into()));
    // Modified UTF-7 for IMAP4rev1 clients (RFC 3501 §5.1.3).
    assert_eq!(p("a CREATE \"Entw&APw-rfe\""), CommandKind::Create { mailbox: "Entwürfe".into(), special_use: vec![] });
    assert_eq!(p("a DELETE ~peter/mail/&U,BTFw-/&ZeVnLIqe-"), CommandKind::Delete("~peter/mail/台北/日本語".into()));
    assert_eq!(p("a DELETE A&-B"), CommandKind::Delete("A&B".into()));
    assert!(bad(b"a DELETE A&B").reason().contains("modified UTF-7"));
    // A well-formed astring that is not modified UTF-7 names no mailbox:
    // NO, not BAD (RFC 3501 §5.1.3; Dovecot and imaptest `atoms` agree).
    assert_eq!(bad(b"a SELECT !#$&'+,-.0123456789:;<=>?@^_`|[}").status(), Status::No);
    assert!(bad(b"a DELETE &AGE-").reason().contains("modified UTF-7"), "non-canonical");
    // A rev1 client that sends raw UTF-8 anyway is understood.
    assert_eq!(p("a DELETE \"Entwürfe\""), CommandKind::Delete("Entwürfe".into()));
    // UTF8=ACCEPT / IMAP4rev2: names are UTF-8 as sent, '&' is just '&'.
    assert_eq!(p_utf8("a DELETE A&B"), CommandKind::Delete("A&B".into()));
    assert_eq!(p_utf8("a DELETE Entw&APw-rfe"), CommandKind::Delete("Entw&APw-rfe".into()));
    assert_eq!(
        p_utf8("a RENAME \"Entwürfe\" {9}\r\nÉbauches"),
        CommandKind::Rename { from: "Entwürfe".into(), to: "Ébauches".into() }
    );
    assert!(matches!(p_utf8("a SELECT inbox"), CommandKind::Select { mailbox, .. } if mailbox == "INBOX"));
    // LIST patterns: decoded when they can be, taken as sent otherwise.
    assert_eq!(list_of(p("a LIST \"\" Entw&APw-*")).patterns, ["Entwü*"]);
    assert_eq!(list_of(p("a LIST \"\" a&b*")).patterns, ["a&b*"]);
    assert_eq!(list_of(p_utf8("a LIST \"\" Entw&APw-*")).patterns, ["Entw&APw-*"]);
    // Names that are not UTF-8 at all are refused.
    bad(b"a DELETE \"\xff\xfe\"");
}

#[test]
fn strings_and_literals() {
    let login = |line: &[u8]| match p_bytes(line) {
        CommandKind::Login { user, password } => (user, password),
        other => panic!("{other:?}"),
    };
    assert_eq!(login(b"a LOGIN \"ann\" \"p a\\\\s\\\"s\""), ("ann".into(), "p a\\s\"s".into()));
    assert_eq!(login(b"a LOGIN {3}\r\nann {4+}\r\np\r\ns"), ("ann".into(), "p\r\ns".into()));
    assert_eq!(login(b"a LOGIN ann \"\""), ("ann".into(), "".into()));
    assert_eq!(login(b"a LOGIN {0}\r\n pw]"), ("".into(), "pw]".into()));
    assert_eq!(login("a LOGIN \"jörg\" \"pässword\"".as_bytes()), ("jörg".into(), "pässword".into()));
    // 8-bit is not an atom character.
    bad("a LOGIN jörg pw".as_bytes());
    // Tags: any astring characters but '+'.
    let c = parse_command(b"a.b-c]1 NOOP").expect("valid tag");
    assert_eq!(c.tag, "a.b-c]1");
    assert_eq!(tag_of(b"x1 whatever"), Some("x1".into()));
    assert_eq!(tag_of(b"x+1 NOOP"), None);
    assert_eq!(tag_of(b""), None);
}

#[test]
fn error_responses() {
    let e = bad(b"a1 LOGIN \"unterminated");
    assert_eq!(String::from_utf8_lossy(&e.to_response()), format!("a1 BAD {}\r\n", e.reason()));
    let e = bad(b"* NOOP");
    assert!(String::from_utf8_lossy(&e.to_response()).starts_with("* BAD "));
    assert_eq!(e.code(), None);
}
