//! Response encoding tests, with the RFCs' own lines where they give one.

use super::*;

fn with(f: impl FnOnce(&mut Vec<u8>)) -> String {
    let mut out = Vec::new();
    f(&mut out);
    String::from_utf8_lossy(&out).into_owned()
}

#[test]
fn status_lines() {
    assert_eq!(with(|o| tagged(o, "a1", Status::Ok, None, "done")), "a1 OK done\r\n");
    let uidnext = ResponseCode::UidNext(4392);
    assert_eq!(
        with(|o| untagged(o, Status::Ok, Some(&uidnext), "Predicted next UID")),
        "* OK [UIDNEXT 4392] Predicted next UID\r\n"
    );
    // RFC 4315 §3's examples.
    let append = ResponseCode::AppendUid { uidvalidity: 38505, uid: 3955 };
    assert_eq!(
        with(|o| tagged(o, "A003", Status::Ok, Some(&append), "APPEND completed")),
        "A003 OK [APPENDUID 38505 3955] APPEND completed\r\n"
    );
    let copy = ResponseCode::CopyUid { uidvalidity: 38505, source: vec![304, 319, 320], dest: vec![3956, 3957, 3958] };
    assert_eq!(
        with(|o| tagged(o, "A004", Status::Ok, Some(&copy), "Done")),
        "A004 OK [COPYUID 38505 304,319:320 3956:3958] Done\r\n"
    );
    assert_eq!(with(|o| untagged(o, Status::Bye, None, "line\r\nbreak")), "* BYE line  break\r\n");
    assert_eq!(with(|o| tagged(o, "a", Status::No, Some(&ResponseCode::TooBig), "")), "a NO [TOOBIG] completed\r\n");
    assert_eq!(with(|o| continuation(o, "Ready for literal data")), "+ Ready for literal data\r\n");
    assert_eq!(with(|o| continuation(o, "")), "+ \r\n");
}

#[test]
fn response_codes() {
    use ResponseCode::*;
    let cases: Vec<(ResponseCode, &str)> = vec![
        (Alert, "ALERT"),
        (AlreadyExists, "ALREADYEXISTS"),
        (AuthenticationFailed, "AUTHENTICATIONFAILED"),
        (AuthorizationFailed, "AUTHORIZATIONFAILED"),
        (BadCharset(vec!["UTF-8".into(), "US-ASCII".into()]), "BADCHARSET (UTF-8 US-ASCII)"),
        (BadCharset(vec![]), "BADCHARSET"),
        (Cannot, "CANNOT"),
        (Capability(vec!["IMAP4rev2".into(), "IDLE".into()]), "CAPABILITY IMAP4rev2 IDLE"),
        (ClientBug, "CLIENTBUG"),
        (Closed, "CLOSED"),
        (ContactAdmin, "CONTACTADMIN"),
        (Corruption, "CORRUPTION"),
        (Expired, "EXPIRED"),
        (ExpungeIssued, "EXPUNGEISSUED"),
        (HasChildren, "HASCHILDREN"),
        (HighestModSeq(715194045007), "HIGHESTMODSEQ 715194045007"),
        (InUse, "INUSE"),
        (Limit, "LIMIT"),
        // RFC 7162 §3.1.3's example: [MODIFIED 7,9].
        (Modified(vec![9, 7]), "MODIFIED 7,9"),
        (NoModSeq, "NOMODSEQ"),
        (NonExistent, "NONEXISTENT"),
        (NoPerm, "NOPERM"),
        (OverQuota, "OVERQUOTA"),
        (Parse, "PARSE"),
        (
            PermanentFlags(vec!["\\Deleted".into(), "\\Seen".into(), "\\*".into()]),
            "PERMANENTFLAGS (\\Deleted \\Seen \\*)",
        ),
        (PrivacyRequired, "PRIVACYREQUIRED"),
        (ReadOnly, "READ-ONLY"),
        (ReadWrite, "READ-WRITE"),
        (ServerBug, "SERVERBUG"),
        (TooBig, "TOOBIG"),
        (TryCreate, "TRYCREATE"),
        (UidNotSticky, "UIDNOTSTICKY"),
        (UidValidity(3857529045), "UIDVALIDITY 3857529045"),
        (Unavailable, "UNAVAILABLE"),
        (UnknownCte, "UNKNOWN-CTE"),
        (Unseen(12), "UNSEEN 12"),
        (UseAttr, "USEATTR"),
        (Other("X-FOO".into(), Some("a]b".into())), "X-FOO a b"),
        (Other("X-BAR".into(), None), "X-BAR"),
    ];
    for (code, text) in cases {
        assert_eq!(code.to_string(), text);
    }
}

