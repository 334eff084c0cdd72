//! LIST-EXTENDED (RFC 5258 §5 examples, part of RFC 9051 §6.3.9),
//! LIST-STATUS (RFC 5819 §3) and SPECIAL-USE (RFC 6154 §5.1, §5.3).

use super::*;

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

#[test]
fn list_extended_examples() {
    let l = list_of(p("A01 LIST \"\" %"));
    assert_eq!((l.select.len(), l.patterns.clone(), l.is_extended()), (0, strings(&["%"]), false));
    let l = list_of(p("A02 LIST (SUBSCRIBED) \"\" \"*\""));
    assert_eq!((l.select, l.patterns), (strings(&["SUBSCRIBED"]), strings(&["*"])));
    let l = list_of(p("A03 LIST () \"\" \"%\" RETURN (CHILDREN)"));
    assert_eq!((l.select, l.returns), (vec![], strings(&["CHILDREN"])));
    let l = list_of(p("A04 LIST (REMOTE) \"\" \"%\" RETURN (CHILDREN)"));
    assert_eq!((l.select, l.returns), (strings(&["REMOTE"]), strings(&["CHILDREN"])));
    let l = list_of(p("A05 LIST (REMOTE SUBSCRIBED) \"\" \"*\""));
    assert_eq!(l.select, strings(&["REMOTE", "SUBSCRIBED"]));
    let l = list_of(p("A06 LIST (REMOTE) \"\" \"*\""));
    assert_eq!(l.select, strings(&["REMOTE"]));
    let l = list_of(p("C04 LIST (SUBSCRIBED RECURSIVEMATCH) \"\" \"%\""));
    assert_eq!(l.select, strings(&["SUBSCRIBED", "RECURSIVEMATCH"]));
    let l = list_of(p("C05 LIST (SUBSCRIBED RECURSIVEMATCH) \"\" \"%\" RETURN (CHILDREN)"));
    assert_eq!((l.select.len(), l.returns), (2, strings(&["CHILDREN"])));
    let l = list_of(p("D01 LIST (subscribed recursivematch) \"Foo\" \"%\" RETURN (SUBSCRIBED CHILDREN)"));
    assert_eq!((l.reference.as_str(), l.returns), ("Foo", strings(&["SUBSCRIBED", "CHILDREN"])));
    // Example 9: several patterns.
    let l = list_of(p("BBB LIST \"\" (\"INBOX\" \"Drafts\" \"Sent/%\")"));
    assert_eq!(l.patterns, strings(&["INBOX", "Drafts", "Sent/%"]));
    assert!(l.is_extended());
    let l = list_of(p("A LIST \"\" (INBOX Sent/* %) RETURN ()"));
    assert_eq!((l.patterns.len(), l.returns.len()), (3, 0));
}

#[test]
fn list_extended_errors() {
    // RFC 5258 §3: RECURSIVEMATCH alone, or with REMOTE only, is an error.
    bad(b"A06 LIST (RECURSIVEMATCH) \"\" %");
    bad(b"A07 LIST (REMOTE RECURSIVEMATCH) \"\" %");
    bad(b"A08 LIST (FROB) \"\" %");
    bad(b"A09 LIST \"\" % RETURN (FROB)");
    bad(b"A10 LIST \"\" % RETURN CHILDREN");
    bad(b"A11 LIST \"\" % CHILDREN");
    bad(b"A12 LIST \"\" ()");
    bad(b"A13 LIST \"\"");
    bad(b"A14 LIST (SUBSCRIBED)\"\" %");
    bad(b"A15 LIST \"\" % RETURN (STATUS ())");
}

#[test]
fn list_status() {
    // RFC 5819 §3.
    let l = list_of(p("A01 LIST \"\" % RETURN (STATUS (MESSAGES UNSEEN))"));
    assert_eq!(l.return_status, Some(vec![StatusItem::Messages, StatusItem::Unseen]));
    let l = list_of(p("A02 LIST (SUBSCRIBED RECURSIVEMATCH) \"\" % RETURN (CHILDREN STATUS (MESSAGES))"));
    assert_eq!((l.returns, l.return_status), (strings(&["CHILDREN"]), Some(vec![StatusItem::Messages])));
    let l = list_of(p("A03 LIST \"\" * RETURN (STATUS (SIZE HIGHESTMODSEQ DELETED) SPECIAL-USE)"));
    assert_eq!(l.return_status, Some(vec![StatusItem::Size, StatusItem::HighestModSeq, StatusItem::Deleted]));
    assert_eq!(l.returns, strings(&["SPECIAL-USE"]));
}

#[test]
fn special_use() {
    // RFC 6154 §5.1-3.
    let l = list_of(p("t1 LIST \"\" \"%\" RETURN (SPECIAL-USE)"));
    assert_eq!(l.returns, strings(&["SPECIAL-USE"]));
    let l = list_of(p("t3 LIST (SPECIAL-USE) \"\" \"*\""));
    assert_eq!(l.select, strings(&["SPECIAL-USE"]));
    let l = list_of(p("t4 LIST (SPECIAL-USE RECURSIVEMATCH) \"\" \"%\""));
    assert_eq!(l.select.len(), 2);
    assert_eq!(
        p("t1 CREATE \"Everything\" (USE (\\All))"),
        CommandKind::Create { mailbox: "Everything".into(), special_use: strings(&["\\All"]) }
    );
    assert_eq!(
        p("t2 CREATE MySpecial (USE (\\Drafts \\Sent))"),
        CommandKind::Create { mailbox: "MySpecial".into(), special_use: strings(&["\\Drafts", "\\Sent"]) }
    );
    assert_eq!(p("t3 CREATE x (USE ())"), CommandKind::Create { mailbox: "x".into(), special_use: vec![] });
    bad(b"t5 CREATE x (USE (Drafts))");
    bad(b"t6 CREATE x (FROB (\\Drafts))");
    bad(b"t7 CREATE x ()");
    bad(b"t8 CREATE x (USE \\Drafts)");
}

#[test]
fn imaplib_default_list() {
    let l = list_of(p("KPDB3 LIST \"\" *"));
    assert_eq!(l.patterns, vec!["*".to_string()]);
    // imaplib's m.list("", "Work/*") sends the empty reference as nothing.
    let l = list_of(p("KPDB10 LIST  Work/*"));
    assert_eq!((l.reference.as_str(), l.patterns), ("", vec!["Work/*".to_string()]));
}
