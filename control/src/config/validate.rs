//! Validation: every range and reference SPEC.md names, on the plain model, so a file and a
//! change made through the API are checked by the same code. Every problem is reported, each
//! with a path into the document (for the file's line) and the key and value it is about (for
//! a message in either the file's or the API's terms, see [`Problem`]).
//!
//! Two ways in, one set of checks: [`Config::validate`] checks everything (a file, a reload);
//! [`Config::validate_change`] checks only what a change can have made wrong, given that the
//! configuration was valid before it: the resources it touched and those that refer to them,
//! found through [`Refs`]. With 10,000 sessions that is a few resources, not all of them. The
//! cross-resource rules (an id used twice, a session number taken, a MAC owned twice, a
//! quota) are asked of the references there instead of being counted over everything.

use super::problem::{Fault, Kind, Problem, Seg};
use super::refs::{Refs, Touched};
use super::schema::*;
use ipnet::IpNet;
use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv6Addr};
// FxHash: a whole validation hashes tens of thousands of short ids.
use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};

/// EAL arguments that keep DPDK's memory private to the process, where no secondary process
/// (dpdk-pdump) can attach.
const PRIVATE_MEMORY: [&str; 3] = ["--no-huge", "--in-memory", "--no-shconf"];

impl Config {
    /// Checks every range and reference; returns all problems found. Linear in the
    /// configuration's size.
    pub fn validate(&self) -> Result<(), Vec<Problem>> {
        let mut v = Validator { cfg: self, problems: Vec::new(), checked: 0 };
        v.dataplane();
        v.quotas();
        v.control();
        v.ports();
        v.links();
        v.network_interfaces();
        v.load_balancers();
        v.endpoints();
        v.targets();
        v.filters();
        v.sessions();
        v.descriptions(None);
        if v.problems.is_empty() { Ok(()) } else { Err(v.problems) }
    }

    /// Checks what the change that `touched` describes can have made wrong in a configuration
    /// that was valid before it (`refs` are this configuration's). The same verdict as
    /// [`validate`](Self::validate), and when there is a problem, the same problems: they are
    /// then gathered by a whole validation, so that they read exactly as for a file. Returns
    /// how many resources were checked.
    pub fn validate_change(&self, refs: &Refs, touched: &Touched) -> Result<usize, Vec<Problem>> {
        let mut v = Validator { cfg: self, problems: Vec::new(), checked: 0 };
        v.change(refs, touched);
        if v.problems.is_empty() {
            return Ok(v.checked);
        }
        self.validate().map(|()| v.checked)
    }
}

/// The longest id or ARN (AWS's are 21 characters, ARNs a few hundred).
const MAX_ID_LEN: usize = 1024;
/// The longest description, as EC2 allows them.
const MAX_DESCRIPTION: usize = 255;
/// Most `[dataplane] tx_retries`.
const MAX_TX_RETRIES: u32 = 1000;
/// Most mbufs in a pool (2 KiB and more each).
const MAX_MBUFS: u32 = 1 << 24;
/// The largest `[quotas]` value: the sessions' one sizes every worker's counters (about 150
/// bytes a session).
const MAX_QUOTA: usize = 100_000;

struct Validator<'c> {
    cfg: &'c Config,
    problems: Vec<Problem>,
    /// Resources checked (how a change's validation is seen to cost what it touches).
    checked: usize,
}

/// Where a resource is and how the file names it.
#[derive(Clone)]
struct At {
    path: Vec<Seg>,
    kind: Option<Kind>,
    item: String,
}

impl At {
    fn section(name: &'static str) -> At {
        At { path: vec![Seg::Key(name)], kind: None, item: format!("[{name}]") }
    }

    fn resource(kind: Kind, index: usize, id: &str) -> At {
        let item = if id.is_empty() { format!("[[{}]] {}", kind.table(), index + 1) } else { format!("[[{}]] {id:?}", kind.table()) };
        At { path: vec![Seg::Key(kind.table()), Seg::Index(index)], kind: Some(kind), item }
    }

    fn rule(filter: usize, id: &str, key: &'static str, index: usize, number: u32) -> At {
        At {
            path: vec![Seg::Key("filter"), Seg::Index(filter), Seg::Key(key), Seg::Index(index)],
            kind: Some(Kind::FilterRule),
            item: format!("[[filter]] {id:?} {key} {number}"),
        }
    }
}

fn quoted(s: &str) -> Option<String> {
    Some(format!("{s:?}"))
}

impl<'c> Validator<'c> {
    fn problem(&mut self, at: &At, key: &'static str, value: Option<String>, fault: Fault, reason: impl Into<String>) {
        let mut path = at.path.clone();
        if !key.is_empty() {
            path.push(Seg::Key(key));
        }
        self.problems.push(Problem { path, kind: at.kind, item: at.item.clone(), key, value, reason: reason.into(), fault });
    }

