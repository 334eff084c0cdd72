//! The directory's use of the shared SQL plumbing (crates/sql).

pub(crate) use atoll_sql::{fetch_id, is_unique_violation, now};

/// A write transaction on the directory (see `atoll_sql::write_tx!`); after a
/// commit, this process's cached resolutions are dropped.
macro_rules! write_tx {
    ($dir:expr, |$conn:ident| $body:block) => {{
        let dir = &$dir;
        let result = atoll_sql::write_tx!(dir.db, $crate::Error, |$conn| $body);
        if result.is_ok() {
            dir.changed();
        }
        result
    }};
}
pub(crate) use write_tx;
