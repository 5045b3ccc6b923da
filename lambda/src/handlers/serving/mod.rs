//! Publishing the serving snapshot (see `domain::serving`): the sharded,
//! content-addressed layout that the read engine queries.
//!
//! Objects are named by their content hash, so an object that already
//! exists is never written again: a rebuild of an unchanged table writes
//! only the pointer, and a small change rewrites only the shards whose
//! bytes changed. Publication is atomic: every shard and directory page is
//! written first, then the pointer `serving/current.json` in one PUT.
//!
//! Garbage: objects that neither the new version nor the one before it
//! references are deleted, so a reader that fetched the previous pointer
//! just before the switch still finds everything it needs.
//!
//! The snapshot is built from the table's items: those the export writer
//! has just read, or those of an export in DynamoDB's layout
//! ([`export_items`]), ours or a native `ExportTableToPointInTime`
//! full export.
//!
//! # Modules
//!
//! * `publish`: a full publish ([`publish_serving`], [`publish_sorted`]):
//!   the streaming build, the pointer, then the garbage; [`Published`].
//! * `apply`: a stream batch's changes applied to the published snapshot
//!   ([`apply_changes`], [`current_states`]).
//! * `from_export`: the snapshot of an export in DynamoDB's layout
//!   ([`publish_export`], [`read_export`], [`export_items`]).
//! * `drift`: reconciliation's comparison of the published snapshot with
//!   the table ([`Drift`]).
//! * `gc`: what the versions in use reference, the ledger of what they do
//!   not, and its deletion after the grace period ([`collect_garbage`]).
//! * `pointer`: reading and conditionally writing the pointer
//!   ([`read_pointer`]).
//! * `objects`: the bucket's GETs, listings, batched deletes and the
//!   snapshot objects' PUTs, [`PUTS_AT_ONCE`] in flight.

mod apply;
mod drift;
mod from_export;
mod gc;
mod objects;
mod pointer;
mod publish;

pub use apply::{apply_changes, current_states, PUBLISH_ATTEMPTS};
pub use drift::Drift;
pub use from_export::{export_items, publish_export, read_export, ExportContents, ExportRead};
pub use gc::collect_garbage;
pub use objects::PUTS_AT_ONCE;
pub(crate) use objects::{delete_objects, get};
pub use pointer::read_pointer;
pub use publish::{publish_serving, publish_sorted, Published};

#[cfg(test)]
mod tests;
