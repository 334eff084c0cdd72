//! The notice a list's moderators get when a post to a moderated list is
//! held (Mailman's "post requires approval"): which list, who sent it,
//! its subject, the queue id and the commands that decide, with the
//! post's header attached as `text/rfc822-headers` (RFC 6522 §4, the
//! part delivery reports use for a header alone).
//!
//! Like a delivery status notification it comes from the null sender
//! (RFC 5321 §4.5.5): a moderator's mailbox that cannot take it must not
//! make a bounce go round.

use std::fmt::Write;

use atoll_message::date::rfc5322_date;

/// Everything a moderator notice says.
pub struct HeldNotice<'a> {
    /// This node's host name: the From domain and the Message-ID's.
    pub hostname: &'a str,
    /// The held post's queue id, as `atoll list approve` takes it.
    pub queue_id: &'a str,
    /// The moderated lists it was sent to.
    pub lists: &'a [String],
    /// The envelope sender; empty for the null sender.
    pub sender: &'a str,
    /// The moderators the notice goes to.
    pub moderators: &'a [String],
    /// The post as it was queued.
    pub post: &'a [u8],
    /// When it was held, and when it is refused if nobody decides; epoch
    /// seconds.
    pub held_at: i64,
    pub expires: i64,
    pub now: i64,
}

/// A value as it may appear in a header field or a line of text: no line
/// breaks, no other controls.
fn clean(s: &str) -> String {
    s.chars().map(|c| if c.is_control() { ' ' } else { c }).collect()
}

/// Where the post's header section ends (after its blank line).
fn header_end(m: &[u8]) -> usize {
    let at = |pat: &[u8]| memchr::memmem::find(m, pat).map(|i| i + pat.len());
    at(b"\r\n\r\n").or_else(|| at(b"\n\n")).unwrap_or(m.len())
}

