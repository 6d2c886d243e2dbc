//! traffic-mirror's packet path.
//!
//! The per-packet stages are pure Rust over byte slices and unit-tested without DPDK:
//! [`parse`] reads the headers, [`filter`] picks the session, [`encap`] cuts the copy and
//! builds its VXLAN headers. [`worker`] runs them over bursts on DPDK ports, through the safe
//! wrappers in [`dpdk`], reading the compiled [`table`]
//! that the control thread publishes through [`rcu`], and counting into [`stats`].

pub mod decide;
pub mod dpdk;
pub mod encap;
pub mod filter;
pub mod hash;
pub mod parse;
pub mod rcu;
pub mod snoop;
pub mod stats;
pub mod table;
pub mod types;
pub mod wire;
pub mod worker;
