//! Parser tests: the RFC examples, each command form, and bad input.

use super::*;
use crate::proto::command::*;
use atoll_message::{Partial, Section, SectionText};

fn p(s: &str) -> CommandKind {
    parse_command(s.as_bytes()).unwrap_or_else(|e| panic!("{s:?}: {e}")).kind
}

fn bad(s: &[u8]) -> ParseError {
    match parse_command(s) {
        Ok(c) => panic!("{:?} parsed as {c:?}", String::from_utf8_lossy(s)),
        Err(e) => e,
    }
}

#[test]
fn simple_commands() {
    assert_eq!(p("a1 CAPABILITY"), CommandKind::Capability);
    assert_eq!(p("a1 noop"), CommandKind::Noop);
    assert_eq!(p("A023 LOGOUT"), CommandKind::Logout);
    assert_eq!(p("a001 LOGIN SMITH SESAME"), CommandKind::Login { user: "SMITH".into(), password: "SESAME".into() });
    assert_eq!(
        p("a1 LOGIN {3}\r\nann \"pa\\\"ss\""),
        CommandKind::Login { user: "ann".into(), password: "pa\"ss".into() }
    );
    assert_eq!(
        p("a1 AUTHENTICATE PLAIN AGFubgBwdw=="),
        CommandKind::Authenticate { mechanism: "PLAIN".into(), initial: Some("AGFubgBwdw==".into()) }
    );
    assert_eq!(p("a1 AUTHENTICATE plain"), CommandKind::Authenticate { mechanism: "PLAIN".into(), initial: None });
    assert_eq!(p("a1 ENABLE QRESYNC utf8=accept"), CommandKind::Enable(vec!["QRESYNC".into(), "UTF8=ACCEPT".into()]));
    assert_eq!(
        p("a1 ID (\"name\" \"sodr\" \"version\" NIL)"),
        CommandKind::Id(Some(vec![("name".into(), Some("sodr".into())), ("version".into(), None)]))
    );
    assert_eq!(p("a1 ID NIL"), CommandKind::Id(None));
}

#[test]
fn mailbox_commands() {
    assert_eq!(
        p("A142 SELECT INBOX"),
        CommandKind::Select { mailbox: "INBOX".into(), read_only: false, params: SelectParams::default() }
    );
    assert_eq!(
        p("a1 examine inbox (CONDSTORE)"),
        CommandKind::Select {
            mailbox: "INBOX".into(),
            read_only: true,
            params: SelectParams { condstore: true, qresync: None }
        }
    );
    // RFC 7162 §3.2.5.2's example.
    let k = p("A02 SELECT INBOX (QRESYNC (67890007 20050715194045000 41,43:211,214:541))");
    let CommandKind::Select { params: SelectParams { qresync: Some(q), .. }, .. } = k else { panic!("{k:?}") };
    assert_eq!((q.uidvalidity, q.modseq), (67890007, 20050715194045000));
    assert!(q.known_uids.is_some());
    assert_eq!(
        p("a1 CREATE \"Entw&APw-rfe\" (USE (\\Drafts))"),
        CommandKind::Create { mailbox: "Entwürfe".into(), special_use: vec!["\\Drafts".into()] }
    );
    assert_eq!(
        p("a1 RENAME blurdybloop sarasoop"),
        CommandKind::Rename { from: "blurdybloop".into(), to: "sarasoop".into() }
    );
    assert_eq!(
        p("A042 STATUS blurdybloop (UIDNEXT MESSAGES)"),
        CommandKind::Status { mailbox: "blurdybloop".into(), items: vec![StatusItem::UidNext, StatusItem::Messages] }
    );
    assert_eq!(
        p("a1 LSUB \"#news.\" \"comp.mail.*\""),
        CommandKind::Lsub { reference: "#news.".into(), pattern: "comp.mail.*".into() }
    );
}

#[test]
fn list_forms() {
    let CommandKind::List(l) = p("A101 LIST \"\" \"\"") else { panic!() };
    assert_eq!((l.reference.as_str(), l.patterns.clone()), ("", vec![String::new()]));
    let CommandKind::List(l) = p("A102 LIST ~/Mail/ %") else { panic!() };
    assert_eq!((l.reference.as_str(), l.patterns.clone()), ("~/Mail/", vec!["%".to_string()]));
    // RFC 5258 §5 examples.
    let CommandKind::List(l) = p("A04 LIST (SUBSCRIBED RECURSIVEMATCH) \"\" % RETURN (CHILDREN)") else { panic!() };
    assert_eq!(l.select, ["SUBSCRIBED", "RECURSIVEMATCH"]);
    assert_eq!(l.returns, ["CHILDREN"]);
    let CommandKind::List(l) = p("A05 LIST \"\" (\"foo\" \"bar\") RETURN (STATUS (MESSAGES UNSEEN))") else { panic!() };
    assert_eq!(l.patterns, ["foo", "bar"]);
    assert_eq!(l.return_status, Some(vec![StatusItem::Messages, StatusItem::Unseen]));
    bad(b"A06 LIST (RECURSIVEMATCH) \"\" %");
}

