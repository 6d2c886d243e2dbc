//! traffic-mirror's control plane: the configuration and its validation, compiling it into the
//! tables the dataplane workers read, running the dataplane, and reporting its counters.

pub mod compile;
pub mod config;
pub mod report;
pub mod run;
