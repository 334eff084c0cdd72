//! The Authentication-Results header field (RFC 8601): building ours, and
//! removing the ones that claim to be ours but came from outside.

use std::borrow::Cow;

/// One method's result: `spf=pass smtp.mailfrom=a@example.com`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct MethodResult {
    /// "iprev", "spf", "dkim", "dmarc" (RFC 8601 §2.7, RFC 7489 §11.2).
    pub(crate) method: &'static str,
    /// The result value registered for the method ("pass", "temperror"…).
    pub(crate) result: &'static str,
    /// A comment after the result, for a person reading the header
    /// (`(p=reject)`); never parsed by software (RFC 8601 §2.3).
    pub(crate) comment: Option<String>,
    /// `ptype.property` and its value: "smtp.mailfrom", "header.d"…
    pub(crate) properties: Vec<(&'static str, String)>,
}

impl MethodResult {
    pub(crate) fn new(method: &'static str, result: &'static str) -> MethodResult {
        MethodResult { method, result, comment: None, properties: Vec::new() }
    }

    pub(crate) fn property(mut self, name: &'static str, value: impl Into<String>) -> MethodResult {
        self.properties.push((name, value.into()));
        self
    }

    pub(crate) fn comment(mut self, text: impl Into<String>) -> MethodResult {
        self.comment = Some(text.into());
        self
    }
}

/// `Authentication-Results: <authserv-id>;` and one result per line,
/// folded, CRLF at the end. With no result at all it says "none"
/// (RFC 8601 §2.2: no-result = ";" "none").
pub(crate) fn header(authserv_id: &str, results: &[MethodResult]) -> String {
    let mut out = format!("Authentication-Results: {}", value(authserv_id));
    if results.is_empty() {
        out.push_str("; none\r\n");
        return out;
    }
    for r in results {
        out.push_str(";\r\n\t");
        out.push_str(r.method);
        out.push('=');
        out.push_str(r.result);
        if let Some(c) = &r.comment {
            out.push_str(" (");
            out.push_str(&comment_text(c));
            out.push(')');
        }
        for (name, v) in &r.properties {
            out.push(' ');
            out.push_str(name);
            out.push('=');
            out.push_str(&value(v));
        }
    }
    out.push_str("\r\n");
    out
}

/// A pvalue (RFC 8601 §2.2): a token, or `local-part@domain`, as it is
/// when it is made of atext and dots; otherwise a quoted-string. Control
/// characters (a CR or LF would end the field) become '?'.
fn value(s: &str) -> String {
    let clean: String = s.chars().map(|c| if c.is_control() { '?' } else { c }).collect();
    // `local-part@domain`: RFC 5322 §3.2.3 atext and dots. A bare value:
    // an RFC 2045 token (no tspecials). Non-ASCII is left as is (an
    // SMTPUTF8 message may carry it, RFC 6532).
    let atext = |c: char| c.is_alphanumeric() || "!#$%&'*+-/=?^_`{|}~.".contains(c) || !c.is_ascii();
    let token = |c: char| (c.is_ascii_graphic() && !"()<>@,;:\\\"/[]?=".contains(c)) || !c.is_ascii();
    let simple = match clean.rsplit_once('@') {
        Some((local, domain)) => {
            local.chars().all(atext)
                && !domain.is_empty()
                && domain.chars().all(|c| c.is_alphanumeric() || "-.".contains(c))
        }
        None => !clean.is_empty() && clean.chars().all(token),
    };
    if simple {
        return clean;
    }
    let mut quoted = String::with_capacity(clean.len() + 2);
    quoted.push('"');
    for c in clean.chars() {
        if c == '"' || c == '\\' {
            quoted.push('\\');
        }
        quoted.push(c);
    }
    quoted.push('"');
    quoted
}

/// Text for a comment: no parentheses or backslashes that would end or
/// break it, no control characters.
fn comment_text(s: &str) -> String {
    s.chars().map(|c| if c.is_control() || matches!(c, '(' | ')' | '\\') { '?' } else { c }).collect()
}

