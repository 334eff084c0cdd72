-- Garbage collection of bodies: when the last message that uses a blob
-- goes (EXPUNGE, MOVE's source, DELETE of a mailbox), the blob is marked
-- with the time; the collector removes the blobs marked longer ago than
-- its grace period and still unused. A delivery of the same body clears
-- the mark. NULL: in use (or never checked).
ALTER TABLE blobs ADD COLUMN orphaned_at INTEGER NULL;
CREATE INDEX blobs_orphaned ON blobs (orphaned_at);
-- Bodies already unused before this version are collectable now.
UPDATE blobs SET orphaned_at = created_at
 WHERE NOT EXISTS (SELECT 1 FROM messages m WHERE m.body = blobs.hash);
