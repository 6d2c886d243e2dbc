//! The control thread's state: the running configuration, and every change to it.
//!
//! A change (an API call, a reload of the file) is made on a copy of the configuration, which
//! is then validated whole, compiled into a new table and published to the workers (RCU: the
//! old table is freed once every worker has passed a quiescent point). If any step fails the
//! copy is dropped: the running configuration and table stay in force, and the caller gets the
//! reason.

use crate::api::{to_value, ApiError, AwsFilter, AwsRule, AwsSession, AwsTarget, Request, TrafficDirection};
use crate::arp::{Key, Me, Neighbours};
use crate::compile::{compile, next_hop_key, Slots};
use crate::config::{Config, FilterRule, Session, Target, TargetType};
use crate::report::Report;
use dataplane::dpdk::burst::Burst;
use dataplane::dpdk::mbuf::Mbuf;
use dataplane::dpdk::mempool::Mempool;
use dataplane::dpdk::port::Port;
use dataplane::dpdk::queue::TxQueue;
use dataplane::snoop::SnoopQueue;
use dataplane::rcu::Writer;
use dataplane::stats::WorkerCounters;
use dataplane::table::Table;
use serde_json::{json, Value};
use std::path::PathBuf;
use std::time::Instant;

/// What the control thread reads besides the configuration.
pub struct Runtime<'a> {
    pub counters: &'a [WorkerCounters],
    pub ports: &'a [Port],
    pub pools: [&'a Mempool; 2],
    pub port_macs: Vec<[u8; 6]>,
    pub cores: Vec<usize>,
    pub started: Instant,
    /// The control thread's own TX queue on the ports that have one to spare (for ARP).
    pub control_tx: Vec<Option<TxQueue>>,
}

/// The control thread's state.
pub struct Controller<'a> {
    cfg: Config,
    path: PathBuf,
    slots: Slots,
    writer: Writer<'a, Table>,
    rt: Runtime<'a>,
    generation: u64,
    neighbours: Neighbours,
}

type Reply = Result<Value, ApiError>;

fn not_found(kind: &str, id: &str) -> ApiError {
    let what = match kind {
        "TrafficMirrorTarget" => "traffic mirror target",
        "TrafficMirrorFilter" => "traffic mirror filter",
        "TrafficMirrorFilterRule" => "traffic mirror filter rule",
        "TrafficMirrorSession" => "traffic mirror session",
        _ => "network interface",
    };
    let code = if kind == "NetworkInterface" { "InvalidNetworkInterfaceId.NotFound".to_owned() } else { format!("Invalid{kind}Id.NotFound") };
    ApiError::new(&code, format!("The {what} ID '{id}' does not exist"))
}

/// A fresh AWS-shaped id: `prefix-` and 17 hex digits, unused in `taken`.
fn new_id(prefix: &str, taken: impl Fn(&str) -> bool) -> String {
    use std::hash::{BuildHasher, Hasher};
    loop {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u128(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos());
        let a = h.finish();
        let id = format!("{prefix}-{:017x}", a as u128 & 0x1_ffff_ffff_ffff_ffff);
        if !taken(&id) {
            return id;
        }
    }
}

impl<'a> Controller<'a> {
    /// Takes over a configuration that is already published (generation 1) with `slots`,
    /// its next hops not yet resolved.
    pub fn new(cfg: Config, path: PathBuf, slots: Slots, writer: Writer<'a, Table>, rt: Runtime<'a>) -> Self {
        let mut neighbours = Neighbours::default();
        neighbours.want(&wanted(&cfg), Instant::now());
        Controller { cfg, path, slots, writer, rt, generation: 1, neighbours }
    }

    /// The running configuration.
    pub fn config(&self) -> &Config {
        &self.cfg
    }

    /// Hands back what the exit report needs besides the counters: the configuration and
    /// slots, and a report with the controller's own figures filled in (but no counters).
    pub fn finish(self) -> (Config, Slots, impl FnOnce(&mut Report)) {
        let (generation, neighbours, arp) = (self.generation, self.neighbour_report(), self.neighbours.counters);
        (self.cfg, self.slots, move |r: &mut Report| {
            r.table = generation;
            r.neighbours = neighbours;
            r.arp = arp;
        })
    }

