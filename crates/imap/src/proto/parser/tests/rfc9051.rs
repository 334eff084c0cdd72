//! The client lines of RFC 9051's examples, §6 (commands) and §8 (the
//! sample session), typed in.

use atoll_message::{Section, SectionText};

use super::*;

#[test]
fn s6_1_any_state() {
    assert_eq!(p("abcd CAPABILITY"), CommandKind::Capability);
    assert_eq!(p("a002 NOOP"), CommandKind::Noop);
    assert_eq!(p("a047 NOOP"), CommandKind::Noop);
    assert_eq!(p("A023 LOGOUT"), CommandKind::Logout);
}

#[test]
fn s6_2_not_authenticated() {
    // §6.2.1
    assert_eq!(p("a001 CAPABILITY"), CommandKind::Capability);
    assert_eq!(p("a002 STARTTLS"), CommandKind::StartTls);
    assert_eq!(p("a004 LOGIN joe password"), CommandKind::Login { user: "joe".into(), password: "password".into() });
    // §6.2.2: the mechanism, then base64 lines (and an empty one) as
    // answers to the server's challenges.
    assert_eq!(p("A001 AUTHENTICATE GSSAPI"), CommandKind::Authenticate { mechanism: "GSSAPI".into(), initial: None });
    let line = b"YDMGCSqGSIb3EgECAgIBAAD/////6jcyG4GE3KkTzBeBiVHeceP2CWY0SR0fAQAgAAQEBAQ=";
    assert!(matches!(parse_sasl_response(line), Ok(SaslResponse::Data(d)) if d.len() == 53));
    assert_eq!(parse_sasl_response(b""), Ok(SaslResponse::Data(Vec::new())));
    assert_eq!(parse_sasl_response(b"*"), Ok(SaslResponse::Cancel));
    assert!(parse_sasl_response(b"not base64!").is_err());
    // §6.2.3
    assert_eq!(p("a001 LOGIN SMITH SESAME"), CommandKind::Login { user: "SMITH".into(), password: "SESAME".into() });
}

#[test]
fn s6_3_1_to_8_mailboxes() {
    assert_eq!(p("A1 ENABLE IMAP4rev2"), CommandKind::Enable(vec!["IMAP4REV2".into()]));
    assert_eq!(
        p("A142 SELECT INBOX"),
        CommandKind::Select { mailbox: "INBOX".into(), read_only: false, params: SelectParams::default() }
    );
    assert_eq!(
        p("A932 EXAMINE blurdybloop"),
        CommandKind::Select { mailbox: "blurdybloop".into(), read_only: true, params: SelectParams::default() }
    );
    assert_eq!(
        p("A003 CREATE owatagusiam/"),
        CommandKind::Create { mailbox: "owatagusiam/".into(), special_use: vec![] }
    );
    assert_eq!(
        p("A004 CREATE owatagusiam/blurdybloop"),
        CommandKind::Create { mailbox: "owatagusiam/blurdybloop".into(), special_use: vec![] }
    );
    for (line, name) in [
        ("A683 DELETE blurdybloop", "blurdybloop"),
        ("A684 DELETE foo", "foo"),
        ("A685 DELETE foo/bar", "foo/bar"),
        ("A687 DELETE foo", "foo"),
        ("A83 DELETE blurdybloop", "blurdybloop"),
    ] {
        assert_eq!(p(line), CommandKind::Delete(name.into()), "{line}");
    }
    assert_eq!(
        p("A683 RENAME blurdybloop sarasoop"),
        CommandKind::Rename { from: "blurdybloop".into(), to: "sarasoop".into() }
    );
    assert_eq!(p("A684 RENAME foo zowie"), CommandKind::Rename { from: "foo".into(), to: "zowie".into() });
    assert_eq!(p("Z433 RENAME INBOX old-mail"), CommandKind::Rename { from: "INBOX".into(), to: "old-mail".into() });
    assert_eq!(p("A002 SUBSCRIBE #news.comp.mail.mime"), CommandKind::Subscribe("#news.comp.mail.mime".into()));
    assert_eq!(p("A002 UNSUBSCRIBE #news.comp.mail.mime"), CommandKind::Unsubscribe("#news.comp.mail.mime".into()));
}

#[test]
fn s6_3_9_list() {
    for (line, reference, pattern) in [
        ("A682 LIST \"\" *", "", "*"),
        ("A101 LIST \"\" \"\"", "", ""),
        ("A102 LIST #news.comp.mail.misc \"\"", "#news.comp.mail.misc", ""),
        ("A103 LIST /usr/staff/jones \"\"", "/usr/staff/jones", ""),
        ("A202 LIST ~/Mail/ %", "~/Mail/", "%"),
    ] {
        let l = list_of(p(line));
        assert_eq!((l.reference.as_str(), l.patterns.as_slice()), (reference, &[pattern.to_string()][..]), "{line}");
        assert!(!l.is_extended());
    }
    // The extended forms of §6.3.9 are in rfc5258.rs.
}

