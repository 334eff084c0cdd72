//! The spool's on-disk records: a queued message with its envelope, the
//! note that some of its recipients are finished, and the note that a
//! held message is released to its recipients.
//!
//! A record is `len: u32 LE | crc: u32 LE | kind: u8 | payload`, where
//! `len` counts kind and payload and `crc` is CRC-32C over them. A record
//! that is cut short or fails its CRC ends the segment: it is the tail of a
//! write that a crash interrupted, and nothing in it was acknowledged.

use crc::{CRC_32_ISCSI, Crc};

const CRC: Crc<u32> = Crc::<u32>::new(&CRC_32_ISCSI);
pub(crate) const HEADER: usize = 8;
/// No record is larger: a message is capped well below this by the
/// configuration, and a `len` above it can only be garbage.
pub(crate) const MAX_RECORD: usize = 1 << 30;

const KIND_MESSAGE: u8 = 1;
const KIND_DONE: u8 = 2;
/// A message made from another one (a forward's copy, a delivery status
/// notification): the link to its parent, then a message record's payload.
const KIND_DERIVED: u8 = 3;
/// A held message may go: a moderator approved it.
const KIND_RELEASED: u8 = 4;

/// Bits of the envelope's flags byte.
const FLAG_JUNK: u8 = 1;
const FLAG_REMOTE: u8 = 2;
const FLAG_HELD: u8 = 4;

/// DSN NOTIFY (RFC 3461 §4.1) as bits; 0 is "not given" (the default:
/// FAILURE and DELAY).
pub mod notify {
    pub const NEVER: u8 = 1;
    pub const SUCCESS: u8 = 2;
    pub const FAILURE: u8 = 4;
    pub const DELAY: u8 = 8;
}

/// DSN RET (RFC 3461 §4.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ret {
    Full,
    Headers,
}

/// One recipient as accepted at RCPT time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvelopeRecipient {
    pub address: String,
    /// [`notify`] bits.
    pub notify: u8,
    /// ORCPT (RFC 3461 §4.2): the original recipient's address, decoded.
    pub orcpt: Option<String>,
}

impl EnvelopeRecipient {
    pub fn new(address: impl Into<String>) -> EnvelopeRecipient {
        EnvelopeRecipient { address: address.into(), notify: 0, orcpt: None }
    }

    /// A recipient as RCPT TO gave it, with its DSN parameters (RFC 3461
    /// §4.1, §4.2).
    pub fn from_rcpt(r: smtp_proto::RcptTo<String>) -> EnvelopeRecipient {
        let mut bits = 0;
        for (flag, bit) in [
            (smtp_proto::RCPT_NOTIFY_NEVER, notify::NEVER),
            (smtp_proto::RCPT_NOTIFY_SUCCESS, notify::SUCCESS),
            (smtp_proto::RCPT_NOTIFY_FAILURE, notify::FAILURE),
            (smtp_proto::RCPT_NOTIFY_DELAY, notify::DELAY),
        ] {
            if r.flags & flag != 0 {
                bits |= bit;
            }
        }
        EnvelopeRecipient { address: r.address, notify: bits, orcpt: r.orcpt }
    }
}

impl Ret {
    /// RET from MAIL FROM's flags (RFC 3461 §4.3).
    pub fn from_mail_flags(flags: u64) -> Option<Ret> {
        if flags & smtp_proto::MAIL_RET_FULL != 0 {
            Some(Ret::Full)
        } else if flags & smtp_proto::MAIL_RET_HDRS != 0 {
            Some(Ret::Headers)
        } else {
            None
        }
    }
}

/// Everything about a message but its bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    /// The reverse path; empty for the null sender (bounces).
    pub sender: String,
    pub recipients: Vec<EnvelopeRecipient>,
    /// When it was accepted, epoch seconds.
    pub arrived: i64,
    /// DSN ENVID (RFC 3461 §4.4).
    pub envid: Option<String>,
    pub ret: Option<Ret>,
    /// A content filter called it spam: file it into Junk.
    pub junk: bool,
    /// Every recipient is outside this platform: the message leaves over
    /// SMTP (the outbound path) instead of going into an island.
    pub remote: bool,
    /// A post to a moderated list: it waits for a moderator and is never
    /// attempted until a released record follows it.
    pub held: bool,
}

