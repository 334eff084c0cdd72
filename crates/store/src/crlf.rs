//! A body's size as a line-oriented protocol sends it: every line ended by
//! CRLF, a bare LF counting as CRLF, and a CRLF added after a last line
//! that has none. POP3 announces this size in STAT and LIST (RFC 1939 §5:
//! the exact octets RETR sends, dot-stuffing and the final `.` line not
//! counted); bodies arrive over SMTP with CRLF, but IMAP APPEND and
//! imports may store bare LF.
//!
//! The size is computed when a body is stored and kept in its `blobs` row
//! (`crlf_size`); bodies stored before that column existed get it on first
//! use.

use std::collections::HashMap;

use atoll_sql::write_tx;
use sqlx::Row;

use crate::blob::BlobId;
use crate::{Error, Island, Result};

/// The CRLF size of `raw`. A bare CR is sent as it is and counts one.
pub fn crlf_size(raw: &[u8]) -> u64 {
    let mut size = raw.len() as u64;
    let mut prev = 0u8;
    for &b in raw {
        if b == b'\n' && prev != b'\r' {
            size += 1;
        }
        prev = b;
    }
    if !raw.is_empty() && prev != b'\n' {
        size += 2;
    }
    size
}

impl Island {
    /// The CRLF sizes of several bodies, fetched in batches. Bodies without
    /// one stored are read, measured, and the result saved.
    pub async fn crlf_sizes(&self, blobs: &[BlobId]) -> Result<HashMap<BlobId, u64>> {
        let mut out = HashMap::with_capacity(blobs.len());
        let mut missing = Vec::new();
        for chunk in blobs.chunks(500) {
            let marks = vec!["?"; chunk.len()].join(", ");
            let mut q =
                sqlx::query(self.db.sql_owned(format!("SELECT hash, crlf_size FROM blobs WHERE hash IN ({marks})")));
            for b in chunk {
                q = q.bind(b.as_bytes().to_vec());
            }
            for r in q.fetch_all(&self.db.pool).await? {
                let hash: Vec<u8> = r.try_get(0)?;
                let id = BlobId::from_bytes(&hash).ok_or_else(|| Error::Corrupt("blob id is not 32 bytes".into()))?;
                match r.try_get::<Option<i64>, _>(1)? {
                    Some(n) => {
                        out.insert(id, u64::try_from(n).unwrap_or(0));
                    }
                    None => missing.push(id),
                }
            }
        }
        for id in missing {
            let raw = self.blobs.get(id).await?;
            let n = crlf_size(&raw);
            let stored = i64::try_from(n).unwrap_or(i64::MAX);
            write_tx!(relaxed self.db, Error, |conn| {
                sqlx::query(self.db.sql("UPDATE blobs SET crlf_size = ? WHERE hash = ?"))
                    .bind(stored)
                    .bind(id.as_bytes().to_vec())
                    .execute(&mut *conn)
                    .await?;
                Ok(())
            })?;
            out.insert(id, n);
        }
        for b in blobs {
            if !out.contains_key(b) {
                return Err(Error::Corrupt(format!("blob {} has no row", b.to_hex())));
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_line_ends_as_crlf() {
        assert_eq!(crlf_size(b""), 0);
        assert_eq!(crlf_size(b"a\r\n"), 3);
        assert_eq!(crlf_size(b"a\n"), 3, "a bare LF is sent as CRLF");
        assert_eq!(crlf_size(b"a\nb\r\n\n"), 1 + 2 + 1 + 2 + 2);
        assert_eq!(crlf_size(b"a"), 3, "a CRLF follows a last line without one");
        assert_eq!(crlf_size(b"a\r"), 4, "a bare CR stays and the line still gets its CRLF");
        assert_eq!(crlf_size(b"a\rb\r\n"), 5);
    }
}
