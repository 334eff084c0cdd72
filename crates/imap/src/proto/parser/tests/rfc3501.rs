//! RFC 3501 (IMAP4rev1): its §6 examples where they differ from RFC 9051,
//! the commands and keys RFC 9051 dropped, and every search key of §6.4.4.

use atoll_message::{Partial, Section, SectionText};

use super::*;

#[test]
fn rev1_commands() {
    assert_eq!(p("FXXZ CHECK"), CommandKind::Check);
    assert_eq!(
        p("A002 LSUB \"#news.\" \"comp.mail.*\""),
        CommandKind::Lsub { reference: "#news.".into(), pattern: "comp.mail.*".into() }
    );
    assert_eq!(
        p("A003 LSUB \"#news.\" comp.%"),
        CommandKind::Lsub { reference: "#news.".into(), pattern: "comp.%".into() }
    );
    assert_eq!(
        p("A042 STATUS blurdybloop (UIDNEXT MESSAGES RECENT UNSEEN UIDVALIDITY)"),
        CommandKind::Status {
            mailbox: "blurdybloop".into(),
            items: vec![
                StatusItem::UidNext,
                StatusItem::Messages,
                StatusItem::Recent,
                StatusItem::Unseen,
                StatusItem::UidValidity
            ]
        }
    );
    // §6.3.11's APPEND, with the message of 310 octets.
    let message = "Date: Mon, 7 Feb 1994 21:52:25 -0800 (PST)\r\n\
        From: Fred Foobar <foobar@Blurdybloop.COM>\r\n\
        Subject: afternoon meeting\r\n\
        To: mooch@owatagu.siam.edu\r\n\
        Message-Id: <B27397-0100000@Blurdybloop.COM>\r\n\
        MIME-Version: 1.0\r\n\
        Content-Type: TEXT/PLAIN; CHARSET=US-ASCII\r\n\
        \r\n\
        Hello Joe, do you think we can meet at 3:30 tomorrow?\r\n";
    assert_eq!(message.len(), 310);
    let CommandKind::Append(a) = p(&format!("A003 APPEND saved-messages (\\Seen) {{310}}\r\n{message}")) else {
        panic!("APPEND")
    };
    assert_eq!((a.mailbox.as_str(), a.message.len()), ("saved-messages", 310));
}

#[test]
fn rev1_search_examples() {
    let (_, s) = search_of(p("A282 SEARCH FLAGGED SINCE 1-Feb-1994 NOT FROM \"Smith\""));
    assert_eq!((s.returns, s.charset), (None, None));
    assert_eq!(s.keys, vec![flag("\\Flagged", true), SearchKey::Since(day(1994, 2, 1)), from_smith()]);
    let (_, s) = search_of(p("A283 SEARCH TEXT \"string not in mailbox\""));
    assert_eq!(s.keys, vec![SearchKey::Text("string not in mailbox".into())]);
    let (_, s) = search_of(p("A284 SEARCH CHARSET UTF-8 TEXT {6}\r\nXXXXXX"));
    assert_eq!(s.keys, vec![SearchKey::Text("XXXXXX".into())]);
}

#[test]
fn every_rev1_search_key() {
    let line = "a SEARCH ALL ANSWERED BCC b BEFORE 1-Jan-2000 BODY \"x y\" CC c DELETED DRAFT FLAGGED FROM f \
                HEADER X-Spam yes KEYWORD $Work LARGER 100 NEW NOT SEEN OLD ON 2-Jan-2000 OR SEEN UNSEEN RECENT \
                SEEN SENTBEFORE 3-Jan-2000 SENTON 4-Jan-2000 SENTSINCE 5-Jan-2000 SINCE 6-Jan-2000 SMALLER 200 \
                SUBJECT s TEXT t TO t2 UID 1:5 UNANSWERED UNDELETED UNDRAFT UNFLAGGED UNKEYWORD $Junk UNSEEN \
                1,3:* (SEEN FLAGGED)";
    let (_, s) = search_of(p(line));
    let header = |n: &str, v: &str| SearchKey::Header { name: n.into(), value: v.into() };
    assert_eq!(
        s.keys,
        vec![
            SearchKey::All,
            flag("\\Answered", true),
            header("BCC", "b"),
            SearchKey::Before(day(2000, 1, 1)),
            SearchKey::Body("x y".into()),
            header("CC", "c"),
            flag("\\Deleted", true),
            flag("\\Draft", true),
            flag("\\Flagged", true),
            header("FROM", "f"),
            header("X-Spam", "yes"),
            flag("$Work", true),
            SearchKey::Larger(100),
            SearchKey::And(vec![SearchKey::Recent(true), flag("\\Seen", false)]),
            SearchKey::Not(Box::new(flag("\\Seen", true))),
            SearchKey::Recent(false),
            SearchKey::On(day(2000, 1, 2)),
            SearchKey::Or(Box::new(flag("\\Seen", true)), Box::new(flag("\\Seen", false))),
            SearchKey::Recent(true),
            flag("\\Seen", true),
            SearchKey::SentBefore(day(2000, 1, 3)),
            SearchKey::SentOn(day(2000, 1, 4)),
            SearchKey::SentSince(day(2000, 1, 5)),
            SearchKey::Since(day(2000, 1, 6)),
            SearchKey::Smaller(200),
            header("SUBJECT", "s"),
            SearchKey::Text("t".into()),
            header("TO", "t2"),
            SearchKey::Uid(set("1:5")),
            flag("\\Answered", false),
            flag("\\Deleted", false),
            flag("\\Draft", false),
            flag("\\Flagged", false),
            flag("$Junk", false),
            flag("\\Seen", false),
            SearchKey::Seq(set("1,3:*")),
            SearchKey::And(vec![flag("\\Seen", true), flag("\\Flagged", true)]),
        ]
    );
    // Keys and dates in any case; a quoted date.
    let (_, s) = search_of(p("a search since \"1-feb-1994\" not from Smith"));
    assert_eq!(s.keys, vec![SearchKey::Since(day(1994, 2, 1)), from_smith()]);
}

