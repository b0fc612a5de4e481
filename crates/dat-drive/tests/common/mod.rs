#![allow(dead_code, clippy::unwrap_used)]
//! A metadata "feed" in a Vec, written with the crate's index algorithms.

use std::sync::Arc;

use dat_drive::{Entry, Stat, Tree};

#[derive(Default)]
pub struct MemTree {
    pub entries: Vec<Arc<Entry>>,
}

impl MemTree {
    /// Next sequence number (entry 0 is the header).
    pub fn next_seq(&self) -> u64 {
        self.entries.len() as u64 + 1
    }

    pub fn latest(&self) -> u64 {
        self.entries.len() as u64
    }

    pub fn tree(&self, version: u64) -> Tree<'_, Vec<Arc<Entry>>> {
        Tree::at(&self.entries, version).unwrap()
    }

    pub fn put(&mut self, name: &str, stat: Stat) -> u64 {
        let seq = self.next_seq();
        let paths = self.tree(self.latest()).put_index(name, seq).unwrap();
        self.push(Entry::new(seq, name, Some(stat), paths))
    }

    pub fn del(&mut self, name: &str) -> u64 {
        let seq = self.next_seq();
        let paths = self.tree(self.latest()).delete_index(name, seq).unwrap();
        self.push(Entry::new(seq, name, None, paths))
    }

    fn push(&mut self, e: Entry) -> u64 {
        // Everything written must decode back to itself.
        let decoded = Entry::decode(e.seq, &e.encode()).unwrap();
        assert_eq!(decoded, e);
        let seq = e.seq;
        self.entries.push(Arc::new(e));
        seq
    }
}
