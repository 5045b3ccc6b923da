//! One shard: items of one run, sorted by name, each with its JSON ready
//! to send.
//!
//! The raw (un-gzip'd) layout is a magic string followed by entries:
//!
//! ```text
//! "MQS1" { name_len: u32 LE, name: UTF-8, type: u8, json_len: u32 LE, json } ...
//! ```
//!
//! Decoding only slices: no JSON is parsed, so a shard is ready to serve
//! as soon as it is inflated. The decoded [`Shard`] keeps the raw bytes
//! and one small [`Entry`] per item. The raw bytes are shared, not
//! copied: a delta's sections are shards inside one inflated buffer
//! ([`Shard::decode_section`]), so decoding a 4 MiB delta holds its raw
//! bytes once, which matters in a 128 MB isolate whose memory never
//! shrinks once grown.

use super::FormatError;
use crate::media::MediaType;
use std::ops::Range;
use std::sync::Arc;

const MAGIC: &[u8; 4] = b"MQS1";

/// Per-entry overhead of the raw layout.
pub const ENTRY_OVERHEAD: usize = 9;

/// Appends items to a shard's raw bytes.
#[derive(Debug)]
pub struct ShardWriter {
    raw: Vec<u8>,
    items: u64,
    first: Option<String>,
    last: Option<String>,
}

impl Default for ShardWriter {
    fn default() -> Self {
        ShardWriter {
            raw: MAGIC.to_vec(),
            items: 0,
            first: None,
            last: None,
        }
    }
}

impl ShardWriter {
    /// Appends one item; names must come in strictly increasing order.
    pub fn push(&mut self, name: &str, media_type: MediaType, json: &str) {
        debug_assert!(self.last.as_deref().is_none_or(|l| l < name));
        self.raw
            .extend_from_slice(&(name.len() as u32).to_le_bytes());
        self.raw.extend_from_slice(name.as_bytes());
        self.raw.push(type_byte(media_type));
        self.raw
            .extend_from_slice(&(json.len() as u32).to_le_bytes());
        self.raw.extend_from_slice(json.as_bytes());
        if self.first.is_none() {
            self.first = Some(name.to_string());
        }
        self.last = Some(name.to_string());
        self.items += 1;
    }

    pub fn raw_len(&self) -> usize {
        self.raw.len()
    }

    pub fn items(&self) -> u64 {
        self.items
    }

    pub fn is_empty(&self) -> bool {
        self.items == 0
    }

    /// The raw bytes and the first and last names.
    pub fn finish(self) -> (Vec<u8>, String, String) {
        (
            self.raw,
            self.first.unwrap_or_default(),
            self.last.unwrap_or_default(),
        )
    }
}

fn type_byte(t: MediaType) -> u8 {
    match t {
        MediaType::Image => 0,
        MediaType::Video => 1,
    }
}

/// One item of a decoded shard: where its name and JSON are.
#[derive(Debug, Clone)]
pub struct Entry {
    name: Range<u32>,
    json: Range<u32>,
    pub media_type: MediaType,
}

/// A decoded shard: entries over a raw buffer it may share with other
/// shards (the sections of one delta).
#[derive(Debug)]
pub struct Shard {
    raw: Arc<Vec<u8>>,
    entries: Vec<Entry>,
}

/// `start..start + len`, or `None` where that overflows (a corrupt length
/// near `u32::MAX` on wasm32, whose `usize` is 32 bits).
pub(crate) fn span(start: usize, len: usize) -> Option<Range<usize>> {
    Some(start..start.checked_add(len)?)
}

impl Shard {
    /// Decodes raw (inflated) bytes, checking the layout, UTF-8 and order.
    pub fn decode(key: &str, raw: Vec<u8>) -> Result<Shard, FormatError> {
        let whole = 0..raw.len();
        Shard::decode_section(key, Arc::new(raw), whole)
    }