/// What writing a derived message does to its parent, in the same record
/// (so a crash can never leave one without the other).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkKind {
    /// The copy for these recipients' outside forwards is made.
    Forwarded = 1,
    /// These recipients are finished: this is their notification (a
    /// bounce, or a success notice).
    Notified = 2,
    /// These recipients' delay warning is sent.
    Warned = 3,
    /// The notice to the moderators of a held message is written. The
    /// recipients say which notice: 0 for the moderators whose mailboxes
    /// are here, 1 for those elsewhere (a message goes either into the
    /// islands or over SMTP, so the moderators may need two).
    Moderators = 4,
}

/// A derived message's link to its parent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    pub parent: u64,
    pub kind: LinkKind,
    /// Indexes into the parent's recipients.
    pub recipients: Vec<u16>,
}

/// A record read back from a segment.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Record {
    Message {
        id: u64,
        envelope: Envelope,
        body: Vec<u8>,
        link: Option<Link>,
    },
    /// These recipients (indexes into the envelope's) are finished:
    /// delivered, or given up on and bounced.
    Done {
        id: u64,
        recipients: Vec<u16>,
    },
    /// Held message `id` is approved: deliver it.
    Released {
        id: u64,
    },
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    // Addresses and DSN values are bounded by the SMTP line length (well
    // under 64 KiB); anything longer is cut rather than corrupting the record.
    let b = &s.as_bytes()[..s.len().min(u16::MAX as usize)];
    out.extend_from_slice(&(b.len() as u16).to_le_bytes());
    out.extend_from_slice(b);
}

fn put_opt(out: &mut Vec<u8>, s: Option<&str>) {
    match s {
        Some(s) => {
            out.push(1);
            put_str(out, s);
        }
        None => out.push(0),
    }
}

fn frame(out: &mut [u8], start: usize) {
    let len = (out.len() - start - HEADER) as u32;
    let crc = CRC.checksum(&out[start + HEADER..]);
    out[start..start + 4].copy_from_slice(&len.to_le_bytes());
    out[start + 4..start + 8].copy_from_slice(&crc.to_le_bytes());
}

/// Appends a message record to `out`; with `link`, a derived message.
pub(crate) fn encode_message(out: &mut Vec<u8>, id: u64, envelope: &Envelope, body: &[u8], link: Option<&Link>) {
    let start = out.len();
    out.extend_from_slice(&[0; HEADER]);
    match link {
        None => out.push(KIND_MESSAGE),
        Some(l) => {
            out.push(KIND_DERIVED);
            out.extend_from_slice(&l.parent.to_le_bytes());
            out.push(l.kind as u8);
            out.extend_from_slice(&(l.recipients.len() as u16).to_le_bytes());
            for r in &l.recipients {
                out.extend_from_slice(&r.to_le_bytes());
            }
        }
    }
    out.extend_from_slice(&id.to_le_bytes());
    out.extend_from_slice(&envelope.arrived.to_le_bytes());
    put_str(out, &envelope.sender);
    put_opt(out, envelope.envid.as_deref());
    out.push(match envelope.ret {
        None => 0,
        Some(Ret::Full) => 1,
        Some(Ret::Headers) => 2,
    });
    let flag = |on: bool, bit: u8| if on { bit } else { 0 };
    out.push(flag(envelope.junk, FLAG_JUNK) | flag(envelope.remote, FLAG_REMOTE) | flag(envelope.held, FLAG_HELD));
    out.extend_from_slice(&(envelope.recipients.len() as u16).to_le_bytes());
    for r in &envelope.recipients {
        put_str(out, &r.address);
        out.push(r.notify);
        put_opt(out, r.orcpt.as_deref());
    }
    out.extend_from_slice(&(body.len() as u32).to_le_bytes());
    out.extend_from_slice(body);
    frame(out, start);
}

/// Appends a done record to `out`.
pub(crate) fn encode_done(out: &mut Vec<u8>, id: u64, recipients: &[u16]) {
    let start = out.len();
    out.extend_from_slice(&[0; HEADER]);
    out.push(KIND_DONE);
    out.extend_from_slice(&id.to_le_bytes());
    out.extend_from_slice(&(recipients.len() as u16).to_le_bytes());
    for r in recipients {
        out.extend_from_slice(&r.to_le_bytes());
    }
    frame(out, start);
}

/// Appends a released record to `out`.
pub(crate) fn encode_released(out: &mut Vec<u8>, id: u64) {
    let start = out.len();
    out.extend_from_slice(&[0; HEADER]);
    out.push(KIND_RELEASED);
    out.extend_from_slice(&id.to_le_bytes());
    frame(out, start);
}

/// What [`decode`] found at the start of a buffer.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Decoded {
    /// A whole, valid record and how many bytes it took.
    Record(Record, usize),
    /// The buffer ends inside a record (or is empty).
    Incomplete,
    /// Not a valid record: a torn write or damage.
    Corrupt(&'static str),
}