#[test]
fn s6_3_10_to_13() {
    assert_eq!(p("A001 NAMESPACE"), CommandKind::Namespace);
    assert_eq!(
        p("A042 STATUS blurdybloop (UIDNEXT MESSAGES)"),
        CommandKind::Status { mailbox: "blurdybloop".into(), items: vec![StatusItem::UidNext, StatusItem::Messages] }
    );
    let message = "Date: Mon, 7 Feb 1994 21:52:25 -0800 (PST)\r\n\
        From: Fred Foobar <foobar@Blurdybloop.example>\r\n\
        Subject: afternoon meeting\r\n\
        To: mooch@owatagu.siam.edu.example\r\n\
        Message-Id: <B27397-0100000@Blurdybloop.example>\r\n\
        MIME-Version: 1.0\r\n\
        Content-Type: TEXT/PLAIN; CHARSET=US-ASCII\r\n\
        \r\n\
        Hello Joe, do you think we can meet at 3:30 tomorrow?\r\n";
    let line = format!("A003 APPEND saved-messages (\\Seen) {{{}}}\r\n{message}", message.len());
    let CommandKind::Append(a) = p(&line) else { panic!("APPEND") };
    assert_eq!(
        a,
        Append {
            mailbox: "saved-messages".into(),
            flags: vec!["\\Seen".into()],
            date: None,
            message: message.as_bytes().to_vec(),
            binary: false
        }
    );
    // §6.3.13: IDLE, then a DONE line (no tag).
    assert_eq!(p("A002 IDLE"), CommandKind::Idle);
    assert!(is_idle_done(b"DONE") && is_idle_done(b"done"));
    assert!(!is_idle_done(b"DONE ") && !is_idle_done(b"A003 DONE"));
}

#[test]
fn s6_4_1_to_3() {
    assert_eq!(p("A341 CLOSE"), CommandKind::Close);
    assert_eq!(p("A342 UNSELECT"), CommandKind::Unselect);
    assert_eq!(p("A202 EXPUNGE"), CommandKind::Expunge);
}

#[test]
fn s6_4_4_search() {
    let (uid, s) = search_of(p("A282 SEARCH RETURN (MIN COUNT) FLAGGED SINCE 1-Feb-1994 NOT FROM \"Smith\""));
    assert!(!uid);
    assert_eq!(s.returns, Some(vec![SearchReturn::Min, SearchReturn::Count]));
    assert_eq!(s.keys, vec![flag("\\Flagged", true), SearchKey::Since(day(1994, 2, 1)), from_smith()]);
    let (_, s) = search_of(p("A283 SEARCH RETURN () FLAGGED SINCE 1-Feb-1994 NOT FROM \"Smith\""));
    assert_eq!(s.returns, Some(vec![]));
    assert_eq!(s.keys.len(), 3);
    let (_, s) = search_of(p("A284 SEARCH TEXT \"string not in mailbox\""));
    assert_eq!(s.keys, vec![SearchKey::Text("string not in mailbox".into())]);
    // A UTF-8 search string in a literal: 12 octets of Cyrillic.
    let (_, s) = search_of(p("A285 SEARCH CHARSET UTF-8 TEXT {12}\r\nотпуск"));
    assert_eq!((s.charset.as_deref(), s.keys), (Some("UTF-8"), vec![SearchKey::Text("отпуск".into())]));
    // A charset the server does not have is NO [BADCHARSET], not BAD.
    let e = bad(b"A286 SEARCH CHARSET KOI8-R TEXT {6}\r\n\xcf\xd4\xd0\xd5\xd3\xcb");
    assert_eq!((e.tag.as_deref(), e.status()), (Some("A286"), crate::proto::response::Status::No));
    assert_eq!(
        String::from_utf8_lossy(&e.to_response()),
        "A286 NO [BADCHARSET (UTF-8 US-ASCII)] charset KOI8-R is not supported\r\n"
    );
    // SEARCHRES (RFC 5182, part of RFC 9051): save, then use $.
    let (_, s) = search_of(p("A282 SEARCH RETURN (SAVE) FLAGGED SINCE 1-Feb-1994 NOT FROM \"Smith\""));
    assert_eq!(s.returns, Some(vec![SearchReturn::Save]));
    let (_, saved, items, _, _) = fetch_of(p("A283 FETCH $ (UID INTERNALDATE FLAGS RFC822.SIZE)"));
    assert_eq!(saved, SequenceSet::Saved);
    assert_eq!(items, [FetchItem::Uid, FetchItem::InternalDate, FetchItem::Flags, FetchItem::Rfc822Size]);
    let (uid, s) = search_of(p("A301 UID SEARCH UID $ SMALLER 4096"));
    assert!(uid);
    assert_eq!(s.keys, vec![SearchKey::Uid(SequenceSet::Saved), SearchKey::Smaller(4096)]);
    let (_, s) = search_of(p("A303 SEARCH RETURN (SAVE) OR $ 1,3000:3021"));
    assert_eq!(
        s.keys,
        vec![SearchKey::Or(Box::new(SearchKey::Seq(SequenceSet::Saved)), Box::new(SearchKey::Seq(set("1,3000:3021"))))]
    );
    assert!(matches!(
        p("A302 UID COPY $ \"Other Messages\""),
        CommandKind::Copy { uid: true, set: SequenceSet::Saved, .. }
    ));
}

