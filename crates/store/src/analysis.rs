//! A message's IMAP view (atoll-message's `Analysis`), computed when the
//! body is stored and kept in the `blobs` row next to it.

use std::collections::HashMap;
use std::sync::Arc;

use atoll_message::Analysis;
use atoll_sql::write_tx;
use sqlx::Row;

use crate::blob::BlobId;
use crate::{Error, Island, Result};

/// Parsing a big message takes a while; off the async threads with it.
const INLINE_LIMIT: usize = 256 << 10;

/// Analyses `raw` and returns it with the analysis as stored JSON.
pub(crate) async fn compute(raw: Vec<u8>) -> Result<(Vec<u8>, String)> {
    if raw.len() <= INLINE_LIMIT {
        let json = atoll_message::analyse(&raw).to_json();
        return Ok((raw, json));
    }
    tokio::task::spawn_blocking(move || {
        let json = atoll_message::analyse(&raw).to_json();
        (raw, json)
    })
    .await
    .map_err(|e| Error::Corrupt(format!("message analysis task failed: {e}")))
}

impl Island {
    /// The stored analysis of one body.
    pub async fn analysis(&self, blob: BlobId) -> Result<Arc<Analysis>> {
        let mut found = self.analyses(&[blob]).await?;
        found.remove(&blob).ok_or_else(|| Error::Corrupt(format!("blob {} has no row", blob.to_hex())))
    }

    /// The stored analyses of several bodies, fetched in batches. A body
    /// stored without one (or with one this version cannot read) is
    /// analysed now and the result saved.
    pub async fn analyses(&self, blobs: &[BlobId]) -> Result<HashMap<BlobId, Arc<Analysis>>> {
        let mut out = HashMap::with_capacity(blobs.len());
        let mut missing = Vec::new();
        let mut wanted = Vec::new();
        for b in blobs {
            match self.cache.analyses.get(b) {
                Some(a) => {
                    out.insert(*b, a);
                }
                None => wanted.push(*b),
            }
        }
        for chunk in wanted.chunks(500) {
            let marks = vec!["?"; chunk.len()].join(", ");
            let mut q =
                sqlx::query(self.db.sql_owned(format!("SELECT hash, analysis FROM blobs WHERE hash IN ({marks})")));
            for b in chunk {
                q = q.bind(b.as_bytes().to_vec());
            }
            for r in q.fetch_all(&self.db.pool).await? {
                let hash: Vec<u8> = r.try_get(0)?;
                let id = BlobId::from_bytes(&hash).ok_or_else(|| Error::Corrupt("blob id is not 32 bytes".into()))?;
                let json: Option<String> = r.try_get(1)?;
                match json.as_deref().map(Analysis::from_json) {
                    Some(Ok(a)) => {
                        let a = Arc::new(a);
                        self.cache.analyses.insert(id, a.clone());
                        out.insert(id, a);
                    }
                    _ => missing.push(id),
                }
            }
        }
        for id in missing {
            let raw = self.blobs.get(id).await?;
            let (_, json) = compute(raw).await?;
            write_tx!(relaxed self.db, Error, |conn| {
                sqlx::query(self.db.sql("UPDATE blobs SET analysis = ? WHERE hash = ?"))
                    .bind(&json)
                    .bind(id.as_bytes().to_vec())
                    .execute(&mut *conn)
                    .await?;
                Ok(())
            })?;
            let a =
                Analysis::from_json(&json).map_err(|e| Error::Corrupt(format!("analysis of {}: {e}", id.to_hex())))?;
            let a = Arc::new(a);
            self.cache.analyses.insert(id, a.clone());
            out.insert(id, a);
        }
        Ok(out)
    }

    /// The header block of a body (through the blank line that ends it),
    /// from memory when it was read before: SEARCH on header fields reads
    /// no file for a warm mailbox.
    pub async fn header_block(&self, blob: BlobId) -> Result<Arc<[u8]>> {
        if let Some(h) = self.cache.headers.get(&blob) {
            return Ok(h);
        }
        let raw = self.blobs.get(blob).await?;
        let block: Arc<[u8]> = Arc::from(&raw[..atoll_message::header_len(&raw)]);
        self.cache.headers.insert(blob, block.clone());
        Ok(block)
    }

    /// The header of a body as SEARCH matches it
    /// ([`atoll_message::SearchHeader`]), from memory when done before.
    pub async fn search_header(&self, blob: BlobId) -> Result<Arc<atoll_message::SearchHeader>> {
        if let Some(f) = self.cache.fields.get(&blob) {
            return Ok(f);
        }
        let block = self.header_block(blob).await?;
        let fields = Arc::new(atoll_message::SearchHeader::parse(&block));
        self.cache.fields.insert(blob, fields.clone());
        Ok(fields)
    }
}
