//! What the directory hands out: plain rows, serialisable for `--json`.

use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DomainInfo {
    pub name: String,
    pub accounts: i64,
    pub aliases: i64,
    pub lists: i64,
    pub created_at: i64,
}

/// Account states are short strings in the schema so that a new one needs
/// no migration; these are the ones the code knows.
pub mod state {
    pub const ACTIVE: &str = "active";
    pub const SUSPENDED: &str = "suspended";
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Account {
    pub id: i64,
    pub address: String,
    pub state: String,
    pub island: String,
    pub group: Option<String>,
    pub quota_bytes: i64,
    pub display_name: String,
    /// The scheme of the stored hash ("argon2id", "sha512-crypt", …), or
    /// "none"; never the hash itself.
    pub password_scheme: String,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Alias {
    /// `name@domain`, or `@domain` for a catch-all.
    pub address: String,
    pub target: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Forward {
    pub account: String,
    pub target: String,
    pub keep_copy: bool,
}

/// Who may post to a list.
pub mod policy {
    pub const MEMBERS: &str = "members";
    pub const ANYONE: &str = "anyone";
    pub const MODERATED: &str = "moderated";
    pub const ALL: [&str; 3] = [MEMBERS, ANYONE, MODERATED];
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MailingList {
    pub id: i64,
    pub address: String,
    pub policy: String,
    pub description: String,
    pub members: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Member {
    pub address: String,
    pub digest: bool,
}

/// Island states.
pub mod island_state {
    pub const OPEN: &str = "open";
    pub const CLOSED: &str = "closed";
    pub const DRAINING: &str = "draining";
    pub const ALL: [&str; 3] = [OPEN, CLOSED, DRAINING];
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Island {
    pub name: String,
    pub state: String,
    pub store: String,
    pub accounts: i64,
    pub created_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Node {
    pub name: String,
    pub roles: Vec<String>,
    pub islands: Vec<String>,
    pub addresses: Vec<String>,
    pub version: String,
    pub started_at: i64,
    pub heartbeat_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditEntry {
    pub id: i64,
    pub at: i64,
    pub actor: String,
    pub client_ip: Option<String>,
    pub action: String,
    pub object: String,
    pub detail: String,
}
