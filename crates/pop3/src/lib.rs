//! The POP3 server of the store role: RFC 1939, with CAPA and response
//! codes (RFC 2449), STLS (RFC 2595), SASL AUTH (RFC 5034) with PLAIN
//! and LOGIN, TOP, UIDL and PIPELINING. The maildrop is the user's INBOX.
//!
//! - `parser.rs`: a command line into a [`Command`];
//! - `line.rs`: reading command lines with a length limit;
//! - `encode.rs`: a stored body as RETR and TOP send it (CRLF line ends,
//!   dot-stuffing, the final `.` line);
//! - `lock.rs`: one POP3 session per maildrop;
//! - `session/`: one connection's state machine and its maildrop view;
//! - `commands/`: one file per command group;
//! - `server.rs`: configuration and the accept loops.

pub mod commands;
pub mod encode;
pub mod line;
mod lock;
pub mod parser;
mod server;
pub mod session;

pub use parser::{Command, ParseError};
pub use server::{Pop3, Pop3Config};