    /// Decodes the shard that `section` of `buffer` holds, keeping the
    /// buffer shared rather than copying the section out of it.
    pub fn decode_section(
        key: &str,
        buffer: Arc<Vec<u8>>,
        section: Range<usize>,
    ) -> Result<Shard, FormatError> {
        let bad = |d: &str| FormatError::corrupt(key, d);
        let end = section.end;
        if buffer.len() < end || u32::try_from(end).is_err() {
            return Err(bad("section out of the buffer"));
        }
        // Positions are checked against the section, not the buffer, so a
        // section can never read into its neighbour.
        let raw = &buffer[..end];
        if raw.get(section.start..).and_then(|r| r.get(..4)) != Some(MAGIC) {
            return Err(bad("not a shard (bad magic)"));
        }
        let mut entries = Vec::new();
        let mut at = section.start + 4;
        let u32_at = |at: usize| -> Option<usize> {
            raw.get(at..at.checked_add(4)?)
                .map(|b| u32::from_le_bytes(b.try_into().expect("4 bytes")) as usize)
        };
        let mut previous: Option<Range<usize>> = None;
        while at < raw.len() {
            let name_len = u32_at(at).ok_or_else(|| bad("truncated name length"))?;
            let name = span(at + 4, name_len).ok_or_else(|| bad("truncated name"))?;
            let name_str = raw
                .get(name.clone())
                .ok_or_else(|| bad("truncated name"))
                .and_then(|b| std::str::from_utf8(b).map_err(|_| bad("name is not UTF-8")))?;
            if let Some(p) = &previous {
                if raw[p.clone()] >= *name_str.as_bytes() {
                    return Err(bad("names are not in strictly increasing order"));
                }
            }
            let media_type = match raw.get(name.end) {
                Some(0) => MediaType::Image,
                Some(1) => MediaType::Video,
                _ => return Err(bad("bad media type")),
            };
            let json_len = u32_at(name.end + 1).ok_or_else(|| bad("truncated JSON length"))?;
            let json = span(name.end + 5, json_len).ok_or_else(|| bad("truncated item JSON"))?;
            if raw
                .get(json.clone())
                .and_then(|b| std::str::from_utf8(b).ok())
                .is_none()
            {
                return Err(bad("truncated or non-UTF-8 item JSON"));
            }
            at = json.end;
            entries.push(Entry {
                name: name.start as u32..name.end as u32,
                json: json.start as u32..json.end as u32,
                media_type,
            });
            previous = Some(name);
        }
        if entries.is_empty() {
            return Err(bad("empty shard"));
        }
        entries.shrink_to_fit();
        Ok(Shard {
            raw: buffer,
            entries,
        })
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    fn str_of(&self, r: &Range<u32>) -> &str {
        // Checked to be UTF-8 in `decode`.
        std::str::from_utf8(&self.raw[r.start as usize..r.end as usize]).unwrap_or_default()
    }

    pub fn name(&self, i: usize) -> &str {
        self.str_of(&self.entries[i].name)
    }

    pub fn json(&self, i: usize) -> &str {
        self.str_of(&self.entries[i].json)
    }

    pub fn media_type(&self, i: usize) -> MediaType {
        self.entries[i].media_type
    }

    /// The index of the first entry whose name is `>= name`.
    pub fn lower_bound(&self, name: &str) -> usize {
        self.entries
            .partition_point(|e| self.str_of(&e.name) < name)
    }

    /// The index of the first entry whose name is `> name`.
    pub fn upper_bound(&self, name: &str) -> usize {
        self.entries
            .partition_point(|e| self.str_of(&e.name) <= name)
    }

    /// The item named exactly `name`.
    pub fn find(&self, name: &str) -> Option<usize> {
        let i = self.lower_bound(name);
        (i < self.len() && self.name(i) == name).then_some(i)
    }

    /// Memory held by this decoded shard, for the cache's budget (its
    /// raw buffer counted whole, even where shared).
    pub fn memory_bytes(&self) -> usize {
        self.raw.capacity() + self.index_bytes()
    }

    /// Memory held by the entries alone, without the raw buffer.
    pub fn index_bytes(&self) -> usize {
        self.entries.capacity() * std::mem::size_of::<Entry>() + 64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_lookups() {
        let mut w = ShardWriter::default();
        w.push("a.jpg", MediaType::Image, r#"{"name":"a.jpg"}"#);
        w.push("b/é.mp4", MediaType::Video, r#"{"name":"b/é.mp4"}"#);
        let (raw, first, last) = w.finish();
        assert_eq!((first.as_str(), last.as_str()), ("a.jpg", "b/é.mp4"));
        let s = Shard::decode("k", raw).unwrap();
        assert_eq!(s.len(), 2);
        assert_eq!(s.media_type(1), MediaType::Video);
        assert_eq!(s.json(1), r#"{"name":"b/é.mp4"}"#);
        assert_eq!(s.find("a.jpg"), Some(0));
        assert_eq!(s.find("a"), None);
        assert_eq!((s.lower_bound("a.jpg"), s.upper_bound("a.jpg")), (0, 1));
    }

    #[test]
    fn corrupt_shards_are_refused() {
        let mut w = ShardWriter::default();
        w.push("a", MediaType::Image, "{}");
        let (raw, _, _) = w.finish();
        for cut in 0..raw.len() {
            assert!(
                Shard::decode("k", raw[..cut].to_vec()).is_err(),
                "cut {cut}"
            );
        }
        let mut unsorted = raw.clone();
        unsorted.extend_from_slice(&raw[4..]);
        assert!(Shard::decode("k", unsorted).is_err());
        // A length near u32::MAX: on wasm32 (32-bit usize) the end of its
        // range overflowed, a panic in debug builds.
        let mut huge = raw[..4].to_vec();
        huge.extend_from_slice(&u32::MAX.to_le_bytes());
        huge.extend_from_slice(b"abc");
        assert!(Shard::decode("k", huge).is_err());
        assert_eq!(super::span(usize::MAX - 2, 5), None);
        assert_eq!(super::span(3, 5), Some(3..8));
    }
}