    /// The counters now.
    pub fn report(&self) -> Report {
        let stats: Vec<_> = self.rt.ports.iter().map(Port::stats).collect();
        let mut r = Report::collect(&self.cfg, &self.slots, self.rt.counters, &stats, &self.rt.cores, &self.rt.pools, self.rt.started.elapsed());
        r.table = self.generation;
        r.neighbours = self.neighbour_report();
        r.arp = self.neighbours.counters;
        r
    }

    /// The next hops resolved by ARP.
    pub fn neighbour_report(&self) -> Vec<crate::arp::NeighbourReport> {
        let names: Vec<String> = self.cfg.ports.iter().map(|p| p.name.clone()).collect();
        self.neighbours.report(&names, Instant::now())
    }

    /// ARP work: the frames workers handed over, then the requests that are due. A next hop
    /// that changes republishes the table.
    pub fn arp_tick(&mut self, snooped: &SnoopQueue) {
        let now = Instant::now();
        let mut changed = false;
        while let Some(s) = snooped.pop() {
            let port = usize::from(s.port);
            let (reply, ch) = self.neighbours.input(port, s.frame(), self.me(port), now);
            changed |= ch;
            if let Some(out) = reply {
                self.send(out);
            }
        }
        let (requests, ch) = {
            let cfg = &self.cfg;
            let macs = &self.rt.port_macs;
            let tx = &self.rt.control_tx;
            self.neighbours.due(now, |p| me_of(cfg, macs, tx, p))
        };
        changed |= ch;
        for out in requests {
            self.send(out);
        }
        if changed {
            for n in self.neighbour_report() {
                log::info!("next hop {} on port {}: {}", n.ip, n.port, n.mac.as_deref().unwrap_or("unresolved"));
            }
            self.republish();
        }
    }

    fn me(&self, port: usize) -> Option<Me> {
        me_of(&self.cfg, &self.rt.port_macs, &self.rt.control_tx, port)
    }

    /// Sends a control frame (ARP) on its port's control queue; a refused frame is dropped
    /// (ARP retries on its own).
    fn send(&mut self, (port, frame): crate::arp::Outgoing) {
        let Some(Some(txq)) = self.rt.control_tx.get_mut(port) else { return };
        let Some(mut m) = Mbuf::alloc(self.rt.pools[1]) else { return };
        let Some(buf) = m.append(frame.len()) else { return };
        buf.copy_from_slice(&frame);
        let mut burst = Burst::new();
        if burst.push(m).is_ok() {
            txq.send(&mut burst);
        }
    }

    /// Recompiles the running configuration (next hops changed) and publishes it.
    fn republish(&mut self) {
        let n = &self.neighbours;
        match compile(&self.cfg, &self.rt.port_macs, &self.slots, self.generation + 1, |k| n.lookup(k)) {
            Ok(table) => {
                self.writer.swap(table, |w| log::warn!("waiting for worker {w} to pass a quiescent point"));
                self.generation += 1;
                log::info!("table {}: next hops changed", self.generation);
            }
            Err(e) => log::error!("recompiling for new next hops failed, the running table stays: {e}"),
        }
    }

