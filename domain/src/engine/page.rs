//! One page of a list answer ([`ListPage`]), and how it is assembled: the
//! delta and the level merged over a run's shards ([`Overlay`]), and the
//! items offered in name order until the page is full ([`PageBuilder`]).

use crate::media::MediaType;
use crate::serving::delta;
use crate::serving::shard::Shard;

/// One page of a list answer.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ListPage {
    /// Each item's JSON, in name order.
    pub items: Vec<String>,
    /// Set when more may follow: the name to resume after.
    pub next_after: Option<String>,
}

impl ListPage {
    /// The workshop's JSON array, without re-serialising the items.
    pub fn body(&self) -> String {
        let len = self.items.iter().map(|i| i.len() + 1).sum::<usize>() + 2;
        let mut body = String::with_capacity(len);
        body.push('[');
        for (i, item) in self.items.iter().enumerate() {
            if i > 0 {
                body.push(',');
            }
            body.push_str(item);
        }
        body.push(']');
        body
    }
}

/// The changes to one run from where a page starts, in name order: the
/// delta's section merged over the level's sections (the delta is newer,
/// so its entry for a name wins). Each entry is a position in a section.
pub(super) struct Overlay<'a> {
    pub(super) entries: Vec<(&'a Shard, usize)>,
}

impl<'a> Overlay<'a> {
    /// From `delta` and the level's `parts` (in order, disjoint), each
    /// read from the position `bound` gives.
    pub(super) fn new(
        delta: Option<&'a Shard>,
        parts: impl Iterator<Item = &'a Shard>,
        bound: impl Fn(&Shard) -> usize,
    ) -> Overlay<'a> {
        let from = |s: &'a Shard| (bound(s)..s.len()).map(move |i| (s, i));
        let older: Vec<(&Shard, usize)> = parts.flat_map(from).collect();
        let newer: Vec<(&Shard, usize)> = delta.into_iter().flat_map(from).collect();
        let mut entries = Vec::with_capacity(older.len() + newer.len());
        let (mut o, mut n) = (older.into_iter().peekable(), newer.into_iter().peekable());
        fn name<'s>(e: &(&'s Shard, usize)) -> &'s str {
            e.0.name(e.1)
        }
        loop {
            let order = match (o.peek(), n.peek()) {
                (None, None) => break,
                (Some(_), None) => std::cmp::Ordering::Less,
                (None, Some(_)) => std::cmp::Ordering::Greater,
                (Some(a), Some(b)) => name(a).cmp(name(b)),
            };
            let next = match order {
                std::cmp::Ordering::Less => o.next(),
                std::cmp::Ordering::Greater => n.next(),
                std::cmp::Ordering::Equal => {
                    o.next();
                    n.next()
                }
            };
            entries.extend(next);
        }
        Overlay { entries }
    }

    pub(super) fn len(&self) -> usize {
        self.entries.len()
    }

    pub(super) fn name(&self, i: usize) -> &'a str {
        let (s, j) = self.entries[i];
        s.name(j)
    }
}

#[derive(Debug, PartialEq, Eq)]
pub(super) enum Flow {
    Go,
    Stop,
}

/// Fills one page from a merged, name-ordered stream of items.
pub(super) struct PageBuilder<'a> {
    pub(super) out: ListPage,
    pub(super) last_examined: Option<String>,
    pub(super) prefix: &'a str,
    pub(super) limit: usize,
    pub(super) type_filter: Option<MediaType>,
}

impl PageBuilder<'_> {
    pub(super) fn offer(&mut self, name: &str, media_type: MediaType, json: &str) -> Flow {
        if !name.starts_with(self.prefix) {
            // Sorted: past the prefix's range, nothing more matches.
            return Flow::Stop;
        }
        if self.out.items.len() == self.limit {
            self.out.next_after = self.last_examined.take();
            return Flow::Stop;
        }
        self.last_examined = Some(name.to_string());
        if self.type_filter.is_none_or(|t| media_type == t) {
            self.out.items.push(json.to_string());
        }
        Flow::Go
    }

    /// Entry `i` of a delta section: an item, or a tombstone that hides
    /// the shards' copy. A tombstone is examined too: a page whose shards
    /// held only deleted names still ends with a cursor past them, not as
    /// the last page.
    pub(super) fn offer_change(&mut self, section: &Shard, i: usize) -> Flow {
        if delta::is_tombstone(section, i) {
            let name = section.name(i);
            if name.starts_with(self.prefix) && self.out.items.len() < self.limit {
                self.last_examined = Some(name.to_string());
            }
            return Flow::Go;
        }
        self.offer(section.name(i), section.media_type(i), section.json(i))
    }
}
