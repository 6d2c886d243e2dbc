use control::config::*;
use std::time::Instant;
fn main() {
    let n: usize = std::env::args().nth(1).map(|s| s.parse().unwrap()).unwrap_or(10000);
    let mut t = String::from("[quotas]\nsessions = 10000\n\n[[port]]\nname = \"host\"\ndevice = \"net_null0\"\n\n[[port]]\nname = \"uplink\"\ndevice = \"net_null1\"\n\n[[port]]\nname = \"mirror\"\ndevice = \"net_null2\"\nipv4 = \"192.0.2.1\"\n\n[[link]]\nports = [\"host\", \"uplink\"]\n\n[[network_interface]]\nid = \"eni-ids\"\nport = \"mirror\"\nipv4 = \"192.0.2.10\"\nnext_hop_mac = \"02:00:00:00:00:20\"\n\n[[target]]\nid = \"tmt-ids\"\nnetwork_interface_id = \"eni-ids\"\n\n");
    for f in 0..3 { t += &format!("[[filter]]\nid = \"tmf-{f}\"\n[[filter.egress_rule]]\nrule_number = 10\naction = \"accept\"\nprotocol = 6\ndestination_port = {{ from = {}, to = {} }}\n[[filter.ingress_rule]]\nrule_number = 10\naction = \"accept\"\n\n", 80+f, 80+f); }
    let sources = (n + 2) / 3;
    for s in 0..sources { t += &format!("[[network_interface]]\nid = \"eni-{s:05}\"\nport = \"host\"\nmac = \"02:01:{:02x}:{:02x}:00:01\"\nipv4 = \"10.{}.{}.5\"\n\n", s >> 8, s & 255, s >> 8, s & 255); }
    for i in 0..n { t += &format!("[[session]]\nid = \"tms-{i:05}\"\nsource = \"eni-{:05}\"\ntarget = \"tmt-ids\"\nfilter = \"tmf-{}\"\nsession_number = {}\n\n", i / 3, i % 3, i % 3 + 1); }
    println!("text {} bytes", t.len());
    let a = Instant::now(); let cfg = parse(&t, "x").unwrap(); println!("parse {:?}", a.elapsed());
    let a = Instant::now(); cfg.validate().unwrap(); println!("validate {:?}", a.elapsed());
    let a = Instant::now(); let c2 = cfg.clone(); println!("clone {:?}", a.elapsed()); drop(c2);
    let mut slots = control::counters::Slots::new(10000);
    let counters = [dataplane::stats::WorkerCounters::new(3, 10000)];
    let a = Instant::now(); slots.assign(&cfg, &counters).unwrap(); println!("slots {:?}", a.elapsed());
    let a = Instant::now(); let s2 = slots.clone(); println!("slots clone {:?}", a.elapsed()); drop(s2);
    let mut c = control::compile::Compiler::default();
    let a = Instant::now(); let tb = c.compile(&cfg, &[[0;6];3], &slots, 1, |_| None).unwrap(); println!("compile {:?} rebuilt {}", a.elapsed(), c.rebuilt); drop(tb);
    let mut cfg2 = cfg.clone(); cfg2.sessions[5].filter = "tmf-0".into();
    let a = Instant::now(); let tb = c.compile(&cfg2, &[[0;6];3], &slots, 2, |_| None).unwrap(); println!("recompile {:?} rebuilt {}", a.elapsed(), c.rebuilt); drop(tb);
    let a = Instant::now(); cfg2.validate().unwrap(); println!("validate {:?}", a.elapsed());
    let a = Instant::now(); let text = toml::to_string(&cfg).unwrap(); println!("to_string {:?} {}", a.elapsed(), text.len());
    let e = control::state::Edit::PutSession(cfg.sessions[5].clone());
    let a = Instant::now(); let out = control::store::rewrite(&t, "x", &[e]).unwrap(); println!("fold rewrite {:?} {}", a.elapsed(), out.len());
}
