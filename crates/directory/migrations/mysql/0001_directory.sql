-- The directory, version 1 (MySQL 8 / MariaDB 10.5+; InnoDB so Galera replicates it). Times are epoch seconds; states are short
-- strings (a new state must not need a schema change); IP networks are bytes.
-- Addresses are stored lowercased; the code folds case before every query.

CREATE TABLE islands (
    id          BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    name        VARCHAR(255)    NOT NULL UNIQUE,
    state       VARCHAR(32)    NOT NULL DEFAULT 'open',   -- open | closed | draining
    store       VARCHAR(2000)    NOT NULL DEFAULT '',       -- where its metadata and blobs live
    created_at  BIGINT NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE account_groups (
    id          BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    name        VARCHAR(255)    NOT NULL UNIQUE,
    island_id   BIGINT,
    created_at  BIGINT NOT NULL,
    FOREIGN KEY (island_id) REFERENCES islands(id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE domains (
    id          BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    name        VARCHAR(255)    NOT NULL UNIQUE,
    created_at  BIGINT NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE accounts (
    id            BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    domain_id     BIGINT NOT NULL,
    localpart     VARCHAR(255)    NOT NULL,
    state         VARCHAR(32)    NOT NULL DEFAULT 'active',  -- active | suspended
    password      VARCHAR(255)    NOT NULL DEFAULT '',        -- '' = no password login
    island_id     BIGINT NOT NULL,
    group_id      BIGINT,
    quota_bytes   BIGINT NOT NULL DEFAULT 0,         -- 0 = unlimited
    display_name  VARCHAR(255)    NOT NULL DEFAULT '',
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL,
    UNIQUE (domain_id, localpart),
    FOREIGN KEY (domain_id) REFERENCES domains(id),
    FOREIGN KEY (island_id) REFERENCES islands(id),
    FOREIGN KEY (group_id) REFERENCES account_groups(id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE INDEX accounts_island ON accounts (island_id);
CREATE INDEX accounts_group ON accounts (group_id);

-- One row per target; localpart '' is the domain's catch-all.
CREATE TABLE aliases (
    id          BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    domain_id   BIGINT NOT NULL,
    localpart   VARCHAR(255)    NOT NULL,
    target      VARCHAR(255)    NOT NULL,
    created_at  BIGINT NOT NULL,
    UNIQUE (domain_id, localpart, target),
    FOREIGN KEY (domain_id) REFERENCES domains(id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE INDEX aliases_target ON aliases (target);

CREATE TABLE forwards (
    id          BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    account_id  BIGINT NOT NULL,
    target      VARCHAR(255)    NOT NULL,
    keep_copy   SMALLINT NOT NULL DEFAULT 0,
    created_at  BIGINT NOT NULL,
    UNIQUE (account_id, target),
    FOREIGN KEY (account_id) REFERENCES accounts(id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE lists (
    id           BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    domain_id    BIGINT NOT NULL,
    localpart    VARCHAR(255)    NOT NULL,
    policy       VARCHAR(32)    NOT NULL DEFAULT 'members',  -- members | anyone | moderated
    description  VARCHAR(2000)    NOT NULL DEFAULT '',
    created_at   BIGINT NOT NULL,
    UNIQUE (domain_id, localpart),
    FOREIGN KEY (domain_id) REFERENCES domains(id)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE list_members (
    list_id     BIGINT NOT NULL,
    address     VARCHAR(255)    NOT NULL,
    digest      SMALLINT NOT NULL DEFAULT 0,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (list_id, address),
    FOREIGN KEY (list_id) REFERENCES lists(id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE INDEX list_members_address ON list_members (address);

-- Postgrey triplets: client network (4 bytes of an IPv4 /24 or 8 of an IPv6
-- /64, as configured), normalised sender, recipient.
CREATE TABLE greylist (
    net         VARBINARY(16)    NOT NULL,
    sender      VARCHAR(255)    NOT NULL,
    recipient   VARCHAR(255)    NOT NULL,
    first_seen  BIGINT NOT NULL,
    last_seen   BIGINT NOT NULL,
    passed      INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (net, sender, recipient)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE INDEX greylist_last_seen ON greylist (last_seen);

-- Client auto-whitelist: networks that passed greylisting often enough.
CREATE TABLE greylist_clients (
    net         VARBINARY(16)    NOT NULL PRIMARY KEY,
    passed      INTEGER NOT NULL DEFAULT 0,
    last_seen   BIGINT NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE preferences (
    account_id  BIGINT NOT NULL,
    name        VARCHAR(255)    NOT NULL,
    value       VARCHAR(2000)    NOT NULL,
    PRIMARY KEY (account_id, name),
    FOREIGN KEY (account_id) REFERENCES accounts(id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE nodes (
    id            BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    name          VARCHAR(255)    NOT NULL UNIQUE,
    roles         VARCHAR(2000)    NOT NULL,                -- comma-separated
    addresses     VARCHAR(2000)    NOT NULL DEFAULT '',     -- service=host:port, comma-separated
    version       VARCHAR(255)    NOT NULL DEFAULT '',
    started_at    BIGINT NOT NULL,
    heartbeat_at  BIGINT NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE node_islands (
    node_id     BIGINT NOT NULL,
    island_id   BIGINT NOT NULL,
    PRIMARY KEY (node_id, island_id),
    FOREIGN KEY (node_id) REFERENCES nodes(id) ON DELETE CASCADE,
    FOREIGN KEY (island_id) REFERENCES islands(id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;

CREATE TABLE audit_log (
    id          BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    at          BIGINT NOT NULL,
    actor       VARCHAR(255)    NOT NULL,
    client_ip   VARBINARY(16),                              -- 4 or 16 bytes, when known
    action      VARCHAR(255)    NOT NULL,
    object      VARCHAR(255)    NOT NULL,
    detail      VARCHAR(2000)    NOT NULL DEFAULT ''
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
CREATE INDEX audit_log_at ON audit_log (at);
CREATE INDEX audit_log_object ON audit_log (object);
