-- DKIM signing keys per domain (RFC 6376): every node that signs (the
-- submission role, the outbound path) reads them here, so front doors keep
-- no key files. A domain may have several selectors during a key rollover;
-- the newest signs.
CREATE TABLE dkim_keys (
    id          BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    domain_id   BIGINT NOT NULL,
    selector    VARCHAR(63)     NOT NULL,
    algorithm   VARCHAR(32)     NOT NULL,  -- rsa-sha256 | ed25519-sha256
    private_key TEXT            NOT NULL,  -- PKCS#8, base64
    created_at  BIGINT NOT NULL,
    UNIQUE KEY dkim_domain_selector (domain_id, selector),
    FOREIGN KEY (domain_id) REFERENCES domains(id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