    /// Validates, compiles and publishes `new`; on any failure nothing changes. With
    /// `dry_run`, stops before publishing and says it would have worked, as EC2 does.
    pub fn apply(&mut self, mut new: Config, what: &str, dry_run: bool) -> Result<(), ApiError> {
        new.assign_ids();
        if let Err(problems) = new.validate() {
            let msg = problems.into_iter().map(|p| p.message).collect::<Vec<_>>().join("; ");
            return Err(ApiError::new("InvalidParameterValue", msg));
        }
        let fixed = [
            (new.dataplane != self.cfg.dataplane, "[dataplane]"),
            (new.ports != self.cfg.ports, "[[port]]"),
            (new.links != self.cfg.links, "[[link]]"),
            (new.control != self.cfg.control, "[control]"),
            (new.metrics != self.cfg.metrics, "[metrics]"),
        ];
        if let Some((_, what)) = fixed.iter().find(|(changed, _)| *changed) {
            return Err(ApiError::new("InvalidParameterCombination", format!("{what} can only change with a restart")));
        }
        arp_capable(&new, &self.rt.control_tx).map_err(|e| ApiError::new("InvalidParameterCombination", e))?;
        let mut slots = self.slots.clone();
        slots.assign(&new, self.rt.counters).map_err(|e| ApiError::new("ResourceLimitExceeded", e.to_string()))?;
        let n = &self.neighbours;
        let table = compile(&new, &self.rt.port_macs, &slots, self.generation + 1, |k| n.lookup(k))
            .map_err(|e| ApiError::new("InvalidParameterValue", e.to_string()))?;
        if dry_run {
            return Err(ApiError::new("DryRunOperation", "Request would have succeeded, but DryRun flag is set."));
        }
        self.writer.swap(table, |w| log::warn!("waiting for worker {w} to pass a quiescent point"));
        slots.published();
        self.slots = slots;
        self.cfg = new;
        self.generation += 1;
        log::info!("table {}: {what}", self.generation);
        self.neighbours.want(&wanted(&self.cfg), Instant::now());
        Ok(())
    }

    /// Re-reads the configuration file and applies it whole.
    pub fn reload(&mut self) -> Result<(), ApiError> {
        let new = Config::load(&self.path).map_err(|e| ApiError::new("InvalidConfiguration", e.to_string()))?;
        self.apply(new, &format!("reloaded {}", self.path.display()), false)
    }

    /// Serves one API request.
    pub fn handle(&mut self, req: Request) -> Value {
        match self.dispatch(req) {
            Ok(v) => v,
            Err(e) => {
                if e.code != "DryRunOperation" {
                    log::info!("request refused: {e}");
                }
                e.reply()
            }
        }
    }

