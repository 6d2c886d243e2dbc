//! Where a change's time goes with N sessions in force, without DPDK: parsing, validating and
//! compiling the whole configuration (start-up), then the steps of single changes as the
//! control thread takes them (apply, validate, slots, compile) and what each touched.
//!
//! `cargo run --release -p control --example scale_probe -- [SESSIONS] [CHANGES]`

use control::compile::{Compiler, Env};
use control::config::*;
use control::counters::Slots;
use control::state::{Edit, State};
use std::time::{Duration, Instant};

fn config(n: usize) -> String {
    let mut t = format!("[quotas]\nsessions = {}\n\n[[port]]\nname = \"host\"\ndevice = \"net_null0\"\n\n[[port]]\nname = \"uplink\"\ndevice = \"net_null1\"\n\n[[port]]\nname = \"mirror\"\ndevice = \"net_null2\"\nipv4 = \"192.0.2.1\"\n\n[[link]]\nports = [\"host\", \"uplink\"]\n\n[[network_interface]]\nid = \"eni-ids\"\nport = \"mirror\"\nipv4 = \"192.0.2.10\"\nnext_hop_mac = \"02:00:00:00:00:20\"\n\n[[target]]\nid = \"tmt-ids\"\nnetwork_interface_id = \"eni-ids\"\n\n", n.max(10000));
    for f in 0..100 {
        t += &format!("[[filter]]\nid = \"tmf-{f}\"\n[[filter.egress_rule]]\nrule_number = 10\naction = \"accept\"\nprotocol = 6\ndestination_port = {{ from = {}, to = {} }}\n[[filter.ingress_rule]]\nrule_number = 10\naction = \"accept\"\n\n", 80 + f, 80 + f);
    }
    for s in 0..n.div_ceil(3) {
        t += &format!("[[network_interface]]\nid = \"eni-{s:05}\"\nport = \"host\"\nmac = \"02:01:{:02x}:{:02x}:00:01\"\nipv4 = \"10.{}.{}.5\"\n\n", s >> 8, s & 255, s >> 8, s & 255);
    }
    for i in 0..n {
        t += &format!("[[session]]\nid = \"tms-{i:05}\"\nsource = \"eni-{:05}\"\ntarget = \"tmt-ids\"\nfilter = \"tmf-{}\"\nsession_number = {}\n\n", i / 3, i % 100, i % 3 + 1);
    }
    t
}

fn main() {
    let mut args = std::env::args().skip(1);
    let n: usize = args.next().map_or(10000, |s| s.parse().expect("a number of sessions"));
    let changes: usize = args.next().map_or(300, |s| s.parse().expect("a number of changes"));
    let text = config(n);
    let t = Instant::now();
    let cfg = parse(&text, "probe.toml").expect("the probe's configuration is valid");
    println!("{n} sessions: parse + validate {:?} ({} bytes)", t.elapsed(), text.len());
    let mut slots = Slots::for_quota(cfg.quotas.sessions);
    let counters = [dataplane::stats::WorkerCounters::new(3, slots.capacity())];
    slots.assign_all(&cfg, &counters).expect("slots");
    slots.published(1);
    slots.reclaim(|_| true);
    let mut state = State::new(cfg, Default::default());
    let macs = [[2, 0, 0, 0, 0, 1]; 3];
    let mut compiler = Compiler::default();
    let t = Instant::now();
    compiler.compile_all(&state.cfg, state.refs(), &Env { port_macs: &macs, slots: &slots, resolved: &|_| None }, 1).expect("compiles");
    println!("start-up compile {:?} ({} sources built)", t.elapsed(), compiler.work.sources_built);

    // Modify, Delete, Create, as the benchmark does, over sessions spread across the table.
    let mut times: [Vec<Duration>; 4] = Default::default();
    let mut work = (0, 0, 0);
    let mut pick: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut deleted: Option<Session> = None;
    for c in 0..changes {
        pick ^= pick << 13;
        pick ^= pick >> 7;
        pick ^= pick << 17;
        let i = (pick % n as u64) as usize;
        let edit = match (c % 3, deleted.take()) {
            (2, Some(s)) => Edit::PutSession(s),
            (1, None) => {
                let id = format!("tms-{i:05}");
                deleted = state.cfg.sessions.get(&id).cloned();
                Edit::DeleteSession(id)
            }
            _ => {
                let mut s = state.cfg.sessions.get(&format!("tms-{i:05}")).expect("a session").clone();
                s.filter = format!("tmf-{}", (i + c) % 100);
                Edit::PutSession(s)
            }
        };
        let t = Instant::now();
        let applied = state.apply(&[edit]);
        let t1 = Instant::now();
        work.0 += state.validate(&applied.touched).expect("valid");
        let t2 = Instant::now();
        let assigned = slots.assign(&state.cfg, applied.touched.sessions.iter().map(String::as_str), &counters).expect("a slot");
        drop(assigned);
        let t3 = Instant::now();
        compiler.compile(&state.cfg, state.refs(), &applied.touched, &Env { port_macs: &macs, slots: &slots, resolved: &|_| None }, 2).expect("compiles");
        slots.published(1);
        slots.reclaim(|_| true);
        let t4 = Instant::now();
        work.1 += compiler.work.sessions_compiled;
        work.2 += compiler.work.sources_built;
        for (k, d) in [t1 - t, t2 - t1, t3 - t2, t4 - t3].into_iter().enumerate() {
            times[k].push(d);
        }
    }
    let median = |v: &mut Vec<Duration>| {
        v.sort();
        (v[v.len() / 2], v[v.len() * 99 / 100])
    };
    for (name, v) in ["apply", "validate", "slots", "compile"].iter().zip(times.iter_mut()) {
        let (m, p99) = median(v);
        println!("{name:>9}: median {m:?}, p99 {p99:?}");
    }
    let k = changes as f64;
    println!("a change validated {:.1} resources, compiled {:.1} sessions and built {:.1} sources on average", work.0 as f64 / k, work.1 as f64 / k, work.2 as f64 / k);
}
