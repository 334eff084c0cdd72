//! Checks every analysis must pass, whatever the input: ranges inside the
//! message and inside their parents, HEADER + TEXT = the message, the stored
//! JSON read back equal, and ENVELOPE / BODY / BODYSTRUCTURE that follow
//! RFC 9051's grammar.

#![allow(dead_code)]

use atoll_message::{Analysis, Part, Section, SectionText, analyse};

/// Analyses `raw` and asserts every invariant.
pub fn check(raw: &[u8]) -> Analysis {
    let a = analyse(raw);
    let len = raw.len() as u64;
    assert_eq!(a.size, len);
    assert_eq!(a.root.header.0, 0);
    assert_eq!(a.root.body.1, len);
    check_part(&a.root, (0, len));

    let header = a.section(raw, &sec("HEADER")).expect("HEADER");
    let text = a.section(raw, &sec("TEXT")).expect("TEXT");
    assert_eq!([&header[..], &text[..]].concat(), raw, "HEADER + TEXT is the message");
    assert_eq!(a.section(raw, &sec("")).as_deref(), Some(raw));
    assert!(a.section(raw, &sec("1")).is_some(), "every message has a part 1");

    let json = a.to_json();
    assert_eq!(Analysis::from_json(&json).expect("stored analysis reads back"), a);

    let env = Sexp::parse_all(&a.envelope).unwrap_or_else(|e| panic!("ENVELOPE {e}: {}", a.envelope));
    check_envelope(&env);
    for (form, extended) in [(&a.body, false), (&a.bodystructure, true)] {
        let s = Sexp::parse_all(form).unwrap_or_else(|e| panic!("{e}: {form}"));
        check_body(&s, extended).unwrap_or_else(|e| panic!("{e}: {form}"));
    }
    a
}

fn check_part(p: &Part, within: (u64, u64)) {
    assert!(within.0 <= p.header.0, "{p:?} starts inside {within:?}");
    assert!(p.header.0 <= p.header.1 && p.header.1 == p.body.0 && p.body.0 <= p.body.1, "{p:?}");
    assert!(p.body.1 <= within.1, "{p:?} ends inside {within:?}");
    assert!(p.content_type.contains('/') && p.content_type == p.content_type.to_ascii_lowercase(), "{p:?}");
    let mut prev = p.body.0;
    for c in &p.parts {
        assert!(c.header.0 >= prev, "children in order");
        check_part(c, p.body);
        prev = c.body.1;
    }
    if let Some(m) = &p.message {
        assert_eq!((m.header.0, m.body.1), p.body, "an encapsulated message fills its part's body");
        check_part(m, p.body);
    }
    assert!(p.parts.is_empty() || p.content_type.starts_with("multipart/"));
    assert_eq!(p.message.is_some(), p.content_type == "message/rfc822" || p.content_type == "message/global", "{p:?}");
}

/// Parses a section spec as a client writes it: `4.2.HEADER`,
/// `HEADER.FIELDS (From To)`, `1.MIME`, ``.
pub fn sec(s: &str) -> Section {
    let mut path = Vec::new();
    let mut rest = s;
    while let Some((head, tail)) = rest.split_once('.').or(Some((rest, ""))) {
        match head.parse::<u32>() {
            Ok(n) => {
                path.push(n);
                rest = tail;
                if tail.is_empty() {
                    break;
                }
            }
            Err(_) => break,
        }
    }
    let text = match rest {
        "" => None,
        "HEADER" => Some(SectionText::Header),
        "TEXT" => Some(SectionText::Text),
        "MIME" => Some(SectionText::Mime),
        other => {
            let (kind, list) = other.split_once(' ').expect("HEADER.FIELDS list");
            let fields = list.trim_matches(['(', ')']).split(' ').map(str::to_string).collect();
            Some(SectionText::HeaderFields { not: kind == "HEADER.FIELDS.NOT", fields })
        }
    };
    Section { path, text }
}

