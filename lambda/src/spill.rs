//! A bounded external sort: key-value records in any order in, sorted by
//! key out, holding at most `chunk_bytes` of them in memory.
//!
//! A table Scan returns items in hash order, but the serving snapshot is
//! built in name order. Sorting ten million items in memory would need
//! several gigabytes, so records are buffered up to a bound, sorted, and
//! spilled to a run file in a private directory under the temporary
//! directory (a Lambda's ephemeral storage); the runs are then merged with
//! one buffered reader each. The files go when the sorter or its merge is
//! dropped.
//!
//! Run files hold `{key_len: u32 LE, key, value_len: u32 LE, value}`
//! records, so keys and values may contain any bytes.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::path::PathBuf;

/// Sorts records by key within a memory bound.
pub struct SpillSorter {
    dir: SpillDir,
    chunk_bytes: usize,
    buffer: Vec<(String, Vec<u8>)>,
    buffered: usize,
    runs: Vec<PathBuf>,
    /// Bytes written to run files, for logs.
    pub spilled_bytes: u64,
}

/// The sorter's private directory, removed on drop.
struct SpillDir(PathBuf);

impl Drop for SpillDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

impl SpillSorter {
    /// A sorter spilling under `parent` (the temporary directory if `None`)
    /// whenever it holds `chunk_bytes` of records.
    pub fn new(parent: Option<PathBuf>, chunk_bytes: usize) -> io::Result<SpillSorter> {
        let parent = parent.unwrap_or_else(std::env::temp_dir);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos();
        let dir = parent.join(format!("media-query-sort-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        Ok(SpillSorter {
            dir: SpillDir(dir),
            chunk_bytes: chunk_bytes.max(1),
            buffer: Vec::new(),
            buffered: 0,
            runs: Vec::new(),
            spilled_bytes: 0,
        })
    }

    pub fn push(&mut self, key: String, value: Vec<u8>) -> io::Result<()> {
        self.buffered += key.len() + value.len() + 64;
        self.buffer.push((key, value));
        if self.buffered >= self.chunk_bytes {
            self.spill()?;
        }
        Ok(())
    }

    fn spill(&mut self) -> io::Result<()> {
        if self.buffer.is_empty() {
            return Ok(());
        }
        self.buffer.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        let path = self.dir.0.join(format!("run-{:05}", self.runs.len()));
        let mut w = BufWriter::with_capacity(1 << 20, File::create(&path)?);
        for (k, v) in self.buffer.drain(..) {
            w.write_all(&(k.len() as u32).to_le_bytes())?;
            w.write_all(k.as_bytes())?;
            w.write_all(&(v.len() as u32).to_le_bytes())?;
            w.write_all(&v)?;
            self.spilled_bytes += 8 + (k.len() + v.len()) as u64;
        }
        w.flush()?;
        self.runs.push(path);
        self.buffered = 0;
        Ok(())
    }

    /// Every record, sorted by key (records with equal keys in no set order).
    pub fn into_sorted(mut self) -> io::Result<Merge> {
        if self.runs.is_empty() {
            // Nothing spilled: sort in memory, no files.
            self.buffer.sort_unstable_by(|a, b| a.0.cmp(&b.0));
            let buffer = std::mem::take(&mut self.buffer);
            return Ok(Merge {
                _dir: self.dir,
                readers: Vec::new(),
                heap: BinaryHeap::new(),
                memory: buffer.into_iter(),
            });
        }
        self.spill()?;
        let mut readers = Vec::with_capacity(self.runs.len());
        let mut heap = BinaryHeap::new();
        for (i, path) in self.runs.iter().enumerate() {
            let mut r = BufReader::with_capacity(256 << 10, File::open(path)?);
            if let Some((k, v)) = read_record(&mut r)? {
                heap.push(Reverse((k, i, v)));
            }
            readers.push(r);
        }
        Ok(Merge {
            _dir: self.dir,
            readers,
            heap,
            memory: Vec::new().into_iter(),
        })
    }
}

fn read_record(r: &mut impl Read) -> io::Result<Option<(String, Vec<u8>)>> {
    let mut len = [0u8; 4];
    match r.read_exact(&mut len) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    let mut key = vec![0; u32::from_le_bytes(len) as usize];
    r.read_exact(&mut key)?;
    r.read_exact(&mut len)?;
    let mut value = vec![0; u32::from_le_bytes(len) as usize];
    r.read_exact(&mut value)?;
    let key = String::from_utf8(key).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
    Ok(Some((key, value)))
}

/// The merged runs, in key order.
pub struct Merge {
    _dir: SpillDir,
    readers: Vec<BufReader<File>>,
    heap: BinaryHeap<Reverse<(String, usize, Vec<u8>)>>,
    memory: std::vec::IntoIter<(String, Vec<u8>)>,
}

impl Iterator for Merge {
    type Item = io::Result<(String, Vec<u8>)>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.readers.is_empty() {
            return self.memory.next().map(Ok);
        }
        let Reverse((key, i, value)) = self.heap.pop()?;
        match read_record(&mut self.readers[i]) {
            Ok(Some((k, v))) => self.heap.push(Reverse((k, i, v))),
            Ok(None) => {}
            Err(e) => return Some(Err(e)),
        }
        Some(Ok((key, value)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorts_across_spills_and_cleans_up() {
        for chunk in [1usize, 100, 1 << 20] {
            let mut s = SpillSorter::new(None, chunk).unwrap();
            let dir = s.dir.0.clone();
            let mut want: Vec<(String, Vec<u8>)> = (0..500u32)
                .map(|i| {
                    let k = format!("k{:05}\t\n/é", (i * 7919) % 500);
                    (k, i.to_le_bytes().to_vec())
                })
                .collect();
            for (k, v) in &want {
                s.push(k.clone(), v.clone()).unwrap();
            }
            want.sort();
            let got: Vec<(String, Vec<u8>)> =
                s.into_sorted().unwrap().map(Result::unwrap).collect();
            assert_eq!(got, want, "chunk {chunk}");
            assert!(!dir.exists(), "the run files are removed");
        }
    }
}