    fn invalid(&mut self, at: &At, key: &'static str, value: impl ToString, reason: impl Into<String>) {
        self.problem(at, key, Some(value.to_string()), Fault::Invalid, reason);
    }

    fn dataplane(&mut self) {
        let d = &self.cfg.dataplane;
        let at = At::section("dataplane");
        if d.workers == 0 || d.workers > MAX_WORKERS {
            self.invalid(&at, "workers", d.workers, format!("must be 1-{MAX_WORKERS}"));
        }
        if !d.cores.is_empty() && d.cores.len() != d.workers {
            self.invalid(&at, "cores", format!("{:?}", d.cores), format!("lists {} cores for {} workers", d.cores.len(), d.workers));
        }
        let max_burst = dataplane::dpdk::burst::MAX_BURST;
        if d.burst_size == 0 || d.burst_size > max_burst {
            self.invalid(&at, "burst_size", d.burst_size, format!("must be 1-{max_burst}"));
        }
        for (k, n) in [("rx_desc", d.rx_desc), ("tx_desc", d.tx_desc)] {
            if n < 32 {
                self.invalid(&at, k, n, "must be at least 32");
            }
        }
        if d.idle_sleep_us > 1_000_000 {
            self.invalid(&at, "idle_sleep_us", d.idle_sleep_us, "at most 1000000");
        }
        // dpdk-pdump maps this process's memory: only hugepage files shared under the runtime
        // folder let it.
        if let Some(arg) = d.pdump.then(|| d.eal_args.iter().find(|a| PRIVATE_MEMORY.contains(&a.as_str()))).flatten() {
            self.invalid(&at, "pdump", true, format!("dpdk-pdump needs hugepages shared with it, and eal_args has {arg}"));
        }
        // Each retry is another attempt at once, with the whole burst (and every frame
        // behind it) waiting: a few thousand would stall the worker on a full queue.
        if d.tx_retries > MAX_TX_RETRIES {
            self.invalid(&at, "tx_retries", d.tx_retries, format!("at most {MAX_TX_RETRIES}"));
        }
        // 2 KiB and more each: past this, memory no machine here has.
        for (k, n) in [("mbufs", d.mbufs), ("copy_mbufs", d.copy_mbufs)] {
            if n > MAX_MBUFS {
                self.invalid(&at, k, n, format!("at most {MAX_MBUFS} (0: sized automatically)"));
            }
        }
    }

