//! EC2's semantics tested without DPDK: a host that validates and applies changes as the
//! control thread does, minus compiling and publishing, over a small lab configuration.

use super::{Change, Host, State};
use crate::api::actions::DescribeNeighborsResult;
use crate::api::{Action, ApiError};
use crate::config::{self, Config};
use crate::counters::RuleTotals;
use crate::report::Report;

/// The lab: a link host/uplink, a mirror port, a monitored host and a collector, an
/// accept-all filter, one session.
pub const LAB: &str = r#"
[[port]]
name = "host"
device = "net_null0"

[[port]]
name = "uplink"
device = "net_null1"

[[port]]
name = "mirror"
device = "net_null2"
ipv4 = "192.0.2.1"

[[link]]
ports = ["host", "uplink"]

[[network_interface]]
id = "eni-web"
port = "host"
mac = "02:00:00:00:00:01"
ipv4 = "10.0.0.5"

[[network_interface]]
id = "eni-ids"
port = "mirror"
ipv4 = "192.0.2.10"
next_hop_mac = "02:00:00:00:00:20"

[[target]]
id = "tmt-ids"
network_interface_id = "eni-ids"

[[filter]]
id = "tmf-all"

[[filter.ingress_rule]]
rule_number = 100
action = "accept"

[[session]]
id = "tms-web"
source = "eni-web"
target = "tmt-ids"
filter = "tmf-all"
session_number = 1
"#;

/// A host over a configuration.
pub struct TestHost {
    pub state: State,
    /// The changes committed, by what they did.
    pub committed: Vec<String>,
    /// What `rule_hits` answers.
    pub hits: RuleTotals,
}

impl TestHost {
    /// The lab, or `text` if given.
    pub fn new(text: &str) -> Self {
        TestHost { state: State::new(config::parse(text, "lab.toml").expect("the lab is valid"), Default::default()), committed: Vec::new(), hits: RuleTotals::default() }
    }

    pub fn lab() -> Self {
        Self::new(LAB)
    }

    /// Runs `a` as the control thread would (this host answers every action at once).
    pub fn run<A: Action>(&mut self, a: A) -> Result<A::Reply, ApiError> {
        crate::api::answered_at_once(|reply| a.start(self, reply))
    }

    /// Runs a JSON request, decoded as the transports do.
    pub fn json(&mut self, v: serde_json::Value) -> Result<serde_json::Value, ApiError> {
        crate::api::answered_at_once(|reply| crate::api::handle(self, v, reply))
    }

    pub fn cfg(&self) -> &Config {
        &self.state.cfg
    }

    /// Commits `change` as the control thread does, minus compiling, writing and publishing.
    fn commit_now(&mut self, change: Change) -> Result<(), ApiError> {
        let applied = self.state.apply(&change.edits);
        // Every change the tests make also checks the change's validation against a whole one,
        // and the references kept against those computed afresh.
        let verdict = self.state.validate(&applied.touched);
        assert_eq!(verdict.is_ok(), self.state.cfg.validate().is_ok(), "{}: a change's validation and a whole one disagree", change.what);
        assert_eq!(self.state.refs(), &crate::config::Refs::of(&self.state.cfg), "{}: the references kept", change.what);
        if let Err(e) = verdict {
            self.state.undo(applied);
            return Err(e);
        }
        if change.dry_run {
            self.state.undo(applied);
            return Err(ApiError::dry_run());
        }
        if let Some(t) = change.token {
            self.state.tokens.remember(t);
        }
        self.committed.push(change.what);
        Ok(())
    }
}

impl Host for TestHost {
    fn state(&self) -> &State {
        &self.state
    }

    fn after_writes(&mut self, job: super::Job) {
        job(Ok(self));
    }

    fn commit(&mut self, change: Change, done: crate::api::Reply<()>) {
        done(self.commit_now(change));
    }

    fn report(&self) -> Report {
        serde_json::from_value(serde_json::json!({
            "duration_s": 0.0, "ports": [], "sessions": [], "workers": [], "not_mirrored": {}, "mempools": []
        }))
        .expect("an empty report")
    }

    fn neighbours(&self) -> DescribeNeighborsResult {
        DescribeNeighborsResult { neighbors: Vec::new(), arp: Default::default(), nd: Default::default() }
    }

    fn rule_hits(&self) -> RuleTotals {
        self.hits.clone()
    }

    /// As a configuration file explains: compiled offline.
    fn explain(&self, port: &str, frames: &[Vec<u8>]) -> Result<Vec<crate::explain::FrameExplanation>, ApiError> {
        let table = crate::explain::offline_table(&self.state.cfg).map_err(|e| ApiError::new("InvalidConfiguration", e.to_string()))?;
        crate::explain::explain(&self.state.cfg, &table, port, frames)
    }

    fn reload(&mut self, reply: crate::api::Reply<u64>) {
        reply(Err(ApiError::new("InvalidConfiguration", "no file in tests")));
    }
}