impl HeldNotice<'_> {
    /// The subject of the post, decoded (RFC 2047), or "(no subject)".
    pub fn subject(&self) -> String {
        let s = atoll_message::header_values(self.post, "Subject").into_iter().next().unwrap_or_default();
        let s = clean(s.trim());
        if s.is_empty() { "(no subject)".into() } else { s }
    }

    /// The notice as a whole message, CRLF line ends.
    pub fn message(&self) -> Vec<u8> {
        let host = clean(self.hostname);
        let id = clean(self.queue_id);
        let lists = clean(&self.lists.join(", "));
        let sender = if self.sender.is_empty() { "<>".to_string() } else { clean(self.sender) };
        let head = &self.post[..header_end(self.post)];
        // A boundary that cannot occur in the header (RFC 2046 §5.1.1).
        let mut boundary = format!("=_atoll_held_{id}");
        while memchr::memmem::find(head, boundary.as_bytes()).is_some() {
            boundary.push('_');
        }

        let mut m = String::new();
        let _ = write!(m, "From: List moderation <MAILER-DAEMON@{host}>\r\n");
        let to: Vec<String> = self.moderators.iter().map(|a| format!("<{}>", clean(a))).collect();
        let _ = write!(m, "To: {}\r\n", to.join(",\r\n\t"));
        // The post's own subject may be any length and charset: it is in
        // the text below, not here.
        let _ = write!(m, "Subject: Post to {lists} from {sender} requires approval\r\n");
        let _ = write!(m, "Date: {}\r\n", rfc5322_date(self.now));
        let _ = write!(m, "Message-ID: <held.{id}@{host}>\r\n");
        // RFC 3834 §5: machine-made, not a reply; vacation responders leave
        // it be.
        m.push_str("Auto-Submitted: auto-generated\r\n");
        m.push_str("MIME-Version: 1.0\r\n");
        let _ = write!(m, "Content-Type: multipart/mixed; boundary=\"{boundary}\"\r\n\r\n");
        m.push_str("This is a MIME-encapsulated message.\r\n\r\n");
        let _ = write!(m, "--{boundary}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n");

        let _ = write!(m, "A post to a moderated list waits for a moderator's decision.\r\n\r\n");
        let _ = write!(m, "    List:       {lists}\r\n");
        let _ = write!(m, "    From:       {sender}\r\n");
        let _ = write!(m, "    Subject:    {}\r\n", self.subject());
        let _ = write!(m, "    Queue id:   {id}\r\n");
        let _ = write!(m, "    Held since: {}\r\n\r\n", rfc5322_date(self.held_at));
        m.push_str("It is held because the sender is not a moderator of the list.\r\n\r\n");
        m.push_str("To distribute it to the members:\r\n\r\n");
        let _ = write!(m, "    atoll list approve {id}\r\n\r\n");
        m.push_str("To refuse it (the sender is told, with your reason):\r\n\r\n");
        let _ = write!(m, "    atoll list reject {id} --reason \"...\"\r\n\r\n");
        m.push_str("To drop it without telling anyone (spam):\r\n\r\n");
        let _ = write!(m, "    atoll list reject {id} --discard\r\n\r\n");
        let _ = write!(m, "If nobody decides, it is refused on {}.\r\n", rfc5322_date(self.expires));
        m.push_str("The post's header is attached.\r\n");

        let _ = write!(m, "\r\n--{boundary}\r\nContent-Type: text/rfc822-headers\r\n\r\n");
        let mut out = m.into_bytes();
        out.extend_from_slice(head);
        if !out.ends_with(b"\n") {
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mail_parser::MimeHeaders;

    fn notice<'a>(post: &'a [u8], lists: &'a [String], moderators: &'a [String]) -> HeldNotice<'a> {
        HeldNotice {
            hostname: "mx1.example.org",
            queue_id: "00000000000000AB",
            lists,
            sender: "ann@example.net",
            moderators,
            post,
            held_at: 1_700_000_000,
            expires: 1_700_432_000,
            now: 1_700_000_005,
        }
    }

    #[test]
    fn the_notice_names_the_post_and_the_commands_and_attaches_the_header() {
        let post = b"Subject: =?utf-8?q?caf=C3=A9?= news\r\nFrom: ann@example.net\r\n\r\nsecret body\r\n";
        let lists = vec!["rust@example.org".to_string()];
        let moderators = vec!["mod@example.org".to_string(), "other@elsewhere.test".to_string()];
        let m = notice(post, &lists, &moderators).message();
        let text = String::from_utf8(m.clone()).unwrap();
        let parsed = mail_parser::MessageParser::default().parse(&m).expect("the notice parses");
        assert_eq!(parsed.subject(), Some("Post to rust@example.org from ann@example.net requires approval"));
        let ct = parsed.content_type().unwrap();
        assert_eq!((ct.ctype(), ct.subtype()), ("multipart", Some("mixed")));
        assert_eq!(parsed.parts.len(), 3, "the notice and its two parts");
        let to: Vec<&str> = parsed.to().unwrap().iter().filter_map(|a| a.address()).collect();
        assert_eq!(to, ["mod@example.org", "other@elsewhere.test"]);
        let body = parsed.body_text(0).unwrap();
        assert!(body.contains("Subject:    café news"), "{body}");
        assert!(body.contains("Queue id:   00000000000000AB"), "{body}");
        assert!(body.contains("atoll list approve 00000000000000AB"), "{body}");
        assert!(body.contains("atoll list reject 00000000000000AB --reason"), "{body}");
        assert!(body.contains("atoll list reject 00000000000000AB --discard"), "{body}");
        assert!(text.contains("Content-Type: text/rfc822-headers\r\n\r\nSubject: =?utf-8?q?caf=C3=A9?= news\r\n"));
        assert!(!text.contains("secret body"), "the header only");
        assert!(text.contains("Auto-Submitted: auto-generated\r\n"));
    }

    #[test]
    fn envelope_values_cannot_add_header_fields() {
        let post = b"Subject: x\r\n\r\nbody";
        let lists = vec!["rust@example.org\r\nBcc: victim@example.org".to_string()];
        let moderators = vec!["mod@example.org".to_string()];
        let mut n = notice(post, &lists, &moderators);
        n.sender = "ann@example.net\r\nX-Evil: 1";
        let text = String::from_utf8(n.message()).unwrap();
        assert!(!text.contains("\r\nBcc:") && !text.contains("\r\nX-Evil"), "{text}");
        n.post = b"From: x\r\n\r\n";
        assert_eq!(n.subject(), "(no subject)");
    }
}
