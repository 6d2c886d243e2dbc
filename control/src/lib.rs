//! traffic-mirror's control plane: the configuration and its validation, the EC2 Traffic
//! Mirroring API (one definition of its actions, EC2's semantics, its transports), changes
//! that survive (a journal beside the file), compiling the configuration into the tables the
//! dataplane workers read, the control thread that publishes them while traffic flows (and
//! health-checks the load balancers' collectors), and reports of the counters.

pub mod api;
pub mod boot;
pub(crate) mod capture;
pub mod cli_docs;
pub mod compile;
pub mod config;
pub(crate) mod controller;
pub mod counters;
pub mod ctl;
pub(crate) mod health;
pub mod explain;
pub(crate) mod http;
pub mod import;
pub(crate) mod metrics;
pub(crate) mod neighbour;
pub mod query;
pub(crate) mod reload;
pub mod render;
pub(crate) mod report;
pub mod state;
pub mod store;
pub(crate) mod throttle;
