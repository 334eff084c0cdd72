//! CONDSTORE and QRESYNC (RFC 7162): the client lines of its examples.

use super::*;

fn select_params(k: CommandKind) -> SelectParams {
    match k {
        CommandKind::Select { params, .. } => params,
        other => panic!("not a SELECT: {other:?}"),
    }
}

#[test]
fn condstore_select_status_enable() {
    // §3.1.8, §3.1.2
    assert_eq!(select_params(p("a SELECT INBOX (CONDSTORE)")), SelectParams { condstore: true, qresync: None });
    assert!(select_params(p("a1 EXAMINE Pets (condstore)")).condstore);
    assert_eq!(
        p("C01 STATUS blurdybloop (UIDNEXT MESSAGES HIGHESTMODSEQ)"),
        CommandKind::Status {
            mailbox: "blurdybloop".into(),
            items: vec![StatusItem::UidNext, StatusItem::Messages, StatusItem::HighestModSeq]
        }
    );
    assert_eq!(p("a ENABLE CONDSTORE"), CommandKind::Enable(vec!["CONDSTORE".into()]));
    assert_eq!(p("A01 ENABLE QRESYNC"), CommandKind::Enable(vec!["QRESYNC".into()]));
}

#[test]
fn condstore_fetch_and_store() {
    // §3.1.4.1: FETCH with CHANGEDSINCE, and MODSEQ as an item.
    let (uid, s, items, since, vanished) = fetch_of(p("s100 UID FETCH 1:* (FLAGS) (CHANGEDSINCE 12345)"));
    assert_eq!((uid, s, items, since, vanished), (true, set("1:*"), vec![FetchItem::Flags], Some(12345), false));
    let (_, _, items, _, _) = fetch_of(p("a FETCH 1 (MODSEQ)"));
    assert_eq!(items, [FetchItem::ModSeq]);
    let (_, _, items, since, _) = fetch_of(p("a103 FETCH 7,10:20 (UID FLAGS MODSEQ) (CHANGEDSINCE 320162338)"));
    assert_eq!((items.len(), since), (3, Some(320162338)));
    // §3.1.3: STORE with UNCHANGEDSINCE, including 0 ("never changed").
    let st = |line: &str| match p(line) {
        CommandKind::Store { uid, set, store } => (uid, set, store),
        other => panic!("{other:?}"),
    };
    let (uid, s, store) = st("d105 STORE 7,5,9 (UNCHANGEDSINCE 320162338) +FLAGS.SILENT (\\Deleted)");
    assert_eq!((uid, s), (false, set("7,5,9")));
    assert_eq!(
        store,
        Store { mode: StoreMode::Add, silent: true, flags: vec!["\\Deleted".into()], unchanged_since: Some(320162338) }
    );
    let (uid, _, store) = st("a102 UID STORE 1:* (UNCHANGEDSINCE 0) FLAGS ($NoJunk)");
    assert_eq!((uid, store.unchanged_since, store.mode), (true, Some(0), StoreMode::Replace));
    let (_, _, store) = st("c101 STORE 50 (UNCHANGEDSINCE 12345) -FLAGS.SILENT (\\Deleted)");
    assert_eq!(store.mode, StoreMode::Remove);
}

#[test]
fn condstore_search() {
    // §3.1.5's examples.
    let (_, s) = search_of(p("a SEARCH MODSEQ \"/flags/\\\\draft\" all 620162338"));
    assert_eq!(s.keys, vec![SearchKey::ModSeq(620162338)]);
    let (_, s) = search_of(p("t SEARCH OR NOT MODSEQ 720162338 LARGER 50000"));
    assert_eq!(
        s.keys,
        vec![SearchKey::Or(
            Box::new(SearchKey::Not(Box::new(SearchKey::ModSeq(720162338)))),
            Box::new(SearchKey::Larger(50000))
        )]
    );
    let (_, s) = search_of(p("a SEARCH MODSEQ \"/flags/$Junk\" priv 5 UNSEEN"));
    assert_eq!(s.keys, vec![SearchKey::ModSeq(5), flag("\\Seen", false)]);
    bad(b"a SEARCH MODSEQ \"/flags/\\\\draft\" everyone 5");
    bad(b"a SEARCH MODSEQ x");
}

