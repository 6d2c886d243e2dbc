//! traffic-mirror's packet path.
//!
//! The per-frame stages are pure Rust over byte slices, unit-tested without DPDK: [`wire`]
//! has the formats (views over bytes, one VLAN walk), [`parse`] reads a frame into the
//! classification key, [`decide`] answers which sessions mirror it, through the compiled
//! [`filter`]s, and with which flow [`hash`], and [`encap`] builds the copies' outer headers.
//! [`worker`] runs them over bursts on DPDK ports, through the safe wrappers in [`dpdk`],
//! reading the compiled [`table`] that the control thread publishes through [`rcu`] (a load
//! balancer's flows spread over its collectors by [`spread`]), handing ARP and health-check
//! answers to the control thread ([`snoop`]) and counting into [`stats`]. [`types`] holds the
//! concepts both crates share.

// Only the DPDK edge (dpdk/) and the RCU may use unsafe code; each allows it for itself.
#![deny(unsafe_code)]
#![warn(missing_docs)]

pub mod decide;
pub mod dpdk;
pub mod encap;
pub mod filter;
pub mod hash;
pub mod parse;
pub mod rcu;
pub mod snoop;
pub mod spread;
pub mod stats;
pub mod table;
pub mod types;
pub mod wire;
pub mod worker;
