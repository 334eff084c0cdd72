//! Framing tests: literals of every kind, the continuation handshake over
//! tokio duplex streams, limits, and cancellation.

use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, DuplexStream, ReadHalf, WriteHalf};

use super::*;

const SMALL: Limits = Limits { max_line: 100, max_literal: 50, max_append: 1000, max_discard: 5000 };

fn cmd(s: &[u8]) -> Frame {
    Frame::Command(s.to_vec())
}

/// Every frame of `input`, accepting each synchronising literal, until the
/// end or until the reader is out of step. Also counts the continuations.
async fn frames(mut input: &[u8], limits: Limits) -> (Vec<Frame>, usize) {
    let mut r = CommandReader::new(limits);
    let mut out = Vec::new();
    let mut continuations = 0;
    loop {
        match r.next(&mut input).await {
            Ok(Some(Frame::NeedContinuation { .. })) => continuations += 1,
            Ok(Some(f)) => {
                let stop = matches!(f, Frame::NonSyncTooBig { .. });
                out.push(f);
                if stop {
                    break;
                }
            }
            Ok(None) => break,
            Err(e) => panic!("unexpected error {e}"),
        }
    }
    (out, continuations)
}

#[tokio::test]
async fn lines_and_literals_inline() {
    let (f, cont) =
        frames(b"a1 LOGIN {3}\r\nann {4+}\r\npass\r\na2 NOOP\na3 APPEND INBOX ~{3}\r\na\0b\r\n", SMALL).await;
    assert_eq!(
        f,
        vec![cmd(b"a1 LOGIN {3}\r\nann {4+}\r\npass"), cmd(b"a2 NOOP"), cmd(b"a3 APPEND INBOX ~{3}\r\na\0b"),]
    );
    assert_eq!(cont, 2, "one continuation per synchronising literal, none for LITERAL+");
    // Bare LF after a literal's announcement is normalised to CRLF.
    let (f, _) = frames(b"a1 LOGIN {1+}\nx y\n", SMALL).await;
    assert_eq!(f, vec![cmd(b"a1 LOGIN {1+}\r\nx y")]);
    // An empty literal, and one that holds CRLF and a fake announcement.
    let (f, _) = frames(b"a1 LOGIN {0}\r\n {7}\r\n{1}\r\nab\r\n", SMALL).await;
    assert_eq!(f, vec![cmd(b"a1 LOGIN {0}\r\n {7}\r\n{1}\r\nab")]);
}

#[tokio::test]
async fn braces_inside_quotes_are_no_literal() {
    let (f, cont) = frames(b"a1 LOGIN \"x\" \"{3}\"\r\na2 SEARCH TEXT \"a\\\"{3}\r\n", SMALL).await;
    assert_eq!(f, vec![cmd(b"a1 LOGIN \"x\" \"{3}\""), cmd(b"a2 SEARCH TEXT \"a\\\"{3}")]);
    assert_eq!(cont, 0);
    // `{x}` and `{}` are not announcements either.
    let (f, _) = frames(b"a1 NOOP {x}\r\na2 NOOP {}\r\n", SMALL).await;
    assert_eq!(f, vec![cmd(b"a1 NOOP {x}"), cmd(b"a2 NOOP {}")]);
}

#[tokio::test]
async fn long_lines_are_dropped_and_reading_goes_on() {
    let long = format!("a1 NOOP {}\r\na2 NOOP\r\n", "x".repeat(200));
    let (f, _) = frames(long.as_bytes(), SMALL).await;
    assert_eq!(f, vec![Frame::LineTooLong { tag: Some("a1".into()) }, cmd(b"a2 NOOP")]);
    // The limit is on the command, not each line: three 40-byte lines joined by literals.
    let joined = format!("a1 LOGIN {{1+}}\r\nx{} {{1+}}\r\ny{}\r\na2 NOOP\r\n", " ".repeat(40), " ".repeat(60));
    let (f, _) = frames(joined.as_bytes(), SMALL).await;
    assert_eq!(f, vec![Frame::LineTooLong { tag: Some("a1".into()) }, cmd(b"a2 NOOP")]);
    // A dropped line that ends in a LITERAL+ announcement: that literal is
    // dropped too, or its bytes would be read as commands.
    let tricky = format!("a3 NOOP {} {{12+}}\r\na9 LOGOUT\r\n\r\na4 NOOP\r\n", "x".repeat(200));
    let (f, _) = frames(tricky.as_bytes(), SMALL).await;
    assert_eq!(f, vec![Frame::LineTooLong { tag: Some("a3".into()) }, cmd(b"a4 NOOP")]);
    // No tag to be had from a line of junk.
    let (f, _) = frames(format!("{}\r\n", "(".repeat(300)).as_bytes(), SMALL).await;
    assert_eq!(f, vec![Frame::LineTooLong { tag: None }]);
}

