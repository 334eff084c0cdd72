//! The IMAP protocol layer: framing, parsing and response syntax. No
//! state and no I/O policy here; the session decides.
//!
//! - `framing.rs`: one command off the wire, literals and their
//!   continuation requests, limits;
//! - `parser/`: a command's bytes to a [`Command`];
//! - `command.rs`: the command AST;
//! - `sequence.rs`: sequence sets and their compact writing;
//! - `mutf7.rs`: modified UTF-7 mailbox names;
//! - `datetime.rs`: IMAP dates, both ways;
//! - `response.rs`: writing responses.

pub mod command;
pub mod datetime;
pub mod framing;
pub mod mutf7;
pub mod parser;
pub mod response;
pub mod sequence;

pub use command::*;
pub use parser::{ParseError, ParseErrorKind, ParseOptions, parse_command, parse_command_with};
pub use sequence::SequenceSet;