#[test]
fn append() {
    let k = p("A003 APPEND saved-messages (\\Seen) \"05-Jan-2022 09:30:00 -0800\" {5}\r\nhello");
    let CommandKind::Append(a) = k else { panic!() };
    assert_eq!(a.flags, ["\\Seen"]);
    assert_eq!(a.date, Some(days_from_civil(2022, 1, 5) * 86400 + 9 * 3600 + 1800 + 8 * 3600));
    assert_eq!(a.message, b"hello");
    let CommandKind::Append(a) = p("a1 APPEND INBOX ~{3+}\r\na\0b") else { panic!() };
    assert_eq!(a.message, b"a\0b");
    bad(b"a1 APPEND INBOX \"not a literal\"");
    bad(b"a1 APPEND INBOX {10}\r\nshort");
}

#[test]
fn fetch_items() {
    let k = p("A654 FETCH 2:4 (FLAGS BODY[HEADER.FIELDS (DATE FROM)])");
    let CommandKind::Fetch { uid: false, items, .. } = k else { panic!() };
    assert_eq!(items[0], FetchItem::Flags);
    assert_eq!(
        items[1],
        FetchItem::BodySection {
            section: Section {
                path: vec![],
                text: Some(SectionText::HeaderFields { not: false, fields: vec!["DATE".into(), "FROM".into()] })
            },
            partial: None,
            peek: false
        }
    );
    let CommandKind::Fetch { items, .. } = p("a1 FETCH 1 ALL") else { panic!() };
    assert_eq!(items.len(), 4);
    let CommandKind::Fetch { items, .. } =
        p("a1 UID FETCH 1:* (BODY.PEEK[4.2.MIME]<0.100> BINARY[1]<5.5> BINARY.SIZE[2] BODYSTRUCTURE BODY MODSEQ)")
    else {
        panic!()
    };
    assert_eq!(
        items[0],
        FetchItem::BodySection {
            section: Section { path: vec![4, 2], text: Some(SectionText::Mime) },
            partial: Some(Partial { origin: 0, count: 100 }),
            peek: true
        }
    );
    assert_eq!(
        items[1],
        FetchItem::Binary { path: vec![1], partial: Some(Partial { origin: 5, count: 5 }), peek: false }
    );
    assert_eq!(items[2], FetchItem::BinarySize { path: vec![2] });
    assert_eq!(&items[3..], [FetchItem::BodyStructure, FetchItem::Body, FetchItem::ModSeq]);
    // RFC 7162 §3.2.6.
    let k = p("s100 UID FETCH 1:* (FLAGS) (CHANGEDSINCE 12345 VANISHED)");
    assert!(matches!(k, CommandKind::Fetch { uid: true, changed_since: Some(12345), vanished: true, .. }), "{k:?}");
    bad(b"a1 FETCH 1:* (FLAGS) (VANISHED)");
    bad(b"a1 FETCH 1 BODY[MIME]");
    bad(b"a1 FETCH 1 BODY[1.]");
    bad(b"a1 FETCH 1 BODY[]<0.0>");
    bad(b"a1 FETCH 1 (FLAGS");
    bad(b"a1 FETCH 0 FLAGS");
    bad(b"a1 FETCH 1 FROB");
}

#[test]
fn store_copy_move_expunge() {
    let k = p("A003 STORE 2:4 +FLAGS (\\Deleted)");
    assert_eq!(
        k,
        CommandKind::Store {
            uid: false,
            set: SequenceSet::parse("2:4").expect("set"),
            store: Store {
                mode: StoreMode::Add,
                silent: false,
                flags: vec!["\\Deleted".into()],
                unchanged_since: None
            }
        }
    );
    let k = p("a1 UID STORE 1 FLAGS.SILENT \\Seen $Work");
    let CommandKind::Store { uid: true, store, .. } = k else { panic!() };
    assert_eq!((store.mode, store.silent, store.flags.len()), (StoreMode::Replace, true, 2));
    let k = p("d105 STORE 7,5,9 (UNCHANGEDSINCE 320162338) +FLAGS.SILENT (\\Deleted)");
    let CommandKind::Store { store, .. } = k else { panic!() };
    assert_eq!(store.unchanged_since, Some(320162338));
    assert!(matches!(p("A003 COPY 2:4 MEETING"), CommandKind::Copy { uid: false, .. }));
    assert!(matches!(p("a1 UID MOVE 42:69 foo"), CommandKind::Move { uid: true, .. }));
    assert!(matches!(p("a1 UID EXPUNGE 3000:3002"), CommandKind::UidExpunge(_)));
}

