-- A row inserted by every write transaction on a Galera cluster and
-- deleted once its COMMIT is done. Finding it after COMMIT is how atoll
-- tells a COMMIT that committed from one whose transaction Galera had
-- aborted without saying so (see crates/sql/src/tx.rs). Unused, and
-- empty, on the other engines.
CREATE TABLE IF NOT EXISTS write_marks (
    id BIGINT NOT NULL PRIMARY KEY
);
