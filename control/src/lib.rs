//! traffic-mirror's control plane: the configuration and its validation, compiling it into the
//! tables the dataplane workers read, the control thread that changes them while traffic flows
//! (through the EC2-shaped control API and SIGHUP), and reports of the counters.

pub mod api;
pub mod arp;
pub mod compile;
pub mod config;
pub mod controller;
pub mod ctl;
pub mod ctl_cli;
pub mod import;
pub mod metrics;
pub mod report;
pub mod run;