#[test]
fn qresync_select() {
    // §3.2.5.2's examples.
    let q = select_params(p("A02 SELECT INBOX (QRESYNC (67890007 20050715194045000 41,43:211,214:541))"));
    assert_eq!(
        q.qresync,
        Some(Qresync {
            uidvalidity: 67890007,
            modseq: 20050715194045000,
            known_uids: Some(set("41,43:211,214:541")),
            seq_match: None
        })
    );
    let q = select_params(p("B02 SELECT INBOX (QRESYNC (67890007 90060115194045000 41:211,214:541))"));
    assert_eq!(q.qresync.and_then(|q| q.known_uids), Some(set("41:211,214:541")));
    let q =
        select_params(p("B04 SELECT INBOX (QRESYNC (67890007 90060115194045000 1:29997 (5000,7500,9000,9990:9999 \
         15000,22500,27000,29970,29973,29976,29979,29982,29985,29988,29991,29994,29997)))"));
    let q = q.qresync.expect("QRESYNC");
    assert_eq!(q.known_uids, Some(set("1:29997")));
    assert_eq!(
        q.seq_match,
        Some((
            set("5000,7500,9000,9990:9999"),
            set("15000,22500,27000,29970,29973,29976,29979,29982,29985,29988,29991,29994,29997")
        ))
    );
    // Only the two required values, and CONDSTORE alongside.
    let q = select_params(p("a EXAMINE INBOX (CONDSTORE QRESYNC (1 2))"));
    assert!(q.condstore);
    assert_eq!(q.qresync, Some(Qresync { uidvalidity: 1, modseq: 2, known_uids: None, seq_match: None }));
    // seq-match-data without known UIDs is allowed by the grammar.
    let q = select_params(p("a SELECT INBOX (QRESYNC (1 2 (1:2 5:6)))"));
    assert_eq!(q.qresync.and_then(|q| q.seq_match), Some((set("1:2"), set("5:6"))));
    for line in [
        &b"a SELECT INBOX (QRESYNC (0 2))"[..], // uidvalidity is nz-number
        b"a SELECT INBOX (QRESYNC (1 0))",      // mod-sequence-value is positive
        b"a SELECT INBOX (QRESYNC (1))",
        b"a SELECT INBOX (QRESYNC (1 2 1:*))", // no * in known-uids
        b"a SELECT INBOX (QRESYNC (1 2 1:5 (1:2)))",
        b"a SELECT INBOX (QRESYNC (1 2 1:5 ))",
        b"a SELECT INBOX (QRESYNC (4294967296 2))",
        b"a SELECT INBOX (QRESYNC (1 9223372036854775808))", // over 63 bits
        b"a SELECT INBOX (QRESYNC 1 2)",
        b"a SELECT INBOX (FROB)",
        b"a SELECT INBOX ()",
        b"a SELECT INBOX (CONDSTORE",
    ] {
        bad(line);
    }
}

#[test]
fn qresync_fetch_vanished() {
    // §3.2.6's example.
    let (uid, s, items, since, vanished) = fetch_of(p("C02 UID FETCH 300:500 (FLAGS) (CHANGEDSINCE 12345 VANISHED)"));
    assert_eq!((uid, s, items, since, vanished), (true, set("300:500"), vec![FetchItem::Flags], Some(12345), true));
    let (.., vanished) = fetch_of(p("s100 UID FETCH 1:* (FLAGS) (VANISHED CHANGEDSINCE 12345)"));
    assert!(vanished, "modifiers in any order");
    // VANISHED needs UID FETCH and CHANGEDSINCE; CHANGEDSINCE is positive.
    bad(b"C03 FETCH 300:500 (FLAGS) (CHANGEDSINCE 12345 VANISHED)");
    bad(b"C04 UID FETCH 300:500 (FLAGS) (VANISHED)");
    bad(b"C05 UID FETCH 1 FLAGS (CHANGEDSINCE 0)");
    bad(b"C06 UID FETCH 1 FLAGS (CHANGEDSINCE)");
    bad(b"C07 UID FETCH 1 FLAGS ()");
    bad(b"C08 UID FETCH 1 FLAGS (FROB 1)");
}
