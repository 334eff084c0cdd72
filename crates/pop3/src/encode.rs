//! A stored body as RETR and TOP send it (RFC 1939 §3): every line ended
//! by CRLF (a bare LF becomes CRLF), a line that starts with `.` gets one
//! more in front (dot-stuffing), a CRLF after a last line without one, and
//! the `.` line that ends the answer. Without the stuffing and the final
//! line, RETR sends exactly `atoll_store::crlf_size` octets, the size
//! STAT and LIST announced (RFC 1939 §5).
//!
//! The encoder is fed the body in pieces, so a large message is streamed
//! from its file and never held whole.

/// Streams one body.
#[derive(Debug, Clone)]
pub struct Encoder {
    at_line_start: bool,
    prev_cr: bool,
    /// Whether the current line has anything but CRs (an empty line ends
    /// the header).
    line_has_text: bool,
    in_header: bool,
    /// TOP: body lines still to send. None: the whole message (RETR).
    body_lines_left: Option<u64>,
    done: bool,
}

impl Encoder {
    /// RETR: the whole message.
    pub fn whole() -> Encoder {
        Encoder {
            at_line_start: true,
            prev_cr: false,
            line_has_text: false,
            in_header: true,
            body_lines_left: None,
            done: false,
        }
    }

    /// TOP: the header, the blank line after it, and `lines` lines of the
    /// body (RFC 1939 §7).
    pub fn top(lines: u64) -> Encoder {
        Encoder { body_lines_left: Some(lines), ..Encoder::whole() }
    }

    /// True once TOP has sent all it should: the rest of the body need not
    /// be read.
    pub fn is_done(&self) -> bool {
        self.done
    }

    /// Appends the encoded form of the next piece of the body to `out`.
    pub fn feed(&mut self, chunk: &[u8], out: &mut Vec<u8>) {
        out.reserve(chunk.len() + chunk.len() / 32);
        for &b in chunk {
            if self.done {
                return;
            }
            if self.at_line_start && b == b'.' {
                out.push(b'.');
            }
            if b == b'\n' {
                if !self.prev_cr {
                    out.push(b'\r');
                }
                out.push(b'\n');
                self.end_of_line();
            } else {
                out.push(b);
                self.at_line_start = false;
                if b != b'\r' {
                    self.line_has_text = true;
                }
            }
            self.prev_cr = b == b'\r';
        }
    }

    fn end_of_line(&mut self) {
        self.at_line_start = true;
        if self.in_header {
            if !self.line_has_text {
                self.in_header = false;
            }
        } else if let Some(n) = &mut self.body_lines_left {
            *n = n.saturating_sub(1);
        }
        self.line_has_text = false;
        // TOP n ends after the n-th body line (TOP 0 right after the
        // blank line).
        if let Some(0) = self.body_lines_left
            && !self.in_header
        {
            self.done = true;
        }
    }

    /// Ends the answer: a CRLF if the last line had none, then `.` CRLF.
    pub fn finish(self, out: &mut Vec<u8>) {
        if !self.at_line_start {
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b".\r\n");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode(raw: &[u8], mut e: Encoder, piece: usize) -> Vec<u8> {
        let mut out = Vec::new();
        for chunk in raw.chunks(piece.max(1)) {
            e.feed(chunk, &mut out);
        }
        e.finish(&mut out);
        out
    }

    /// What a client does with the answer (RFC 1939 §3): drop the final
    /// `.` line and one leading dot of every line that has one.
    fn unstuff(answer: &[u8]) -> Vec<u8> {
        let body = answer.strip_suffix(b".\r\n").expect("ends with the dot line");
        let mut out = Vec::new();
        for line in body.split_inclusive(|&b| b == b'\n') {
            out.extend_from_slice(line.strip_prefix(b".").unwrap_or(line));
        }
        out
    }

    #[test]
    fn whole_message_normalises_and_stuffs() {
        let raw = b"Subject: x\n\n.hidden\r\n..two\nlast";
        let out = encode(raw, Encoder::whole(), 1000);
        assert_eq!(out, b"Subject: x\r\n\r\n..hidden\r\n...two\r\nlast\r\n.\r\n");
        assert_eq!(encode(b"", Encoder::whole(), 1), b".\r\n");
        assert_eq!(encode(b".\r\n", Encoder::whole(), 1), b"..\r\n.\r\n");
    }

    #[test]
    fn sizes_match_the_store_and_pieces_do_not_matter() {
        let samples: [&[u8]; 8] = [
            b"",
            b"a",
            b"a\r",
            b"H: v\r\n\r\nbody\r\n.\r\n..\r\n",
            b"H: v\n\nbody\n.\n",
            b"\r\r\n\n\r.x\r",
            b".",
            b"H: v\r\n\r\n\xff\x00.\r\nend",
        ];
        for raw in samples {
            let whole = encode(raw, Encoder::whole(), raw.len());
            for piece in [1, 2, 3, 7] {
                assert_eq!(encode(raw, Encoder::whole(), piece), whole, "{raw:?} in pieces of {piece}");
            }
            let unstuffed = unstuff(&whole);
            assert_eq!(unstuffed.len() as u64, atoll_store::crlf_size(raw), "{raw:?}");
            // Only line ends changed: dropping every CR gives the same
            // text with LF line ends (and one at the end).
            let strip = |v: &[u8]| v.iter().copied().filter(|&b| b != b'\r').collect::<Vec<u8>>();
            let mut expected = strip(raw);
            if !raw.is_empty() && !raw.ends_with(b"\n") {
                expected.push(b'\n');
            }
            assert_eq!(strip(&unstuffed), expected, "{raw:?}");
        }
    }

    #[test]
    fn pseudo_random_bodies_round_trip() {
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..2000 {
            let mut raw = Vec::new();
            for _ in 0..(seed % 40) {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                raw.push(b"ab.\r\n"[(seed % 5) as usize]);
            }
            let out = encode(&raw, Encoder::whole(), (seed % 5 + 1) as usize);
            assert_eq!(unstuff(&out).len() as u64, atoll_store::crlf_size(&raw), "{raw:?}");
            assert!(!out[..out.len() - 3].windows(5).any(|w| w == b"\r\n.\r\n"), "early end in {out:?}");
        }
    }

    #[test]
    fn top_sends_header_blank_line_and_n_lines() {
        let raw = b"A: 1\r\nB: 2\r\n\r\none\r\n.two\r\nthree\r\n";
        assert_eq!(encode(raw, Encoder::top(0), 100), b"A: 1\r\nB: 2\r\n\r\n.\r\n");
        assert_eq!(encode(raw, Encoder::top(2), 100), b"A: 1\r\nB: 2\r\n\r\none\r\n..two\r\n.\r\n");
        assert_eq!(encode(raw, Encoder::top(2), 1), encode(raw, Encoder::top(2), 100));
        assert_eq!(encode(raw, Encoder::top(10), 100), encode(raw, Encoder::whole(), 100));
        // Bare LF, and no body at all.
        assert_eq!(encode(b"A: 1\n\nx\ny\n", Encoder::top(1), 3), b"A: 1\r\n\r\nx\r\n.\r\n");
        assert_eq!(encode(b"A: 1\r\nB: 2", Encoder::top(0), 100), b"A: 1\r\nB: 2\r\n.\r\n");
        let mut e = Encoder::top(1);
        let mut out = Vec::new();
        e.feed(b"A: 1\r\n\r\nx\r\n", &mut out);
        assert!(e.is_done(), "the rest need not be read");
    }
}