struct Cursor<'a> {
    b: &'a [u8],
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.b.len() < n {
            return None;
        }
        let (head, rest) = self.b.split_at(n);
        self.b = rest;
        Some(head)
    }
    fn u8(&mut self) -> Option<u8> {
        self.take(1).map(|b| b[0])
    }
    fn u16(&mut self) -> Option<u16> {
        self.take(2).map(|b| u16::from_le_bytes([b[0], b[1]]))
    }
    fn u32(&mut self) -> Option<u32> {
        self.take(4).and_then(|b| b.try_into().ok()).map(u32::from_le_bytes)
    }
    fn u64(&mut self) -> Option<u64> {
        self.take(8).and_then(|b| b.try_into().ok()).map(u64::from_le_bytes)
    }
    fn str(&mut self) -> Option<String> {
        let n = self.u16()? as usize;
        String::from_utf8(self.take(n)?.to_vec()).ok()
    }
    fn opt(&mut self) -> Option<Option<String>> {
        match self.u8()? {
            0 => Some(None),
            1 => Some(Some(self.str()?)),
            _ => None,
        }
    }
}

/// Reads the record at the start of `buf`.
pub(crate) fn decode(buf: &[u8]) -> Decoded {
    if buf.len() < HEADER {
        return Decoded::Incomplete;
    }
    let len = u32::from_le_bytes([buf[0], buf[1], buf[2], buf[3]]) as usize;
    let crc = u32::from_le_bytes([buf[4], buf[5], buf[6], buf[7]]);
    if len == 0 || len > MAX_RECORD {
        return Decoded::Corrupt("bad record length");
    }
    let Some(payload) = buf.get(HEADER..HEADER + len) else {
        return Decoded::Incomplete;
    };
    if CRC.checksum(payload) != crc {
        return Decoded::Corrupt("checksum mismatch");
    }
    match parse(payload) {
        Some(r) => Decoded::Record(r, HEADER + len),
        None => Decoded::Corrupt("malformed record"),
    }
}

