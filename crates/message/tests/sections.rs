//! BODY[section] cut by offsets, on the nested message of RFC 3501 §6.4.5 /
//! RFC 9051 §6.4.5, built from named pieces so every section's expected
//! bytes are known exactly.

mod common;

use common::{check, sec};

/// A multipart body: each (MIME header, body) between delimiters; the CRLF
/// before a delimiter belongs to the delimiter (RFC 2046 §5.1.1).
fn multipart(boundary: &str, preamble: &str, parts: &[(&str, &str)], epilogue: &str) -> String {
    let mut s = preamble.to_string();
    for (h, b) in parts {
        s += &format!("--{boundary}\r\n{h}{b}\r\n");
    }
    s += &format!("--{boundary}--\r\n{epilogue}");
    s
}

struct Example {
    raw: Vec<u8>,
    expected: Vec<(&'static str, String)>,
}

fn example() -> Example {
    let top_h = "From: Terry Gray <gray@cac.washington.edu>\r\nTo: imap@cac.washington.edu\r\nSubject: sections\r\n\
MIME-Version: 1.0\r\nContent-Type: MULTIPART/MIXED; boundary=\"outer\"\r\n\r\n";
    let p1_h = "Content-Type: TEXT/PLAIN; charset=us-ascii\r\n\r\n";
    let p1_b = "Part one.\r\nIts second line.";
    let p2_h = "Content-Type: APPLICATION/OCTET-STREAM\r\nContent-Transfer-Encoding: base64\r\n\r\n";
    let p2_b = "AAECAwQFBgc=";

    let m3_h = "Subject: part three\r\nContent-Type: multipart/mixed; boundary=three\r\n\r\n";
    let p31_h = "Content-Type: text/plain\r\n\r\n";
    let p31_b = "three dot one";
    let p32_h = "Content-Type: application/octet-stream\r\n\r\n";
    let p32_b = "three dot two";
    let m3_b = multipart("three", "", &[(p31_h, p31_b), (p32_h, p32_b)], "");
    let p3_h = "Content-Type: MESSAGE/RFC822\r\n\r\n";
    let p3_b = format!("{m3_h}{m3_b}");

    let p41_h = "Content-Type: IMAGE/GIF\r\nContent-Transfer-Encoding: base64\r\n\r\n";
    let p41_b = "R0lGODlhAQABAAAAACw=";
    let m42_h =
        "From: someone@example.org\r\nSubject: four two\r\nContent-Type: multipart/mixed; boundary=\"fourtwo\"\r\n\r\n";
    let p421_h = "Content-Type: text/plain\r\n\r\n";
    let p421_b = "four two one\r\n";
    let p4221_h = "Content-Type: text/plain\r\n\r\n";
    let p4221_b = "plain alternative";
    let p4222_h = "Content-Type: text/richtext\r\n\r\n";
    let p4222_b = "<bold>rich</bold> alternative";
    let p422_h = "Content-Type: multipart/alternative; boundary=alt\r\n\r\n";
    let p422_b = multipart("alt", "", &[(p4221_h, p4221_b), (p4222_h, p4222_b)], "");
    let m42_b = multipart("fourtwo", "preamble of 4.2\r\n", &[(p421_h, p421_b), (p422_h, &p422_b)], "");
    let p42_h = "Content-Type: message/rfc822\r\n\r\n";
    let p42_b = format!("{m42_h}{m42_b}");
    let p4_h = "Content-Type: multipart/mixed; boundary=four\r\n\r\n";
    let p4_b = multipart("four", "", &[(p41_h, p41_b), (p42_h, &p42_b)], "");

    let top_b = multipart(
        "outer",
        "This is the preamble.\r\n",
        &[(p1_h, p1_b), (p2_h, p2_b), (p3_h, &p3_b), (p4_h, &p4_b)],
        "epilogue\r\n",
    );
    let raw = format!("{top_h}{top_b}").into_bytes();

    let expected = vec![
        ("HEADER", top_h.to_string()),
        ("TEXT", top_b.clone()),
        ("1", p1_b.into()),
        ("1.MIME", p1_h.into()),
        ("2", p2_b.into()),
        ("2.MIME", p2_h.into()),
        ("3", p3_b.clone()),
        ("3.MIME", p3_h.into()),
        ("3.HEADER", m3_h.into()),
        ("3.TEXT", m3_b.clone()),
        ("3.1", p31_b.into()),
        ("3.1.MIME", p31_h.into()),
        ("3.2", p32_b.into()),
        ("4", p4_b.clone()),
        ("4.MIME", p4_h.into()),
        ("4.1", p41_b.into()),
        ("4.1.MIME", p41_h.into()),
        ("4.2", p42_b.clone()),
        ("4.2.MIME", p42_h.into()),
        ("4.2.HEADER", m42_h.into()),
        ("4.2.TEXT", m42_b.clone()),
        ("4.2.1", p421_b.into()),
        ("4.2.1.MIME", p421_h.into()),
        ("4.2.2", p422_b.clone()),
        ("4.2.2.MIME", p422_h.into()),
        ("4.2.2.1", p4221_b.into()),
        ("4.2.2.2", p4222_b.into()),
        ("4.2.2.2.MIME", p4222_h.into()),
        ("", String::from_utf8(raw.clone()).unwrap()),
        ("HEADER.FIELDS (SUBJECT to)", "To: imap@cac.washington.edu\r\nSubject: sections\r\n\r\n".into()),
        (
            "HEADER.FIELDS.NOT (Subject To Mime-Version)",
            "From: Terry Gray <gray@cac.washington.edu>\r\nContent-Type: MULTIPART/MIXED; boundary=\"outer\"\r\n\r\n"
                .into(),
        ),
        ("HEADER.FIELDS (X-Absent)", "\r\n".into()),
        ("4.2.HEADER.FIELDS (From)", "From: someone@example.org\r\n\r\n".into()),
        ("3.HEADER.FIELDS.NOT (Content-Type)", "Subject: part three\r\n\r\n".into()),
    ];
    Example { raw, expected }
}

#[test]
fn every_section_of_the_rfc_example() {
    let Example { raw, expected } = example();
    let a = check(&raw);
    for (spec, want) in &expected {
        let got = a.section(&raw, &sec(spec)).unwrap_or_else(|| panic!("BODY[{spec}] missing"));
        assert_eq!(String::from_utf8_lossy(&got), *want, "BODY[{spec}]");
    }
}

#[test]
fn part_types_of_the_rfc_example() {
    let Example { raw, .. } = example();
    let a = check(&raw);
    let types = [
        ("", "multipart/mixed"),
        ("1", "text/plain"),
        ("2", "application/octet-stream"),
        ("3", "message/rfc822"),
        ("3.1", "text/plain"),
        ("3.2", "application/octet-stream"),
        ("4", "multipart/mixed"),
        ("4.1", "image/gif"),
        ("4.2", "message/rfc822"),
        ("4.2.1", "text/plain"),
        ("4.2.2", "multipart/alternative"),
        ("4.2.2.1", "text/plain"),
        ("4.2.2.2", "text/richtext"),
    ];
    for (path, t) in types {
        let path: Vec<u32> = path.split('.').filter(|s| !s.is_empty()).map(|n| n.parse().unwrap()).collect();
        assert_eq!(a.part(&path).map(|p| p.content_type.as_str()), Some(t), "{path:?}");
    }
    assert_eq!(a.binary(&raw, &[2]).unwrap().unwrap(), [0, 1, 2, 3, 4, 5, 6, 7]);
    assert_eq!(a.binary_size(&raw, &[4, 1]).unwrap(), Some(14));
    assert_eq!(a.binary(&raw, &[4, 2, 2, 2]).unwrap().unwrap(), b"<bold>rich</bold> alternative");
}

#[test]
fn sections_that_do_not_exist() {
    let Example { raw, .. } = example();
    let a = check(&raw);
    for spec in
        ["5", "0", "1.1", "1.2", "2.1", "4.3", "4.2.3", "4.2.2.3", "1.HEADER", "4.TEXT", "4.1.HEADER", "MIME", "3.3"]
    {
        assert_eq!(a.section(&raw, &sec(spec)), None, "BODY[{spec}]");
    }
    assert_eq!(a.binary(&raw, &[9]).unwrap(), None);
    assert_eq!(a.binary_size(&raw, &[9]).unwrap(), None);
}

#[test]
fn single_part_messages_have_part_one() {
    let raw = b"Subject: single\r\nContent-Type: text/plain\r\n\r\nthe body\r\n";
    let a = check(raw);
    assert_eq!(a.section(raw, &sec("1")).as_deref(), Some(&b"the body\r\n"[..]));
    assert_eq!(
        a.section(raw, &sec("1.MIME")).as_deref(),
        Some(&b"Subject: single\r\nContent-Type: text/plain\r\n\r\n"[..])
    );
    assert_eq!(a.section(raw, &sec("2")), None);
    assert_eq!(a.section(raw, &sec("1.1")), None);
    assert_eq!(a.section(raw, &sec("1.TEXT")), None);
}

#[test]
fn a_message_whose_body_is_a_message() {
    let raw = b"Subject: outer\r\nContent-Type: message/rfc822\r\n\r\nSubject: inner\r\n\r\ninner body";
    let a = check(raw);
    assert_eq!(a.section(raw, &sec("1")).as_deref(), Some(&b"Subject: inner\r\n\r\ninner body"[..]));
    assert_eq!(a.section(raw, &sec("1.HEADER")).as_deref(), Some(&b"Subject: inner\r\n\r\n"[..]));
    assert_eq!(a.section(raw, &sec("1.TEXT")).as_deref(), Some(&b"inner body"[..]));
    assert_eq!(a.section(raw, &sec("1.1")).as_deref(), Some(&b"inner body"[..]));
    assert_eq!(a.section(raw, &sec("1.2")), None);
}

#[test]
fn header_fields_without_blank_line() {
    // "the blank line is always included in header data, except in the case
    // of a message which has no body and no blank line" (§6.4.5).
    let raw = b"Subject: a\r\nFrom: b@c\r\nX-Folded: one\r\n two";
    let a = check(raw);
    assert_eq!(a.section(raw, &sec("HEADER.FIELDS (Subject)")).as_deref(), Some(&b"Subject: a\r\n"[..]));
    assert_eq!(a.section(raw, &sec("HEADER.FIELDS (x-folded)")).as_deref(), Some(&b"X-Folded: one\r\n two"[..]));
    assert_eq!(a.section(raw, &sec("TEXT")).as_deref(), Some(&b""[..]));
}

#[test]
fn lf_only_messages() {
    let raw =
        b"Subject: lf\nContent-Type: multipart/mixed; boundary=b\n\n--b\nContent-Type: text/plain\n\none\ntwo\n--b--\n";
    let a = check(raw);
    assert_eq!(a.section(raw, &sec("1")).as_deref(), Some(&b"one\ntwo"[..]));
    assert_eq!(a.section(raw, &sec("1.MIME")).as_deref(), Some(&b"Content-Type: text/plain\n\n"[..]));
    assert_eq!(a.section(raw, &sec("HEADER.FIELDS (subject)")).as_deref(), Some(&b"Subject: lf\n\n"[..]));
    assert_eq!(a.root.parts[0].lines, 2);
}

#[test]
fn partial_cuts() {
    use atoll_message::Partial;
    let p = |origin, count| Partial { origin, count };
    assert_eq!(p(0, 3).cut(b"abcdef"), b"abc");
    assert_eq!(p(4, 10).cut(b"abcdef"), b"ef");
    assert_eq!(p(10, 1).cut(b"abcdef"), b"");
    assert_eq!(p(2, u64::MAX).cut(b"abcdef"), b"cdef");
}
