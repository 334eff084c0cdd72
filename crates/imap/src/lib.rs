//! The IMAP server of the store role (RFC 9051 IMAP4rev2 and RFC 3501
//! IMAP4rev1, with the extensions listed in `session::capabilities`).
//!
//! - `proto/`: framing, the command parser and response syntax;
//! - `session/`: one connection's state machine and selected-mailbox view;
//! - `commands/`: one file per command group;
//! - `server.rs`: configuration and the accept loops.

pub mod commands;
pub mod proto;
mod server;
pub mod session;

pub use server::{Imap, ImapConfig};