fn parse(payload: &[u8]) -> Option<Record> {
    let mut c = Cursor { b: payload };
    match c.u8()? {
        kind @ (KIND_MESSAGE | KIND_DERIVED) => {
            let link = if kind == KIND_DERIVED {
                let parent = c.u64()?;
                let kind = match c.u8()? {
                    1 => LinkKind::Forwarded,
                    2 => LinkKind::Notified,
                    3 => LinkKind::Warned,
                    4 => LinkKind::Moderators,
                    _ => return None,
                };
                let n = c.u16()? as usize;
                let recipients = (0..n).map(|_| c.u16()).collect::<Option<Vec<_>>>()?;
                Some(Link { parent, kind, recipients })
            } else {
                None
            };
            let id = c.u64()?;
            let arrived = c.u64()? as i64;
            let sender = c.str()?;
            let envid = c.opt()?;
            let ret = match c.u8()? {
                0 => None,
                1 => Some(Ret::Full),
                2 => Some(Ret::Headers),
                _ => return None,
            };
            let flags = c.u8()?;
            if flags & !(FLAG_JUNK | FLAG_REMOTE | FLAG_HELD) != 0 {
                return None;
            }
            let (junk, remote, held) = (flags & FLAG_JUNK != 0, flags & FLAG_REMOTE != 0, flags & FLAG_HELD != 0);
            let n = c.u16()? as usize;
            let mut recipients = Vec::with_capacity(n);
            for _ in 0..n {
                let address = c.str()?;
                let notify = c.u8()?;
                let orcpt = c.opt()?;
                recipients.push(EnvelopeRecipient { address, notify, orcpt });
            }
            let len = c.u32()? as usize;
            let body = c.take(len)?.to_vec();
            if !c.b.is_empty() {
                return None;
            }
            let envelope = Envelope { sender, recipients, arrived, envid, ret, junk, remote, held };
            Some(Record::Message { id, envelope, body, link })
        }
        KIND_DONE => {
            let id = c.u64()?;
            let n = c.u16()? as usize;
            let recipients = (0..n).map(|_| c.u16()).collect::<Option<Vec<_>>>()?;
            if !c.b.is_empty() {
                return None;
            }
            Some(Record::Done { id, recipients })
        }
        KIND_RELEASED => {
            let id = c.u64()?;
            if !c.b.is_empty() {
                return None;
            }
            Some(Record::Released { id })
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn envelope() -> Envelope {
        Envelope {
            sender: "ann@example.net".into(),
            recipients: vec![
                EnvelopeRecipient::new("bob@example.org"),
                EnvelopeRecipient {
                    address: "carol@example.org".into(),
                    notify: notify::SUCCESS | notify::FAILURE,
                    orcpt: Some("rfc822;carol@example.org".into()),
                },
            ],
            arrived: 1_700_000_000,
            envid: Some("QQ314159".into()),
            ret: Some(Ret::Headers),
            junk: true,
            remote: false,
            held: false,
        }
    }

    #[test]
    fn dsn_parameters_are_kept() {
        let r = smtp_proto::RcptTo {
            address: "bob@example.org".to_string(),
            orcpt: Some("Bob@example.org".to_string()),
            rrvs: 0,
            flags: smtp_proto::RCPT_NOTIFY_SUCCESS | smtp_proto::RCPT_NOTIFY_DELAY,
        };
        let e = EnvelopeRecipient::from_rcpt(r);
        assert_eq!(e.notify, notify::SUCCESS | notify::DELAY);
        assert_eq!(e.orcpt.as_deref(), Some("Bob@example.org"));
        assert_eq!(Ret::from_mail_flags(smtp_proto::MAIL_RET_HDRS), Some(Ret::Headers));
        assert_eq!(Ret::from_mail_flags(0), None);
    }

    #[test]
    fn message_and_done_round_trip() {
        let mut buf = Vec::new();
        encode_message(&mut buf, 42, &envelope(), b"Subject: hi\r\n\r\nbody\r\n", None);
        let first = buf.len();
        encode_done(&mut buf, 42, &[1, 0]);
        let Decoded::Record(r, n) = decode(&buf) else { panic!("message record not decoded") };
        assert_eq!(n, first);
        assert_eq!(
            r,
            Record::Message { id: 42, envelope: envelope(), body: b"Subject: hi\r\n\r\nbody\r\n".to_vec(), link: None }
        );
        let Decoded::Record(r, n) = decode(&buf[first..]) else { panic!("done record not decoded") };
        assert_eq!(n, buf.len() - first);
        assert_eq!(r, Record::Done { id: 42, recipients: vec![1, 0] });
    }

    #[test]
    fn derived_messages_carry_their_link() {
        let mut buf = Vec::new();
        let env = Envelope { remote: true, junk: false, ..envelope() };
        let link = Link { parent: 41, kind: LinkKind::Forwarded, recipients: vec![0, 1] };
        encode_message(&mut buf, 43, &env, b"x", Some(&link));
        let Decoded::Record(r, n) = decode(&buf) else { panic!("derived record not decoded") };
        assert_eq!(n, buf.len());
        assert_eq!(r, Record::Message { id: 43, envelope: env, body: b"x".to_vec(), link: Some(link) });
    }

    #[test]
    fn held_messages_their_notice_and_release_round_trip() {
        let mut buf = Vec::new();
        let held = Envelope { held: true, junk: false, ..envelope() };
        encode_message(&mut buf, 50, &held, b"post", None);
        let notice_at = buf.len();
        let link = Link { parent: 50, kind: LinkKind::Moderators, recipients: vec![1] };
        encode_message(&mut buf, 51, &Envelope { remote: true, ..envelope() }, b"notice", Some(&link));
        let released_at = buf.len();
        encode_released(&mut buf, 50);
        let Decoded::Record(r, _) = decode(&buf) else { panic!("held message not decoded") };
        assert_eq!(r, Record::Message { id: 50, envelope: held, body: b"post".to_vec(), link: None });
        let Decoded::Record(Record::Message { link: Some(l), .. }, _) = decode(&buf[notice_at..]) else {
            panic!("notice not decoded")
        };
        assert_eq!(l, link);
        let Decoded::Record(r, n) = decode(&buf[released_at..]) else { panic!("released record not decoded") };
        assert_eq!((r, n), (Record::Released { id: 50 }, buf.len() - released_at));
    }

    #[test]
    fn torn_and_damaged_records_are_detected() {
        let mut buf = Vec::new();
        encode_message(&mut buf, 7, &envelope(), b"x", None);
        for cut in 0..buf.len() {
            assert_eq!(decode(&buf[..cut]), Decoded::Incomplete, "cut at {cut}");
        }
        for i in HEADER..buf.len() {
            let mut bad = buf.clone();
            bad[i] ^= 0x40;
            assert!(matches!(decode(&bad), Decoded::Corrupt(_)), "flip at {i}");
        }
        assert!(matches!(decode(&[0u8; 16]), Decoded::Corrupt(_)));
    }
}
