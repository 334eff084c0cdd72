//! ENVELOPE, BODY and BODYSTRUCTURE of hand-made messages, byte for byte.

mod common;

use atoll_message::Analysis;
use common::{check, sec};

fn crlf(s: &str) -> Vec<u8> {
    s.replace('\n', "\r\n").into_bytes()
}

#[test]
fn simple_text_message() {
    // RFC 3501 §6.3.11's APPEND example.
    let raw = crlf(
        "Date: Mon, 7 Feb 1994 21:52:25 -0800 (PST)
From: Fred Foobar <foobar@Blurdybloop.COM>
Subject: afternoon meeting
To: mooch@owatagu.siam.edu
Message-Id: <B27397-0100000@Blurdybloop.COM>
MIME-Version: 1.0
Content-Type: TEXT/PLAIN; CHARSET=US-ASCII

Hello Joe, do you think we can meet at 3:30 tomorrow?
",
    );
    let a = check(&raw);
    let fred = r#"(("Fred Foobar" NIL "foobar" "Blurdybloop.COM"))"#;
    assert_eq!(
        a.envelope,
        format!(
            r#"("Mon, 7 Feb 1994 21:52:25 -0800 (PST)" "afternoon meeting" {fred} {fred} {fred} ((NIL NIL "mooch" "owatagu.siam.edu")) NIL NIL NIL "<B27397-0100000@Blurdybloop.COM>")"#
        )
        .as_str()
    );
    assert_eq!(a.body, r#"("TEXT" "PLAIN" ("CHARSET" "US-ASCII") NIL NIL "7BIT" 55 1)"#);
    assert_eq!(a.bodystructure, r#"("TEXT" "PLAIN" ("CHARSET" "US-ASCII") NIL NIL "7BIT" 55 1 NIL NIL NIL NIL)"#);
    assert_eq!(a.size, raw.len() as u64);
    assert_eq!((a.root.content_type.as_str(), a.root.encoding.as_str(), a.root.lines), ("text/plain", "7bit", 1));
}

#[test]
fn defaults_without_mime_headers() {
    let a = check(b"Subject: plain\n\nline one\nline two\nno newline at end");
    assert_eq!(a.bodystructure, r#"("TEXT" "PLAIN" ("CHARSET" "US-ASCII") NIL NIL "7BIT" 35 3 NIL NIL NIL NIL)"#);
}

#[test]
fn multipart_alternative() {
    let raw = crlf(
        r#"From: a@example.org
To: b@example.org
Subject: alt
MIME-Version: 1.0
Content-Type: multipart/alternative; boundary="=_alt"

This is a multi-part message.
--=_alt
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: quoted-printable

caf=C3=A9
--=_alt
Content-Type: text/html; charset=utf-8

<p>caf&eacute;</p>
--=_alt--
"#,
    );
    let a = check(&raw);
    assert_eq!(
        a.body,
        r#"(("TEXT" "PLAIN" ("CHARSET" "utf-8") NIL NIL "QUOTED-PRINTABLE" 9 1)("TEXT" "HTML" ("CHARSET" "utf-8") NIL NIL "7BIT" 18 1) "ALTERNATIVE")"#
    );
    assert_eq!(
        a.bodystructure,
        r#"(("TEXT" "PLAIN" ("CHARSET" "utf-8") NIL NIL "QUOTED-PRINTABLE" 9 1 NIL NIL NIL NIL)("TEXT" "HTML" ("CHARSET" "utf-8") NIL NIL "7BIT" 18 1 NIL NIL NIL NIL) "ALTERNATIVE" ("BOUNDARY" "=_alt") NIL NIL NIL)"#
    );
    assert_eq!(a.binary(&raw, &[1]).unwrap().unwrap(), "caf\u{e9}".as_bytes());
    assert_eq!(a.binary_size(&raw, &[1]).unwrap(), Some(5));
    assert_eq!(a.binary_size(&raw, &[2]).unwrap(), Some(18));
    assert_eq!(a.root.parts.len(), 2);
}

const MIXED: &str = r#"From: "Doe, Jane" <jane@example.org>
To: team: ann@example.org, bob@example.org;
Subject: =?utf-8?q?R=C3=A9sum=C3=A9?= attached
Date: Tue, 1 Oct 2024 10:00:00 +0200
Message-ID: <m3@example.org>
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary=mixed

--mixed
Content-Type: text/plain; charset=us-ascii; format=flowed
Content-Language: en

See attached.
--mixed
Content-Type: application/pdf; name="cv.pdf"
Content-Disposition: attachment; filename="cv.pdf"
Content-Transfer-Encoding: base64
Content-ID: <cv@example.org>
Content-Description: My CV

JVBERi0xLjQK
JSVFT0YK
--mixed
Content-Type: message/rfc822
Content-Disposition: inline

From: bob@example.org
Subject: inner
Date: Mon, 30 Sep 2024 09:00:00 +0000

Inner body.
--mixed--
"#;

#[test]
fn multipart_mixed_with_attachment_and_message() {
    let raw = crlf(MIXED);
    let a = check(&raw);
    assert_eq!(
        a.envelope,
        r#"("Tue, 1 Oct 2024 10:00:00 +0200" "=?utf-8?q?R=C3=A9sum=C3=A9?= attached" (("Doe, Jane" NIL "jane" "example.org")) (("Doe, Jane" NIL "jane" "example.org")) (("Doe, Jane" NIL "jane" "example.org")) ((NIL NIL "team" NIL)(NIL NIL "ann" "example.org")(NIL NIL "bob" "example.org")(NIL NIL NIL NIL)) NIL NIL NIL "<m3@example.org>")"#
    );
    let bob = r#"((NIL NIL "bob" "example.org"))"#;
    let inner_env = format!(r#"("Mon, 30 Sep 2024 09:00:00 +0000" "inner" {bob} {bob} {bob} NIL NIL NIL NIL NIL)"#);
    assert_eq!(
        a.bodystructure.to_string(),
        format!(
            r#"(("TEXT" "PLAIN" ("CHARSET" "us-ascii" "FORMAT" "flowed") NIL NIL "7BIT" 13 1 NIL NIL "en" NIL)("APPLICATION" "PDF" ("NAME" "cv.pdf") "<cv@example.org>" "My CV" "BASE64" 22 NIL ("ATTACHMENT" ("FILENAME" "cv.pdf")) NIL NIL)("MESSAGE" "RFC822" NIL NIL NIL "7BIT" 91 {inner_env} ("TEXT" "PLAIN" ("CHARSET" "US-ASCII") NIL NIL "7BIT" 11 1 NIL NIL NIL NIL) 5 NIL ("INLINE" NIL) NIL NIL) "MIXED" ("BOUNDARY" "mixed") NIL NIL NIL)"#
        )
    );
    assert_eq!(
        a.body.to_string(),
        format!(
            r#"(("TEXT" "PLAIN" ("CHARSET" "us-ascii" "FORMAT" "flowed") NIL NIL "7BIT" 13 1)("APPLICATION" "PDF" ("NAME" "cv.pdf") "<cv@example.org>" "My CV" "BASE64" 22)("MESSAGE" "RFC822" NIL NIL NIL "7BIT" 91 {inner_env} ("TEXT" "PLAIN" ("CHARSET" "US-ASCII") NIL NIL "7BIT" 11 1) 5) "MIXED")"#
        )
    );
    assert_eq!(a.binary(&raw, &[2]).unwrap().unwrap(), b"%PDF-1.4\n%%EOF\n");
    assert_eq!(a.binary_size(&raw, &[2]).unwrap(), Some(15));
    assert_eq!(a.section(&raw, &sec("3.1")).as_deref(), Some(&b"Inner body."[..]));
    assert_eq!(a.section(&raw, &sec("3.HEADER.FIELDS (subject)")).as_deref(), Some(&b"Subject: inner\r\n\r\n"[..]));
    let m = a.root.parts[2].message.as_ref().unwrap();
    assert_eq!(m.content_type, "text/plain");
}

#[test]
fn json_keeps_latin1_headers() {
    let raw = b"From: J\xf6rg M\xfcller <j@example.org>\r\nSubject: Gr\xfc\xdfe\r\n\r\nHallo\r\n";
    let a = check(raw);
    assert!(a.envelope.starts_with(b"(NIL {5}\r\nGr\xfc\xdfe (({11}\r\nJ\xf6rg M\xfcller NIL \"j\" \"example.org\"))"));
    let json = a.to_json();
    assert!(json.contains("b64"), "{json}");
    assert_eq!(Analysis::from_json(&json).unwrap(), a);
}

#[test]
fn utf8_headers_go_in_literals_and_stay_readable_json() {
    let raw = "Subject: Gr\u{fc}\u{df}e\r\n\r\nHallo\r\n".as_bytes();
    let a = check(raw);
    assert_eq!(a.envelope, "(NIL {7}\r\nGr\u{fc}\u{df}e NIL NIL NIL NIL NIL NIL NIL NIL)");
    assert!(a.to_json().contains("Gr\u{fc}\u{df}e"));
}

#[test]
fn group_addresses() {
    let raw = crlf(
        "From: Boss <boss@example.org>\nTo: Friends: a@x.org, \"B\" <b@y.org>;, c@z.org\nCc: undisclosed-recipients:;\n\nx\n",
    );
    let a = check(&raw);
    assert!(
        a.envelope.to_string().contains(
            r#" ((NIL NIL "Friends" NIL)(NIL NIL "a" "x.org")("B" NIL "b" "y.org")(NIL NIL NIL NIL)(NIL NIL "c" "z.org")) ((NIL NIL "undisclosed-recipients" NIL)(NIL NIL NIL NIL)) NIL "#
        ),
        "{}",
        a.envelope
    );
}

#[test]
fn no_date() {
    let a = check(b"From: a@b\r\nSubject: undated\r\n\r\nx\r\n");
    assert!(a.envelope.starts_with(b"(NIL \"undated\" "));
    let a = check(b"Date: the day after tomorrow\r\n\r\nx\r\n");
    assert!(a.envelope.starts_with(b"(\"the day after tomorrow\" NIL "));
}

#[test]
fn digest_parts_default_to_messages() {
    let raw = crlf(
        "Content-Type: multipart/digest; boundary=d

--d

Subject: one

first
--d
Content-Type: text/plain

not a message
--d--
",
    );
    let a = check(&raw);
    assert_eq!(a.root.parts[0].content_type, "message/rfc822");
    assert_eq!(a.root.parts[1].content_type, "text/plain");
    assert!(a.bodystructure.starts_with(br#"(("MESSAGE" "RFC822" NIL NIL NIL "7BIT" 21 (NIL "one" "#));
    assert_eq!(a.section(&raw, &sec("1.TEXT")).as_deref(), Some(&b"first"[..]));
}

#[test]
fn encoded_message_rfc822_is_opaque() {
    let raw = crlf(
        "Content-Type: multipart/mixed; boundary=b

--b
Content-Type: message/rfc822
Content-Transfer-Encoding: base64

U3ViamVjdDogeA0KDQp5DQo=
--b--
",
    );
    let a = check(&raw);
    assert_eq!(a.root.parts[0].content_type, "application/octet-stream");
    assert_eq!(a.binary(&raw, &[1]).unwrap().unwrap(), b"Subject: x\r\n\r\ny\r\n");
    assert_eq!(a.section(&raw, &sec("1.HEADER")), None);
}

#[test]
fn unknown_transfer_encoding() {
    let raw = b"Content-Transfer-Encoding: x-uuencode\r\n\r\nbegin 644 x\r\n";
    let a = check(raw);
    assert!(matches!(a.binary(raw, &[1]), Err(atoll_message::Error::UnknownEncoding)));
    assert!(a.binary(raw, &[2]).unwrap().is_none());
    assert_eq!(a.binary(raw, &[]).unwrap().as_deref(), Some(&raw[..]));
}

#[test]
fn rfc2231_parameters_are_joined_not_decoded() {
    let raw = crlf(
        "Content-Type: multipart/mixed; boundary=b

--b
Content-Type: application/octet-stream;
 name*0*=utf-8''J%C3%B6rg;
 name*1*=%20CV.pdf
Content-Disposition: attachment; filename=\"=?utf-8?q?J=C3=B6rg?= CV.pdf\"

x
--b--
",
    );
    let a = check(&raw);
    assert!(
        a.bodystructure.to_string().contains(
            r#"("APPLICATION" "OCTET-STREAM" ("NAME*" "utf-8''J%C3%B6rg%20CV.pdf") NIL NIL "7BIT" 1 NIL ("ATTACHMENT" ("FILENAME" "=?utf-8?q?J=C3=B6rg?= CV.pdf")) NIL NIL)"#
        ),
        "{}",
        a.bodystructure
    );
}

#[test]
fn broken_messages_still_get_an_analysis() {
    let cases: &[&[u8]] = &[
        b"",
        b"\r\n",
        b"\n\n\n",
        b"no header at all",
        b"Subject: only a header",
        b"Subject: only a header\r\n",
        b"Subject: x\r\n\r\n",
        b"\x00\xff\xfe garbage \x01\r\n\r\n\x80",
        b"Content-Type: multipart/mixed\r\n\r\nno boundary parameter\r\n",
        b"Content-Type: multipart/mixed; boundary=b\r\n\r\nboundary never appears\r\n",
        b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\ntruncated",
        b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\none\r\n--b\r\n\r\ntwo, no end\r\n",
        b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b--\r\n",
        b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n--b\r\n--b--",
        b"Content-Type: multipart/mixed; boundary=\"\"\r\n\r\n--\r\n--\r\n",
        b"Content-Type: message/rfc822\r\n\r\n",
        b"Content-Type: message/rfc822\r\n\r\nSubject: inner only header",
        b"Content-Type: message/rfc822\r\n\r\nContent-Type: message/rfc822\r\n\r\nSubject: deep\r\n\r\nbody",
        b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: message/rfc822\r\n\r\nContent-Type: multipart/alternative; boundary=c\r\n\r\n--c\r\n\r\nx\r\n--b--\r\n",
        b"Content-Type: text/plain; charset=\"unterminated\r\n\r\nx",
        b"Content-Type: /\r\nContent-Disposition: ;;;\r\nContent-Language: ,,,\r\n\r\nx",
        b"From: \"unterminated <a@b>\r\nTo: <<<<\r\nCc: (((\r\nBcc: ;:;:@@\r\n\r\n",
        b"Content-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n\r\n!!!not base64===\r\n",
        b"Content-Type: text/plain\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n=\r\n=Z=\r\n=",
    ];
    for raw in cases {
        let a = check(raw);
        let _ = a.binary(raw, &[1]);
        let _ = a.binary_size(raw, &[1]);
    }
    let a = check(b"no header at all");
    assert_eq!(a.root.content_type, "text/plain");
}

#[test]
fn deep_nesting_is_capped_and_stored() {
    let mut raw = Vec::new();
    for i in 0..200 {
        raw.extend_from_slice(format!("Content-Type: multipart/mixed; boundary=b{i}\r\n\r\n--b{i}\r\n").as_bytes());
    }
    raw.extend_from_slice(b"Content-Type: text/plain\r\n\r\ndeep\r\n");
    for i in (0..200).rev() {
        raw.extend_from_slice(format!("--b{i}--\r\n").as_bytes());
    }
    check(&raw);

    let mut raw = Vec::new();
    for _ in 0..200 {
        raw.extend_from_slice(b"Content-Type: message/rfc822\r\n\r\n");
    }
    raw.extend_from_slice(b"Subject: bottom\r\n\r\nx");
    check(&raw);
}

#[test]
fn many_parts_are_capped() {
    let mut raw = b"Content-Type: multipart/mixed; boundary=b\r\n\r\n".to_vec();
    for _ in 0..12_000 {
        raw.extend_from_slice(b"--b\r\n\r\nx\r\n");
    }
    raw.extend_from_slice(b"--b--\r\n");
    let a = check(&raw);
    assert!(a.root.parts.len() < 10_000);
}

#[test]
fn repeated_mime_fields_use_the_last_like_the_parser() {
    let raw = crlf(
        "Content-Type: text/plain
Content-Type: multipart/mixed; boundary=b

--b

one
--b--
",
    );
    let a = check(&raw);
    assert_eq!(a.root.content_type, "multipart/mixed");
    assert!(a.bodystructure.ends_with(br#" "MIXED" ("BOUNDARY" "b") NIL NIL NIL)"#), "{}", a.bodystructure);
}

#[test]
fn message_global_is_an_encapsulated_message() {
    let raw = crlf(
        "Content-Type: multipart/mixed; boundary=b

--b
Content-Type: message/global

Subject: caf\u{e9}

x
--b--
",
    );
    let a = check(&raw);
    assert_eq!(a.root.parts[0].content_type, "message/global");
    assert!(
        a.body.starts_with(b"((\"MESSAGE\" \"GLOBAL\" NIL NIL NIL \"7BIT\" 19 (NIL {5}\r\ncaf\xc3\xa9 NIL"),
        "{}",
        a.body
    );
    assert_eq!(a.section(&raw, &sec("1.TEXT")).as_deref(), Some(&b"x"[..]));
}
