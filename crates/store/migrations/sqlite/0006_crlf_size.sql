-- A body's size with every line ending in CRLF and a CRLF after the last
-- line: the octets POP3 RETR sends before dot-stuffing (RFC 1939 §5, the
-- "exact size" of STAT and LIST), which differs from `size` for bodies
-- stored with bare LF line ends. Computed when the body is stored; NULL
-- for a body stored before this column existed: computed on first use
-- and saved.
ALTER TABLE blobs ADD COLUMN crlf_size INTEGER NULL;
