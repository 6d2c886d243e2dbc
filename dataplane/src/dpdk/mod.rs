//! The DPDK edge: safe wrappers over the EAL, mempools, mbufs, ports and telemetry. With
//! [`rcu`](crate::rcu), the only code that uses `unsafe`.

pub mod burst;
pub mod eal;
pub mod mbuf;
pub mod mempool;
pub mod pdump;
pub mod port;
pub mod queue;
pub mod telemetry;
