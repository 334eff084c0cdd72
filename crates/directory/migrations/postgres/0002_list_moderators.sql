-- Moderators of a mailing list: addresses (not necessarily members) that
-- decide on the posts a `moderated` list holds, and whose own posts are
-- distributed at once. Lowercased like every address.
CREATE TABLE list_moderators (
    list_id     BIGINT NOT NULL REFERENCES lists(id) ON DELETE CASCADE,
    address     TEXT    NOT NULL,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (list_id, address)
);