    fn dispatch(&mut self, req: Request) -> Reply {
        use Request::*;
        match req {
            CreateTrafficMirrorTarget { traffic_mirror_target_id, kind, address, addresses, next_hop_mac, next_hop, port, mtu, vlan, udp_port, description, dry_run } => {
                let mut c = self.cfg.clone();
                let id = self.fresh_or_given(traffic_mirror_target_id, "tmt", |c, id| c.targets.iter().any(|t| t.id == id))?;
                let addresses = addresses.unwrap_or_default();
                let kind = kind.unwrap_or(if addresses.len() > 1 { TargetType::NetworkLoadBalancer } else { TargetType::NetworkInterface });
                let (address, addresses) = match (kind, address, addresses.as_slice()) {
                    (TargetType::NetworkInterface, None, [one]) => (Some(*one), Vec::new()),
                    _ => (address, addresses),
                };
                let t = Target {
                    id: id.clone(),
                    kind,
                    address,
                    addresses,
                    next_hop_mac,
                    next_hop,
                    port,
                    mtu: mtu.unwrap_or(crate::config::DEFAULT_TARGET_MTU),
                    vlan,
                    udp_port: udp_port.unwrap_or(dataplane::wire::vxlan::PORT),
                    description,
                };
                c.targets.push(t);
                self.apply(c, &format!("created target {id}"), dry_run)?;
                Ok(json!({ "TrafficMirrorTarget": to_value(&AwsTarget::from(self.target(&id)?)) }))
            }
            DeleteTrafficMirrorTarget { traffic_mirror_target_id: id, dry_run } => {
                self.target(&id)?;
                self.delete_unused("target", &id, |s| s.target == id, |c| c.targets.retain(|t| t.id != id), dry_run)?;
                Ok(json!({ "TrafficMirrorTargetId": id }))
            }
            DescribeTrafficMirrorTargets { traffic_mirror_target_ids: ids } => {
                describe(&self.cfg.targets, ids.as_deref(), |t| &t.id, "TrafficMirrorTarget", AwsTarget::from)
            }
            CreateTrafficMirrorFilter { traffic_mirror_filter_id, description, network_services, dry_run } => {
                let mut c = self.cfg.clone();
                let id = self.fresh_or_given(traffic_mirror_filter_id, "tmf", |c, id| c.filters.iter().any(|f| f.id == id))?;
                c.filters.push(crate::config::Filter {
                    id: id.clone(),
                    network_services: network_services.unwrap_or_default(),
                    description,
                    ingress_rules: Vec::new(),
                    egress_rules: Vec::new(),
                });
                self.apply(c, &format!("created filter {id}"), dry_run)?;
                Ok(json!({ "TrafficMirrorFilter": to_value(&AwsFilter::from(self.filter(&id)?)) }))
            }
            DeleteTrafficMirrorFilter { traffic_mirror_filter_id: id, dry_run } => {
                self.filter(&id)?;
                self.delete_unused("filter", &id, |s| s.filter == id, |c| c.filters.retain(|f| f.id != id), dry_run)?;
                Ok(json!({ "TrafficMirrorFilterId": id }))
            }
            DescribeTrafficMirrorFilters { traffic_mirror_filter_ids: ids } => {
                describe(&self.cfg.filters, ids.as_deref(), |f| &f.id, "TrafficMirrorFilter", AwsFilter::from)
            }
            ModifyTrafficMirrorFilterNetworkServices { traffic_mirror_filter_id: id, add_network_services, remove_network_services, dry_run } => {
                self.filter(&id)?;
                let mut c = self.cfg.clone();
                let f = c.filters.iter_mut().find(|f| f.id == id).expect("checked");
                for s in add_network_services.unwrap_or_default() {
                    if !f.network_services.contains(&s) {
                        f.network_services.push(s);
                    }
                }
                let remove = remove_network_services.unwrap_or_default();
                f.network_services.retain(|s| !remove.contains(s));
                self.apply(c, &format!("changed the network services of filter {id}"), dry_run)?;
                Ok(json!({ "TrafficMirrorFilter": to_value(&AwsFilter::from(self.filter(&id)?)) }))
            }
            CreateTrafficMirrorFilterRule {
                traffic_mirror_filter_id: fid,
                traffic_direction,
                rule_number,
                rule_action,
                protocol,
                destination_port_range,
                source_port_range,
                destination_cidr_block,
                source_cidr_block,
                description,
                dry_run,
            } => {
                self.filter(&fid)?;
                let mut c = self.cfg.clone();
                let f = c.filters.iter_mut().find(|f| f.id == fid).expect("checked");
                let rules = rules_mut(f, traffic_direction);
                if let Some(r) = rules.iter().find(|r| r.rule_number == rule_number) {
                    return Err(ApiError::new(
                        "InvalidParameterValue",
                        format!("rule number {rule_number} is already used by {} rule {} of filter {fid}", dir_name(traffic_direction), r.id.as_deref().unwrap_or("?")),
                    ));
                }
                rules.push(FilterRule {
                    id: None,
                    rule_number,
                    action: rule_action,
                    protocol,
                    source_cidr: source_cidr_block,
                    destination_cidr: destination_cidr_block,
                    source_port: source_port_range.map(Into::into),
                    destination_port: destination_port_range.map(Into::into),
                    description,
                });
                c.assign_rule_ids();
                let f = c.filters.iter().find(|f| f.id == fid).expect("checked");
                let r = rules_of(f, traffic_direction).iter().find(|r| r.rule_number == rule_number).expect("just added").clone();
                self.apply(c, &format!("created {} rule {} in filter {fid}", dir_name(traffic_direction), rule_number), dry_run)?;
                Ok(json!({ "TrafficMirrorFilterRule": to_value(&AwsRule::of(&fid, traffic_direction, &r)) }))
            }
            ModifyTrafficMirrorFilterRule {
                traffic_mirror_filter_rule_id: rid,
                traffic_direction,
                rule_number,
                rule_action,
                protocol,
                destination_port_range,
                source_port_range,
                destination_cidr_block,
                source_cidr_block,
                description,
                remove_fields,
                dry_run,
            } => {
                let (fid, dir, mut r) = self.rule(&rid)?;
                if let Some(n) = rule_number {
                    r.rule_number = n;
                }
                if let Some(a) = rule_action {
                    r.action = a;
                }
                r.protocol = protocol.or(r.protocol);
                r.destination_port = destination_port_range.map(Into::into).or(r.destination_port);
                r.source_port = source_port_range.map(Into::into).or(r.source_port);
                r.destination_cidr = destination_cidr_block.or(r.destination_cidr);
                r.source_cidr = source_cidr_block.or(r.source_cidr);
                r.description = description.or(r.description);
                for field in &remove_fields {
                    match field.as_str() {
                        "destination-port-range" => r.destination_port = None,
                        "source-port-range" => r.source_port = None,
                        "protocol" => r.protocol = None,
                        "description" => r.description = None,
                        "destination-cidr-block" => r.destination_cidr = None,
                        "source-cidr-block" => r.source_cidr = None,
                        other => return Err(ApiError::new("InvalidParameterValue", format!("RemoveFields: unknown field {other:?}"))),
                    }
                }
                let new_dir = traffic_direction.unwrap_or(dir);
                let mut c = self.cfg.clone();
                let f = c.filters.iter_mut().find(|f| f.id == fid).expect("found above");
                rules_mut(f, dir).retain(|x| x.id.as_deref() != Some(&rid));
                if let Some(other) = rules_of(f, new_dir).iter().find(|x| x.rule_number == r.rule_number) {
                    return Err(ApiError::new(
                        "InvalidParameterValue",
                        format!("rule number {} is already used by {} rule {} of filter {fid}", r.rule_number, dir_name(new_dir), other.id.as_deref().unwrap_or("?")),
                    ));
                }
                rules_mut(f, new_dir).push(r.clone());
                self.apply(c, &format!("modified rule {rid} of filter {fid}"), dry_run)?;
                Ok(json!({ "TrafficMirrorFilterRule": to_value(&AwsRule::of(&fid, new_dir, &r)) }))
            }
            DeleteTrafficMirrorFilterRule { traffic_mirror_filter_rule_id: rid, dry_run } => {
                let (fid, dir, _) = self.rule(&rid)?;
                let mut c = self.cfg.clone();
                let f = c.filters.iter_mut().find(|f| f.id == fid).expect("found above");
                rules_mut(f, dir).retain(|x| x.id.as_deref() != Some(&rid));
                self.apply(c, &format!("deleted rule {rid} of filter {fid}"), dry_run)?;
                Ok(json!({ "TrafficMirrorFilterRuleId": rid }))
            }
            CreateTrafficMirrorSession {
                traffic_mirror_session_id,
                network_interface_id,
                traffic_mirror_target_id,
                traffic_mirror_filter_id,
                session_number,
                virtual_network_id,
                packet_length,
                description,
                enabled,
                dry_run,
            } => {
                if !self.cfg.sources.iter().any(|s| s.id == network_interface_id) {
                    return Err(not_found("NetworkInterface", &network_interface_id));
                }
                self.target(&traffic_mirror_target_id)?;
                self.filter(&traffic_mirror_filter_id)?;
                let per_source = self.cfg.sessions.iter().filter(|s| s.source == network_interface_id).count();
                if per_source >= self.cfg.quotas.sessions_per_source {
                    return Err(ApiError::new(
                        "TrafficMirrorSessionsPerSourceLimitExceeded",
                        format!("source {network_interface_id} already has {per_source} sessions ([quotas] sessions_per_source)"),
                    ));
                }
                let id = self.fresh_or_given(traffic_mirror_session_id, "tms", |c, id| c.sessions.iter().any(|s| s.id == id))?;
                let mut c = self.cfg.clone();
                c.sessions.push(Session {
                    id: id.clone(),
                    source: network_interface_id,
                    target: traffic_mirror_target_id,
                    filter: traffic_mirror_filter_id,
                    session_number,
                    virtual_network_id,
                    packet_length,
                    enabled: enabled.unwrap_or(true),
                    description,
                });
                self.apply(c, &format!("created session {id}"), dry_run)?;
                Ok(json!({ "TrafficMirrorSession": to_value(&AwsSession::from(self.session(&id)?)) }))
            }
            ModifyTrafficMirrorSession {
                traffic_mirror_session_id: id,
                traffic_mirror_target_id,
                traffic_mirror_filter_id,
                packet_length,
                session_number,
                virtual_network_id,
                description,
                enabled,
                remove_fields,
                dry_run,
            } => {
                let mut s = self.session(&id)?.clone();
                if let Some(t) = traffic_mirror_target_id {
                    self.target(&t)?;
                    s.target = t;
                }
                if let Some(f) = traffic_mirror_filter_id {
                    self.filter(&f)?;
                    s.filter = f;
                }
                s.packet_length = packet_length.or(s.packet_length);
                s.session_number = session_number.unwrap_or(s.session_number);
                s.virtual_network_id = virtual_network_id.or(s.virtual_network_id);
                s.description = description.or(s.description);
                s.enabled = enabled.unwrap_or(s.enabled);
                for field in &remove_fields {
                    match field.as_str() {
                        "packet-length" => s.packet_length = None,
                        "description" => s.description = None,
                        // As in EC2, a removed VNI is replaced by an assigned one.
                        "virtual-network-id" => s.virtual_network_id = None,
                        other => return Err(ApiError::new("InvalidParameterValue", format!("RemoveFields: unknown field {other:?}"))),
                    }
                }
                let mut c = self.cfg.clone();
                *c.sessions.iter_mut().find(|x| x.id == id).expect("found above") = s;
                self.apply(c, &format!("modified session {id}"), dry_run)?;
                Ok(json!({ "TrafficMirrorSession": to_value(&AwsSession::from(self.session(&id)?)) }))
            }
            DeleteTrafficMirrorSession { traffic_mirror_session_id: id, dry_run } => {
                self.session(&id)?;
                self.delete_unused("session", &id, |_| false, |c| c.sessions.retain(|s| s.id != id), dry_run)?;
                Ok(json!({ "TrafficMirrorSessionId": id }))
            }
            DescribeTrafficMirrorSessions { traffic_mirror_session_ids: ids } => {
                describe(&self.cfg.sessions, ids.as_deref(), |s| &s.id, "TrafficMirrorSession", AwsSession::from)
            }
            DescribeSources {} => Ok(json!({
                "Sources": self.cfg.sources.iter().map(|s| json!({
                    "NetworkInterfaceId": s.id,
                    "Port": s.port,
                    "MacAddress": s.mac.map(|m| m.to_string()),
                    "PrivateIpAddress": s.ipv4,
                    "Description": s.description,
                    "TrafficMirrorSessionIds": self.cfg.sessions.iter().filter(|x| x.source == s.id).map(|x| x.id.clone()).collect::<Vec<_>>(),
                })).collect::<Vec<_>>()
            })),
            DescribePorts {} => Ok(json!({ "Ports": to_value(&self.report().ports) })),
            DescribeCounters {} => Ok(to_value(&self.report())),
            DescribeNeighbors {} => Ok(json!({ "Neighbors": to_value(&self.neighbour_report()), "Arp": to_value(&self.neighbours.counters) })),
            ReloadConfiguration {} => {
                self.reload()?;
                Ok(json!({ "Return": true, "Table": self.generation }))
            }
            ExportConfiguration {} => {
                let text = toml::to_string(&self.cfg).map_err(|e| ApiError::new("InternalError", e.to_string()))?;
                Ok(json!({ "Configuration": text }))
            }
        }
    }

