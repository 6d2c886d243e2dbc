//! Consistent hashing of flows over the collectors of a load balancer that are in service:
//! rendezvous (highest random weight) hashing, worked out by the control thread over a fixed
//! table of buckets, so that the worker's pick is one index by the flow hash.
//!
//! A flow's bucket is the top bits of its symmetric flow hash (both directions of a flow share
//! it); each bucket belongs to the collector with the highest weight for it, and a collector's
//! weight for a bucket depends on nothing but the two. So taking a collector out of service
//! moves exactly the buckets it had, each to the collector that was second for it; putting it
//! back moves exactly those buckets back: the flows of every other collector never move, and
//! the buckets of the one that left spread over all the others, not onto one neighbour.
//!
//! 4096 buckets keep each collector's share within a few percent of even for the few
//! collectors a load balancer has, in 8 KiB per target, shared by its sessions.

/// Bits of the flow hash that pick a bucket (its top bits; the low ones pick the UDP port).
pub const BUCKET_BITS: u32 = 12;
/// Buckets in a table.
pub const BUCKETS: usize = 1 << BUCKET_BITS;

/// Which of a target's collectors in service each bucket of flows goes to.
#[derive(Clone, PartialEq, Eq)]
pub struct Spread {
    /// Index into the collectors in service, by bucket. An array, so that indexing by a
    /// bucket needs no bounds check.
    owner: Box<[u16; BUCKETS]>,
}

impl std::fmt::Debug for Spread {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        write!(f, "Spread({} buckets)", BUCKETS)
    }
}

impl Spread {
    /// The table for collectors whose stable keys ([`key`]) are `keys`, in the order the
    /// session's collectors are: bucket `b` goes to the index of the key with the highest
    /// [`weight`] for it. At least one key; at most 65536.
    pub fn new(keys: &[u64]) -> Spread {
        assert!(!keys.is_empty() && keys.len() <= usize::from(u16::MAX) + 1, "a spread is over 1 to 65536 collectors");
        let mut owner = Box::new([0u16; BUCKETS]);
        for (b, o) in owner.iter_mut().enumerate() {
            // Ties (never seen with 64-bit weights) go to the lower key, whatever the order.
            let (best, _) = keys.iter().enumerate().max_by_key(|(_, k)| (weight(**k, b as u32), std::cmp::Reverse(**k))).expect("keys is not empty");
            *o = best as u16;
        }
        Spread { owner }
    }

    /// The index of the collector that flows of `hash` go to.
    #[inline(always)]
    pub fn pick(&self, hash: u32) -> usize {
        usize::from(self.owner[(hash >> (32 - BUCKET_BITS)) as usize])
    }
}

/// A collector's stable key: a hash of its address (16 bytes; an IPv4 address mapped), the
/// same in every table and every run, whatever else the configuration holds.
pub fn key(address: u128) -> u64 {
    mix(address as u64 ^ mix((address >> 64) as u64 ^ 0x5bd1_e995))
}

/// A collector's weight for a bucket.
pub fn weight(key: u64, bucket: u32) -> u64 {
    mix(key ^ u64::from(bucket).wrapping_mul(0x9e37_79b9_7f4a_7c15))
}

/// SplitMix64's finaliser: every input bit moves every output bit.
fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(n: u32) -> Vec<u64> {
        (0..n).map(|i| key(u128::from(0xc000_0214u32 + i))).collect()
    }

    /// Where each of `flows` goes, by collector key.
    fn placement(keys: &[u64], flows: &[u32]) -> Vec<u64> {
        let s = Spread::new(keys);
        flows.iter().map(|&h| keys[s.pick(h)]).collect()
    }

    fn flows() -> Vec<u32> {
        // Flow hashes as the dataplane makes them: well spread over 32 bits.
        (0..20_000u32).map(|i| (weight(7, i) >> 32) as u32).collect()
    }

    #[test]
    fn removing_a_collector_moves_only_its_flows_and_adding_it_back_moves_only_those_back() {
        let flows = flows();
        for n in [2u32, 3, 5, 8] {
            let all = keys(n);
            let before = placement(&all, &flows);
            for gone in 0..n as usize {
                let rest: Vec<u64> = all.iter().copied().filter(|&k| k != all[gone]).collect();
                let after = placement(&rest, &flows);
                for (i, (b, a)) in before.iter().zip(&after).enumerate() {
                    if *b == all[gone] {
                        assert_ne!(*a, all[gone], "flow {i} went to the collector that left");
                    } else {
                        assert_eq!(a, b, "{n} collectors, collector {gone} left: flow {i} of another collector moved");
                    }
                }
                // Back: exactly the flows it had come back; the order of the keys is no matter.
                let mut back = rest.clone();
                back.insert(gone.min(back.len()), all[gone]);
                back.rotate_left(1);
                assert_eq!(placement(&back, &flows), before, "{n} collectors, collector {gone} back");
            }
        }
    }

    #[test]
    fn a_new_collector_takes_flows_only_for_itself() {
        let flows = flows();
        let three = keys(3);
        let four = keys(4);
        let (before, after) = (placement(&three, &flows), placement(&four, &flows));
        let moved = before.iter().zip(&after).filter(|(b, a)| b != a).count();
        assert!(before.iter().zip(&after).all(|(b, a)| a == b || *a == four[3]), "a flow moved between old collectors");
        let share = moved as f64 / flows.len() as f64;
        assert!((0.2..0.3).contains(&share), "the fourth collector takes about a quarter: {share}");
    }

    #[test]
    fn collectors_share_flows_evenly_and_the_one_left_takes_them_all() {
        let flows = flows();
        for n in [2u32, 3, 4, 10] {
            let k = keys(n);
            let placed = placement(&k, &flows);
            for key in &k {
                let share = placed.iter().filter(|p| *p == key).count() as f64 / flows.len() as f64;
                let even = 1.0 / f64::from(n);
                assert!((share - even).abs() < 0.25 * even, "{n} collectors: one has {share:.3} of the flows, not about {even:.3}");
            }
        }
        let one = keys(1);
        assert!(placement(&one, &flows).iter().all(|p| *p == one[0]));
    }

    #[test]
    fn the_bucket_is_the_top_of_the_hash() {
        let s = Spread::new(&keys(2));
        for b in 0..BUCKETS as u32 {
            let low = b << (32 - BUCKET_BITS);
            let high = low | ((1 << (32 - BUCKET_BITS)) - 1);
            assert_eq!(s.pick(low), s.pick(high), "bucket {b}");
        }
    }

    #[test]
    fn keys_are_stable_and_distinct() {
        assert_eq!(key(0xc000_0214), key(0xc000_0214));
        let k = keys(1000);
        let distinct: std::collections::HashSet<_> = k.iter().collect();
        assert_eq!(distinct.len(), 1000);
    }
}
