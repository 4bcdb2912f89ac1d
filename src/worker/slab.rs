//! A slab: values stored in a `Vec` and addressed by a [`Key`] (their slot
//! and its generation), with freed slots reused. Sessions live here, so an
//! event's token leads straight to its session without hashing.
//!
//! Each slot counts how many values it has held. A key names one value, not
//! a slot: once that value is removed, its key (held by a timer, a retry
//! list, or a mio token whose event was already in the batch) finds nothing,
//! even after a new value moved into the same slot. That is why an `epoll`
//! event left over from a closed connection can never reach the connection
//! that took its slot: the worker frees and reuses slots inside one batch
//! of events, and the key makes that safe wherever a stale key is held,
//! rather than only where slots are freed.

/// Generations are 31 bits (they share a mio token with the slot and the
/// socket), start at 1 (0 marks the worker's own tokens) and wrap to 1.
/// A stale key would need 2^31 reuses of its slot to match again.
const GEN_MAX: u32 = (1 << 31) - 1;

/// One value's address: its slot and the slot's generation when it went in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct Key {
    slot: u32,
    generation: u32,
}

impl Key {
    /// Rebuilds a key from its parts (a decoded token); `generation` must be
    /// in 1..2^31.
    pub(crate) fn from_parts(slot: u32, generation: u32) -> Key {
        debug_assert!((1..=GEN_MAX).contains(&generation));
        Key { slot, generation }
    }

    pub(crate) fn slot(self) -> u32 {
        self.slot
    }

    pub(crate) fn generation(self) -> u32 {
        self.generation
    }
}

#[derive(Debug)]
struct Entry<T> {
    generation: u32,
    value: Option<T>,
}

#[derive(Debug)]
pub(crate) struct Slab<T> {
    entries: Vec<Entry<T>>,
    free: Vec<u32>,
    len: usize,
}

impl<T> Default for Slab<T> {
    fn default() -> Self {
        Slab {
            entries: Vec::new(),
            free: Vec::new(),
            len: 0,
        }
    }
}

impl<T> Slab<T> {
    /// The key the next `insert` will return.
    pub(crate) fn vacant_key(&self) -> Key {
        match self.free.last() {
            Some(&slot) => Key {
                slot,
                generation: self.entries[slot as usize].generation,
            },
            None => Key {
                slot: u32::try_from(self.entries.len()).expect("at most 2^32 sessions per worker"),
                generation: 1,
            },
        }
    }

    pub(crate) fn insert(&mut self, value: T) -> Key {
        let key = self.vacant_key();
        self.len += 1;
        match self.free.pop() {
            Some(slot) => self.entries[slot as usize].value = Some(value),
            None => self.entries.push(Entry {
                generation: key.generation,
                value: Some(value),
            }),
        }
        key
    }

    fn entry(&self, key: Key) -> Option<&Entry<T>> {
        self.entries
            .get(key.slot as usize)
            .filter(|e| e.generation == key.generation)
    }

    pub(crate) fn get(&self, key: Key) -> Option<&T> {
        self.entry(key).and_then(|e| e.value.as_ref())
    }

    pub(crate) fn get_mut(&mut self, key: Key) -> Option<&mut T> {
        self.entries
            .get_mut(key.slot as usize)
            .filter(|e| e.generation == key.generation)
            .and_then(|e| e.value.as_mut())
    }

    /// Removes the value `key` names; the slot's next value gets a new
    /// generation, so `key` (and every copy of it) goes stale.
    pub(crate) fn remove(&mut self, key: Key) -> Option<T> {
        let entry = self
            .entries
            .get_mut(key.slot as usize)
            .filter(|e| e.generation == key.generation)?;
        let value = entry.value.take()?;
        entry.generation = if entry.generation == GEN_MAX {
            1
        } else {
            entry.generation + 1
        };
        self.free.push(key.slot);
        self.len -= 1;
        Some(value)
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The keys of the values present, in slot order.
    pub(crate) fn keys(&self) -> impl Iterator<Item = Key> + '_ {
        self.entries.iter().enumerate().filter_map(|(i, e)| {
            e.value.as_ref().map(|_| Key {
                slot: i as u32,
                generation: e.generation,
            })
        })
    }

    /// The values present.
    pub(crate) fn values(&self) -> impl Iterator<Item = &T> + '_ {
        self.entries.iter().filter_map(|e| e.value.as_ref())
    }

    /// Removes and yields every value.
    pub(crate) fn drain(&mut self) -> impl Iterator<Item = T> + '_ {
        self.free.clear();
        self.len = 0;
        self.entries.drain(..).filter_map(|e| e.value)
    }
}

#[cfg(test)]
mod tests {
    use super::{GEN_MAX, Key, Slab};

    #[test]
    fn slots_are_reused_and_predicted() {
        let mut s = Slab::default();
        assert_eq!(s.vacant_key(), Key::from_parts(0, 1));
        let a = s.insert("a");
        let b = s.insert("b");
        assert_eq!((a.slot(), b.slot(), s.len()), (0, 1, 2));
        assert_eq!(s.remove(a), Some("a"));
        assert_eq!(s.remove(a), None);
        let next = s.vacant_key();
        assert_eq!((next.slot(), next.generation()), (0, 2));
        let c = s.insert("c");
        assert_eq!(c, next);
        assert_eq!(s.get_mut(c), Some(&mut "c"));
        assert_eq!(s.keys().collect::<Vec<_>>(), vec![c, b]);
        assert_eq!(s.drain().count(), 2);
        assert!(s.is_empty());
    }

    /// Issue 9, bug 1: a key (a token, a timer entry) kept past its value's
    /// removal must not reach the value that reuses the slot.
    #[test]
    fn a_stale_key_misses_the_value_that_reused_its_slot() {
        let mut s = Slab::default();
        let old = s.insert("closed connection");
        s.remove(old);
        let new = s.insert("innocent client");
        assert_eq!(old.slot(), new.slot());
        assert_eq!(s.get(old), None);
        assert_eq!(s.get_mut(old), None);
        assert_eq!(s.remove(old), None);
        assert_eq!(s.get(new), Some(&"innocent client"));
    }

    #[test]
    fn generations_wrap_past_zero() {
        let mut s: Slab<u8> = Slab::default();
        let k = s.insert(1);
        s.entries[0].generation = GEN_MAX;
        let k = Key::from_parts(k.slot(), GEN_MAX);
        s.remove(k);
        assert_eq!(s.vacant_key().generation(), 1);
    }
}