    /// Deletes the `kind` `id` (already known to exist) with `remove`, unless a session `uses`
    /// it: as in EC2, a target or filter in use is a `DependencyViolation`.
    fn delete_unused(&mut self, kind: &str, id: &str, uses: impl Fn(&Session) -> bool, remove: impl FnOnce(&mut Config), dry_run: bool) -> Result<(), ApiError> {
        if let Some(s) = self.cfg.sessions.iter().find(|s| uses(s)) {
            return Err(ApiError::new("DependencyViolation", format!("{kind} {id} is in use by session {}", s.id)));
        }
        let mut c = self.cfg.clone();
        remove(&mut c);
        self.apply(c, &format!("deleted {kind} {id}"), dry_run)
    }

    fn fresh_or_given(&self, given: Option<String>, prefix: &str, taken: impl Fn(&Config, &str) -> bool) -> Result<String, ApiError> {
        match given {
            Some(id) if taken(&self.cfg, &id) => Err(ApiError::new("InvalidParameterValue", format!("the id {id} is already used"))),
            Some(id) => Ok(id),
            None => Ok(new_id(prefix, |id| taken(&self.cfg, id))),
        }
    }

    fn target(&self, id: &str) -> Result<&Target, ApiError> {
        self.cfg.targets.iter().find(|t| t.id == id).ok_or_else(|| not_found("TrafficMirrorTarget", id))
    }