    /// Every description (or, given `only`, those of the resources a change touched), at most
    /// [`MAX_DESCRIPTION`] characters: what a resource holds is memory, and a quota times a
    /// megabyte is more than the appliance has.
    fn descriptions(&mut self, only: Option<&Touched>) {
        let c = self.cfg;
        let picked = |ids: Option<&BTreeSet<String>>, id: &str| ids.is_none_or(|ids| ids.contains(id));
        let mut all: Vec<(At, &Option<String>)> = Vec::new();
        let mut add = |ids: Option<&BTreeSet<String>>, kind: Kind, i: usize, id: &str, d: &'c Option<String>| {
            if d.is_some() && picked(ids, id) {
                all.push((At::resource(kind, i, id), d));
            }
        };
        for (i, x) in c.network_interfaces.iter().enumerate() {
            add(only.map(|t| &t.interfaces), Kind::NetworkInterface, i, &x.id, &x.description);
        }
        for (i, x) in c.load_balancers.iter().enumerate() {
            add(only.map(|t| &t.load_balancers), Kind::LoadBalancer, i, &x.arn, &x.description);
        }
        for (i, x) in c.gateway_load_balancer_endpoints.iter().enumerate() {
            add(only.map(|t| &t.endpoints), Kind::GatewayLoadBalancerEndpoint, i, &x.id, &x.description);
        }
        for (i, x) in c.targets.iter().enumerate() {
            add(only.map(|t| &t.targets), Kind::Target, i, &x.id, &x.description);
        }
        for (i, x) in c.sessions.iter().enumerate() {
            add(only.map(|t| &t.sessions), Kind::Session, i, &x.id, &x.description);
        }
        for (i, f) in c.filters.iter().enumerate().filter(|(_, f)| picked(only.map(|t| &t.filters), &f.id)) {
            all.push((At::resource(Kind::Filter, i, &f.id), &f.description));
            for (key, rules) in [("ingress_rule", &f.ingress_rules), ("egress_rule", &f.egress_rules)] {
                all.extend(rules.iter().enumerate().map(|(j, r)| (At::rule(i, &f.id, key, j, r.rule_number), &r.description)));
            }
        }
        for (at, d) in all {
            if let Some(d) = d.as_ref().filter(|d| d.chars().count() > MAX_DESCRIPTION) {
                self.invalid(&at, "description", format!("{d:?}"), format!("at most {MAX_DESCRIPTION} characters"));
            }
        }
    }

    /// Quotas are limits, but the sessions' one also sizes every worker's counters: a value
    /// past what the appliance can hold would be memory it cannot have.
    fn quotas(&mut self) {
        let q = &self.cfg.quotas;
        let at = At::section("quotas");
        for (k, n, max) in [
            ("sessions_per_source", q.sessions_per_source, 32766),
            ("rules_per_filter", q.rules_per_filter, MAX_QUOTA),
            ("targets", q.targets, MAX_QUOTA),
            ("filters", q.filters, MAX_QUOTA),
            ("sessions", q.sessions, MAX_QUOTA),
        ] {
            if n == 0 || n > max {
                self.invalid(&at, k, n, format!("must be 1-{max}"));
            }
        }
    }

    fn control(&mut self) {
        let c = &self.cfg.control;
        let at = At::section("control");
        let ok = u32::from_str_radix(c.socket_mode.trim_start_matches("0o"), 8).is_ok_and(|m| m <= 0o777);
        if !ok {
            self.invalid(&at, "socket_mode", format!("{:?}", c.socket_mode), "expected octal permissions such as \"0600\"");
        }
        if c.socket.is_empty() {
            self.invalid(&at, "socket", "\"\"", "must name a path");
        }
        if let Some(api) = &self.cfg.api {
            let at = At::section("api");
            for (key, why) in api.validate() {
                let value = match key {
                    "listen" => format!("\"{}\"", api.listen),
                    "tls_cert" => format!("{:?}", api.tls_cert.as_ref().map(|p| p.display().to_string()).unwrap_or_default()),
                    "tls_key" => format!("{:?}", api.tls_key.as_ref().map(|p| p.display().to_string()).unwrap_or_default()),
                    _ => format!("{:?}", api.credentials_file.display().to_string()),
                };
                self.invalid(&at, key, value, why);
            }
        }
        if self.cfg.vpc.owner_id.is_empty() {
            self.invalid(&At::section("vpc"), "owner_id", "\"\"", "must name an account id");
        }
    }

    fn ports(&mut self) {
        let mut names = HashMap::default();
        let mut devices = HashMap::default();
        for (i, p) in self.cfg.ports.iter().enumerate() {
            let at = At::resource(Kind::Port, i, &p.name);
            if p.name.is_empty() {
                self.invalid(&at, "name", "\"\"", "must not be empty");
            } else if let Some(first) = names.insert(p.name.as_str(), i) {
                self.problem(&at, "name", quoted(&p.name), Fault::Combination, format!("is used twice (ports {} and {})", first + 1, i + 1));
            }
            let dev = super::device::device_name(&p.device);
            if dev.is_empty() {
                self.invalid(&at, "device", quoted(&p.device).unwrap_or_default(), "names no device");
            } else if let Some(first) = devices.insert(dev.to_owned(), i) {
                let other = &self.cfg.ports[first].name;
                self.problem(&at, "device", quoted(&p.device), Fault::Combination, format!("device {dev:?} is already port {other:?}"));
            }
            if let Some(mtu) = p.mtu {
                if !(68..=9600).contains(&mtu) {
                    self.invalid(&at, "mtu", mtu, "must be 68-9600");
                }
            }
            self.unicast_v6(&at, "ipv6", p.ipv6);
        }
        if self.cfg.ports.is_empty() {
            let at = At { path: vec![], kind: None, item: String::new() };
            self.problem(&at, "", None, Fault::Invalid, "no [[port]] defined: traffic-mirror needs at least one port");
        }
    }

    fn links(&mut self) {
        let mut linked: HashMap<&str, usize> = HashMap::default();
        for (i, l) in self.cfg.links.iter().enumerate() {
            let at = At::resource(Kind::Link, i, "");
            if l.ports.len() != 2 {
                self.invalid(&at, "ports", format!("{:?}", l.ports), format!("must name exactly two ports, not {}", l.ports.len()));
                continue;
            }
            if l.ports[0] == l.ports[1] {
                self.invalid(&at, "ports", format!("{:?}", l.ports), format!("links port {:?} to itself", l.ports[0]));
            }
            for name in &l.ports {
                if self.cfg.port_index(name).is_none() {
                    self.problem(&at, "ports", quoted(name), Fault::Missing(Kind::Port), "no port has that name");
                } else if let Some(first) = linked.insert(name, i) {
                    if first != i {
                        self.problem(&at, "ports", quoted(name), Fault::Combination, format!("the port is in two links ({} and {})", first + 1, i + 1));
                    }
                }
            }
        }
    }

    /// The port a resource names must exist.
    fn port_exists(&mut self, at: &At, port: &str) {
        if self.cfg.port_index(port).is_none() {
            self.problem(at, "port", quoted(port), Fault::Invalid, "no port has that name");
        }
    }

    fn unique_id<'a>(&mut self, seen: &mut HashSet<&'a str>, at: &At, key: &'static str, id: &'a str) {
        if self.id_length(at, key, id) && !seen.insert(id) {
            self.problem(at, key, quoted(id), Fault::Combination, "is used twice");
        }
    }

    /// An id (or ARN) is 1 to [`MAX_ID_LEN`] characters; false, with the problem said, if not.
    fn id_length(&mut self, at: &At, key: &'static str, id: &str) -> bool {
        if id.is_empty() {
            self.invalid(at, key, "\"\"", "must not be empty");
        } else if id.chars().count() > MAX_ID_LEN {
            self.invalid(at, key, format!("{id:?}"), format!("an id or ARN has at most {MAX_ID_LEN} characters"));
        } else {
            return true;
        }
        false
    }

    /// What a change can have made wrong: the resources it touched and those that refer to
    /// them, each checked alone, and the rules between resources asked of `refs`. Problems
    /// here only say that there are some (their paths are not the file's).
    fn change(&mut self, refs: &Refs, t: &Touched) {
        let c = self.cfg;
        for kind in [Kind::Target, Kind::Filter, Kind::Session] {
            self.quota(kind);
        }
        self.descriptions(Some(t));
        // The ids of what it touched, by length (their uniqueness is `refs`' to say); any
        // problem sends the change to a whole validation, which says it as for a file.
        let touched = [(Kind::NetworkInterface, &t.interfaces), (Kind::LoadBalancer, &t.load_balancers), (Kind::GatewayLoadBalancerEndpoint, &t.endpoints), (Kind::Target, &t.targets), (Kind::Filter, &t.filters), (Kind::Session, &t.sessions)];
        for (kind, ids) in touched {
            for id in ids {
                self.id_length(&At::resource(kind, 0, id), "id", id);
            }
        }
        for id in &t.interfaces {
            if let Some(n) = c.network_interfaces.get(id) {
                self.network_interface(0, n);
            }
        }
        for id in &t.load_balancers {
            if let Some(lb) = c.load_balancers.get(id) {
                self.load_balancer(0, lb);
            }
        }
        for id in &t.endpoints {
            if let Some(e) = c.gateway_load_balancer_endpoints.get(id) {
                self.endpoint(0, e);
            }
        }
        let targets = refs.targets_reached(t);
        for id in &targets {
            if let Some(target) = c.targets.get(id) {
                self.target(0, target);
            }
        }
        for id in &t.filters {
            if let Some(f) = c.filters.get(id) {
                self.filter(0, f, |rule| refs.rules_with_id(rule) < 2);
            }
        }
        // Sessions: those touched, those of the sources, targets and filters touched (what
        // they refer to may be gone, or no longer fit them).
        let mut sessions: BTreeSet<&str> = t.sessions.iter().map(String::as_str).collect();
        for id in t.interfaces.iter().chain(&t.sources) {
            sessions.extend(refs.sessions_of_source(id));
        }
        for id in &targets {
            sessions.extend(refs.sessions_of_target(id));
        }
        for id in &t.filters {
            sessions.extend(refs.sessions_of_filter(id));
        }
        let mut sources: BTreeSet<&str> = t.interfaces.iter().chain(&t.sources).map(String::as_str).collect();
        for id in &sessions {
            let Some(s) = c.sessions.get(id) else { continue };
            self.session(0, s, None);
            sources.insert(&s.source);
        }
        // Each source's sessions among themselves, and its frames its own.
        for id in sources {
            let mut numbers = HashMap::default();
            for (count, sid) in refs.sessions_of_source(id).enumerate() {
                let Some(s) = c.sessions.get(sid) else { continue };
                self.among_its_source(&At::resource(Kind::Session, 0, sid), s, &mut numbers, count + 1);
            }
            if let Some(n) = c.network_interfaces.get(id).filter(|_| refs.is_source(id)) {
                let mut owners = HashMap::default();
                for other in refs.interfaces_at(&n.port, n.mac).filter(|o| refs.is_source(o)) {
                    if let Some(o) = c.network_interfaces.get(other) {
                        self.one_source_per_frame(0, o, &mut owners);
                    }
                }
            }
        }
    }

    /// The quota on the number of resources of `kind` (targets, filters or sessions).
    fn quota(&mut self, kind: Kind) {
        let c = self.cfg;
        let (n, quota, code, what) = match kind {
            Kind::Target => (c.targets.len(), c.quotas.targets, "TrafficMirrorTargetLimitExceeded", "targets"),
            Kind::Filter => (c.filters.len(), c.quotas.filters, "TrafficMirrorFilterLimitExceeded", "filters"),
            _ => (c.sessions.len(), c.quotas.sessions, "TrafficMirrorSessionLimitExceeded", "sessions"),
        };
        if n > quota {
            let at = At { path: vec![Seg::Key(kind.table())], kind: Some(kind), item: format!("[[{}]]", kind.table()) };
            self.problem(&at, "", None, Fault::Quota(code), format!("{n} {what} exceed the quota of {quota} ([quotas] {what})"));
        }
    }

    fn network_interfaces(&mut self) {
        let mut ids = HashSet::default();
        for (i, n) in self.cfg.network_interfaces.iter().enumerate() {
            let at = At::resource(Kind::NetworkInterface, i, &n.id);
            self.unique_id(&mut ids, &at, "id", &n.id);
            self.network_interface(i, n);
        }
        // A frame belongs to one source: monitored interfaces on a port differ by MAC.
        let sources: HashSet<&str> = self.cfg.sessions.iter().map(|s| s.source.as_str()).collect();
        let mut owners = HashMap::default();
        for (i, n) in self.cfg.network_interfaces.iter().enumerate().filter(|(_, n)| sources.contains(n.id.as_str())) {
            self.one_source_per_frame(i, n, &mut owners);
        }
    }

    fn network_interface(&mut self, i: usize, n: &NetworkInterface) {
        self.checked += 1;
        let at = At::resource(Kind::NetworkInterface, i, &n.id);
        self.port_exists(&at, &n.port);
        self.unicast_v6(&at, "ipv6", n.ipv6);
    }

    /// An IPv6 address a host has: not unspecified, loopback or multicast.
    fn unicast_v6(&mut self, at: &At, key: &'static str, a: Option<Ipv6Addr>) {
        if let Some(a) = a.filter(|a| a.is_unspecified() || a.is_loopback() || a.is_multicast()) {
            self.invalid(at, key, format!("\"{a}\""), "must be a unicast IPv6 address");
        }
    }

    /// Source `n` (the `i`th network interface), after the sources `owners` has seen: its port
    /// and MAC must be its own.
    fn one_source_per_frame<'a>(&mut self, i: usize, n: &'a NetworkInterface, owners: &mut HashMap<(&'a str, Option<Mac>), &'a str>) {
        if let Some(other) = owners.insert((n.port.as_str(), n.mac), n.id.as_str()) {
            let at = At::resource(Kind::NetworkInterface, i, &n.id);
            let what = n.mac.map_or("without a MAC".to_owned(), |m| format!("with MAC {m}"));
            let (key, value) = if n.mac.is_some() { ("mac", n.mac.map(|m| format!("\"{m}\""))) } else { ("port", quoted(&n.port)) };
            self.problem(&at, key, value, Fault::Combination, format!(
                "network interface {other:?} is already a source on port {:?} {what}: a frame must belong to one source, so monitored hosts on a shared port need MACs of their own",
                n.port
            ));
        }
    }

    fn load_balancers(&mut self) {
        let mut arns = HashSet::default();
        for (i, lb) in self.cfg.load_balancers.iter().enumerate() {
            let at = At::resource(Kind::LoadBalancer, i, &lb.arn);
            self.unique_id(&mut arns, &at, "arn", &lb.arn);
            self.load_balancer(i, lb);
        }
    }

    fn load_balancer(&mut self, i: usize, lb: &LoadBalancer) {
        self.checked += 1;
        let at = At::resource(Kind::LoadBalancer, i, &lb.arn);
        self.port_exists(&at, &lb.port);
        if lb.addresses.is_empty() {
            self.invalid(&at, "addresses", "[]", "a load balancer needs at least one collector address");
        }
        let mut seen = HashSet::default();
        for a in &lb.addresses {
            if !seen.insert(a) {
                self.invalid(&at, "addresses", format!("\"{a}\""), "is listed twice");
            }
            if let IpAddr::V6(v6) = a {
                self.unicast_v6(&at, "addresses", Some(*v6));
            }
        }
        if let Some(hc) = &lb.health_check {
            self.health_check(&at, hc);
        }
    }

    /// A health check's values: AWS's ranges for a Network Load Balancer's target group, but
    /// for the interval, which may be as short as 1 s (AWS: 5) so that a lab sees a collector
    /// fail within seconds.
    fn health_check(&mut self, at: &At, hc: &HealthCheck) {
        let mut sub = |key: &'static str, value: String, fault: Fault, reason: &str| {
            let mut path = at.path.clone();
            path.extend([Seg::Key("health_check"), Seg::Key(key.trim_start_matches("health_check."))]);
            self.problems.push(Problem { path, kind: at.kind, item: at.item.clone(), key, value: Some(value), reason: reason.into(), fault });
        };
        if let Some(i) = hc.interval {
            if !(1..=300).contains(&i) {
                sub("health_check.interval", i.to_string(), Fault::Invalid, "must be 1-300 seconds");
            }
        }
        for (key, n) in [("health_check.healthy_threshold", hc.healthy_threshold), ("health_check.unhealthy_threshold", hc.unhealthy_threshold)] {
            if let Some(n) = n.filter(|n| !(2..=10).contains(n)) {
                sub(key, n.to_string(), Fault::Invalid, "must be 2-10");
            }
        }
        match (hc.protocol.unwrap_or_default(), hc.port) {
            (_, Some(0)) => sub("health_check.port", "0".into(), Fault::Invalid, "must be 1-65535"),
            (HealthCheckProtocol::Icmp, Some(p)) => sub("health_check.port", p.to_string(), Fault::Combination, "an ICMP health check has no port"),
            _ => {}
        }
    }

    fn endpoints(&mut self) {
        let mut ids = HashSet::default();
        for (i, e) in self.cfg.gateway_load_balancer_endpoints.iter().enumerate() {
            let at = At::resource(Kind::GatewayLoadBalancerEndpoint, i, &e.id);
            self.unique_id(&mut ids, &at, "id", &e.id);
            self.endpoint(i, e);
        }
    }

    fn endpoint(&mut self, i: usize, e: &GatewayLoadBalancerEndpoint) {
        self.checked += 1;
        let at = At::resource(Kind::GatewayLoadBalancerEndpoint, i, &e.id);
        self.port_exists(&at, &e.port);
        match (e.ipv4, e.ipv6) {
            (None, None) => self.problem(&at, "ipv4", None, Fault::Invalid, "an endpoint needs its address: ipv4 or ipv6"),
            (Some(_), Some(v6)) => self.problem(&at, "ipv6", Some(format!("\"{v6}\"")), Fault::Combination, "an endpoint has one address: ipv4 or ipv6, not both"),
            _ => self.unicast_v6(&at, "ipv6", e.ipv6),
        }
    }

    fn targets(&mut self) {
        let c = self.cfg;
        let mut ids = HashSet::default();
        self.quota(Kind::Target);
        for (i, t) in c.targets.iter().enumerate() {
            let at = At::resource(Kind::Target, i, &t.id);
            self.unique_id(&mut ids, &at, "id", &t.id);
            self.target(i, t);
        }
    }

    fn target(&mut self, i: usize, t: &Target) {
        self.checked += 1;
        let at = At::resource(Kind::Target, i, &t.id);
        match t.destination() {
            None => {
                let given = [&t.network_interface_id, &t.network_load_balancer_arn, &t.gateway_load_balancer_endpoint_id].iter().filter(|x| x.is_some()).count();
                let (fault, reason) = if given == 0 {
                    (Fault::Invalid, "a target needs one of network_interface_id, network_load_balancer_arn and gateway_load_balancer_endpoint_id")
                } else {
                    (Fault::Combination, "a target names exactly one of network_interface_id, network_load_balancer_arn and gateway_load_balancer_endpoint_id")
                };
                self.problem(&at, "", None, fault, reason);
            }
            Some((kind, id)) => self.destination(&at, kind, id),
        }
        // Room for the outer headers and an inner Ethernet header: more with IPv6.
        let ipv6 = self.cfg.target_destination(t).is_some_and(|d| d.has_ipv6());
        let min_mtu = dataplane::encap::mtu_overhead(ipv6) as u32 + 14;
        if !(min_mtu..=65535).contains(&t.mtu) {
            let with = if ipv6 { " for a target with an IPv6 collector" } else { "" };
            self.invalid(&at, "mtu", t.mtu, format!("must be {min_mtu}-65535{with}"));
        }
        if t.ttl == 0 {
            self.invalid(&at, "ttl", 0, "must be 1-255");
        }
        if let Some(vlan) = t.vlan {
            if !(1..=4094).contains(&vlan) {
                self.invalid(&at, "vlan", vlan, "must be 1-4094");
            }
        }
        if t.udp_port == 0 {
            self.invalid(&at, "udp_port", 0, "must be 1-65535");
        }
    }

    /// A target's destination must exist, and copies must have a way to reach it.
    fn destination(&mut self, at: &At, kind: TargetType, id: &str) {
        let c = self.cfg;
        let key = kind.key();
        let Some(d) = c.destination_of(kind, id) else {
            let missing = match kind {
                TargetType::NetworkInterface => Kind::NetworkInterface,
                TargetType::NetworkLoadBalancer => Kind::LoadBalancer,
                TargetType::GatewayLoadBalancerEndpoint => Kind::GatewayLoadBalancerEndpoint,
            };
            self.problem(at, key, quoted(id), Fault::Missing(missing), format!("{} {id:?} is not defined", missing.noun()));
            return;
        };
        if d.collectors.is_empty() {
            self.invalid(at, key, format!("{id:?}"), format!("{} {id:?} has no address (ipv4 or ipv6) for the copies to go to", d.noun));
            return;
        }
        let Some(port) = c.port(d.port) else { return };
        let resolved: Vec<IpAddr> = d.collectors.iter().filter_map(|c| match c.hop { NextHop::Address(a) => Some(a), NextHop::Mac(_) => None }).collect();
        if resolved.iter().any(IpAddr::is_ipv4) && port.ipv4.is_none() {
            self.problem(at, key, quoted(id), Fault::Combination, format!(
                "{} {id:?} has no next_hop_mac, and finding its next hop by ARP needs an IPv4 address on port {:?} (ARP's sender)",
                d.noun, d.port
            ));
        }
        if resolved.iter().any(IpAddr::is_ipv6) && port.ipv6.is_none() {
            self.problem(at, key, quoted(id), Fault::Combination, format!(
                "{} {id:?} has no next_hop_mac, and finding its next hop by Neighbor Discovery needs an IPv6 address on port {:?} (ipv6, the solicitations' sender)",
                d.noun, d.port
            ));
        }
        if !resolved.is_empty() && c.is_linked(d.port) {
            self.problem(at, key, quoted(id), Fault::Combination, format!(
                "{} {id:?} has no next_hop_mac, and port {:?} is in a link, whose frames pass through untouched: ARP and Neighbor Discovery run only on mirror ports",
                d.noun, d.port
            ));
        }
    }

    fn filters(&mut self) {
        let c = self.cfg;
        let mut ids = HashSet::default();
        self.quota(Kind::Filter);
        let mut rule_ids = HashSet::default();
        for (i, f) in c.filters.iter().enumerate() {
            let at = At::resource(Kind::Filter, i, &f.id);
            self.unique_id(&mut ids, &at, "id", &f.id);
            self.filter(i, f, |id| rule_ids.insert(id));
        }
    }

    /// Filter `f` (the `i`th); `first_of_id` says whether a rule id has not been seen before.
    fn filter(&mut self, i: usize, f: &'c Filter, mut first_of_id: impl FnMut(&'c str) -> bool) {
        self.checked += 1;
        let c = self.cfg;
        let at = At::resource(Kind::Filter, i, &f.id);
        for (key, dir) in [("ingress_rule", Direction::Ingress), ("egress_rule", Direction::Egress)] {
            let rules = f.rules(dir);
            if rules.len() > c.quotas.rules_per_filter {
                self.problem(&at, key, None, Fault::Quota("TrafficMirrorFilterRuleLimitExceeded"), format!(
                    "{} {} rules exceed the quota of {} per direction ([quotas] rules_per_filter)",
                    rules.len(), dir.name(), c.quotas.rules_per_filter
                ));
            }
            let mut numbers = HashSet::default();
            for (j, r) in rules.iter().enumerate() {
                let at = At::rule(i, &f.id, key, j, r.rule_number);
                self.rule(&at, r);
                if let Some(id) = &r.id {
                    if !first_of_id(id) {
                        self.problem(&at, "id", quoted(id), Fault::Combination, "is used twice");
                    }
                }
                if !numbers.insert(r.rule_number) {
                    self.problem(&at, "rule_number", Some(r.rule_number.to_string()), Fault::Combination, format!(
                        "filter {:?} already has a {} rule with this number", f.id, dir.name()
                    ));
                }
            }
        }
    }

    fn rule(&mut self, at: &At, r: &FilterRule) {
        if !(1..=MAX_NUMBER).contains(&r.rule_number) {
            self.invalid(at, "rule_number", r.rule_number, format!("must be 1-{MAX_NUMBER}"));
        }
        if let (Some(s), Some(d)) = (r.source_cidr, r.destination_cidr) {
            if matches!(s, IpNet::V4(_)) != matches!(d, IpNet::V4(_)) {
                self.problem(at, "destination_cidr", Some(format!("\"{d}\"")), Fault::Combination, format!(
                    "is not of the address family of the source CIDR {s}"
                ));
            }
        }
        for (key, range) in [("source_port", r.source_port), ("destination_port", r.destination_port)] {
            let Some(range) = range else { continue };
            let value = format!("{{ from = {}, to = {} }}", range.from, range.to);
            if range.from > range.to {
                self.invalid(at, key, &value, "its first port is greater than its last");
            }
            if !matches!(r.protocol, Some(6) | Some(17)) {
                self.problem(at, key, Some(value), Fault::Combination, "port ranges are for TCP (protocol 6) and UDP (17) only");
            }
        }
    }

    fn sessions(&mut self) {
        let c = self.cfg;
        let mut ids = HashSet::default();
        let mut numbers = HashMap::default();
        let mut per_source: HashMap<&str, usize> = HashMap::default();
        self.quota(Kind::Session);
        for (i, s) in c.sessions.iter().enumerate() {
            let at = At::resource(Kind::Session, i, &s.id);
            self.unique_id(&mut ids, &at, "id", &s.id);
            let count = per_source.entry(s.source.as_str()).or_default();
            *count += 1;
            self.session(i, s, Some((&mut numbers, *count)));
        }
    }

    /// Session `s` (the `i`th): what it names exists, its numbers are in range, its copies
    /// have an outer source address; with `among`, the sessions of its source seen so far
    /// (their numbers) and how many they are with this one, its number is its own and its
    /// source within its quota.
    fn session(&mut self, i: usize, s: &'c Session, among: Option<(&mut Numbers<'c>, usize)>) {
        self.checked += 1;
        let c = self.cfg;
        let at = At::resource(Kind::Session, i, &s.id);
        let source = c.network_interfaces.get(&s.source);
        let target = c.targets.get(&s.target);
        if source.is_none() {
            self.problem(&at, "source", quoted(&s.source), Fault::Missing(Kind::NetworkInterface), format!("network interface {:?} is not defined", s.source));
        }
        if target.is_none() {
            self.problem(&at, "target", quoted(&s.target), Fault::Missing(Kind::Target), format!("target {:?} is not defined", s.target));
        }
        if !c.filters.contains(&s.filter) {
            self.problem(&at, "filter", quoted(&s.filter), Fault::Missing(Kind::Filter), format!("filter {:?} is not defined", s.filter));
        }
        if !(1..=MAX_NUMBER).contains(&s.session_number) {
            self.invalid(&at, "session_number", s.session_number, format!("must be 1-{MAX_NUMBER}"));
        }
        if let Some((numbers, count)) = among {
            self.among_its_source(&at, s, numbers, count);
        }
        if let Some(vni) = s.virtual_network_id {
            if vni > dataplane::wire::vxlan::MAX_VNI {
                self.invalid(&at, "virtual_network_id", vni, "must be 0-16777215");
            }
        }
        if let (Some(len), Some(t)) = (s.packet_length, target) {
            let nlb = t.kind() == Some(TargetType::NetworkLoadBalancer);
            let max = if nlb { NLB_MAX_PACKET_LENGTH } else { 65535 };
            if !(1..=max).contains(&len) {
                self.invalid(&at, "packet_length", len, format!("must be 1-{max}{}", if nlb { " for a load balancer target" } else { "" }));
            }
        }
        if let (Some(src), Some(d)) = (source, target.and_then(|t| c.target_destination(t))) {
            let port = c.port(d.port);
            if d.collectors.iter().any(|c| c.address.is_ipv4()) && src.ipv4.is_none() && port.and_then(|p| p.ipv4).is_none() {
                self.problem(&at, "source", quoted(&s.source), Fault::Combination, format!(
                    "copies need an outer source address: network interface {:?} has no IPv4 address, nor has port {:?}",
                    src.id, d.port
                ));
            }
            if d.has_ipv6() && src.ipv6.is_none() && port.and_then(|p| p.ipv6).is_none() {
                self.problem(&at, "source", quoted(&s.source), Fault::Combination, format!(
                    "copies to an IPv6 collector need an outer IPv6 source address: network interface {:?} has no ipv6, nor has port {:?}",
                    src.id, d.port
                ));
            }
        }
    }

    /// Session `s`, the `count`th of its source's after those in `numbers`: its number is
    /// its own, and the source has no more sessions than its quota.
    fn among_its_source(&mut self, at: &At, s: &'c Session, numbers: &mut Numbers<'c>, count: usize) {
        if (1..=MAX_NUMBER).contains(&s.session_number) {
            if let Some(other) = numbers.insert((s.source.as_str(), s.session_number), s.id.as_str()) {
                self.problem(at, "session_number", Some(s.session_number.to_string()), Fault::Combination, format!(
                    "session {other:?} of network interface {:?} already has this number", s.source
                ));
            }
        }
        if count == self.cfg.quotas.sessions_per_source + 1 {
            self.problem(at, "source", quoted(&s.source), Fault::Quota("TrafficMirrorSessionsPerInterfaceLimitExceeded"), format!(
                "network interface {:?} would have more than {} sessions ([quotas] sessions_per_source)",
                s.source, self.cfg.quotas.sessions_per_source
            ));
        }
    }
}

/// The session numbers seen, by source: which session has each.
type Numbers<'c> = HashMap<(&'c str, u32), &'c str>;
