//! traffic-mirror's packet path.
//!
//! The per-packet stages are pure Rust over byte slices and unit-tested without DPDK:
//! [`parse`] reads the headers, [`classify`] picks the session, [`encap`] cuts the copy and
//! builds its VXLAN headers. [`worker`] runs them over bursts on DPDK ports, through the safe
//! wrappers in [`eal`], [`mempool`], [`mbuf`] and [`port`].

pub mod classify;
pub mod parse;
pub mod wire;