/// The message without the Authentication-Results fields whose
/// authserv-id is `authserv_id` (case-insensitively): RFC 8601 §5, a
/// result claiming to come from inside our boundary that arrived from
/// outside is forged and must be deleted. Fields of other authserv-ids
/// stay (§5 lets them be kept; they are someone else's claims).
pub(crate) fn remove_forged<'a>(message: &'a [u8], authserv_id: &str) -> Cow<'a, [u8]> {
    let end = memchr::memmem::find(message, b"\r\n\r\n").map_or(message.len(), |p| p + 2);
    let header = &message[..end];
    let forged = |field: &[u8]| is_ours(field, authserv_id);
    // Split into whole fields (a field with its continuation lines).
    let mut fields: Vec<&[u8]> = Vec::new();
    let mut start = 0;
    for (i, line) in line_starts(header) {
        let continuation = matches!(line.first(), Some(b' ' | b'\t'));
        if !continuation && i > start {
            fields.push(&header[start..i]);
            start = i;
        }
    }
    if start < header.len() {
        fields.push(&header[start..]);
    }
    if !fields.iter().any(|f| forged(f)) {
        return Cow::Borrowed(message);
    }
    let mut out = Vec::with_capacity(message.len());
    for f in fields.into_iter().filter(|f| !forged(f)) {
        out.extend_from_slice(f);
    }
    out.extend_from_slice(&message[end..]);
    Cow::Owned(out)
}

/// Each line of `header` with the offset it starts at.
fn line_starts(header: &[u8]) -> impl Iterator<Item = (usize, &[u8])> {
    let mut offset = 0;
    header.split_inclusive(|&b| b == b'\n').map(move |line| {
        let at = offset;
        offset += line.len();
        (at, line)
    })
}

/// Whether `field` (name, colon, value, continuation lines) is an
/// Authentication-Results field with this authserv-id.
fn is_ours(field: &[u8], authserv_id: &str) -> bool {
    const NAME: &[u8] = b"authentication-results";
    let Some(colon) = field.iter().position(|&b| b == b':') else { return false };
    let name = field[..colon].trim_ascii_end();
    if !name.eq_ignore_ascii_case(NAME) {
        return false;
    }
    let value = String::from_utf8_lossy(&field[colon + 1..]);
    authserv_id_of(&value).is_some_and(|id| id.eq_ignore_ascii_case(authserv_id))
}

