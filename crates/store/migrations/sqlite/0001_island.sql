-- An island's metadata, version 1: mailboxes, messages and their flags,
-- mod-sequences, expunge history and quota usage of the accounts that live
-- on it. Bodies are files in the island's blob store, named by SHA-256;
-- `blobs` has one row per distinct body.
-- account_id is the directory's account id. Times are epoch seconds.

CREATE TABLE counters (
    name   TEXT    NOT NULL PRIMARY KEY,
    value  INTEGER NOT NULL
);

CREATE TABLE mailboxes (
    id             INTEGER PRIMARY KEY,
    account_id     INTEGER NOT NULL,
    name           TEXT    NOT NULL,            -- full name, '/' separates levels
    guid           TEXT    NOT NULL UNIQUE,     -- never changes, not even on RENAME
    uidvalidity    INTEGER NOT NULL,
    uidnext        INTEGER NOT NULL DEFAULT 1,
    highestmodseq  INTEGER NOT NULL DEFAULT 1,
    special_use    TEXT    NOT NULL DEFAULT '', -- '\Sent', '\Trash', …
    selectable     INTEGER NOT NULL DEFAULT 1,  -- 0: kept only as the parent of others (\Noselect)
    created_at     INTEGER NOT NULL,
    UNIQUE (account_id, name)
);

-- Subscriptions are names, not mailboxes: a name may be subscribed while
-- its mailbox does not exist (RFC 9051 §6.3.7).
CREATE TABLE subscriptions (
    account_id  INTEGER NOT NULL,
    name        TEXT    NOT NULL,
    PRIMARY KEY (account_id, name)
);

CREATE TABLE blobs (
    hash        BLOB    NOT NULL PRIMARY KEY,   -- SHA-256, 32 bytes
    size        INTEGER NOT NULL,
    created_at  INTEGER NOT NULL
);

CREATE TABLE messages (
    id             INTEGER PRIMARY KEY,
    mailbox_id     INTEGER NOT NULL REFERENCES mailboxes(id),
    uid            INTEGER NOT NULL,
    body           BLOB    NOT NULL REFERENCES blobs(hash),
    flags          INTEGER NOT NULL DEFAULT 0,  -- system flags, bit per flag
    keywords       TEXT    NOT NULL DEFAULT '', -- space-separated, sorted
    internal_date  INTEGER NOT NULL,
    save_date      INTEGER NOT NULL,
    size           INTEGER NOT NULL,
    modseq         INTEGER NOT NULL,
    UNIQUE (mailbox_id, uid)
);
CREATE INDEX messages_modseq ON messages (mailbox_id, modseq);
CREATE INDEX messages_body ON messages (body);

-- For QRESYNC (RFC 7162 §3.2.5): which UIDs went away at which modseq.
CREATE TABLE expunged (
    mailbox_id  INTEGER NOT NULL,
    uid         INTEGER NOT NULL,
    modseq      INTEGER NOT NULL,
    PRIMARY KEY (mailbox_id, uid)
);
CREATE INDEX expunged_modseq ON expunged (mailbox_id, modseq);

CREATE TABLE quota_usage (
    account_id  INTEGER NOT NULL PRIMARY KEY,
    bytes       INTEGER NOT NULL DEFAULT 0,
    messages    INTEGER NOT NULL DEFAULT 0
);

-- UIDVALIDITY is taken from here: max(previous + 1, now), so a mailbox
-- deleted and created again within a second still gets a new one.
INSERT INTO counters (name, value) VALUES ('uidvalidity', 0);