#[test]
fn s6_4_5_fetch() {
    let (uid, s, items, since, vanished) = fetch_of(p("A654 FETCH 2:4 (FLAGS BODY[HEADER.FIELDS (DATE FROM)])"));
    assert_eq!((uid, s, since, vanished), (false, set("2:4"), None, false));
    assert_eq!(
        items,
        [
            FetchItem::Flags,
            FetchItem::BodySection {
                section: Section {
                    path: vec![],
                    text: Some(SectionText::HeaderFields { not: false, fields: vec!["DATE".into(), "FROM".into()] })
                },
                partial: None,
                peek: false
            }
        ]
    );
}

#[test]
fn s6_4_6_to_9() {
    assert_eq!(
        p("A003 STORE 2:4 +FLAGS (\\Deleted)"),
        CommandKind::Store {
            uid: false,
            set: set("2:4"),
            store: Store {
                mode: StoreMode::Add,
                silent: false,
                flags: vec!["\\Deleted".into()],
                unchanged_since: None
            }
        }
    );
    assert_eq!(
        p("A003 COPY 2:4 MEETING"),
        CommandKind::Copy { uid: false, set: set("2:4"), mailbox: "MEETING".into() }
    );
    assert_eq!(p("a UID MOVE 42:69 foo"), CommandKind::Move { uid: true, set: set("42:69"), mailbox: "foo".into() });
    assert_eq!(p("a MOVE 1:2 foo"), CommandKind::Move { uid: false, set: set("1:2"), mailbox: "foo".into() });
    let (uid, s, items, _, _) = fetch_of(p("A999 UID FETCH 4827313:4828442 FLAGS"));
    assert_eq!((uid, s, items), (true, set("4827313:4828442"), vec![FetchItem::Flags]));
    assert_eq!(p("A003 UID EXPUNGE 3000:3002"), CommandKind::UidExpunge(set("3000:3002")));
}

#[test]
fn s6_5_unknown_x_command() {
    assert_eq!(p("a441 CAPABILITY"), CommandKind::Capability);
    let e = bad(b"A442 XPIG-LATIN");
    assert_eq!(e.tag.as_deref(), Some("A442"));
    assert_eq!(e.kind, ParseErrorKind::UnknownCommand("XPIG-LATIN".into()));
    assert_eq!(String::from_utf8_lossy(&e.to_response()), "A442 BAD unknown command XPIG-LATIN\r\n");
}

/// §8: the sample session, in lower case as the RFC has it.
#[test]
fn s8_sample_session() {
    assert_eq!(p("a001 login mrc secret"), CommandKind::Login { user: "mrc".into(), password: "secret".into() });
    assert!(matches!(p("a002 select inbox"), CommandKind::Select { mailbox, .. } if mailbox == "INBOX"));
    let (_, _, items, _, _) = fetch_of(p("a003 fetch 12 full"));
    assert_eq!(
        items,
        [FetchItem::Flags, FetchItem::InternalDate, FetchItem::Rfc822Size, FetchItem::Envelope, FetchItem::Body]
    );
    let (_, _, items, _, _) = fetch_of(p("a004 fetch 12 body[header]"));
    assert_eq!(
        items,
        [FetchItem::BodySection {
            section: Section { path: vec![], text: Some(SectionText::Header) },
            partial: None,
            peek: false
        }]
    );
    let CommandKind::Store { store, .. } = p("a005 store 12 +flags \\deleted") else { panic!("STORE") };
    assert_eq!((store.mode, store.flags), (StoreMode::Add, vec!["\\deleted".to_string()]));
    assert_eq!(p("a006 logout"), CommandKind::Logout);
}