    fn filter(&self, id: &str) -> Result<&crate::config::Filter, ApiError> {
        self.cfg.filters.iter().find(|f| f.id == id).ok_or_else(|| not_found("TrafficMirrorFilter", id))
    }

    fn session(&self, id: &str) -> Result<&Session, ApiError> {
        self.cfg.sessions.iter().find(|s| s.id == id).ok_or_else(|| not_found("TrafficMirrorSession", id))
    }

    /// (filter id, direction, rule) of rule `id`.
    fn rule(&self, id: &str) -> Result<(String, TrafficDirection, FilterRule), ApiError> {
        for f in &self.cfg.filters {
            for dir in [TrafficDirection::Ingress, TrafficDirection::Egress] {
                if let Some(r) = rules_of(f, dir).iter().find(|r| r.id.as_deref() == Some(id)) {
                    return Ok((f.id.clone(), dir, r.clone()));
                }
            }
        }
        Err(not_found("TrafficMirrorFilterRule", id))
    }
}

/// The next hops `cfg` names by address.
fn wanted(cfg: &Config) -> Vec<Key> {
    cfg.targets.iter().filter_map(|t| next_hop_key(cfg, t)).collect()
}

/// A port's identity for ARP: its address and MAC, when it has an address and a control queue.
fn me_of(cfg: &Config, macs: &[[u8; 6]], control_tx: &[Option<TxQueue>], port: usize) -> Option<Me> {
    let p = cfg.ports.get(port)?;
    control_tx.get(port)?.as_ref()?;
    Some(Me { mac: p.mac.map_or(macs[port], |m| m.0), ip: p.ipv4? })
}