#[test]
fn strings() {
    assert_eq!(with(|o| string(o, b"hello world", false)), "\"hello world\"");
    assert_eq!(with(|o| string(o, b"say \"hi\" \\o/", false)), "\"say \\\"hi\\\" \\\\o/\"");
    assert_eq!(with(|o| string(o, b"two\r\nlines", false)), "{10}\r\ntwo\r\nlines");
    assert_eq!(with(|o| string(o, "Grüße".as_bytes(), false)), "{7}\r\nGrüße");
    assert_eq!(with(|o| string(o, "Grüße".as_bytes(), true)), "\"Grüße\"");
    assert_eq!(with(|o| string(o, b"\xff\xfe", true)), "{2}\r\n\u{fffd}\u{fffd}");
    assert_eq!(with(|o| astring(o, b"INBOX.Sent", false)), "INBOX.Sent");
    assert_eq!(with(|o| astring(o, b"a b", false)), "\"a b\"");
    assert_eq!(with(|o| astring(o, b"", false)), "\"\"");
    assert_eq!(with(|o| astring(o, b"nil", false)), "\"nil\"");
    assert_eq!(with(|o| astring(o, b"50%", false)), "\"50%\"");
    assert_eq!(with(|o| nstring(o, None)), "NIL");
    assert_eq!(with(|o| nstring(o, Some(b"x"))), "\"x\"");
    assert_eq!(with(|o| literal(o, b"abc")), "{3}\r\nabc");
    assert_eq!(with(|o| literal8(o, b"a\0c")), "~{3}\r\na\0c");
    assert_eq!(with(|o| literal_header(o, 25 << 20, false)), "{26214400}\r\n");
}

#[test]
fn mailbox_names() {
    assert_eq!(with(|o| mailbox(o, "Entwürfe", false)), "\"Entw&APw-rfe\"");
    assert_eq!(with(|o| mailbox(o, "Entwürfe", true)), "\"Entwürfe\"");
    assert_eq!(with(|o| mailbox(o, "A&B", false)), "\"A&-B\"");
    assert_eq!(with(|o| mailbox(o, "A&B", true)), "\"A&B\"");
    assert_eq!(with(|o| mailbox(o, "NIL", false)), "\"NIL\"");
    assert_eq!(with(|o| mailbox(o, "a\"b", false)), "\"a\\\"b\"");
}

#[test]
fn flags_and_sets() {
    assert_eq!(with(|o| flag_list(o, ["\\Seen", "$Work"])), "(\\Seen $Work)");
    assert_eq!(with(|o| flag_list(o, [])), "()");
    let f = Flags::parse(["\\Seen", "\\Answered", "$Work"]).expect("valid flags");
    let s = with(|o| flags(o, &f));
    assert!(s.starts_with('(') && s.ends_with(')') && s.contains("\\Seen") && s.contains("$Work"), "{s}");
    assert_eq!(compress(&[3, 1, 2, 5]), "1:3,5");
    // RFC 3501 §2.3.2: \Recent is added for the session, never stored.
    assert_eq!(with(|o| flags_recent(o, &f, false)), s);
    let r = with(|o| flags_recent(o, &Flags::parse(["\\Seen"]).expect("valid"), true));
    assert_eq!(r, "(\\Recent \\Seen)");
}

#[test]
fn dates() {
    assert_eq!(date_time(0), "\"01-Jan-1970 00:00:00 +0000\"");
    assert_eq!(date_time(1_800_000_000), "\"15-Jan-2027 08:00:00 +0000\"");
    // RFC 9051 §6.3.12's date, written in its own zone.
    let t = crate::proto::datetime::parse_date_time(b"05-Jan-2022 09:30:00 -0800").expect("valid");
    assert_eq!(date_time_in(t, -480), "\"05-Jan-2022 09:30:00 -0800\"");
    assert_eq!(civil_from_days(0), (1970, 1, 1));
}

#[test]
fn esearch_lines() {
    // RFC 4731 §4's examples.
    let e = Esearch { tag: "A282", min: Some(2), count: Some(3), ..Default::default() };
    assert_eq!(with(|o| esearch(o, &e)), "* ESEARCH (TAG \"A282\") MIN 2 COUNT 3\r\n");
    let e = Esearch { tag: "A283", all: Some(&[2, 10, 11]), ..Default::default() };
    assert_eq!(with(|o| esearch(o, &e)), "* ESEARCH (TAG \"A283\") ALL 2,10:11\r\n");
    let e = Esearch { tag: "A284", min: Some(4), ..Default::default() };
    assert_eq!(with(|o| esearch(o, &e)), "* ESEARCH (TAG \"A284\") MIN 4\r\n");
    let e = Esearch { tag: "A285", uid: true, min: Some(7), max: Some(3800), ..Default::default() };
    assert_eq!(with(|o| esearch(o, &e)), "* ESEARCH (TAG \"A285\") UID MIN 7 MAX 3800\r\n");
    let e = Esearch { tag: "A286", count: Some(15), ..Default::default() };
    assert_eq!(with(|o| esearch(o, &e)), "* ESEARCH (TAG \"A286\") COUNT 15\r\n");
    // No match: ALL is left out (RFC 4731 §3.1).
    let e = Esearch { tag: "A287", uid: true, all: Some(&[]), count: Some(0), ..Default::default() };
    assert_eq!(with(|o| esearch(o, &e)), "* ESEARCH (TAG \"A287\") UID COUNT 0\r\n");
    // RFC 7162 §3.1.5: the highest mod-sequence of the result.
    let e = Esearch { tag: "a", all: Some(&[1, 5]), modseq: Some(917162500), ..Default::default() };
    assert_eq!(with(|o| esearch(o, &e)), "* ESEARCH (TAG \"a\") ALL 1,5 MODSEQ 917162500\r\n");
}