#[tokio::test]
async fn oversized_literals() {
    // Synchronising: refused before it is sent; the next line is a command.
    let (f, cont) = frames(b"a1 LOGIN {51}\r\na2 NOOP\r\n", SMALL).await;
    assert_eq!(f, vec![Frame::LiteralTooBig { tag: Some("a1".into()), size: 51 }, cmd(b"a2 NOOP")]);
    assert_eq!(cont, 0, "no continuation for a refused literal");
    // APPEND may carry up to max_append; other commands max_literal.
    let msg = "m".repeat(900);
    let append = format!("a1 APPEND INBOX {{900+}}\r\n{msg}\r\n");
    let (f, _) = frames(append.as_bytes(), SMALL).await;
    assert_eq!(f, vec![cmd(format!("a1 APPEND INBOX {{900+}}\r\n{msg}").as_bytes())]);
    let (f, _) = frames(b"a1 append INBOX {1001}\r\n", SMALL).await;
    assert_eq!(f, vec![Frame::LiteralTooBig { tag: Some("a1".into()), size: 1001 }]);
    // The budget is per command: two 30-byte literals exceed 50.
    let two = format!("a1 LOGIN {{30+}}\r\n{} {{30}}\r\na2 NOOP\r\n", "u".repeat(30));
    let (f, _) = frames(two.as_bytes(), SMALL).await;
    assert_eq!(f, vec![Frame::LiteralTooBig { tag: Some("a1".into()), size: 30 }, cmd(b"a2 NOOP")]);
    // Non-synchronising within max_discard: read, dropped with the rest of
    // the command (and its further LITERAL+), then reading goes on.
    let big = format!("a1 APPEND INBOX {{2000+}}\r\n{} {{5+}}\r\nNOOP!\r\na2 NOOP\r\n", "z".repeat(2000));
    let (f, _) = frames(big.as_bytes(), SMALL).await;
    assert_eq!(f, vec![Frame::LiteralTooBig { tag: Some("a1".into()), size: 2000 }, cmd(b"a2 NOOP")]);
    // Beyond max_discard: the connection must go.
    let (f, _) = frames(b"a1 APPEND INBOX {5001+}\r\nwhatever", SMALL).await;
    assert_eq!(f, vec![Frame::NonSyncTooBig { tag: Some("a1".into()), size: 5001 }]);
    // Absurd sizes saturate instead of overflowing.
    let (f, _) = frames(b"a1 LOGIN {99999999999999999999999}\r\na2 NOOP\r\n", SMALL).await;
    assert_eq!(f[0], Frame::LiteralTooBig { tag: Some("a1".into()), size: u64::MAX });
}

#[tokio::test]
async fn out_of_step_reader_refuses_to_go_on() {
    let mut input: &[u8] = b"a1 APPEND INBOX {9000+}\r\nrest";
    let mut r = CommandReader::new(SMALL);
    assert!(matches!(r.next(&mut input).await, Ok(Some(Frame::NonSyncTooBig { .. }))));
    assert!(r.next(&mut input).await.is_err());
}

#[tokio::test]
async fn end_of_input() {
    let mut r = CommandReader::new(SMALL);
    let mut empty: &[u8] = b"";
    assert_eq!(r.next(&mut empty).await.ok(), Some(None), "clean end between commands");
    for cut in [&b"a1 NOOP"[..], b"a1 LOGIN {10+}\r\nab", b"a1 LOGIN {1+}\r\nx"] {
        let mut input = cut;
        let mut r = CommandReader::new(SMALL);
        assert!(r.next(&mut input).await.is_err(), "{:?}", String::from_utf8_lossy(cut));
    }
}

type Server = (BufReader<ReadHalf<DuplexStream>>, WriteHalf<DuplexStream>);
type Client = (BufReader<ReadHalf<DuplexStream>>, WriteHalf<DuplexStream>);

fn pipe() -> (Server, Client) {
    let (a, b) = tokio::io::duplex(64);
    let (ar, aw) = tokio::io::split(a);
    let (br, bw) = tokio::io::split(b);
    ((BufReader::new(ar), aw), (BufReader::new(br), bw))
}

async fn read_reply(r: &mut BufReader<ReadHalf<DuplexStream>>) -> String {
    let mut line = String::new();
    r.read_line(&mut line).await.expect("server reply");
    line
}

/// The server side of a session: accepts literals up to `accept` bytes
/// with a continuation request, refuses larger ones with NO and
/// `abandon`, and echoes every command as `* CMD <bytes>`.
async fn serve(mut server: Server, accept: u64) -> Vec<Frame> {
    let (r, w) = &mut server;
    let mut reader = CommandReader::new(Limits::default());
    let mut seen = Vec::new();
    while let Some(frame) = reader.next(r).await.expect("read") {
        match &frame {
            Frame::NeedContinuation { size, .. } if *size <= accept => w.write_all(CONTINUE).await.expect("write"),
            Frame::NeedContinuation { tag, .. } => {
                let reply = format!("{} NO [TOOBIG] not that one\r\n", tag.as_deref().unwrap_or("*"));
                w.write_all(reply.as_bytes()).await.expect("write");
                reader.abandon();
            }
            Frame::Command(c) => {
                w.write_all(format!("* CMD {}\r\n", c.len()).as_bytes()).await.expect("write");
            }
            _ => {}
        }
        seen.push(frame);
    }
    seen
}

