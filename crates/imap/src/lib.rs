//! The IMAP server of the store role (RFC 9051, RFC 3501).
