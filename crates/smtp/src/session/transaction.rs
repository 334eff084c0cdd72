//! MAIL, RCPT, DATA and BDAT: one message from its sender to its end.

use smtp_proto::request::receiver::{BdatReceiver, DataReceiver, DummyDataReceiver};
use smtp_proto::{MAIL_BODY_BINARYMIME, MailFrom, RcptTo};
use tokio::io::{AsyncRead, AsyncWrite};

use super::{Mode, Protocol, Session, Transaction};
use crate::reply::Reply;

const SENDER_OK: Reply = Reply::new(250, [2, 1, 0], "sender OK");
const START_DATA: Reply = Reply::new(354, [0, 0, 0], "start mail input; end with <CRLF>.<CRLF>");
const NEED_HELLO: Reply = Reply::new(503, [5, 5, 1], "send a greeting (EHLO, HELO or LHLO) first");
const NESTED_MAIL: Reply = Reply::new(503, [5, 5, 1], "sender already given");
const NEED_MAIL: Reply = Reply::new(503, [5, 5, 1], "need MAIL command first");
const NEED_RCPT: Reply = Reply::new(503, [5, 5, 1], "no valid recipients");
const RCPT_AFTER_BDAT: Reply = Reply::new(503, [5, 5, 1], "no RCPT after BDAT");
const DATA_AFTER_BDAT: Reply = Reply::new(503, [5, 5, 1], "no DATA after BDAT");
const BINARYMIME: Reply = Reply::new(555, [5, 5, 4], "BODY=BINARYMIME is not supported");
const TOO_MANY_RCPTS: Reply = Reply::new(452, [4, 5, 3], "too many recipients");
// RFC 1870 §6 and RFC 3463 §3.4: X.3.4 message too big for system.
pub(crate) const TOO_BIG: Reply = Reply::new(552, [5, 3, 4], "message size exceeds the fixed maximum message size");

impl<P: Protocol, S: AsyncRead + AsyncWrite + Unpin + Send> Session<'_, P, S> {
    pub(super) async fn mail(&mut self, from: MailFrom<String>) {
        if self.client.helo.is_none() {
            return self.reply(&NEED_HELLO);
        }
        if self.tx.is_some() {
            return self.reply(&NESTED_MAIL);
        }
        // RFC 1870 §6.1: a declared size over the limit is refused at once.
        if from.size > self.protocol.limits().max_message_size {
            return self.reply(&TOO_BIG);
        }
        if from.flags & MAIL_BODY_BINARYMIME != 0 {
            return self.reply(&BINARYMIME);
        }
        if let Err(refused) = self.protocol.check_sender(&self.client, &from).await {
            return self.reply(&refused);
        }
        self.tx =
            Some(Transaction { mail: from, recipients: Vec::new(), body: Vec::new(), too_big: false, chunked: false });
        self.reply(&SENDER_OK);
    }

    pub(super) async fn rcpt(&mut self, to: RcptTo<String>) {
        let max = self.protocol.limits().max_recipients;
        let Some(tx) = self.tx.as_mut() else {
            return self.reply(&NEED_MAIL);
        };
        if tx.chunked {
            return self.reply(&RCPT_AFTER_BDAT);
        }
        // RFC 5321 §4.5.3.1.10: 452 for too many recipients, so the client
        // sends the rest in another transaction.
        if tx.recipients.len() >= max {
            return self.reply(&TOO_MANY_RCPTS);
        }
        match self.protocol.check_recipient(&self.client, &tx.mail, &to).await {
            Ok(recipient) => {
                tx.recipients.push((to, recipient));
                self.reply(&crate::reply::RCPT_OK);
            }
            Err(refused) => self.reply(&refused),
        }
    }

    pub(super) fn data(&mut self) {
        let Some(tx) = &self.tx else {
            return self.reply(&NEED_MAIL);
        };
        if tx.chunked {
            return self.reply(&DATA_AFTER_BDAT);
        }
        // RFC 5321 §3.3 and RFC 2033 §4.2: DATA with no successful RCPT
        // fails with 503 (554 "no valid recipients" is also allowed).
        if tx.recipients.is_empty() {
            return self.reply(&NEED_RCPT);
        }
        self.reply(&START_DATA);
        self.mode = Mode::Data(DataReceiver::new());
    }

    /// BDAT (RFC 3030, CHUNKING). The chunk's octets follow the command
    /// whatever the answer, so a refused chunk is read and dropped before
    /// the refusal is sent.
    pub(super) async fn bdat(&mut self, chunk_size: usize, is_last: bool) {
        let max = self.protocol.limits().max_message_size;
        let discard =
            |refused| Mode::BdatDiscard { receiver: DummyDataReceiver::new_bdat(chunk_size), is_last, refused };
        let refused = match &self.tx {
            None => Some(NEED_MAIL),
            Some(tx) if tx.recipients.is_empty() => Some(NEED_RCPT),
            Some(_) => None,
        };
        if let Some(r) = refused {
            if chunk_size == 0 {
                self.reply(&r);
            } else {
                self.mode = discard(Some(r));
            }
            return;
        }
        let Some(tx) = self.tx.as_mut() else { return };
        tx.chunked = true;
        if tx.too_big || tx.body.len().saturating_add(chunk_size) > max {
            tx.too_big = true;
            tx.body = Vec::new();
        }
        if chunk_size == 0 {
            return self.end_of_chunk(is_last).await;
        }
        self.mode = if tx.too_big { discard(None) } else { Mode::Bdat(BdatReceiver::new(chunk_size, is_last)) };
    }

    pub(super) async fn end_of_chunk(&mut self, is_last: bool) {
        if is_last {
            return self.end_of_message().await;
        }
        let Some(tx) = &self.tx else { return };
        if tx.too_big {
            // RFC 3030 §2: after an error reply to a BDAT the client sends
            // no more chunks of this message; the transaction is over.
            self.tx = None;
            return self.reply(&TOO_BIG);
        }
        let r = Reply::with_text(250, [2, 0, 0], format!("{} octets received", tx.body.len()));
        self.reply(&r);
    }

    /// The message is complete (end of DATA or the last BDAT chunk): the
    /// protocol decides and answers. The transaction ends either way.
    pub(super) async fn end_of_message(&mut self) {
        let Some(tx) = self.tx.take() else { return };
        if tx.too_big {
            let n = match self.protocol.dialect() {
                super::Dialect::Lmtp => tx.recipients.len(),
                super::Dialect::Smtp => 1,
            };
            for _ in 0..n {
                self.reply(&TOO_BIG);
            }
            return;
        }
        for r in self.protocol.message(&self.client, tx).await {
            self.reply(&r);
        }
    }
}
