-- Moderators of a mailing list: addresses (not necessarily members) that
-- decide on the posts a `moderated` list holds, and whose own posts are
-- distributed at once. Lowercased like every address.
CREATE TABLE list_moderators (
    list_id     BIGINT NOT NULL,
    address     VARCHAR(255)    NOT NULL,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (list_id, address),
    FOREIGN KEY (list_id) REFERENCES lists(id) ON DELETE CASCADE
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin;
