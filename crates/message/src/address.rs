//! Address lists (RFC 5322 §3.4, with the obsolete forms of §4.4) read from
//! a raw, unfolded header value, for ENVELOPE (RFC 9051 §7.5.2).
//!
//! Display names stay as sent: encoded words are not decoded (the client
//! does that) and 8-bit bytes are kept. Parsing is forgiving: whatever a
//! broken header holds still yields addresses where it can, never an error.

/// What ENVELOPE lists: mailboxes, and groups as a start marker
/// `(NIL NIL "name" NIL)` and an end marker `(NIL NIL NIL NIL)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Item {
    Mailbox(Mailbox),
    GroupStart(Vec<u8>),
    GroupEnd,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Mailbox {
    /// The display name, or failing that the comment after a bare address.
    pub name: Option<Vec<u8>>,
    /// Obsolete source route (`@a,@b`).
    pub adl: Option<Vec<u8>>,
    /// Local part, quoting removed.
    pub mailbox: Vec<u8>,
    pub host: Vec<u8>,
}

/// ENVELOPE needs a host for every mailbox: a NIL host marks group syntax.
/// These are what Dovecot sends for the missing pieces.
const MISSING_MAILBOX: &[u8] = b"MISSING_MAILBOX";
const MISSING_DOMAIN: &[u8] = b"MISSING_DOMAIN";

#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok {
    /// A run of atom text; `.` is included so that `john.doe` and `J. Doe`
    /// stay whole.
    Atom(Vec<u8>),
    Quoted(Vec<u8>),
    /// `[...]` domain literal, brackets kept.
    Literal(Vec<u8>),
    Comment(Vec<u8>),
    Special(u8),
}

fn tokenize(s: &[u8]) -> Vec<Tok> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < s.len() {
        let b = s[i];
        match b {
            b' ' | b'\t' | b'\r' | b'\n' => i += 1,
            b'"' => {
                let mut v = Vec::new();
                i += 1;
                while i < s.len() && s[i] != b'"' {
                    if s[i] == b'\\' && i + 1 < s.len() {
                        i += 1;
                    }
                    v.push(s[i]);
                    i += 1;
                }
                i += 1;
                out.push(Tok::Quoted(v));
            }
            b'(' => {
                let mut v = Vec::new();
                let mut depth = 0usize;
                while i < s.len() {
                    let c = s[i];
                    i += 1;
                    match c {
                        b'\\' if i < s.len() => {
                            v.push(s[i]);
                            i += 1;
                            continue;
                        }
                        b'(' => {
                            depth += 1;
                            if depth == 1 {
                                continue;
                            }
                        }
                        b')' => {
                            depth -= 1;
                            if depth == 0 {
                                break;
                            }
                        }
                        _ => {}
                    }
                    v.push(c);
                }
                out.push(Tok::Comment(v));
            }
            b'[' => {
                let start = i;
                while i < s.len() && s[i] != b']' {
                    i += 1;
                }
                i = (i + 1).min(s.len());
                out.push(Tok::Literal(s[start..i].to_vec()));
            }
            b'<' | b'>' | b'@' | b',' | b';' | b':' | b']' | b')' => {
                out.push(Tok::Special(b));
                i += 1;
            }
            _ => {
                let start = i;
                while i < s.len() && !b" \t\r\n\"()[]<>@,;:".contains(&s[i]) {
                    i += 1;
                }
                out.push(Tok::Atom(s[start..i].to_vec()));
            }
        }
    }
    out
}

/// Parses an unfolded address-list value.
pub(crate) fn parse_list(value: &[u8]) -> Vec<Item> {
    let toks = tokenize(value);
    let mut p = Parser { t: &toks, i: 0, out: Vec::new() };
    p.list(false);
    p.out
}

struct Parser<'t> {
    t: &'t [Tok],
    i: usize,
    out: Vec<Item>,
}