#[tokio::test]
async fn continuation_handshake_over_a_duplex() {
    let (server, (mut cr, mut cw)) = pipe();
    let task = tokio::spawn(serve(server, 10));
    // The client waits for "+" before each synchronising literal.
    cw.write_all(b"a1 LOGIN {3}\r\n").await.expect("write");
    assert_eq!(read_reply(&mut cr).await, "+ Ready for literal data\r\n");
    cw.write_all(b"ann {4}\r\n").await.expect("write");
    assert_eq!(read_reply(&mut cr).await, "+ Ready for literal data\r\n");
    cw.write_all(b"pass\r\n").await.expect("write");
    assert_eq!(read_reply(&mut cr).await, "* CMD 27\r\n");
    // Refused before it is sent: the client goes on with another command.
    cw.write_all(b"a2 APPEND INBOX {500}\r\n").await.expect("write");
    assert_eq!(read_reply(&mut cr).await, "a2 NO [TOOBIG] not that one\r\n");
    cw.write_all(b"a3 NOOP\r\n").await.expect("write");
    assert_eq!(read_reply(&mut cr).await, "* CMD 7\r\n");
    // LITERAL+: no round trip.
    cw.write_all(b"a4 LOGIN {3+}\r\nann {4+}\r\npass\r\n").await.expect("write");
    assert_eq!(read_reply(&mut cr).await, "* CMD 29\r\n");
    cw.shutdown().await.expect("shutdown");
    let seen = task.await.expect("server task");
    assert_eq!(seen.len(), 6);
    assert_eq!(seen[0], Frame::NeedContinuation { tag: Some("a1".into()), size: 3 });
    assert_eq!(seen[2], cmd(b"a1 LOGIN {3}\r\nann {4}\r\npass"));
    assert_eq!(seen[3], Frame::NeedContinuation { tag: Some("a2".into()), size: 500 });
}

#[tokio::test]
async fn next_is_cancel_safe() {
    let ((mut sr, _sw), (_cr, mut cw)) = pipe();
    let mut reader = CommandReader::new(Limits::default());
    cw.write_all(b"a1 LOGIN {5+}\r\nab").await.expect("write");
    // Nothing complete yet: the call times out, and is dropped mid-literal.
    let early = tokio::time::timeout(Duration::from_millis(20), reader.next(&mut sr)).await;
    assert!(early.is_err(), "no frame before the command is complete");
    cw.write_all(b"cde pw\r\n").await.expect("write");
    let frame = reader.next(&mut sr).await.expect("read");
    assert_eq!(frame, Some(cmd(b"a1 LOGIN {5+}\r\nabcde pw")));
}

#[tokio::test]
async fn read_command_sends_the_continuation_itself() {
    let (a, mut b) = tokio::io::duplex(256);
    let client = tokio::spawn(async move {
        b.write_all(b"a1 LOGIN {3}\r\n").await.expect("write");
        let mut got = [0u8; CONTINUE.len()];
        tokio::io::AsyncReadExt::read_exact(&mut b, &mut got).await.expect("continuation");
        assert_eq!(&got[..], CONTINUE);
        b.write_all(b"ann pw\r\n").await.expect("write");
        b
    });
    let mut io = BufReader::new(a);
    let frame = read_command(&mut io, Limits::default()).await.expect("read");
    assert_eq!(frame, Some(cmd(b"a1 LOGIN {3}\r\nann pw")));
    drop(client.await.expect("client"));
}

#[tokio::test]
async fn other_lines() {
    let mut input: &[u8] = b"DONE\r\ndGVzdA==\n\r\n";
    assert_eq!(read_line(&mut input, 10).await.ok(), Some(Some(Line::Text(b"DONE".to_vec()))));
    assert_eq!(read_line(&mut input, 10).await.ok(), Some(Some(Line::Text(b"dGVzdA==".to_vec()))));
    assert_eq!(read_line(&mut input, 10).await.ok(), Some(Some(Line::Text(Vec::new()))));
    assert_eq!(read_line(&mut input, 10).await.ok(), Some(None));
    let mut long: &[u8] = b"0123456789ABC\r\nDONE\r\n";
    assert_eq!(read_line(&mut long, 10).await.ok(), Some(Some(Line::TooLong)));
    assert_eq!(read_line(&mut long, 10).await.ok(), Some(Some(Line::Text(b"DONE".to_vec()))));
    let mut cut: &[u8] = b"DON";
    assert!(read_line(&mut cut, 10).await.is_err());
}
