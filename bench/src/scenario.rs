//! The scenarios: what each one mirrors, and the configuration around it.

use crate::ovs::Job;
use e2e::config::{Eni, Filter, Rule, Session, Setup};
use e2e::scale::appliance;
use std::path::Path;

/// What a scenario mirrors.
pub struct Scenario {
    pub name: &'static str,
    pub workers: usize,
    /// Its sessions' ids: switched off and on to measure against no sessions in one process.
    pub sessions: &'static [&'static str],
    /// What it adds to the appliance with its source: targets, filters, sessions (and quotas).
    pub mirroring: fn(Setup) -> Setup,
    /// Another scenario measured inside this one's pairs: see [`Against`].
    pub against: Option<Against>,
    /// The floor measured with it round by round (`--bench-floor`, on as many workers): the
    /// least work its job takes on these devices.
    pub floor: Option<&'static str>,
    /// What OVS-DPDK does to do the same job, measured with it round by round.
    pub ovs: Option<Job>,
    /// Another scenario, on one worker where this one has several, measured with it round by
    /// round: how it scales.
    pub scales: Option<&'static str>,
}

/// A third window in each pair of a scenario's windows, with session s1 switched from
/// [`MAIN_FILTER`] to another filter: two filters compared a fraction of a second apart in one
/// process, as the scenarios are against no sessions. Only a direct pairing of this kind keeps
/// the 10,000-against-10-rules verdict steady on a noisy machine; the quotient of two scenarios'
/// ratios against no sessions carries the noise of both.
#[derive(Clone, Copy)]
pub struct Against {
    /// The scenario the other filter stands for (its row is measured on its own as well).
    pub scenario: &'static str,
    pub filter: &'static str,
}

/// The filter of session s1 in every scenario.
pub const MAIN_FILTER: &str = "f";


/// A filter with `extra` rules that never match the traffic, then `accept`'s rules.
pub fn filter(id: &str, extra: usize, accept: fn(Filter, u32) -> Filter) -> Filter {
    let mut f = Filter::new(id);
    let mut x: u64 = 0x1234_5678;
    for i in 0..extra {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let from = 1 + x % 60000;
        let rule = if i % 3 == 0 { Rule::reject(i as u32 + 1) } else { Rule::accept(i as u32 + 1) };
        f = f.egress(
            rule.protocol(if i % 2 == 0 { 6 } else { 17 })
                .destination(&format!("172.{}.{}.0/24", 16 + (x >> 20) % 16, (x >> 8) % 256))
                .destination_port(from as u16, (from + x % 200).min(65535) as u16),
        );
    }
    accept(f, extra as u32 + 1)
}

/// Accept TCP and UDP whose source port is in the lowest tenth (1024-7475 of 1024-65535), as
/// rules `n` and `n + 1`.
pub fn tenth(f: Filter, n: u32) -> Filter {
    f.egress(Rule::accept(n).protocol(6).source_port(1024, 7475)).egress(Rule::accept(n + 1).protocol(17).source_port(1024, 7475))
}

/// Accept everything, as rule `n`.
pub fn all(f: Filter, n: u32) -> Filter {
    f.egress(Rule::accept(n))
}

/// Rules `n` and `n + 1` that look at ports and addresses but match nothing in the traffic.
pub fn nothing(f: Filter, n: u32) -> Filter {
    f.egress(Rule::accept(n).protocol(6).destination_port(9999, 9999)).egress(Rule::accept(n + 1).protocol(17).source_port(1, 1000))
}

/// Session `id`, numbered `number` and with that VNI: the source through `filter` to the target.
pub fn session(id: &str, filter: &str, number: u32, packet_length: Option<u32>) -> Session {
    let s = Session::new(id, number).source("src").target("tmt").filter(filter).vni(number);
    match packet_length {
        Some(length) => s.packet_length(length),
        None => s,
    }
}

/// The target, `filters` and session s1 through the first of them.
pub fn one_session(setup: Setup, filters: impl IntoIterator<Item = Filter>, packet_length: Option<u32>) -> Setup {
    let setup = filters.into_iter().fold(setup.tmt(), Setup::filter);
    setup.session(session("s1", MAIN_FILTER, 1, packet_length))
}

/// Room for the 10,000-rule filter (AWS allows 10 rules a direction).
fn many_rules(setup: Setup) -> Setup {
    setup.with(|c| c.quotas.rules_per_filter = 20000)
}

