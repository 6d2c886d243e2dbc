//! `traffic-mirror import-aws`: a configuration from what `aws ec2
//! describe-traffic-mirror-targets`, `describe-traffic-mirror-filters`,
//! `describe-traffic-mirror-sessions` (and optionally `describe-network-interfaces`) print.
//!
//! AWS's resources keep their ids; ENIs become sources bound to ports of this appliance. What
//! AWS's output cannot say (which port an ENI's traffic crosses, a load balancer's collector
//! addresses, the next hop's MAC) comes from options, or from describe-network-interfaces for
//! ENIs; when something is still missing the import fails and says which option supplies it.

use crate::api::{AwsFilter, AwsSession, AwsTarget};
use crate::config::{Config, Filter, Mac, Source, Target, TargetType};
use anyhow::{anyhow, bail, Context, Result};
use serde::Deserialize;
use std::collections::{BTreeSet, HashMap};
use std::net::Ipv4Addr;
use std::path::PathBuf;

/// What to import and how to bind it.
pub struct ImportOptions {
    /// describe-* JSON files.
    pub files: Vec<PathBuf>,
    /// Configuration giving the appliance part ([dataplane], ports, links); its sources,
    /// targets, filters and sessions are replaced.
    pub base: PathBuf,
    /// ENI id -> port name.
    pub bind: Vec<(String, String)>,
    /// Port for ENIs not bound explicitly (default: the first port of the first link).
    pub default_port: Option<String>,
    /// Target id -> collector addresses.
    pub target_addresses: Vec<(String, Vec<Ipv4Addr>)>,
    /// Next-hop MAC for targets whose ENI's MAC is not known...
    pub next_hop_mac: Option<Mac>,
    /// ...or the next hop's IPv4 address, resolved by ARP.
    pub next_hop: Option<Ipv4Addr>,
    /// Port copies leave by (default: the first port in no link).
    pub mirror_port: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
struct Describe {
    #[serde(default)]
    traffic_mirror_targets: Vec<AwsTarget>,
    #[serde(default)]
    traffic_mirror_filters: Vec<AwsFilter>,
    #[serde(default)]
    traffic_mirror_sessions: Vec<AwsSession>,
    #[serde(default)]
    network_interfaces: Vec<Eni>,
}

/// The parts of describe-network-interfaces output that matter here.
#[derive(Deserialize, Clone)]
#[serde(rename_all = "PascalCase")]
struct Eni {
    network_interface_id: String,
    #[serde(default)]
    mac_address: Option<Mac>,
    #[serde(default)]
    private_ip_address: Option<Ipv4Addr>,
    #[serde(default)]
    description: Option<String>,
}

/// Builds the configuration; it has been validated.
pub fn import(o: &ImportOptions) -> Result<Config> {
    let mut all = Describe::default();
    for f in &o.files {
        let text = std::fs::read_to_string(f).with_context(|| format!("reading {}", f.display()))?;
        let d: Describe = serde_json::from_str(&text).with_context(|| format!("{}: not describe-traffic-mirror-* JSON", f.display()))?;
        if d.traffic_mirror_targets.is_empty() && d.traffic_mirror_filters.is_empty() && d.traffic_mirror_sessions.is_empty() && d.network_interfaces.is_empty() {
            bail!("{}: no TrafficMirrorTargets, TrafficMirrorFilters, TrafficMirrorSessions or NetworkInterfaces in it", f.display());
        }
        all.traffic_mirror_targets.extend(d.traffic_mirror_targets);
        all.traffic_mirror_filters.extend(d.traffic_mirror_filters);
        all.traffic_mirror_sessions.extend(d.traffic_mirror_sessions);
        all.network_interfaces.extend(d.network_interfaces);
    }
    let mut cfg = Config::load(&o.base).map_err(|e| anyhow!("{e}"))?;
    let enis: HashMap<&str, &Eni> = all.network_interfaces.iter().map(|e| (e.network_interface_id.as_str(), e)).collect();
    let bind: HashMap<&str, &str> = o.bind.iter().map(|(e, p)| (e.as_str(), p.as_str())).collect();
    let addresses: HashMap<&str, &Vec<Ipv4Addr>> = o.target_addresses.iter().map(|(t, a)| (t.as_str(), a)).collect();
    let default_port = match &o.default_port {
        Some(p) => p.clone(),
        None => cfg.links.first().map(|l| l.ports[0].clone()).ok_or_else(|| anyhow!("the base configuration has no link: give --default-port"))?,
    };
    let linked: BTreeSet<&str> = cfg.links.iter().flat_map(|l| l.ports.iter().map(String::as_str)).collect();
    let mirror_port = match &o.mirror_port {
        Some(p) => p.clone(),
        None => cfg
            .ports
            .iter()
            .find(|p| !linked.contains(p.name.as_str()))
            .map(|p| p.name.clone())
            .ok_or_else(|| anyhow!("the base configuration has no port outside its links for copies: give --mirror-port"))?,
    };

    let mut targets = Vec::new();
    for t in &all.traffic_mirror_targets {
        let id = &t.traffic_mirror_target_id;
        let kind = if t.network_load_balancer_arn.is_some() || t.kind == Some(TargetType::NetworkLoadBalancer) {
            TargetType::NetworkLoadBalancer
        } else if t.gateway_load_balancer_endpoint_id.is_some() {
            bail!("target {id}: gateway load balancer endpoints have no equivalent here (GENEVE, not VXLAN)");
        } else {
            TargetType::NetworkInterface
        };
        let eni = t.network_interface_id.as_deref().and_then(|e| enis.get(e));
        let addrs: Vec<Ipv4Addr> = match (addresses.get(id.as_str()), eni.and_then(|e| e.private_ip_address)) {
            (Some(a), _) => (*a).clone(),
            (None, Some(a)) if kind == TargetType::NetworkInterface => vec![a],
            _ => bail!("target {id}: its collector address is not in AWS's output: give --target-address {id}=IP[,IP...]{}", if kind == TargetType::NetworkInterface { " or describe-network-interfaces JSON" } else { "" }),
        };
        let next_hop_mac = o.next_hop_mac.or(if o.next_hop.is_some() { None } else { eni.and_then(|e| e.mac_address) });
        if next_hop_mac.is_none() && o.next_hop.is_none() {
            bail!("target {id}: no next hop: give --next-hop-mac or --next-hop");
        }
        let (address, addresses) = if kind == TargetType::NetworkInterface && addrs.len() == 1 { (Some(addrs[0]), Vec::new()) } else { (None, addrs) };
        targets.push(Target {
            id: id.clone(),
            kind,
            address,
            addresses,
            next_hop_mac,
            next_hop: if next_hop_mac.is_some() { None } else { o.next_hop },
            port: mirror_port.clone(),
            mtu: crate::config::DEFAULT_TARGET_MTU,
            vlan: None,
            udp_port: dataplane::wire::vxlan::PORT,
            description: t.description.clone(),
        });
    }

    let filters: Vec<Filter> = all
        .traffic_mirror_filters
        .iter()
        .map(|f| {
            let rules = |list: &[crate::api::AwsRule]| {
                let mut v: Vec<_> = list.iter().map(|r| r.to_rule()).collect();
                v.sort_by_key(|r| r.rule_number);
                v
            };
            Filter {
                id: f.traffic_mirror_filter_id.clone(),
                network_services: f.network_services.clone(),
                description: f.description.clone(),
                ingress_rules: rules(&f.ingress_filter_rules),
                egress_rules: rules(&f.egress_filter_rules),
            }
        })
        .collect();

    let mut sources: Vec<Source> = Vec::new();
    for s in &all.traffic_mirror_sessions {
        let eni_id = &s.network_interface_id;
        if sources.iter().any(|x| &x.id == eni_id) {
            continue;
        }
        let eni = enis.get(eni_id.as_str());
        sources.push(Source {
            id: eni_id.clone(),
            port: bind.get(eni_id.as_str()).map_or(default_port.clone(), |p| (*p).to_owned()),
            mac: eni.and_then(|e| e.mac_address),
            ipv4: eni.and_then(|e| e.private_ip_address),
            description: eni.and_then(|e| e.description.clone()),
        });
    }
    let sessions = all.traffic_mirror_sessions.iter().map(AwsSession::to_session).collect();

    cfg.sources = sources;
    cfg.targets = targets;
    cfg.filters = filters;
    cfg.sessions = sessions;
    cfg.assign_ids();
    if let Err(problems) = cfg.validate() {
        let list = problems.into_iter().map(|p| format!("  {}", p.message)).collect::<Vec<_>>().join("\n");
        bail!("the imported configuration is not valid:\n{list}\n(bind ENIs to ports with --port ENI=PORT; sources without a MAC need a port each, or describe-network-interfaces JSON for their MACs)");
    }
    Ok(cfg)
}

/// `KEY=VALUE` for clap.
pub fn key_value(s: &str) -> Result<(String, String), String> {
    s.split_once('=').map(|(k, v)| (k.to_owned(), v.to_owned())).ok_or_else(|| format!("{s:?}: expected KEY=VALUE"))
}

/// `TARGET=IP[,IP...]` for clap.
pub fn target_addresses(s: &str) -> Result<(String, Vec<Ipv4Addr>), String> {
    let (k, v) = key_value(s)?;
    let addrs = v.split(',').map(|a| a.trim().parse::<Ipv4Addr>().map_err(|e| format!("{a:?}: {e}"))).collect::<Result<_, _>>()?;
    Ok((k, addrs))
}