impl<'t> Parser<'t> {
    fn peek(&self) -> Option<&'t Tok> {
        self.t.get(self.i)
    }

    fn at(&self, c: u8) -> bool {
        self.peek() == Some(&Tok::Special(c))
    }

    /// Addresses until the end, or until `;` inside a group.
    fn list(&mut self, in_group: bool) {
        while let Some(t) = self.peek() {
            match t {
                Tok::Special(b';') if in_group => return,
                Tok::Special(b',' | b';' | b'>' | b']' | b')') => self.i += 1,
                _ => {
                    let before = self.i;
                    if self.address(in_group) {
                        continue;
                    }
                    // Skip what is left of a malformed address.
                    while let Some(t) = self.peek() {
                        match t {
                            Tok::Special(b',') => break,
                            Tok::Special(b';') if in_group => break,
                            _ => self.i += 1,
                        }
                    }
                    if self.i == before {
                        self.i += 1;
                    }
                }
            }
        }
    }

    /// One mailbox or group; true for a group.
    fn address(&mut self, in_group: bool) -> bool {
        let mut phrase: Vec<&Tok> = Vec::new();
        let mut comment: Option<Vec<u8>> = None;
        while let Some(t) = self.peek() {
            match t {
                Tok::Atom(_) | Tok::Quoted(_) | Tok::Literal(_) => phrase.push(t),
                Tok::Comment(c) => comment = Some(c.clone()),
                _ => break,
            }
            self.i += 1;
        }
        match self.peek() {
            Some(Tok::Special(b'<')) => {
                self.i += 1;
                let name = join(&phrase, b" ");
                let mut m = self.angle_addr();
                if name.is_empty() {
                    m.name = self.trailing_comment().or(comment);
                } else {
                    m.name = Some(name);
                }
                self.out.push(Item::Mailbox(m));
            }
            Some(Tok::Special(b':')) if !in_group => {
                self.i += 1;
                self.out.push(Item::GroupStart(join(&phrase, b" ")));
                self.list(true);
                if self.at(b';') {
                    self.i += 1;
                }
                self.out.push(Item::GroupEnd);
                return true;
            }
            Some(Tok::Special(b'@')) => {
                self.i += 1;
                let mailbox = join(&phrase, b"");
                let (host, after) = self.domain();
                let name = self.trailing_comment().or(after).or(comment);
                self.out.push(Item::Mailbox(mailbox_of(name, None, mailbox, host)));
            }
            _ if !phrase.is_empty() => {
                // A bare word ("undisclosed-recipients", "postmaster").
                let name = self.trailing_comment().or(comment);
                self.out.push(Item::Mailbox(mailbox_of(name, None, join(&phrase, b""), Vec::new())));
            }
            _ => {}
        }
        false
    }

    /// After `<`: `[route ":"] local "@" domain ">"`.
    fn angle_addr(&mut self) -> Mailbox {
        let mut adl = None;
        if self.at(b'@')
            && self.t[self.i..].iter().take_while(|t| **t != Tok::Special(b'>')).any(|t| *t == Tok::Special(b':'))
        {
            let mut route = Vec::new();
            while let Some(t) = self.peek() {
                self.i += 1;
                match t {
                    Tok::Special(b':') => break,
                    Tok::Special(c) => route.push(*c),
                    Tok::Atom(a) | Tok::Literal(a) => route.extend_from_slice(a),
                    Tok::Quoted(q) => route.extend_from_slice(q),
                    Tok::Comment(_) => {}
                }
            }
            adl = Some(route);
        }
        let mut local: Vec<&Tok> = Vec::new();
        while let Some(t) = self.peek() {
            match t {
                Tok::Atom(_) | Tok::Quoted(_) | Tok::Literal(_) => local.push(t),
                Tok::Comment(_) => {}
                _ => break,
            }
            self.i += 1;
        }
        let host = if self.at(b'@') {
            self.i += 1;
            self.domain().0
        } else {
            Vec::new()
        };
        while let Some(t) = self.peek() {
            match t {
                Tok::Special(b'>') => {
                    self.i += 1;
                    break;
                }
                Tok::Special(b',' | b';') => break,
                _ => self.i += 1,
            }
        }
        mailbox_of(None, adl, join(&local, b""), host)
    }

    /// Domain: atoms and literals up to the next special. Returns the last
    /// comment met too, which may be the name (see `trailing_comment`).
    fn domain(&mut self) -> (Vec<u8>, Option<Vec<u8>>) {
        let mut parts: Vec<&Tok> = Vec::new();
        let mut comment = None;
        while let Some(t) = self.peek() {
            match t {
                Tok::Atom(_) | Tok::Literal(_) | Tok::Quoted(_) => parts.push(t),
                Tok::Comment(c) => comment = Some(header_trim(c)).filter(|c| !c.is_empty()),
                Tok::Special(_) => break,
            }
            self.i += 1;
        }
        (join(&parts, b""), comment)
    }

    /// A comment right after an address, used as the name when there is no
    /// display name (`jdoe@example.org (John Doe)`), as Dovecot does.
    fn trailing_comment(&mut self) -> Option<Vec<u8>> {
        let mut found = None;
        while let Some(Tok::Comment(c)) = self.peek() {
            found = Some(header_trim(c));
            self.i += 1;
        }
        found.filter(|c| !c.is_empty())
    }
}