/// An IMAP response value.
#[derive(Debug, Clone, PartialEq)]
pub enum Sexp {
    Nil,
    Number(u64),
    Str(Vec<u8>),
    List(Vec<Sexp>),
}

impl Sexp {
    pub fn parse_all(input: &[u8]) -> Result<Sexp, String> {
        let mut pos = 0;
        let v = Self::parse(input, &mut pos)?;
        if pos != input.len() {
            return Err(format!("trailing bytes at {pos}"));
        }
        Ok(v)
    }

    fn parse(s: &[u8], pos: &mut usize) -> Result<Sexp, String> {
        match s.get(*pos) {
            Some(b'(') => {
                *pos += 1;
                let mut items = Vec::new();
                loop {
                    match s.get(*pos) {
                        Some(b')') => {
                            *pos += 1;
                            return Ok(Sexp::List(items));
                        }
                        Some(b' ') if !items.is_empty() => *pos += 1,
                        // Bodies in a multipart follow each other without a space.
                        Some(b'(') if !items.is_empty() => {}
                        None => return Err("unterminated list".into()),
                        _ if items.is_empty() => {}
                        Some(&c) => return Err(format!("unexpected {:?} at {}", c as char, *pos)),
                    }
                    items.push(Self::parse(s, pos)?);
                }
            }
            Some(b'"') => {
                *pos += 1;
                let mut v = Vec::new();
                loop {
                    match s.get(*pos) {
                        Some(b'"') => {
                            *pos += 1;
                            return Ok(Sexp::Str(v));
                        }
                        Some(b'\\') => {
                            let c = *s.get(*pos + 1).ok_or("bad escape")?;
                            if c != b'"' && c != b'\\' {
                                return Err("bad escape".into());
                            }
                            v.push(c);
                            *pos += 2;
                        }
                        Some(&c) if c == 0 || c == b'\r' || c == b'\n' || c >= 0x80 => {
                            return Err(format!("byte {c:#x} in a quoted string"));
                        }
                        Some(&c) => {
                            v.push(c);
                            *pos += 1;
                        }
                        None => return Err("unterminated string".into()),
                    }
                }
            }
            Some(b'{') => {
                let close = s[*pos..].iter().position(|&b| b == b'}').ok_or("bad literal")? + *pos;
                let n: usize =
                    std::str::from_utf8(&s[*pos + 1..close]).ok().and_then(|n| n.parse().ok()).ok_or("bad literal")?;
                if s.get(close + 1..close + 3) != Some(b"\r\n") {
                    return Err("literal without CRLF".into());
                }
                let start = close + 3;
                let v = s.get(start..start + n).ok_or("short literal")?.to_vec();
                if v.contains(&0) {
                    return Err("NUL in literal".into());
                }
                *pos = start + n;
                Ok(Sexp::Str(v))
            }
            Some(b'N') if s[*pos..].starts_with(b"NIL") => {
                *pos += 3;
                Ok(Sexp::Nil)
            }
            Some(c) if c.is_ascii_digit() => {
                let start = *pos;
                while s.get(*pos).is_some_and(u8::is_ascii_digit) {
                    *pos += 1;
                }
                Ok(Sexp::Number(
                    std::str::from_utf8(&s[start..*pos])
                        .map_err(|e| e.to_string())?
                        .parse()
                        .map_err(|e| format!("{e}"))?,
                ))
            }
            other => Err(format!("unexpected {other:?} at {}", *pos)),
        }
    }

    fn str(&self) -> Option<&[u8]> {
        match self {
            Sexp::Str(s) => Some(s),
            _ => None,
        }
    }
}

fn nstring(v: &Sexp) -> bool {
    matches!(v, Sexp::Nil | Sexp::Str(_))
}

