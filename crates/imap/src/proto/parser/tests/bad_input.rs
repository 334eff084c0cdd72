//! Input that must be refused, with the tag when there is one, and never
//! a panic.

use super::*;

#[test]
fn bad_input_keeps_the_tag() {
    let cases: &[&[u8]] = &[
        // Unknown or missing commands and arguments.
        b"a7 FROBNICATE",
        b"a7 UID FROB 1",
        b"a7 UID",
        b"a7",
        b"a7 ",
        b"a7  NOOP",
        b"a7 NOOP extra",
        b"a7 NOOP ",
        b"a7 SELECT",
        b"a7 SELECT ",
        b"a7 LOGIN ann",
        b"a7 RENAME a",
        b"a7 STATUS INBOX",
        b"a7 STATUS INBOX ()",
        b"a7 STATUS INBOX (FROB)",
        b"a7 ENABLE",
        b"a7 COPY 1",
        b"a7 FETCH 1",
        b"a7 FETCH 1 ()",
        b"a7 STORE 1 FLAGS",
        b"a7 STORE 1 +FLAGS.LOUD (\\Seen)",
        b"a7 STORE 1 (UNCHANGEDSINCE) FLAGS (\\Seen)",
        b"a7 STORE 1 (FROB 1) FLAGS (\\Seen)",
        b"a7 STORE 1 FLAGS (\\*)",
        b"a7 APPEND INBOX",
        b"a7 APPEND INBOX \"not a literal\"",
        b"a7 APPEND INBOX {0}\r\n",
        b"a7 APPEND INBOX {10}\r\nshort",
        b"a7 APPEND INBOX (\\Seen) \"31-Feb-2020 00:00:00 +0000\" {1}\r\nx",
        b"a7 APPEND INBOX {1}\r\nx {1}\r\ny",
        b"a7 APPEND INBOX (\\Seen {1}\r\nx",
        // Unterminated quotes and bad escapes.
        b"a7 LOGIN \"unterminated",
        b"a7 LOGIN \"a\\b\" pw",
        b"a7 LOGIN \"a\rb\" pw",
        b"a7 LOGIN \"a\0b\" pw",
        b"a7 LOGIN {3}\r\na\0b pw",
        b"a7 LOGIN {3}ann pw",
        b"a7 LOGIN {3\r\nann pw",
        b"a7 LOGIN {x}\r\nann pw",
        // Bad numbers: 0 in sets, beyond u32 or 63 bits, signs, junk.
        b"a7 FETCH 0 FLAGS",
        b"a7 FETCH 1:0 FLAGS",
        b"a7 FETCH 0:* FLAGS",
        b"a7 FETCH 01 FLAGS",
        b"a7 FETCH 4294967296 FLAGS",
        b"a7 FETCH 99999999999999999999999999 FLAGS",
        b"a7 FETCH 1,,2 FLAGS",
        b"a7 FETCH 1: FLAGS",
        b"a7 FETCH -1 FLAGS",
        b"a7 UID EXPUNGE 0",
        b"a7 UID EXPUNGE",
        b"a7 SEARCH UID 0",
        b"a7 SEARCH LARGER 9223372036854775808",
        b"a7 SEARCH LARGER -5",
        b"a7 SEARCH SMALLER x",
        b"a7 FETCH 1 BODY[]<0.0>",
        b"a7 FETCH 1 BODY[]<1>",
        b"a7 FETCH 1 BODY[]<x.1>",
        b"a7 FETCH 1 BODY[0]",
        b"a7 FETCH 1 BODY[4294967296]",
        // Bad sections and items.
        b"a7 FETCH 1 BODY[MIME]",
        b"a7 FETCH 1 BODY[1.]",
        b"a7 FETCH 1 BODY[1.FROB]",
        b"a7 FETCH 1 BODY[HEADER.FIELDS]",
        b"a7 FETCH 1 BODY[HEADER.FIELDS ()]",
        b"a7 FETCH 1 BODY[HEADER.FIELDS (A]",
        b"a7 FETCH 1 BODY[",
        b"a7 FETCH 1 BODY.PEEK",
        b"a7 FETCH 1 BODYX",
        b"a7 FETCH 1 (FLAGS",
        b"a7 FETCH 1 (FLAGS ALL)",
        b"a7 FETCH 1 FROB",
        b"a7 FETCH 1 (FLAGS)(CHANGEDSINCE 1)",
        // Search: missing arguments, bad dates, bad nesting.
        b"a7 SEARCH",
        b"a7 SEARCH ",
        b"a7 SEARCH ()",
        b"a7 SEARCH (ALL",
        b"a7 SEARCH ALL)",
        b"a7 SEARCH OR SEEN",
        b"a7 SEARCH NOT",
        b"a7 SEARCH HEADER Subject",
        b"a7 SEARCH KEYWORD \\Seen",
        b"a7 SEARCH SINCE 31-Foo-2020",
        b"a7 SEARCH SINCE 32-Jan-2020",
        b"a7 SEARCH SINCE 1-Jan-99",
        b"a7 SEARCH SINCE \"1-Jan-2020",
        b"a7 SEARCH FROBBED",
        b"a7 SEARCH CHARSET",
        b"a7 SEARCH CHARSET UTF-8",
        b"a7 SEARCH TEXT \"\xff\"",
        // Lists.
        b"a7 LIST",
        b"a7 ID (\"a\" \"b\"",
        b"a7 CREATE x (USE (\\All)",
        b"a7 SELECT INBOX (CONDSTORE) x",
    ];
    for &line in cases {
        let e = bad(line);
        assert_eq!(e.tag.as_deref(), Some("a7"), "{:?}: {e}", String::from_utf8_lossy(line));
        assert_eq!(e.status(), crate::proto::response::Status::Bad, "{:?}", String::from_utf8_lossy(line));
        let answer = e.to_response();
        assert!(answer.starts_with(b"a7 BAD ") && answer.ends_with(b"\r\n"));
        assert!(!answer[..answer.len() - 2].contains(&b'\n'), "one line");
    }
}

