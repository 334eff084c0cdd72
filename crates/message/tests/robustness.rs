//! A cargo-fuzz-style run without cargo-fuzz: deterministic mutations of a
//! few seed messages (bytes flipped, inserted, deleted, chunks duplicated,
//! MIME tokens spliced in) must all analyse without panicking and pass every
//! invariant of `common::check`.

mod common;

use atoll_message::{header_values, search_text};
use atoll_testkit::rng::Rng;

const SEEDS: &[&str] = &[
    "From: \"Doe, Jane\" <jane@example.org>\r\nTo: team: ann@example.org, bob@example.org;\r\nSubject: =?utf-8?q?R=C3=A9sum=C3=A9?=\r\n\
Date: Tue, 1 Oct 2024 10:00:00 +0200\r\nContent-Type: multipart/mixed; boundary=mixed\r\n\r\n--mixed\r\n\
Content-Type: text/plain; charset=us-ascii\r\n\r\nSee attached.\r\n--mixed\r\nContent-Type: application/pdf; name=\"cv.pdf\"\r\n\
Content-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQK\r\n--mixed\r\nContent-Type: message/rfc822\r\n\r\n\
From: bob@example.org\r\nContent-Type: multipart/alternative; boundary=alt\r\n\r\n--alt\r\n\r\nplain\r\n--alt\r\n\
Content-Type: text/html\r\n\r\n<p>html</p>\r\n--alt--\r\n--mixed--\r\n",
    "Subject: plain\r\nContent-Type: text/plain; charset*0*=utf-8''a; charset*1=b\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n\
caf=C3=A9 =\r\nsoft\r\n",
    "Content-Type: multipart/digest; boundary=d\r\n\r\n--d\r\n\r\nSubject: one\r\n\r\nfirst\r\n--d\r\n\r\nSubject: two\r\n\r\nsecond\r\n--d--\r\n",
    "Content-Type: message/rfc822\r\n\r\nContent-Type: message/rfc822\r\n\r\nSubject: deep\r\n\r\nbody",
];

const TOKENS: &[&[u8]] = &[
    b"\r\n",
    b"\n",
    b"\r\n\r\n",
    b"--",
    b"--mixed",
    b"--mixed--",
    b"--alt\r\n",
    b"--d\r\n",
    b"Content-Type: multipart/mixed; boundary=mixed\r\n",
    b"Content-Type: message/rfc822\r\n",
    b"Content-Transfer-Encoding: base64\r\n",
    b"boundary=",
    b"\"",
    b"(",
    b")",
    b"<",
    b">",
    b":",
    b";",
    b"=?",
    b"?=",
    b"\0",
    b"\xff",
    b" ",
    b"\t",
];

fn mutate(rng: &mut Rng, data: &mut Vec<u8>) {
    for _ in 0..=rng.below(8) {
        let len = data.len();
        match rng.below(6) {
            0 if len > 0 => {
                let i = rng.below(len);
                data[i] = rng.next_u64() as u8;
            }
            1 => {
                let i = rng.below(len + 1);
                data.insert(i, rng.next_u64() as u8);
            }
            2 if len > 0 => {
                let i = rng.below(len);
                let n = rng.below(len - i).min(64) + 1;
                data.drain(i..i + n.min(len - i));
            }
            3 if len > 0 => {
                let i = rng.below(len);
                let n = rng.below(len - i).min(256);
                let chunk = data[i..i + n].to_vec();
                let at = rng.below(len + 1);
                data.splice(at..at, chunk);
            }
            4 => {
                let t = TOKENS[rng.below(TOKENS.len())];
                let at = rng.below(len + 1);
                data.splice(at..at, t.iter().copied());
            }
            _ => {
                let cut = rng.below(len + 1);
                data.truncate(cut);
            }
        }
    }
}

/// mail-parser has debug assertions that hostile input can trip in debug
/// builds; `analyse` catches those and falls back to a flat analysis. Keep
/// them out of the test output; any other panic is still reported.
fn quiet_mail_parser_assertions() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if !info.location().is_some_and(|l| l.file().contains("mail-parser")) {
            default(info);
        }
    }));
}

#[test]
fn mutated_messages_never_panic() {
    quiet_mail_parser_assertions();
    let mut rng = Rng::new(0x9e37_79b9_7f4a_7c15);
    for i in 0..2000 {
        let mut data = SEEDS[i % SEEDS.len()].as_bytes().to_vec();
        mutate(&mut rng, &mut data);
        // Sometimes keep mutating the mutant, to get further from the seed.
        for _ in 0..rng.below(3) {
            mutate(&mut rng, &mut data);
        }
        let a = std::panic::catch_unwind(|| common::check(&data))
            .unwrap_or_else(|_| panic!("iteration {i}: {:?}", String::from_utf8_lossy(&data)));
        for path in [&[][..], &[1], &[1, 1], &[2], &[3, 1], &[3, 1, 2]] {
            let _ = a.binary(&data, path);
            let _ = a.binary_size(&data, path);
        }
        let _ = search_text(&data);
        let _ = header_values(&data, "from");
    }
}

#[test]
fn random_bytes_never_panic() {
    quiet_mail_parser_assertions();
    let mut rng = Rng::new(42);
    for _ in 0..300 {
        let len = rng.below(2048);
        let data: Vec<u8> = (0..len).map(|_| rng.next_u64() as u8).collect();
        common::check(&data);
        let _ = search_text(&data);
    }
}
