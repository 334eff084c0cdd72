//! SMTP and LMTP for atoll.
//!
//! For now this crate holds the LMTP server of the `store` role (RFC 2033,
//! [`lmtp`]): the final hop of every message, from the MX to the island
//! that holds the recipient's mailbox. The inbound MX, submission and the
//! outbound queue will live here too, sharing the reply formatting
//! ([`reply`]), the trace headers ([`trace`]) and the shutdown hook
//! ([`Shutdown`]).
//!
//! Parsing of commands and of the DATA/BDAT byte streams is smtp-proto's;
//! the state machines, the replies and every decision are ours. No SQL
//! here: recipients are resolved by `atoll-directory`, mail is stored by
//! `atoll-store`.

mod error;
pub mod lmtp;
pub mod reply;
pub mod trace;

pub use atoll_net::{Shutdown, ShutdownTrigger, shutdown_channel};
pub use error::{Error, Result};
pub use lmtp::{Lmtp, LmtpConfig};
pub use reply::Reply;
