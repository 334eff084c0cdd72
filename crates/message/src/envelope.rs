//! ENVELOPE (RFC 9051 §7.5.2): date, subject, from, sender, reply-to, to,
//! cc, bcc, in-reply-to and message-id of a message header, values as sent
//! (unfolded; encoded words are left for the client to decode).

use crate::address::{self, Item};
use crate::header::{self, Header};
use crate::imap_syntax::{nstring, string};

/// The ENVELOPE list of the header block `block`, parenthesised.
pub(crate) fn envelope(block: &[u8]) -> Vec<u8> {
    let h = header::split(block);
    let text = |name: &str| h.first(name).map(|f| header::unfolded(f.value));
    let mut out = Vec::with_capacity(256);
    out.push(b'(');
    nstring(&mut out, text("Date").as_deref());
    out.push(b' ');
    nstring(&mut out, text("Subject").as_deref());
    let from = addresses(&h, "From");
    for (name, default_to_from) in
        [("From", false), ("Sender", true), ("Reply-To", true), ("To", false), ("Cc", false), ("Bcc", false)]
    {
        out.push(b' ');
        let mut list = if name == "From" { from.clone() } else { addresses(&h, name) };
        // "If the Sender or Reply-To lines are absent in the [RFC5322]
        // header, or are present but empty, the server sets the
        // corresponding member of the envelope to be the same value as the
        // from member" (RFC 9051 §7.5.2).
        if default_to_from && list.is_empty() {
            list.clone_from(&from);
        }
        address_list(&mut out, &list);
    }
    out.push(b' ');
    nstring(&mut out, text("In-Reply-To").as_deref());
    out.push(b' ');
    nstring(&mut out, text("Message-ID").as_deref());
    out.push(b')');
    out
}

fn addresses(h: &Header<'_>, name: &str) -> Vec<Item> {
    h.first(name).map(|f| address::parse_list(&header::unfold(f.value))).unwrap_or_default()
}

/// `"(" 1*address ")"` or NIL for an empty list.
fn address_list(out: &mut Vec<u8>, list: &[Item]) {
    if list.is_empty() {
        out.extend_from_slice(b"NIL");
        return;
    }
    out.push(b'(');
    for item in list {
        match item {
            Item::Mailbox(m) => {
                out.push(b'(');
                nstring(out, m.name.as_deref());
                out.push(b' ');
                nstring(out, m.adl.as_deref());
                out.push(b' ');
                string(out, &m.mailbox);
                out.push(b' ');
                string(out, &m.host);
                out.push(b')');
            }
            Item::GroupStart(name) => {
                out.extend_from_slice(b"(NIL NIL ");
                string(out, name);
                out.extend_from_slice(b" NIL)");
            }
            Item::GroupEnd => out.extend_from_slice(b"(NIL NIL NIL NIL)"),
        }
    }
    out.push(b')');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_example() {
        // The header of the RFC 9051 §7.5.2 / RFC 3501 §8 example.
        let h = b"Date: Wed, 17 Jul 1996 02:23:25 -0700 (PDT)\r\n\
From: Terry Gray <gray@cac.washington.edu>\r\n\
Subject: IMAP4rev1 WG mtg summary and minutes\r\n\
To: imap@cac.washington.edu\r\n\
cc: minutes@CNRI.Reston.VA.US,\r\n    John Klensin <KLENSIN@MIT.EDU>\r\n\
Message-Id: <B27397-0100000@cac.washington.edu>\r\n\
MIME-Version: 1.0\r\n\
Content-Type: TEXT/PLAIN; CHARSET=US-ASCII\r\n\r\n";
        assert_eq!(
            String::from_utf8(envelope(h)).unwrap(),
            r#"("Wed, 17 Jul 1996 02:23:25 -0700 (PDT)" "IMAP4rev1 WG mtg summary and minutes" (("Terry Gray" NIL "gray" "cac.washington.edu")) (("Terry Gray" NIL "gray" "cac.washington.edu")) (("Terry Gray" NIL "gray" "cac.washington.edu")) ((NIL NIL "imap" "cac.washington.edu")) ((NIL NIL "minutes" "CNRI.Reston.VA.US")("John Klensin" NIL "KLENSIN" "MIT.EDU")) NIL NIL "<B27397-0100000@cac.washington.edu>")"#
        );
    }

    #[test]
    fn empty_header() {
        assert_eq!(envelope(b"\r\n"), b"(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)");
    }

    #[test]
    fn empty_reply_to_defaults_to_from() {
        let e = envelope(b"From: a@b\r\nReply-To:\r\nSender: \r\nTo: undisclosed-recipients:;\r\nSubject:\r\n\r\n");
        assert_eq!(
            String::from_utf8(e).unwrap(),
            "(NIL \"\" ((NIL NIL \"a\" \"b\")) ((NIL NIL \"a\" \"b\")) ((NIL NIL \"a\" \"b\")) \
((NIL NIL \"undisclosed-recipients\" NIL)(NIL NIL NIL NIL)) NIL NIL NIL NIL)"
        );
    }

    #[test]
    fn eight_bit_names_go_in_literals() {
        let e = envelope(b"From: J\xf6rg <j@x>\r\nSubject: caf\xc3\xa9\r\n\r\n");
        assert!(
            e.starts_with(b"(NIL {5}\r\ncaf\xc3\xa9 (({4}\r\nJ\xf6rg NIL \"j\" \"x\"))"),
            "{:?}",
            String::from_utf8_lossy(&e)
        );
    }
}