#[test]
fn search_keys() {
    let k = p("A282 SEARCH FLAGGED SINCE 1-Feb-1994 NOT FROM \"Smith\"");
    let CommandKind::Search { uid: false, search } = k else { panic!() };
    assert_eq!(search.keys.len(), 3);
    assert_eq!(search.keys[1], SearchKey::Since(days_from_civil(1994, 2, 1) * 86400));
    let k = p("A283 SEARCH TEXT \"string not in mailbox\"");
    assert!(matches!(k, CommandKind::Search { .. }));
    let k = p("A284 SEARCH CHARSET UTF-8 TEXT {12}\r\nXXXXXXXXXXXX");
    let CommandKind::Search { search, .. } = k else { panic!() };
    assert_eq!(search.charset.as_deref(), Some("UTF-8"));
    let k = p("a1 UID SEARCH RETURN (MIN COUNT) OR (SEEN 1:5) HEADER X-Spam yes UID 3:*");
    let CommandKind::Search { uid: true, search } = k else { panic!() };
    assert_eq!(search.returns, Some(vec![SearchReturn::Min, SearchReturn::Count]));
    assert_eq!(search.keys.len(), 2);
    let k = p("a1 SEARCH MODSEQ \"/flags/\\\\draft\" all 620162338 LARGER 10 $");
    let CommandKind::Search { search, .. } = k else { panic!() };
    assert_eq!(search.keys[0], SearchKey::ModSeq(620162338));
    assert_eq!(search.keys[2], SearchKey::Seq(SequenceSet::Saved));
    let e = bad(b"a1 SEARCH CHARSET KOI8-R TEXT x");
    assert!(e.reason.contains("BADCHARSET"), "{e}");
    let deep = format!("a1 SEARCH {}ALL{}", "(".repeat(100), ")".repeat(100));
    assert!(bad(deep.as_bytes()).reason.contains("deep"));
    let deep = format!("a1 SEARCH {}ALL", "NOT ".repeat(100));
    assert!(bad(deep.as_bytes()).reason.contains("deep"));
    bad(b"a1 SEARCH");
    bad(b"a1 SEARCH SINCE 31-Foo-2020");
    bad(b"a1 SEARCH OR SEEN");
}

#[test]
fn bad_input_keeps_the_tag() {
    let e = bad(b"a7 FROBNICATE");
    assert_eq!(e.tag.as_deref(), Some("a7"));
    assert!(e.reason.contains("FROBNICATE"));
    assert_eq!(bad(b"").tag, None);
    assert_eq!(bad(b"* NOOP").tag, None);
    assert_eq!(bad(b"a1 LOGIN \"unterminated").tag.as_deref(), Some("a1"));
    bad(b"a1 NOOP extra");
    bad(b"a1 SELECT");
    bad(b"a1 FETCH 99999999999 FLAGS");
}

/// Mutations of valid commands never panic (a stable-Rust stand-in for the
/// cargo-fuzz target in fuzz/).
#[test]
fn mutated_commands_never_panic() {
    let seeds: &[&[u8]] = &[
        b"a1 UID FETCH 1:* (BODY.PEEK[HEADER.FIELDS (FROM)]<0.10> FLAGS) (CHANGEDSINCE 5)",
        b"a2 SEARCH OR (SEEN SINCE 1-Feb-1994) NOT HEADER X y",
        b"a3 APPEND INBOX (\\Seen) \"05-Jan-2022 09:30:00 -0800\" {5}\r\nhello",
        b"a4 LIST (SUBSCRIBED) \"\" (\"a\" %) RETURN (STATUS (MESSAGES))",
        b"a5 SELECT INBOX (QRESYNC (1 2 1:5 (1 2)))",
        b"a6 STORE 1 (UNCHANGEDSINCE 3) +FLAGS.SILENT (\\Deleted)",
    ];
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    for i in 0..20_000 {
        let mut m = seeds[i % seeds.len()].to_vec();
        for _ in 0..(next() % 6 + 1) {
            let pos = (next() as usize) % (m.len() + 1);
            match next() % 4 {
                0 if pos < m.len() => m[pos] = next() as u8,
                1 if pos < m.len() => {
                    m.remove(pos);
                }
                2 => m.insert(pos, b"(){}[]<>\"\\* 0:$~+.\r\n"[(next() % 20) as usize]),
                _ => m.truncate(pos),
            }
        }
        let _ = parse_command(&m);
    }
}