fn check_envelope(e: &Sexp) {
    let Sexp::List(f) = e else { panic!("envelope is not a list: {e:?}") };
    assert_eq!(f.len(), 10, "envelope has 10 fields: {e:?}");
    assert!(nstring(&f[0]) && nstring(&f[1]) && nstring(&f[8]) && nstring(&f[9]), "{e:?}");
    for list in &f[2..8] {
        match list {
            Sexp::Nil => {}
            Sexp::List(addrs) => {
                assert!(!addrs.is_empty());
                for a in addrs {
                    let Sexp::List(a) = a else { panic!("address {a:?}") };
                    assert_eq!(a.len(), 4, "{a:?}");
                    assert!(a.iter().all(nstring), "{a:?}");
                }
            }
            other => panic!("address list {other:?}"),
        }
    }
}

fn params(v: &Sexp) -> Result<(), String> {
    match v {
        Sexp::Nil => Ok(()),
        Sexp::List(p) if !p.is_empty() && p.len() % 2 == 0 && p.iter().all(|x| x.str().is_some()) => Ok(()),
        other => Err(format!("bad params {other:?}")),
    }
}

fn dsp_lang_loc(rest: &[Sexp]) -> Result<(), String> {
    let [dsp, lang, loc] = rest else { return Err(format!("extension data {rest:?}")) };
    match dsp {
        Sexp::Nil => {}
        Sexp::List(d) if d.len() == 2 && d[0].str().is_some() => params(&d[1])?,
        other => return Err(format!("disposition {other:?}")),
    }
    match lang {
        Sexp::Nil | Sexp::Str(_) => {}
        Sexp::List(l) if !l.is_empty() && l.iter().all(|x| x.str().is_some()) => {}
        other => return Err(format!("language {other:?}")),
    }
    if !nstring(loc) {
        return Err(format!("location {loc:?}"));
    }
    Ok(())
}

/// RFC 9051 `body`.
pub fn check_body(b: &Sexp, extended: bool) -> Result<(), String> {
    let Sexp::List(f) = b else { return Err(format!("body is not a list: {b:?}")) };
    if let Some(Sexp::List(_)) = f.first() {
        let n = f.iter().take_while(|x| matches!(x, Sexp::List(_))).count();
        for child in &f[..n] {
            check_body(child, extended)?;
        }
        let rest = &f[n..];
        let Some(Sexp::Str(_)) = rest.first() else { return Err(format!("multipart subtype {rest:?}")) };
        if extended {
            let [_, p, tail @ ..] = rest else { return Err("multipart extension".into()) };
            params(p)?;
            dsp_lang_loc(tail)?;
        } else if rest.len() != 1 {
            return Err(format!("BODY multipart with extension data {rest:?}"));
        }
        return Ok(());
    }
    if f.len() < 7 {
        return Err(format!("body-fields {f:?}"));
    }
    let (kind, subtype) = (f[0].str().ok_or("type")?, f[1].str().ok_or("subtype")?);
    params(&f[2])?;
    if !(nstring(&f[3]) && nstring(&f[4]) && f[5].str().is_some() && matches!(f[6], Sexp::Number(_))) {
        return Err(format!("body-fields {f:?}"));
    }
    let mut rest = &f[7..];
    if kind.eq_ignore_ascii_case(b"message")
        && (subtype.eq_ignore_ascii_case(b"rfc822") || subtype.eq_ignore_ascii_case(b"global"))
    {
        let [env, body, Sexp::Number(_), tail @ ..] = rest else { return Err(format!("body-type-msg {rest:?}")) };
        check_envelope(env);
        check_body(body, extended)?;
        rest = tail;
    } else if kind.eq_ignore_ascii_case(b"text") {
        let [Sexp::Number(_), tail @ ..] = rest else { return Err(format!("body-type-text {rest:?}")) };
        rest = tail;
    }
    if extended {
        let [md5, tail @ ..] = rest else { return Err("md5".into()) };
        if !nstring(md5) {
            return Err("md5".into());
        }
        dsp_lang_loc(tail)
    } else if rest.is_empty() {
        Ok(())
    } else {
        Err(format!("BODY with extension data {rest:?}"))
    }
}