/// Every target that resolves its next hop by ARP needs a port where the control thread can
/// send: a spare TX queue.
pub fn arp_capable(cfg: &Config, control_tx: &[Option<TxQueue>]) -> Result<(), String> {
    for t in cfg.targets.iter().filter(|t| t.next_hop.is_some()) {
        let Some(port) = cfg.port_index(&t.port) else { continue };
        if control_tx.get(port).is_none_or(|q| q.is_none()) {
            return Err(format!(
                "target {}: port {} has no TX queue to spare for ARP (the device has one per worker only; for net_pcap give it one more tx_pcap=); give next_hop_mac instead",
                t.id, t.port
            ));
        }
    }
    Ok(())
}

fn rules_of(f: &crate::config::Filter, dir: TrafficDirection) -> &Vec<FilterRule> {
    match dir {
        TrafficDirection::Ingress => &f.ingress_rules,
        TrafficDirection::Egress => &f.egress_rules,
    }
}

fn rules_mut(f: &mut crate::config::Filter, dir: TrafficDirection) -> &mut Vec<FilterRule> {
    match dir {
        TrafficDirection::Ingress => &mut f.ingress_rules,
        TrafficDirection::Egress => &mut f.egress_rules,
    }
}

fn dir_name(d: TrafficDirection) -> &'static str {
    match d {
        TrafficDirection::Ingress => "ingress",
        TrafficDirection::Egress => "egress",
    }
}

/// A Describe call's reply: `{"<kind>s": [...]}` of the items named by `ids` (all when `None`),
/// each in its AWS shape.
fn describe<'t, T, A: serde::Serialize>(items: &'t [T], ids: Option<&[String]>, id: impl Fn(&T) -> &String, kind: &str, aws: impl Fn(&'t T) -> A) -> Reply {
    let list: Vec<Value> = select(items, ids, id, kind)?.into_iter().map(|x| to_value(&aws(x))).collect();
    Ok(json!({ format!("{kind}s"): list }))
}

/// The items named by `ids` (all when `None`); an unknown id is an error, as in EC2.
fn select<'t, T>(items: &'t [T], ids: Option<&[String]>, id: impl Fn(&T) -> &String, kind: &str) -> Result<Vec<&'t T>, ApiError> {
    match ids {
        None => Ok(items.iter().collect()),
        Some(ids) => ids.iter().map(|want| items.iter().find(|x| id(x) == want).ok_or_else(|| not_found(kind, want))).collect(),
    }
}
