//! The header fields submission completes (RFC 6409 §8.2, §8.3): a
//! message without Date or Message-ID gets them, since many small clients
//! (scripts, devices) leave them out and receivers score their absence as
//! spam.

use atoll_message::date::rfc5322_date;

fn has_field(message: &[u8], name: &str) -> bool {
    let head = &message[..atoll_message::header_len(message)];
    head.split(|&b| b == b'\n').any(|line| {
        line.len() > name.len()
            && line[..name.len()].eq_ignore_ascii_case(name.as_bytes())
            && line[name.len()..].iter().find(|b| !matches!(b, b' ' | b'\t')) == Some(&b':')
    })
}

/// The fields to prepend so that `message` has a Date and a Message-ID;
/// `id` makes the Message-ID unique (the queue id), `host` is this node.
pub fn missing_fields(message: &[u8], id: &str, host: &str, now: i64) -> String {
    let mut out = String::new();
    if !has_field(message, "Date") {
        out.push_str(&format!("Date: {}\r\n", rfc5322_date(now)));
    }
    if !has_field(message, "Message-ID") {
        out.push_str(&format!("Message-ID: <{id}.{}@{host}>\r\n", crate::trace::new_id()));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_what_is_missing_is_added() {
        let full = b"Date: Thu, 1 Jan 1970 00:00:00 +0000\r\nMessage-Id : <a@b>\r\nSubject: x\r\n\r\nDate: body\r\n";
        assert_eq!(missing_fields(full, "1", "mx", 0), "");
        let bare = b"Subject: x\r\nX-Date: no\r\n\r\nMessage-ID: <in@body>\r\n";
        let added = missing_fields(bare, "00AB", "sub.example.org", 0);
        assert!(added.starts_with("Date: Thu, 1 Jan 1970 00:00:00 +0000\r\nMessage-ID: <00AB."), "{added}");
        assert!(added.ends_with("@sub.example.org>\r\n"), "{added}");
    }
}
