//! The node format the builder writes and the lookup reads: the key's fields as the
//! classifier sees them, node references, small nodes (one cache line) and the large nodes'
//! arena layout.

use crate::parse::{field, KEY_LEN};

// The classification key is the parsed packet itself (`parse::field` has its layout). The
// class comes first and is looked up in a direct table, since most rules constrain the
// protocol or the ports flag and a table costs one load. The range fields follow, ports
// first: where splitting on a port or an address would leave as many rules alive, the builder
// takes the port ([`Builder::split_field`]), as most rules constrain ports and leave some
// address wildcarded, which lets subtrees collapse once only wildcards remain.
pub(super) const F_CLASS: usize = field::CLASS;
pub(super) const F_DPORT: usize = field::DPORT;
pub(super) const F_SPORT: usize = field::SPORT;
pub(super) const F_DST: usize = field::DST;
pub(super) const V4_FIELDS: usize = field::V4;
pub(super) const V6_FIELDS: usize = field::V6;
pub(super) const CLASS_PORTS: u32 = field::CLASS_PORTS;
pub(super) const CLASS_VALUES: usize = 1 << 9;
pub(super) const FIELD_MASK: usize = KEY_LEN - 1;
const _: () = assert!(KEY_LEN.is_power_of_two() && V6_FIELDS <= KEY_LEN && CLASS_PORTS == 1 << 8 && CLASS_VALUES == 1 << 9);

/// Marks a leaf reference. Below it, the outcome's index (0: no rule matched) and, in the
/// lowest [`WINNER_BITS`], the winning set's index + 1 (0: none): the workers read the
/// winner from the leaf itself, not from the outcome.
pub(super) const LEAF: u32 = 1 << 31;
/// Bits of a leaf that hold the winner: at most 255 sets (sessions of one source).
pub(super) const WINNER_BITS: u32 = 8;
/// Most outcomes a classifier may have.
pub(super) const MAX_OUTCOMES: usize = 1 << (31 - WINNER_BITS);
/// Marks a reference to a large node in the arena; other references index the small nodes.
pub(super) const LARGE: u32 = 1 << 30;
/// Intervals a small node holds: its bounds and children fill one cache line.
pub(super) const SMALL: usize = 8;
pub(super) const NO_MATCH: u32 = LEAF;
/// Node header: field index in the top byte, then the interval count.
pub(super) const FIELD_SHIFT: u32 = 24;
pub(super) const COUNT_MASK: u32 = (1 << FIELD_SHIFT) - 1;
/// Bounds a large node's lookup counts at once: a fixed-length window, which the compiler
/// turns into a few SIMD compares with no branch on the value. Buckets are sized so that one
/// window almost always covers a bucket.
pub(super) const WINDOW: usize = 8;
/// How many times more buckets than bounds a large node may use to keep its buckets within
/// one window where bounds cluster.
pub(super) const BUCKETS_PER_BOUND: usize = 4;
/// Arena words one classifier may use: 256 MiB, far beyond 10,000 realistic rules.
pub(super) const ARENA_LIMIT: usize = 64 << 20;

/// A node of at most [`SMALL`] intervals, in one cache line: the lookup counts the bounds
/// at or below the value over a fixed-length array, which the compiler turns into two SIMD
/// compares (no branch, no bounds check). Each bound is stored as the largest value below it,
/// biased ([`bias`]) so that the signed "greater than" SSE2 has orders them as unsigned: a
/// value above it is at or above the bound. At most `SMALL - 1` bounds are needed; the rest
/// are `i32::MAX`, which no value is above, so the count is a child's index as it is. The
/// field a node splits on travels in the reference to it ([`SMALL_FIELD_SHIFT`]), so its
/// value is loaded before the node is.
#[derive(Clone, Copy, Debug)]
#[repr(C, align(64))]
pub(super) struct SmallNode {
    pub(super) below: [i32; SMALL],
    pub(super) children: [u32; SMALL],
}

/// A small-node reference: the node index in the low bits, the field above them.
pub(super) const SMALL_FIELD_SHIFT: u32 = 26;
pub(super) const SMALL_INDEX_MASK: u32 = (1 << SMALL_FIELD_SHIFT) - 1;
pub(super) const SMALL_FIELD_MASK: u32 = 0xf;
const _: () = assert!(KEY_LEN <= SMALL_FIELD_MASK as usize + 1 && ARENA_LIMIT / (2 * SMALL) <= SMALL_INDEX_MASK as usize);

/// `v` as a signed number in the same order as `v` unsigned.
#[inline(always)]
pub(super) fn bias(v: u32) -> i32 {
    (v ^ 1 << 31) as i32
}
