-- \Recent (RFC 3501 §2.3.2): a message is recent for the one session
-- that first notices it with the mailbox selected read-write. Messages
-- with uid >= first_recent_uid have not been claimed by any session yet;
-- SELECT (not EXAMINE), and a selected session seeing new messages, move
-- it up to UIDNEXT atomically and take the uids in between as recent.
ALTER TABLE mailboxes ADD COLUMN first_recent_uid BIGINT NOT NULL DEFAULT 1;
-- Messages stored before this version are not recent.
UPDATE mailboxes SET first_recent_uid = uidnext;
