//! The resources of one kind (network interfaces, targets, sessions, ...): in the order the file
//! lists them, each found by its id without a search, and listed in id order for Describe's
//! pages. With 10,000 sessions a change looks up the few it touches; a `Vec` searched from the
//! front made every lookup cost as much as the whole list.
//!
//! Order: each resource has a place (a number that only grows as resources are added), so the
//! file's order is kept, and a resource deleted and put back (a refused change undone) takes
//! its old place again. A file may name an id twice (validation refuses it, naming both):
//! both are kept in order, and the id finds the first.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::collections::BTreeMap;
use std::fmt;
use std::ops::Bound;

/// What a resource is known by: its id (an ARN for a load balancer).
pub trait Resource {
    fn id(&self) -> &str;
}

/// Where a resource is in its file's order.
pub type Place = u64;

/// The resources of one kind, in their order, found by id.
#[derive(Clone)]
pub struct Resources<T> {
    by_place: BTreeMap<Place, T>,
    /// The place of the first resource with each id; ordered, for pages in id order.
    by_id: BTreeMap<String, Place>,
    /// How many resources have the id of an earlier one (not in `by_id`).
    again: usize,
}

impl<T> Default for Resources<T> {
    fn default() -> Self {
        Resources { by_place: BTreeMap::new(), by_id: BTreeMap::new(), again: 0 }
    }
}

impl<T: Resource> Resources<T> {
    /// How many there are.
    pub fn len(&self) -> usize {
        self.by_place.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_place.is_empty()
    }

    /// In order.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &T> + ExactSizeIterator + Clone {
        self.by_place.values()
    }

    /// In order, for changes that keep every id as it is.
    pub fn iter_mut(&mut self) -> impl Iterator<Item = &mut T> {
        self.by_place.values_mut()
    }

    /// In order, with their places.
    pub fn placed(&self) -> impl Iterator<Item = (Place, &T)> {
        self.by_place.iter().map(|(p, t)| (*p, t))
    }

    /// The first in order.
    pub fn first(&self) -> Option<&T> {
        self.by_place.values().next()
    }

    /// The one with id `id` (the first, when a file names it twice).
    pub fn get(&self, id: &str) -> Option<&T> {
        self.by_id.get(id).and_then(|p| self.by_place.get(p))
    }

    /// [`get`](Self::get), for a change that keeps its id.
    pub fn get_mut(&mut self, id: &str) -> Option<&mut T> {
        let p = *self.by_id.get(id)?;
        self.by_place.get_mut(&p)
    }

    /// Whether there is one with id `id`.
    pub fn contains(&self, id: &str) -> bool {
        self.by_id.contains_key(id)
    }

    /// Where the one with id `id` is.
    pub fn place(&self, id: &str) -> Option<Place> {
        self.by_id.get(id).copied()
    }

    /// Its position in order (0 for the first): for messages that point into the file, so
    /// it counts (linear, never on a change's way).
    pub fn position(&self, place: Place) -> usize {
        self.by_place.range(..place).count()
    }

    /// Those whose id comes after `after` (all when `None`), in id order: Describe's pages.
    pub fn by_id_after<'a>(&'a self, after: Option<&str>) -> impl Iterator<Item = &'a T> + 'a {
        let from = after.map_or(Bound::Unbounded, Bound::Excluded);
        self.by_id.range::<str, _>((from, Bound::Unbounded)).filter_map(|(_, p)| self.by_place.get(p))
    }

    /// Adds `item` at the end.
    pub fn push(&mut self, item: T) {
        let place = self.by_place.last_key_value().map_or(0, |(p, _)| p + 1);
        self.insert(place, item);
    }

    /// Puts `item` in place of the one with its id, or at the end; returns what it replaced,
    /// with its place.
    pub fn put(&mut self, item: T) -> Option<(Place, T)> {
        match self.by_id.get(item.id()) {
            Some(&p) => self.by_place.insert(p, item).map(|old| (p, old)),
            None => {
                self.push(item);
                None
            }
        }
    }

    /// Removes the one with id `id`; returns it, with its place.
    pub fn remove(&mut self, id: &str) -> Option<(Place, T)> {
        let p = self.by_id.remove(id)?;
        let old = self.by_place.remove(&p)?;
        // A second of that id (only in a file that validation refuses) is found from now on.
        if self.again > 0 {
            if let Some((q, _)) = self.by_place.iter().find(|(_, t)| t.id() == id) {
                self.by_id.insert(id.to_owned(), *q);
                self.again -= 1;
            }
        }
        Some((p, old))
    }

    /// Undoes a [`put`](Self::put) or [`remove`](Self::remove) of id `id`: the one there is
    /// taken out, and `old` (what the put replaced or the remove took) goes back to its place.
    pub fn restore(&mut self, id: &str, old: Option<(Place, T)>) {
        self.remove(id);
        if let Some((p, item)) = old {
            self.insert(p, item);
        }
    }

    /// Keeps only those `keep` says.
    pub fn retain(&mut self, mut keep: impl FnMut(&T) -> bool) {
        let before = self.len();
        self.by_place.retain(|_, t| keep(t));
        if self.len() != before {
            self.reindex();
        }
    }

    fn insert(&mut self, place: Place, item: T) {
        match self.by_id.get_mut(item.id()) {
            Some(q) => {
                self.again += 1;
                *q = place.min(*q);
            }
            None => {
                self.by_id.insert(item.id().to_owned(), place);
            }
        }
        self.by_place.insert(place, item);
    }

    fn reindex(&mut self) {
        self.by_id.clear();
        self.again = 0;
        for (p, t) in &self.by_place {
            match self.by_id.entry(t.id().to_owned()) {
                std::collections::btree_map::Entry::Occupied(_) => self.again += 1,
                std::collections::btree_map::Entry::Vacant(v) => {
                    v.insert(*p);
                }
            }
        }
    }
}