#[test]
fn no_tag() {
    for line in [
        &b""[..],
        b" NOOP",
        b"* NOOP",
        b"+ NOOP",
        b"a+1 NOOP",
        b"(a NOOP",
        b"\"a\" NOOP",
        b"{3}\r\nabc NOOP",
        b"\xff NOOP",
        b"a\0 NOOP",
    ] {
        let e = bad(line);
        assert_eq!((e.tag, e.kind), (None, ParseErrorKind::Tag), "{:?}", String::from_utf8_lossy(line));
    }
}

#[test]
fn nesting_is_capped() {
    // Parenthesised groups, NOT chains and OR trees deeper than the cap.
    let deep = format!("a1 SEARCH {}ALL{}", "(".repeat(100), ")".repeat(100));
    assert_eq!(bad(deep.as_bytes()).kind, ParseErrorKind::TooDeep);
    let deep = format!("a1 SEARCH {}ALL", "NOT ".repeat(100));
    assert_eq!(bad(deep.as_bytes()).kind, ParseErrorKind::TooDeep);
    let deep = format!("a1 SEARCH {}ALL{}", "OR ALL ".repeat(100), "");
    assert_eq!(bad(deep.as_bytes()).kind, ParseErrorKind::TooDeep);
    // A million parentheses: refused, and no stack overflow.
    let huge = format!("a1 SEARCH {}", "(".repeat(1_000_000));
    assert_eq!(bad(huge.as_bytes()).kind, ParseErrorKind::TooDeep);
    // Just under the cap is fine, and so is a long flat list.
    let ok = format!("a1 SEARCH {}ALL{}", "(".repeat(MAX_SEARCH_DEPTH - 1), ")".repeat(MAX_SEARCH_DEPTH - 1));
    assert!(parse_command(ok.as_bytes()).is_ok());
    let flat = format!("a1 SEARCH {}", vec!["SEEN"; 10_000].join(" "));
    assert!(parse_command(flat.as_bytes()).is_ok());
}
