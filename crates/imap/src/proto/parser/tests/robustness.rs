//! A stable-Rust stand-in for the cargo-fuzz target in `fuzz/`: valid
//! commands, mutated by a deterministic xorshift generator, fed to the
//! parser and the framing. Nothing may panic and the framing must always
//! finish. A failure prints the input; add it to `bad_input.rs` before
//! fixing the bug.

use std::panic::{AssertUnwindSafe, catch_unwind};

use super::*;
use crate::proto::framing::{CommandReader, Frame, Limits};
use atoll_testkit::rng::Rng;

/// One valid command of every form, as the seeds.
const CORPUS: &[&[u8]] = &[
    b"a1 CAPABILITY",
    b"a1 NOOP",
    b"a1 LOGOUT",
    b"a1 STARTTLS",
    b"a1 ID (\"name\" \"sodr\" \"version\" NIL)",
    b"a1 ID NIL",
    b"a1 AUTHENTICATE PLAIN dGVzdAB0ZXN0AHRlc3Q=",
    b"a1 AUTHENTICATE PLAIN =",
    b"a1 LOGIN {3}\r\nann \"pa\\\"ss\"",
    b"a1 ENABLE QRESYNC UTF8=ACCEPT",
    b"a1 SELECT INBOX (CONDSTORE)",
    b"a5 SELECT INBOX (QRESYNC (1 2 1:5 (1:2 3:4)))",
    b"a1 EXAMINE \"Entw&APw-rfe\"",
    b"a1 CREATE x (USE (\\Drafts \\Sent))",
    b"a1 DELETE foo/bar",
    b"a1 RENAME INBOX old-mail",
    b"a1 SUBSCRIBE #news.comp.mail.mime",
    b"a1 UNSUBSCRIBE {4+}\r\nnews",
    b"a4 LIST (SUBSCRIBED RECURSIVEMATCH) \"\" (\"a\" %) RETURN (CHILDREN STATUS (MESSAGES UNSEEN))",
    b"a1 LIST \"\" *",
    b"a1 LSUB \"#news.\" \"comp.mail.*\"",
    b"a1 NAMESPACE",
    b"a1 STATUS INBOX (MESSAGES UIDNEXT UIDVALIDITY UNSEEN DELETED SIZE RECENT HIGHESTMODSEQ APPENDLIMIT)",
    b"a3 APPEND INBOX (\\Seen) \"05-Jan-2022 09:30:00 -0800\" {5}\r\nhello",
    b"a3 APPEND INBOX ~{3+}\r\na\0b",
    b"a1 IDLE",
    b"a1 GETQUOTAROOT INBOX",
    b"a1 GETQUOTA \"\"",
    b"a1 CHECK",
    b"a1 CLOSE",
    b"a1 UNSELECT",
    b"a1 EXPUNGE",
    b"a1 UID EXPUNGE 3000:3002",
    b"a2 SEARCH OR (SEEN SINCE 1-Feb-1994) NOT HEADER X y",
    b"a2 UID SEARCH RETURN (MIN MAX ALL COUNT SAVE) CHARSET UTF-8 TEXT {12}\r\n\xd0\xbe\xd1\x82\xd0\xbf\xd1\x83\xd1\x81\xd0\xba",
    b"a2 SEARCH MODSEQ \"/flags/\\\\draft\" all 620162338 LARGER 10 $ UID 1:* YOUNGER 5",
    b"a1 UID FETCH 1:* (BODY.PEEK[HEADER.FIELDS (FROM)]<0.10> FLAGS) (CHANGEDSINCE 5 VANISHED)",
    b"a1 FETCH 2:4 (BODY[1.2.MIME] BINARY[1]<0.5> BINARY.SIZE[2] BODYSTRUCTURE ENVELOPE RFC822.SIZE)",
    b"a1 FETCH 1 FULL",
    b"a6 STORE 1 (UNCHANGEDSINCE 3) +FLAGS.SILENT (\\Deleted)",
    b"a6 UID STORE 1,3:5 FLAGS \\Seen $Work",
    b"a1 COPY 2:4 MEETING",
    b"a1 UID MOVE 42:69 foo",
];

