-- DKIM signing keys per domain (RFC 6376): every node that signs (the
-- submission role, the outbound path) reads them here, so front doors keep
-- no key files. A domain may have several selectors during a key rollover;
-- the newest signs.
CREATE TABLE dkim_keys (
    id          INTEGER PRIMARY KEY,
    domain_id   INTEGER NOT NULL REFERENCES domains(id) ON DELETE CASCADE,
    selector    TEXT    NOT NULL,
    algorithm   TEXT    NOT NULL,  -- rsa-sha256 | ed25519-sha256
    private_key TEXT    NOT NULL,  -- PKCS#8, base64
    created_at  INTEGER NOT NULL,
    UNIQUE (domain_id, selector)
);
