//! SMTP and LMTP for atoll.
//!
//! - [`mx`]: the inbound MX (RFC 5321), the front door for mail from the
//!   internet, with its recipient checks, [`greylist`]ing, content
//!   [`filter`]s and mail authentication (reverse DNS, SPF, DKIM, DMARC,
//!   Authentication-Results);
//! - [`queue`]: the node's durable queue (a spool with group commit) and
//!   delivery into the islands, where posts to moderated lists wait for a
//!   moderator ([`moderation`]: the notice the moderators get);
//! - [`lmtp`]: the LMTP server of the `store` role (RFC 2033), the final
//!   hop into the island that holds a mailbox;
//! - `session`: the SMTP/LMTP session state machine both servers share;
//!   [`reply`] and [`trace`]: reply lines and trace headers.
//!
//! - [`client`]: the SMTP/LMTP client for mail that leaves this node.
//!
//! - [`submission`]: authenticated message submission (RFC 6409).
//!
//! Parsing of commands and of the DATA/BDAT byte streams is smtp-proto's;
//! the state machines, the replies and every decision are ours. No SQL
//! here: recipients are resolved by `atoll-directory`, mail is stored by
//! `atoll-store`.

pub mod client;
pub mod dkim;
pub mod dsn;
mod error;
pub mod filter;
pub mod greylist;
pub mod lmtp;
pub mod moderation;
pub mod mx;
pub mod queue;
mod recipient;
pub mod reply;
mod session;
pub mod submission;
pub mod trace;

pub use atoll_net::{Shutdown, ShutdownTrigger, shutdown_channel};
pub use error::{Error, Result};
pub use lmtp::{Lmtp, LmtpConfig};
pub use mx::{Mx, MxConfig};
pub use queue::{Queue, QueueConfig, Router};
pub use reply::Reply;
pub use submission::{Submission, SubmissionConfig};