impl<T: Resource> FromIterator<T> for Resources<T> {
    fn from_iter<I: IntoIterator<Item = T>>(items: I) -> Self {
        let mut r = Resources::default();
        for item in items {
            r.push(item);
        }
        r
    }
}

impl<T: Resource> From<Vec<T>> for Resources<T> {
    fn from(items: Vec<T>) -> Self {
        items.into_iter().collect()
    }
}

impl<T: Resource> Extend<T> for Resources<T> {
    fn extend<I: IntoIterator<Item = T>>(&mut self, items: I) {
        for item in items {
            self.push(item);
        }
    }
}

impl<'a, T: Resource> IntoIterator for &'a Resources<T> {
    type Item = &'a T;
    type IntoIter = std::collections::btree_map::Values<'a, Place, T>;
    fn into_iter(self) -> Self::IntoIter {
        self.by_place.values()
    }
}

impl<'a, T: Resource> IntoIterator for &'a mut Resources<T> {
    type Item = &'a mut T;
    type IntoIter = std::collections::btree_map::ValuesMut<'a, Place, T>;
    fn into_iter(self) -> Self::IntoIter {
        self.by_place.values_mut()
    }
}

impl<T: Resource> IntoIterator for Resources<T> {
    type Item = T;
    type IntoIter = std::collections::btree_map::IntoValues<Place, T>;
    fn into_iter(self) -> Self::IntoIter {
        self.by_place.into_values()
    }
}

/// The same resources in the same order (places are bookkeeping).
impl<T: Resource + PartialEq> PartialEq for Resources<T> {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}

impl<T: Resource + fmt::Debug> fmt::Debug for Resources<T> {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl<T: Resource + Serialize> Serialize for Resources<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.iter())
    }
}

impl<'de, T: Resource + Deserialize<'de>> Deserialize<'de> for Resources<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Vec::<T>::deserialize(d).map(Resources::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Clone, Debug, PartialEq)]
    struct R(&'static str, u32);

    impl Resource for R {
        fn id(&self) -> &str {
            self.0
        }
    }

    fn ids(r: &Resources<R>) -> Vec<(&str, u32)> {
        r.iter().map(|x| (x.0, x.1)).collect()
    }

    #[test]
    fn puts_replace_in_place_and_removes_undo_to_the_same_order() {
        let mut r: Resources<R> = vec![R("c", 1), R("a", 2), R("b", 3)].into();
        let before = r.clone();
        let replaced = r.put(R("a", 9));
        assert_eq!(ids(&r), [("c", 1), ("a", 9), ("b", 3)]);
        let added = r.put(R("d", 4));
        assert!(added.is_none());
        let removed = r.remove("c");
        assert_eq!(ids(&r), [("a", 9), ("b", 3), ("d", 4)]);
        assert_eq!(r.get("b"), Some(&R("b", 3)));
        assert_eq!(r.by_id_after(Some("a")).map(|x| x.0).collect::<Vec<_>>(), ["b", "d"]);
        r.restore("c", removed);
        r.restore("d", added);
        r.restore("a", replaced);
        assert_eq!(r, before);
        assert_eq!(ids(&r), [("c", 1), ("a", 2), ("b", 3)]);
        assert_eq!(r.position(r.place("b").unwrap()), 2);
    }

    #[test]
    fn a_twice_named_id_finds_the_first_then_the_second() {
        let mut r: Resources<R> = vec![R("a", 1), R("b", 2), R("a", 3)].into();
        assert_eq!((r.len(), r.get("a")), (3, Some(&R("a", 1))));
        r.remove("a");
        assert_eq!(r.get("a"), Some(&R("a", 3)));
        r.retain(|x| x.1 != 3);
        assert!(!r.contains("a"));
    }
}