/// The authserv-id of a field value: the first word, after any
/// whitespace and comments (RFC 8601 §2.2, CFWS), quotes removed.
fn authserv_id_of(value: &str) -> Option<String> {
    let mut chars = value.chars().peekable();
    // CFWS: whitespace and (possibly nested) comments.
    loop {
        match chars.peek() {
            Some(c) if c.is_whitespace() => {
                chars.next();
            }
            Some('(') => {
                let mut depth = 0;
                for c in chars.by_ref() {
                    match c {
                        '(' => depth += 1,
                        ')' => {
                            depth -= 1;
                            if depth == 0 {
                                break;
                            }
                        }
                        _ => {}
                    }
                }
            }
            _ => break,
        }
    }
    let mut id = String::new();
    if chars.peek() == Some(&'"') {
        chars.next();
        let mut escaped = false;
        for c in chars {
            match (escaped, c) {
                (false, '\\') => escaped = true,
                (false, '"') => break,
                _ => {
                    id.push(c);
                    escaped = false;
                }
            }
        }
    } else {
        id = chars.take_while(|c| !c.is_whitespace() && !matches!(c, ';' | '(')).collect();
    }
    if id.is_empty() { None } else { Some(id) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_with_every_method() {
        let results = vec![
            MethodResult::new("iprev", "pass").property("policy.iprev", "192.0.2.1"),
            MethodResult::new("spf", "pass").property("smtp.mailfrom", "sender@example.com"),
            MethodResult::new("dkim", "pass").property("header.d", "example.com").property("header.s", "sel"),
            MethodResult::new("dmarc", "pass").comment("p=reject").property("header.from", "example.com"),
        ];
        assert_eq!(
            header("mx.example.org", &results),
            "Authentication-Results: mx.example.org;\r\n\
             \tiprev=pass policy.iprev=192.0.2.1;\r\n\
             \tspf=pass smtp.mailfrom=sender@example.com;\r\n\
             \tdkim=pass header.d=example.com header.s=sel;\r\n\
             \tdmarc=pass (p=reject) header.from=example.com\r\n"
        );
        assert_eq!(header("mx.example.org", &[]), "Authentication-Results: mx.example.org; none\r\n");
    }

    #[test]
    fn values_that_are_not_tokens_are_quoted() {
        assert_eq!(value("<>"), "\"<>\"");
        assert_eq!(value("a b@example.com"), "\"a b@example.com\"");
        assert_eq!(value("\"x\"@example.com"), "\"\\\"x\\\"@example.com\"");
        assert_eq!(value("bob+tag@example.com"), "bob+tag@example.com");
        assert_eq!(value("2001:db8::1"), "\"2001:db8::1\"");
        assert_eq!(value("192.0.2.1"), "192.0.2.1");
        assert_eq!(value("a=b"), "\"a=b\"");
        // A line break from a client never reaches the header.
        let h = header("mx", &[MethodResult::new("spf", "fail").property("smtp.mailfrom", "a@b\r\nX-Evil: 1")]);
        assert_eq!(h.matches("\r\n").count(), 2, "{h}");
        let h = header("mx", &[MethodResult::new("spf", "none").comment("evil) x=(y\r\n")]);
        assert!(h.contains("(evil? x=?y??)"), "{h}");
    }

    #[test]
    fn forged_results_with_our_id_are_removed() {
        let m = b"Received: from x\r\n\
            Authentication-Results: mx.example.org; spf=pass\r\n\
            \tsmtp.mailfrom=forged@example.com\r\n\
            Subject: hi\r\n\
            authentication-results : (comment (nested)) MX.Example.ORG;\r\n dkim=pass\r\n\
            Authentication-Results: \"mx.example.org\"; dmarc=pass\r\n\
            Authentication-Results: other.example.net; spf=fail\r\n\
            Authentication-Results: mx.example.org.evil; spf=fail\r\n\
            \r\n\
            Authentication-Results: mx.example.org; in the body\r\n";
        let out = remove_forged(m, "mx.example.org");
        assert_eq!(
            String::from_utf8_lossy(&out),
            "Received: from x\r\nSubject: hi\r\n\
             Authentication-Results: other.example.net; spf=fail\r\n\
             Authentication-Results: mx.example.org.evil; spf=fail\r\n\
             \r\nAuthentication-Results: mx.example.org; in the body\r\n"
        );
        let clean = b"Authentication-Results: other.example.net; none\r\n\r\nbody";
        assert!(matches!(remove_forged(clean, "mx.example.org"), Cow::Borrowed(_)));
        // A message that is all header, no body.
        let only = b"Authentication-Results: mx.example.org; none\r\nSubject: x\r\n";
        assert_eq!(&*remove_forged(only, "mx.example.org"), b"Subject: x\r\n");
    }

    #[test]
    fn authserv_ids_are_read_past_comments_and_quotes() {
        assert_eq!(authserv_id_of(" mx.example.org; spf=pass").as_deref(), Some("mx.example.org"));
        assert_eq!(authserv_id_of(" (c) mx.example.org 1; none").as_deref(), Some("mx.example.org"));
        assert_eq!(authserv_id_of("\"q\\\"d\"; none").as_deref(), Some("q\"d"));
        assert_eq!(authserv_id_of("  ").as_deref(), None);
    }
}