fn header_trim(c: &[u8]) -> Vec<u8> {
    crate::header::trim(c).to_vec()
}

fn mailbox_of(name: Option<Vec<u8>>, adl: Option<Vec<u8>>, mailbox: Vec<u8>, host: Vec<u8>) -> Mailbox {
    Mailbox {
        name,
        adl,
        mailbox: if mailbox.is_empty() { MISSING_MAILBOX.to_vec() } else { mailbox },
        host: if host.is_empty() { MISSING_DOMAIN.to_vec() } else { host },
    }
}

fn join(toks: &[&Tok], sep: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for (n, t) in toks.iter().enumerate() {
        if n > 0 {
            out.extend_from_slice(sep);
        }
        match t {
            Tok::Atom(v) | Tok::Quoted(v) | Tok::Literal(v) | Tok::Comment(v) => out.extend_from_slice(v),
            Tok::Special(c) => out.push(*c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mb(name: Option<&str>, mailbox: &str, host: &str) -> Item {
        Item::Mailbox(Mailbox {
            name: name.map(|n| n.as_bytes().to_vec()),
            adl: None,
            mailbox: mailbox.as_bytes().to_vec(),
            host: host.as_bytes().to_vec(),
        })
    }

    #[test]
    fn common_forms() {
        assert_eq!(
            parse_list(b"Terry Gray <gray@cac.washington.edu>"),
            [mb(Some("Terry Gray"), "gray", "cac.washington.edu")]
        );
        assert_eq!(
            parse_list(b"minutes@CNRI.Reston.VA.US, \"John Klensin\" <KLENSIN@MIT.EDU>"),
            [mb(None, "minutes", "CNRI.Reston.VA.US"), mb(Some("John Klensin"), "KLENSIN", "MIT.EDU")]
        );
        assert_eq!(parse_list(b"jdoe@example.org (John Doe)"), [mb(Some("John Doe"), "jdoe", "example.org")]);
        assert_eq!(parse_list(b"\"Doe, John\" <j@x>,,"), [mb(Some("Doe, John"), "j", "x")]);
        assert_eq!(parse_list(b"John Q. Public <jqp@x.y>"), [mb(Some("John Q. Public"), "jqp", "x.y")]);
        assert_eq!(parse_list(b"\"john doe\"@x"), [mb(None, "john doe", "x")]);
        assert_eq!(parse_list(b"=?utf-8?q?J=C3=B6rg?= <j@x>"), [mb(Some("=?utf-8?q?J=C3=B6rg?="), "j", "x")]);
        let Item::Mailbox(latin1) = &parse_list(b"J\xf6rg <j@x>")[0] else { panic!() };
        assert_eq!(latin1.name.as_deref(), Some(&b"J\xf6rg"[..]));
        assert_eq!(parse_list(b"<j@[1.2.3.4]>"), [mb(None, "j", "[1.2.3.4]")]);
        assert_eq!(parse_list(b""), []);
    }

    #[test]
    fn groups_and_routes() {
        assert_eq!(
            parse_list(b"A Group: a@b, \"C\" <c@d>; e@f"),
            [
                Item::GroupStart(b"A Group".to_vec()),
                mb(None, "a", "b"),
                mb(Some("C"), "c", "d"),
                Item::GroupEnd,
                mb(None, "e", "f"),
            ]
        );
        assert_eq!(
            parse_list(b"undisclosed-recipients:;"),
            [Item::GroupStart(b"undisclosed-recipients".to_vec()), Item::GroupEnd]
        );
        let route = parse_list(b"X <@a.b,@c.d:u@h>");
        assert_eq!(
            route,
            [Item::Mailbox(Mailbox {
                name: Some(b"X".to_vec()),
                adl: Some(b"@a.b,@c.d".to_vec()),
                mailbox: b"u".to_vec(),
                host: b"h".to_vec()
            })]
        );
    }

    #[test]
    fn broken_forms_do_not_vanish() {
        assert_eq!(parse_list(b"postmaster"), [mb(None, "postmaster", "MISSING_DOMAIN")]);
        assert_eq!(parse_list(b"<a@b"), [mb(None, "a", "b")]);
        assert_eq!(parse_list(b"<>"), [mb(None, "MISSING_MAILBOX", "MISSING_DOMAIN")]);
        assert_eq!(parse_list(b"a@b> junk, c@d"), [mb(None, "a", "b"), mb(None, "c", "d")]);
        assert_eq!(
            parse_list(b"Group: a@b"),
            [Item::GroupStart(b"Group".to_vec()), mb(None, "a", "b"), Item::GroupEnd]
        );
        for junk in [&b"(((("[..], b"\"", b"<<<>>>@@@", b";;;", b":::", b"@", b"a:b:c;d;", b"[", b"\\"] {
            let _ = parse_list(junk);
        }
    }
}

/// The addresses (`local@domain`) of every mailbox in the header fields
/// called `name` of a message's top-level header, for checks such as
/// "is this From one of the sender's addresses". Groups contribute their
/// members; a mailbox without a domain is left out.
pub fn header_addresses(message: &[u8], name: &str) -> Vec<String> {
    let block = &message[..crate::header::header_len(message)];
    let header = crate::header::split(block);
    let mut out = Vec::new();
    for field in header.fields.iter().filter(|f| f.is(name)) {
        for item in parse_list(&crate::header::unfolded(field.value)) {
            if let Item::Mailbox(m) = item
                && m.host != MISSING_DOMAIN
                && m.mailbox != MISSING_MAILBOX
            {
                out.push(format!("{}@{}", String::from_utf8_lossy(&m.mailbox), String::from_utf8_lossy(&m.host)));
            }
        }
    }
    out
}

#[cfg(test)]
mod header_address_tests {
    use super::header_addresses;

    #[test]
    fn from_addresses_of_a_message() {
        let m = b"From: \"Ann, A.\" <ann@example.org>, bob@example.net (Bob)\r\nTo: team: c@x.org;\r\nSubject: x\r\n\r\nFrom: body@evil.org\r\n";
        assert_eq!(header_addresses(m, "from"), ["ann@example.org", "bob@example.net"]);
        assert_eq!(header_addresses(m, "To"), ["c@x.org"]);
        assert!(header_addresses(m, "Sender").is_empty());
        assert!(header_addresses(b"From: undisclosed\r\n\r\n", "From").is_empty());
    }
}
