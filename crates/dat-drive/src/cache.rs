//! A cache of decoded metadata by sequence number, bounded by the bytes its values take rather
//! than by a count: an entry of a wide directory carries an index of every sibling, so a
//! count bound lets a few thousand of them take gigabytes. Eviction is first-in first-out,
//! which suits the tree's access pattern (the newest entries are the heads of new versions).

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

/// Values cached by sequence number, at most `budget` bytes as measured by the caller.
#[derive(Debug)]
pub(crate) struct ByteCache<T> {
    map: HashMap<u64, (Arc<T>, usize)>,
    order: VecDeque<u64>,
    bytes: usize,
    budget: usize,
}

impl<T> ByteCache<T> {
    /// An empty cache holding at most `budget` bytes.
    pub(crate) fn new(budget: usize) -> Self {
        Self {
            map: HashMap::new(),
            order: VecDeque::new(),
            bytes: 0,
            budget,
        }
    }

    /// The value cached for `seq`.
    pub(crate) fn get(&self, seq: u64) -> Option<Arc<T>> {
        self.map.get(&seq).map(|(v, _)| v.clone())
    }

    /// Cache `value` (taking `size` bytes) for `seq`, evicting the oldest values over budget.
    /// A value larger than the whole budget is not kept.
    pub(crate) fn put(&mut self, seq: u64, value: Arc<T>, size: usize) {
        if size > self.budget {
            if let Some((_, old)) = self.map.remove(&seq) {
                self.bytes -= old;
            }
            return;
        }
        match self.map.insert(seq, (value, size)) {
            Some((_, old)) => self.bytes -= old,
            None => self.order.push_back(seq),
        }
        self.bytes += size;
        while self.bytes > self.budget {
            let Some(oldest) = self.order.pop_front() else {
                break;
            };
            if let Some((_, old)) = self.map.remove(&oldest) {
                self.bytes -= old;
            }
        }
    }

    /// Bytes held.
    pub(crate) fn bytes(&self) -> usize {
        self.bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evicts_oldest_over_budget() {
        let mut c = ByteCache::new(100);
        c.put(1, Arc::new("a"), 40);
        c.put(2, Arc::new("b"), 40);
        assert_eq!(c.bytes(), 80);
        c.put(3, Arc::new("c"), 40);
        assert!(c.get(1).is_none());
        assert_eq!(c.get(2).as_deref(), Some(&"b"));
        assert_eq!(c.bytes(), 80);
        c.put(3, Arc::new("d"), 10);
        assert_eq!(c.bytes(), 50);
        c.put(4, Arc::new("e"), 101);
        assert!(c.get(4).is_none());
        assert_eq!(c.bytes(), 50);
    }
}
