//! Header columns for SEARCH: one field's texts (decoded, lowercased, as
//! [`atoll_message::SearchHeader`] has them) of every message of a
//! mailbox, end to end in one buffer. A header key (SUBJECT, FROM,
//! HEADER name value) is then one substring scan over that buffer instead
//! of a cache lookup and a walk over the fields of each of 10,000
//! messages; the IMAP benchmark spent a third of its CPU on the latter.
//!
//! A column belongs to a mailbox and a field and is made for a list of
//! bodies in mailbox order. When the list changes (new mail, expunges) the
//! next search makes it again from the old one: texts of bodies it already
//! had are copied, only new bodies are read. Columns are shared by every
//! session of the island, like the other caches.

use std::collections::HashMap;
use std::sync::Arc;

use atoll_message::{FieldName, Needle};

use crate::blob::BlobId;
use crate::{Island, Result};

/// Separates texts; no header text holds it (`SearchHeader` decodes to
/// text, and a search string cannot hold NUL either).
const SEP: u8 = 0;

/// One field's texts of a list of bodies.
pub struct Column {
    blobs: Vec<BlobId>,
    /// The texts of body i are `text[starts[i]..starts[i + 1]]`, each
    /// followed by SEP.
    starts: Vec<u32>,
    text: Vec<u8>,
}

impl Column {
    /// Which of the column's bodies have a text holding `needle` (an empty
    /// needle: which have the field at all, RFC 9051 §6.4.4). None when
    /// the needle cannot be looked for this way.
    pub fn hits(&self, needle: &Needle) -> Option<Vec<bool>> {
        let n = self.blobs.len();
        let mut out = vec![false; n];
        if needle.bytes().is_empty() {
            for (i, o) in out.iter_mut().enumerate() {
                *o = self.starts[i + 1] > self.starts[i];
            }
            return Some(out);
        }
        if needle.bytes().contains(&SEP) {
            return None;
        }
        let mut i = 0;
        for at in needle.find_iter(&self.text) {
            let at = at as u32;
            // The body whose texts hold offset `at`: the last start <= at.
            // Hits come in order, so the search only moves forward.
            while i + 1 < n && self.starts[i + 1] <= at {
                i += 1;
            }
            if i < n {
                out[i] = true;
            }
        }
        Some(out)
    }

    fn bytes(&self) -> usize {
        self.text.len() + self.starts.len() * 4 + self.blobs.len() * 32 + 64
    }

    fn texts_of(&self, i: usize) -> &[u8] {
        &self.text[self.starts[i] as usize..self.starts[i + 1] as usize]
    }
}

impl Island {
    /// The column of field `name` for `blobs` (a mailbox's bodies in
    /// order); `mailbox` is (mailbox id, UIDVALIDITY).
    pub async fn header_column(&self, mailbox: (i64, i64), name: &FieldName, blobs: &[BlobId]) -> Result<Arc<Column>> {
        let key = (mailbox.0, mailbox.1, name.as_str().to_string());
        let old = self.cache.columns.get(&key);
        if let Some(c) = &old
            && c.blobs == blobs
        {
            return Ok(c.clone());
        }
        // Bodies the old column had keep their texts.
        let reuse: HashMap<&BlobId, usize> = match &old {
            Some(c) => c.blobs.iter().enumerate().map(|(i, b)| (b, i)).collect(),
            None => HashMap::new(),
        };
        let mut text = Vec::with_capacity(old.as_ref().map_or(blobs.len() * 48, |c| c.text.len() + 4096));
        let mut starts = Vec::with_capacity(blobs.len() + 1);
        for b in blobs {
            // Offsets are u32: 4 GiB of one field's texts in one mailbox
            // is not a mailbox anyone has; refuse rather than wrap.
            let Ok(at) = u32::try_from(text.len()) else {
                return Err(crate::Error::Corrupt("a header column over 4 GiB".into()));
            };
            starts.push(at);
            match (&old, reuse.get(b)) {
                (Some(c), Some(&i)) => text.extend_from_slice(c.texts_of(i)),
                _ => {
                    let header = self.search_header(*b).await?;
                    for t in header.texts(name) {
                        text.extend_from_slice(t.as_bytes());
                        text.push(SEP);
                    }
                }
            }
        }
        starts.push(u32::try_from(text.len()).map_err(|_| crate::Error::Corrupt("a header column over 4 GiB".into()))?);
        let column = Arc::new(Column { blobs: blobs.to_vec(), starts, text });
        self.cache.columns.insert(key, column.clone());
        Ok(column)
    }
}

impl quick_cache::Weighter<(i64, i64, String), Arc<Column>> for crate::cache::Weigh {
    fn weight(&self, _: &(i64, i64, String), c: &Arc<Column>) -> u64 {
        c.bytes() as u64
    }
}
