-- An island's metadata, version 1 (MySQL 8 / MariaDB 10.5+, InnoDB for Galera): mailboxes, messages and their flags,
-- mod-sequences, expunge history and quota usage of the accounts that live
-- on it. Bodies are files in the island's blob store, named by SHA-256;
-- `blobs` has one row per distinct body.
-- account_id is the directory's account id. Times are epoch seconds.

CREATE TABLE counters (
    name   VARCHAR(255)    NOT NULL PRIMARY KEY,
    value  BIGINT NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE mailboxes (
    id             BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    account_id     BIGINT NOT NULL,
    name           VARCHAR(700)    NOT NULL,            -- full name, '/' separates levels
    guid           VARCHAR(255)    NOT NULL UNIQUE,     -- never changes, not even on RENAME
    uidvalidity    BIGINT NOT NULL,
    uidnext        BIGINT NOT NULL DEFAULT 1,
    highestmodseq  BIGINT NOT NULL DEFAULT 1,
    special_use    VARCHAR(255)    NOT NULL DEFAULT '', -- '\Sent', '\Trash', …
    selectable     SMALLINT NOT NULL DEFAULT 1,  -- 0: kept only as the parent of others (\Noselect)
    created_at     BIGINT NOT NULL,
    UNIQUE (account_id, name)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- Subscriptions are names, not mailboxes: a name may be subscribed while
-- its mailbox does not exist (RFC 9051 §6.3.7).
CREATE TABLE subscriptions (
    account_id  BIGINT NOT NULL,
    name        VARCHAR(700)    NOT NULL,
    PRIMARY KEY (account_id, name)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE blobs (
    hash        VARBINARY(32)    NOT NULL PRIMARY KEY,   -- SHA-256, 32 bytes
    size        BIGINT NOT NULL,
    created_at  BIGINT NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE messages (
    id             BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    mailbox_id     BIGINT NOT NULL,
    uid            BIGINT NOT NULL,
    body           VARBINARY(32)    NOT NULL,
    flags          INTEGER NOT NULL DEFAULT 0,  -- system flags, bit per flag
    keywords       VARCHAR(4000)    NOT NULL DEFAULT '', -- space-separated, sorted
    internal_date  BIGINT NOT NULL,
    save_date      BIGINT NOT NULL,
    size           BIGINT NOT NULL,
    modseq         BIGINT NOT NULL,
    UNIQUE (mailbox_id, uid),
    FOREIGN KEY (mailbox_id) REFERENCES mailboxes(id),
    FOREIGN KEY (body) REFERENCES blobs(hash)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE INDEX messages_modseq ON messages (mailbox_id, modseq);
CREATE INDEX messages_body ON messages (body);

-- For QRESYNC (RFC 7162 §3.2.5): which UIDs went away at which modseq.
CREATE TABLE expunged (
    mailbox_id  BIGINT NOT NULL,
    uid         BIGINT NOT NULL,
    modseq      BIGINT NOT NULL,
    PRIMARY KEY (mailbox_id, uid)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE INDEX expunged_modseq ON expunged (mailbox_id, modseq);

CREATE TABLE quota_usage (
    account_id  BIGINT NOT NULL PRIMARY KEY,
    bytes       BIGINT NOT NULL DEFAULT 0,
    messages    BIGINT NOT NULL DEFAULT 0
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

-- UIDVALIDITY is taken from here: max(previous + 1, now), so a mailbox
-- deleted and created again within a second still gets a new one.
INSERT INTO counters (name, value) VALUES ('uidvalidity', 0);
