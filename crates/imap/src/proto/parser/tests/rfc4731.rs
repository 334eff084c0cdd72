//! ESEARCH (RFC 4731, part of RFC 9051 §6.4.4): the RETURN options. The
//! ESEARCH responses are in `response/tests.rs`.

use super::*;

#[test]
fn return_options() {
    // RFC 4731 §4's examples.
    let (uid, s) = search_of(p("A282 SEARCH RETURN (MIN COUNT) FLAGGED SINCE 1-Feb-1994 NOT FROM \"Smith\""));
    assert!(!uid);
    assert_eq!(s.returns, Some(vec![SearchReturn::Min, SearchReturn::Count]));
    assert_eq!(s.keys, vec![flag("\\Flagged", true), SearchKey::Since(day(1994, 2, 1)), from_smith()]);
    let (_, s) = search_of(p("A283 SEARCH RETURN () FLAGGED SINCE 1-Feb-1994 NOT FROM \"Smith\""));
    assert_eq!(s.returns, Some(vec![]), "RETURN () means ALL");
    let (_, s) = search_of(p("A284 SEARCH RETURN (MIN) UNSEEN"));
    assert_eq!((s.returns, s.keys), (Some(vec![SearchReturn::Min]), vec![flag("\\Seen", false)]));
    let (uid, s) = search_of(p("A285 UID SEARCH RETURN (MIN MAX) 1:5000"));
    assert!(uid);
    assert_eq!(
        (s.returns, s.keys),
        (Some(vec![SearchReturn::Min, SearchReturn::Max]), vec![SearchKey::Seq(set("1:5000"))])
    );
    let (_, s) = search_of(p("A286 SEARCH RETURN (COUNT) DELETED"));
    assert_eq!(s.returns, Some(vec![SearchReturn::Count]));
    let (_, s) = search_of(p("A287 UID SEARCH RETURN (ALL) UNDELETED UNSEEN"));
    assert_eq!(s.returns, Some(vec![SearchReturn::All]));
    let (_, s) = search_of(p("A288 SEARCH return (min max all count save) CHARSET US-ASCII ALL"));
    assert_eq!(s.returns.map(|r| r.len()), Some(5));
    assert_eq!(s.charset.as_deref(), Some("US-ASCII"));
}

#[test]
fn return_errors() {
    bad(b"A1 SEARCH RETURN (PARTIAL 1:10) ALL"); // RFC 9394 is not offered
    bad(b"A2 SEARCH RETURN MIN ALL");
    bad(b"A3 SEARCH RETURN (MIN)");
    bad(b"A4 SEARCH RETURN (MIN");
    bad(b"A5 SEARCH CHARSET UTF-8 RETURN (MIN) ALL"); // RETURN comes first
    bad(b"A6 SEARCH RETURN (MIN  MAX) ALL");
}
