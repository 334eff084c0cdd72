-- A message's IMAP view (ENVELOPE, BODYSTRUCTURE, part offsets, line
-- counts), computed once when the body is first stored and kept with the
-- blob, so FETCH never parses a body for it. JSON, from atoll-message.
-- NULL for a blob stored before this column existed: it is computed on
-- first use and saved. MEDIUMTEXT: TEXT stops at 64 KiB, and a message
-- with hundreds of parts can exceed that.
ALTER TABLE blobs ADD COLUMN analysis MEDIUMTEXT NULL;