#[test]
fn rev1_fetch_items() {
    let (_, _, items, _, _) =
        fetch_of(p("a FETCH 1 (RFC822 RFC822.HEADER RFC822.SIZE RFC822.TEXT ENVELOPE BODY BODYSTRUCTURE UID)"));
    assert_eq!(
        items,
        [
            FetchItem::Rfc822,
            FetchItem::Rfc822Header,
            FetchItem::Rfc822Size,
            FetchItem::Rfc822Text,
            FetchItem::Envelope,
            FetchItem::Body,
            FetchItem::BodyStructure,
            FetchItem::Uid
        ]
    );
    let (_, _, items, _, _) = fetch_of(p("a FETCH 1:* ALL"));
    assert_eq!(items, [FetchItem::Flags, FetchItem::InternalDate, FetchItem::Rfc822Size, FetchItem::Envelope]);
    let (_, _, items, _, _) = fetch_of(p("a FETCH 1 FAST"));
    assert_eq!(items, [FetchItem::Flags, FetchItem::InternalDate, FetchItem::Rfc822Size]);
    // Every section form of §6.4.5.
    let sec = |path: Vec<u32>, text: Option<SectionText>, partial: Option<Partial>, peek: bool| {
        FetchItem::BodySection { section: Section { path, text }, partial, peek }
    };
    let (_, _, items, _, _) = fetch_of(p(
        "a FETCH 1 (BODY[] BODY.PEEK[]<0.2048> BODY[1] BODY[1.2.3] BODY[3.HEADER] BODY[3.TEXT] BODY[3.1.MIME] \
         BODY[HEADER.FIELDS.NOT (Received \"X-Spam\")] BODY[4.2.HEADER.FIELDS (SUBJECT)] BODY[TEXT]<10.20>)",
    ));
    let fields = |not: bool, f: &[&str]| {
        Some(SectionText::HeaderFields { not, fields: f.iter().map(|s| s.to_string()).collect() })
    };
    assert_eq!(
        items,
        [
            sec(vec![], None, None, false),
            sec(vec![], None, Some(Partial { origin: 0, count: 2048 }), true),
            sec(vec![1], None, None, false),
            sec(vec![1, 2, 3], None, None, false),
            sec(vec![3], Some(SectionText::Header), None, false),
            sec(vec![3], Some(SectionText::Text), None, false),
            sec(vec![3, 1], Some(SectionText::Mime), None, false),
            sec(vec![], fields(true, &["Received", "X-Spam"]), None, false),
            sec(vec![4, 2], fields(false, &["SUBJECT"]), None, false),
            sec(vec![], Some(SectionText::Text), Some(Partial { origin: 10, count: 20 }), false),
        ]
    );
}

#[test]
fn store_forms() {
    let st = |line: &str| match p(line) {
        CommandKind::Store { store, .. } => store,
        other => panic!("{other:?}"),
    };
    assert_eq!(st("a STORE 1 FLAGS ()").flags, Vec::<String>::new());
    let s = st("a STORE 1 -FLAGS.SILENT (\\Seen \\Flagged)");
    assert_eq!((s.mode, s.silent, s.flags.len()), (StoreMode::Remove, true, 2));
    let s = st("a UID STORE 1:* FLAGS \\Seen $Work");
    assert_eq!((s.mode, s.silent, s.flags), (StoreMode::Replace, false, vec!["\\Seen".into(), "$Work".into()]));
    let s = st("a STORE 1 +flags.silent \\Answered");
    assert_eq!((s.mode, s.silent), (StoreMode::Add, true));
}
