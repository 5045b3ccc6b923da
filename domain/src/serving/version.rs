//! Lookups within one published snapshot version: which shards of a run
//! can hold a name, an item as the shards hold it, the newest change to a
//! name in the delta or the level, every shard of a version. The read
//! engine ([`crate::engine`]) answers requests with them and the update
//! ([`super::update`]) reads old states with them; both reach the
//! version's objects through a [`ShardLoader`], so this module depends on
//! neither.

use super::delta::{self, Delta, Edit};
use super::level;
use super::manifest::{locate, locate_page, Directory, Manifest, ShardRef, Start};
use super::Run;
use crate::ports::{ReadError, ShardLoader};

/// Objects read at once when a whole directory is walked (and, in the
/// update, shards read ahead of the re-cut).
pub(crate) const READ_AHEAD: usize = 32;

/// Up to `n` shards of `run` that can hold names from `start`, in order,
/// reading at most one directory page.
pub async fn shards_from<L: ShardLoader>(
    loader: &L,
    m: &Manifest,
    run: &Run,
    start: Start<'_>,
    n: usize,
) -> Result<Vec<ShardRef>, ReadError> {
    let page = match &m.directory {
        Directory::Inline(page) => {
            return Ok(locate(&page.entries, run, start).take(n).cloned().collect())
        }
        Directory::Paged(pages) => match locate_page(pages, run, start) {
            Some(p) => loader.page(&p.hash).await?,
            None => return Ok(Vec::new()),
        },
    };
    let mut refs: Vec<ShardRef> = locate(&page.entries, run, start).take(n).cloned().collect();
    if refs.len() < n {
        // The run may go on in the next page, whose first entries are here.
        let more = locate(&page.following, run, start).take(n - refs.len());
        refs.extend(more.cloned());
    }
    Ok(refs)
}

/// The item `name` as the shards (not the delta) hold it.
pub async fn base_item<L: ShardLoader>(
    loader: &L,
    m: &Manifest,
    name: &str,
) -> Result<Option<String>, ReadError> {
    let refs = shards_from(loader, m, &Run::Names, Start::AtOrAfter(name), 1).await?;
    let Some(r) = refs.first().filter(|r| r.first.as_str() <= name) else {
        return Ok(None);
    };
    let shard = loader.shard(r).await?;
    Ok(shard.find(name).map(|i| shard.json(i).to_string()))
}

/// Every shard reference of a manifest, in directory order.
pub async fn all_entries<L: ShardLoader>(
    loader: &L,
    m: &Manifest,
) -> Result<Vec<ShardRef>, ReadError> {
    match &m.directory {
        Directory::Inline(page) => Ok(page.entries.clone()),
        Directory::Paged(pages) => {
            let mut entries = Vec::new();
            for window in pages.chunks(READ_AHEAD) {
                let loaded =
                    futures_util::future::join_all(window.iter().map(|p| loader.page(&p.hash)))
                        .await;
                for page in loaded {
                    entries.extend(page?.entries.iter().cloned());
                }
            }
            Ok(entries)
        }
    }
}

/// The newest change to `name` over the shards: from the delta (`delta`,
/// the decoded [`Manifest::delta`]) if it has the name, else from the
/// level's part over it. `None` when neither changed it; `Some(None)` when
/// the name was removed.
pub async fn changed_item<L: ShardLoader>(
    loader: &L,
    m: &Manifest,
    delta: Option<&Delta>,
    name: &str,
) -> Result<Option<Edit>, ReadError> {
    let names = Run::Names.id();
    let in_section = |d: &Delta| {
        let section = d.run(&names)?;
        section.find(name).map(|i| delta::edit_at(section, i))
    };
    if let Some(edit) = delta.and_then(in_section) {
        return Ok(Some(edit));
    }
    let Some(i) = level::part_for(&m.level, &names, name) else {
        return Ok(None);
    };
    let part = loader.delta(&m.level[i].part).await?;
    Ok(in_section(&part))
}