/// Bytes that matter to the grammar, to splice in.
const SPECIALS: &[u8] = b"(){}[]<>\"\\* 0123456789:,$~+.-=%\r\n\0\xff";
const TOKENS: &[&[u8]] =
    &[b"{5}\r\n", b"{99999999999}\r\n", b"~{2+}\r\n", b" NOT", b" (", b"OR ", b"\"", b"4294967296", b"BODY["];

fn mutate(rng: &mut Rng, seed: &[u8]) -> Vec<u8> {
    let mut m = seed.to_vec();
    for _ in 0..rng.below(6) + 1 {
        let pos = rng.below(m.len() + 1);
        match rng.below(6) {
            0 if pos < m.len() => m[pos] = rng.next_u64() as u8,
            1 if pos < m.len() => {
                m.remove(pos);
            }
            2 => m.insert(pos, SPECIALS[rng.below(SPECIALS.len())]),
            3 => {
                let t = TOKENS[rng.below(TOKENS.len())];
                m.splice(pos..pos, t.iter().copied());
            }
            4 => {
                // Duplicate a slice: repeats, nesting.
                let end = (pos + rng.below(16)).min(m.len());
                let chunk = m[pos..end].to_vec();
                m.splice(pos..pos, chunk);
            }
            _ => m.truncate(pos),
        }
    }
    m
}

fn must_not_panic(input: &[u8], f: impl FnOnce()) {
    if catch_unwind(AssertUnwindSafe(f)).is_err() {
        panic!("panicked on {:?}", String::from_utf8_lossy(input));
    }
}

#[test]
fn corpus_is_valid() {
    for &c in CORPUS {
        assert!(parse_command(c).is_ok(), "{:?}: {:?}", String::from_utf8_lossy(c), parse_command(c).err());
    }
}

#[test]
fn mutated_commands_never_panic() {
    let mut rng = Rng::new(0x9e37_79b9_7f4a_7c15);
    let mut accepted = 0;
    for i in 0..20_000 {
        let m = mutate(&mut rng, CORPUS[i % CORPUS.len()]);
        must_not_panic(&m, || {
            for utf8 in [false, true] {
                if parse_command_with(&m, ParseOptions { utf8 }).is_ok() {
                    accepted += 1;
                }
            }
        });
    }
    // The mutations keep some commands valid, so the deep paths are walked.
    assert!(accepted > 1000, "only {accepted} mutants parsed");
}

#[test]
fn random_bytes_never_panic() {
    let mut rng = Rng::new(0x0123_4567_89ab_cdef);
    for _ in 0..5_000 {
        let len = rng.below(200);
        let bytes: Vec<u8> =
            (0..len).map(|_| SPECIALS[rng.below(SPECIALS.len())] | (rng.next_u64() as u8 & 0x40)).collect();
        must_not_panic(&bytes, || {
            let _ = parse_command(&bytes);
        });
    }
}

/// Mutated streams of several commands through the framing and then the
/// parser: no panic, and the reader always reaches the end or an error.
#[test]
fn mutated_streams_through_the_framing() {
    let limits = Limits { max_line: 256, max_literal: 64, max_append: 512, max_discard: 1024 };
    let rt = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
    let mut rng = Rng::new(0xdead_beef_cafe_f00d);
    for _ in 0..2_000 {
        let mut stream = Vec::new();
        for _ in 0..rng.below(4) + 1 {
            let seed = CORPUS[rng.below(CORPUS.len())];
            stream.extend(mutate(&mut rng, seed));
            stream.extend_from_slice(if rng.below(2) == 0 { b"\r\n" } else { b"\n" });
        }
        must_not_panic(&stream, || {
            rt.block_on(async {
                let mut input = stream.as_slice();
                let mut reader = CommandReader::new(limits);
                // Each call consumes input or ends, so this is bounded.
                for _ in 0..=stream.len() + 1 {
                    match reader.next(&mut input).await {
                        Ok(Some(Frame::Command(c))) => {
                            let _ = parse_command(&c);
                        }
                        Ok(Some(Frame::NeedContinuation { size, .. })) if size > 100 => reader.abandon(),
                        Ok(Some(_)) => {}
                        Ok(None) | Err(_) => return,
                    }
                }
                panic!("the reader did not finish");
            })
        });
    }
}
