//! The IMAP protocol layer: framing, parsing and response syntax. No
//! state and no I/O policy here; the session decides.

pub mod command;
pub mod framing;
pub mod mutf7;
pub mod parser;
pub mod response;
pub mod sequence;

pub use command::*;
pub use parser::{ParseError, parse_command};
pub use sequence::SequenceSet;
