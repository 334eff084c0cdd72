//! atoll's configuration: one TOML file in which every key has a default.
//!
//! `atoll serve` with no file runs every role on one node with one island,
//! SQLite under `./atoll-data` and unprivileged ports on loopback. Unknown
//! keys are errors: a typo such as `[directroy]` must not silently fall back
//! to the embedded default and leave an operator wondering why nothing
//! reaches PostgreSQL.

mod duration;
mod load;
mod model;
mod size;
mod validate;

pub use load::{ConfigError, Problem, from_str, load};
pub use model::*;