pub fn scenarios() -> Vec<Scenario> {
    let tenth_floor = Some("copy:128/10");
    let s = |name, mirroring: fn(Setup) -> Setup, floor, ovs| Scenario { name, workers: 1, sessions: &["s1"], mirroring, against: None, floor, ovs, scales: None };
    vec![
        Scenario { sessions: &[], ..s("no sessions", |c| c, Some("touch"), Some(Job::Forward)) },
        s("sessions, nothing accepted", |c| one_session(c, [filter(MAIN_FILTER, 0, nothing)], Some(128)), Some("touch"), None),
        s("10% mirrored, 128 B", |c| one_session(c, [filter(MAIN_FILTER, 0, tenth)], Some(128)), tenth_floor, Some(Job::Mirror { max_len: Some(128), tenth: true })),
        s("100% mirrored, 128 B", |c| one_session(c, [filter(MAIN_FILTER, 0, all)], Some(128)), Some("copy:128"), Some(Job::Mirror { max_len: Some(128), tenth: false })),
        s("100% mirrored, whole", |c| one_session(c, [filter(MAIN_FILTER, 0, all)], None), Some("copy:whole"), Some(Job::Mirror { max_len: None, tenth: false })),
        s("10 rules, 10% mirrored", |c| one_session(many_rules(c), [filter(MAIN_FILTER, 8, tenth)], Some(128)), tenth_floor, None),
        // Right after 10 rules: a target pair, measured close together on a noisy machine.
        Scenario {
            // The 10-rule filter (the same as the scenario before) too, to be compared with directly.
            against: Some(Against { scenario: "10 rules, 10% mirrored", filter: "f10" }),
            ..s("10,000 rules, 10% mirrored", |c| one_session(many_rules(c), [filter(MAIN_FILTER, 9998, tenth), filter("f10", 8, tenth)], Some(128)), tenth_floor, None)
        },
        s("1,000 rules, 10% mirrored", |c| one_session(many_rules(c), [filter(MAIN_FILTER, 998, tenth)], Some(128)), tenth_floor, None),
        Scenario {
            sessions: &["s1", "s2", "s3"],
            ..s(
                "3 sessions, 10% mirrored",
                |c| {
                    c.tmt()
                        .filter(filter("f1", 0, nothing))
                        .filter(filter("f2", 0, nothing))
                        .filter(filter("f3", 0, tenth))
                        .session(session("s1", "f1", 1, Some(128)))
                        .session(session("s2", "f2", 2, Some(128)))
                        .session(session("s3", "f3", 3, Some(128)))
                },
                tenth_floor,
                None,
            )
        },
        Scenario { workers: 2, scales: Some("100% mirrored, 128 B"), ..s("2 workers, 100% mirrored, 128 B", |c| one_session(c, [filter(MAIN_FILTER, 0, all)], Some(128)), Some("copy:128"), None) },
    ]
}

/// The configuration of a scenario's run: [`e2e::scale::appliance`] with source `src` on the
/// host port, and `mirroring`.
pub fn config(input: &Path, workers: usize, socket: &Path, mirroring: fn(Setup) -> Setup) -> String {
    mirroring(appliance(input, workers, socket).eni(Eni::new("src", "host"))).toml()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_scenario_is_a_configuration_the_product_reads_with_the_sessions_and_filters_it_switches() {
        for s in scenarios() {
            let text = config(Path::new("/tmp/in.pcap"), s.workers, Path::new("/tmp/tm.sock"), s.mirroring);
            let c = control::config::parse(&text, s.name).unwrap_or_else(|e| panic!("{}: {e}", s.name));
            assert_eq!(c.dataplane.workers, s.workers, "{}", s.name);
            assert_eq!(c.sessions.len(), s.sessions.len(), "{}", s.name);
            for id in s.sessions {
                assert!(c.sessions.contains(id), "{}: session {id}", s.name);
            }
            if let Some(against) = s.against {
                assert!(c.filters.contains(MAIN_FILTER) && c.filters.contains(against.filter), "{}", s.name);
            }
        }
    }

    #[test]
    fn the_filters_have_their_rules_numbered_in_a_row() {
        let f = filter(MAIN_FILTER, 998, tenth).0;
        let numbers: Vec<u32> = f.egress_rules.iter().map(|r| r.rule_number).collect();
        assert_eq!(numbers, (1..=1000).collect::<Vec<_>>());
        assert_eq!(f.egress_rules.iter().filter(|r| r.action == control::config::RuleAction::Reject).count(), 333);
    }
}
