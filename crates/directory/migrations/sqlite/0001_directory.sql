-- The directory, version 1. Times are epoch seconds; states are short
-- strings (a new state must not need a schema change); IP networks are bytes.
-- Addresses are stored lowercased; the code folds case before every query.

CREATE TABLE islands (
    id          INTEGER PRIMARY KEY,
    name        TEXT    NOT NULL UNIQUE,
    state       TEXT    NOT NULL DEFAULT 'open',   -- open | closed | draining
    store       TEXT    NOT NULL DEFAULT '',       -- where its metadata and blobs live
    created_at  INTEGER NOT NULL
);

CREATE TABLE account_groups (
    id          INTEGER PRIMARY KEY,
    name        TEXT    NOT NULL UNIQUE,
    island_id   INTEGER REFERENCES islands(id),
    created_at  INTEGER NOT NULL
);

CREATE TABLE domains (
    id          INTEGER PRIMARY KEY,
    name        TEXT    NOT NULL UNIQUE,
    created_at  INTEGER NOT NULL
);

CREATE TABLE accounts (
    id            INTEGER PRIMARY KEY,
    domain_id     INTEGER NOT NULL REFERENCES domains(id),
    localpart     TEXT    NOT NULL,
    state         TEXT    NOT NULL DEFAULT 'active',  -- active | suspended
    password      TEXT    NOT NULL DEFAULT '',        -- '' = no password login
    island_id     INTEGER NOT NULL REFERENCES islands(id),
    group_id      INTEGER REFERENCES account_groups(id),
    quota_bytes   INTEGER NOT NULL DEFAULT 0,         -- 0 = unlimited
    display_name  TEXT    NOT NULL DEFAULT '',
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL,
    UNIQUE (domain_id, localpart)
);
CREATE INDEX accounts_island ON accounts (island_id);
CREATE INDEX accounts_group ON accounts (group_id);

-- One row per target; localpart '' is the domain's catch-all.
CREATE TABLE aliases (
    id          INTEGER PRIMARY KEY,
    domain_id   INTEGER NOT NULL REFERENCES domains(id),
    localpart   TEXT    NOT NULL,
    target      TEXT    NOT NULL,
    created_at  INTEGER NOT NULL,
    UNIQUE (domain_id, localpart, target)
);
CREATE INDEX aliases_target ON aliases (target);

CREATE TABLE forwards (
    id          INTEGER PRIMARY KEY,
    account_id  INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    target      TEXT    NOT NULL,
    keep_copy   INTEGER NOT NULL DEFAULT 0,
    created_at  INTEGER NOT NULL,
    UNIQUE (account_id, target)
);

CREATE TABLE lists (
    id           INTEGER PRIMARY KEY,
    domain_id    INTEGER NOT NULL REFERENCES domains(id),
    localpart    TEXT    NOT NULL,
    policy       TEXT    NOT NULL DEFAULT 'members',  -- members | anyone | moderated
    description  TEXT    NOT NULL DEFAULT '',
    created_at   INTEGER NOT NULL,
    UNIQUE (domain_id, localpart)
);

CREATE TABLE list_members (
    list_id     INTEGER NOT NULL REFERENCES lists(id) ON DELETE CASCADE,
    address     TEXT    NOT NULL,
    digest      INTEGER NOT NULL DEFAULT 0,
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (list_id, address)
);
CREATE INDEX list_members_address ON list_members (address);

-- Postgrey triplets: client network (4 bytes of an IPv4 /24 or 8 of an IPv6
-- /64, as configured), normalised sender, recipient.
CREATE TABLE greylist (
    net         BLOB    NOT NULL,
    sender      TEXT    NOT NULL,
    recipient   TEXT    NOT NULL,
    first_seen  INTEGER NOT NULL,
    last_seen   INTEGER NOT NULL,
    passed      INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (net, sender, recipient)
);
CREATE INDEX greylist_last_seen ON greylist (last_seen);

-- Client auto-whitelist: networks that passed greylisting often enough.
CREATE TABLE greylist_clients (
    net         BLOB    NOT NULL PRIMARY KEY,
    passed      INTEGER NOT NULL DEFAULT 0,
    last_seen   INTEGER NOT NULL
);

CREATE TABLE preferences (
    account_id  INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
    name        TEXT    NOT NULL,
    value       TEXT    NOT NULL,
    PRIMARY KEY (account_id, name)
);

CREATE TABLE nodes (
    id            INTEGER PRIMARY KEY,
    name          TEXT    NOT NULL UNIQUE,
    roles         TEXT    NOT NULL,                -- comma-separated
    addresses     TEXT    NOT NULL DEFAULT '',     -- service=host:port, comma-separated
    version       TEXT    NOT NULL DEFAULT '',
    started_at    INTEGER NOT NULL,
    heartbeat_at  INTEGER NOT NULL
);

CREATE TABLE node_islands (
    node_id     INTEGER NOT NULL REFERENCES nodes(id) ON DELETE CASCADE,
    island_id   INTEGER NOT NULL REFERENCES islands(id) ON DELETE CASCADE,
    PRIMARY KEY (node_id, island_id)
);

CREATE TABLE audit_log (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    at          INTEGER NOT NULL,
    actor       TEXT    NOT NULL,
    client_ip   BLOB,                              -- 4 or 16 bytes, when known
    action      TEXT    NOT NULL,
    object      TEXT    NOT NULL,
    detail      TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX audit_log_at ON audit_log (at);
CREATE INDEX audit_log_object ON audit_log (object);
