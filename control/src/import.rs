//! `traffic-mirror import-aws`: a configuration from what `aws ec2
//! describe-traffic-mirror-targets`, `-filters`, `-filter-rules`, `-sessions` (and optionally
//! `describe-network-interfaces`) print.
//!
//! AWS's resources keep their ids, tags and owner. The ENIs become the inventory: the sessions'
//! sources on the appliance's ports, the targets' collectors on the mirror port. What AWS's
//! output cannot say (which port an ENI's traffic crosses, a load balancer's collector
//! addresses, the next hop's MAC when the ENI's is not given) comes from options; when
//! something is still missing the import fails and says which option supplies it.

use crate::api::ec2::{Tag, TrafficMirrorFilter, TrafficMirrorFilterRule, TrafficMirrorSession, TrafficMirrorTarget};
use crate::config::{Config, Direction, Filter, GatewayLoadBalancerEndpoint, LoadBalancer, Mac, NetworkInterface, Tags, Target, TargetType};
use anyhow::{anyhow, bail, Context, Result};
use serde::Deserialize;
use std::collections::{BTreeSet, HashMap};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::PathBuf;

/// What to import and how to bind it.
pub struct ImportOptions {
    /// describe-* JSON files.
    pub files: Vec<PathBuf>,
    /// Configuration giving the appliance part ([dataplane], ports, links); its inventory,
    /// targets, filters and sessions are replaced.
    pub base: PathBuf,
    /// ENI id -> port name.
    pub bind: Vec<(String, String)>,
    /// Port for source ENIs not bound explicitly (default: the first port of the first link).
    pub default_port: Option<String>,
    /// Target id -> collector addresses.
    pub target_addresses: Vec<(String, Vec<IpAddr>)>,
    /// Next-hop MAC for collectors whose own MAC is not known...
    pub next_hop_mac: Option<Mac>,
    /// ...or the next hop's address, resolved by ARP or Neighbor Discovery.
    pub next_hop: Option<IpAddr>,
    /// Port copies leave by (default: the first port in no link).
    pub mirror_port: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
struct Describe {
    #[serde(default)]
    traffic_mirror_targets: Vec<TrafficMirrorTarget>,
    #[serde(default)]
    traffic_mirror_filters: Vec<TrafficMirrorFilter>,
    #[serde(default)]
    traffic_mirror_filter_rules: Vec<TrafficMirrorFilterRule>,
    #[serde(default)]
    traffic_mirror_sessions: Vec<TrafficMirrorSession>,
    #[serde(default)]
    network_interfaces: Vec<Eni>,
    #[serde(default)]
    next_token: Option<String>,
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
    ipv6_addresses: Vec<EniIpv6>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    tag_set: Vec<Tag>,
}

/// One of an ENI's IPv6 addresses in describe-network-interfaces output.
#[derive(Deserialize, Clone)]
#[serde(rename_all = "PascalCase")]
struct EniIpv6 {
    ipv6_address: Ipv6Addr,
}

impl Eni {
    /// Its first IPv6 address.
    fn ipv6(&self) -> Option<Ipv6Addr> {
        self.ipv6_addresses.first().map(|a| a.ipv6_address)
    }
}

fn tags(list: &[Tag]) -> Tags {
    list.iter().map(|t| (t.key.clone(), t.value.clone())).collect()
}

/// What an import made, and what it warns about.
pub struct Imported {
    pub config: Config,
    pub warnings: Vec<String>,
}

/// Builds the configuration; it has been validated.
pub fn import(o: &ImportOptions) -> Result<Imported> {
    let mut all = Describe::default();
    let mut warnings = Vec::new();
    for f in &o.files {
        let text = std::fs::read_to_string(f).with_context(|| format!("reading {}", f.display()))?;
        let d: Describe = serde_json::from_str(&text).with_context(|| format!("{}: not describe-traffic-mirror-* or describe-network-interfaces JSON", f.display()))?;
        let empty = d.traffic_mirror_targets.is_empty() && d.traffic_mirror_filters.is_empty() && d.traffic_mirror_filter_rules.is_empty() && d.traffic_mirror_sessions.is_empty() && d.network_interfaces.is_empty();
        if empty {
            bail!("{}: no TrafficMirrorTargets, TrafficMirrorFilters, TrafficMirrorFilterRules, TrafficMirrorSessions or NetworkInterfaces in it", f.display());
        }
        if d.next_token.is_some() {
            warnings.push(format!(
                "{} holds one page of AWS's answer (it has a NextToken): what the other pages hold is missing; describe again without --max-items or --no-paginate",
                f.display()
            ));
        }
        all.traffic_mirror_targets.extend(d.traffic_mirror_targets);
        all.traffic_mirror_filters.extend(d.traffic_mirror_filters);
        all.traffic_mirror_filter_rules.extend(d.traffic_mirror_filter_rules);
        all.traffic_mirror_sessions.extend(d.traffic_mirror_sessions);
        all.network_interfaces.extend(d.network_interfaces);
    }
    let mut cfg = Config::load(&o.base).map_err(|e| anyhow!("{e}"))?;
    let enis: HashMap<&str, &Eni> = all.network_interfaces.iter().map(|e| (e.network_interface_id.as_str(), e)).collect();
    let bind: HashMap<&str, &str> = o.bind.iter().map(|(e, p)| (e.as_str(), p.as_str())).collect();
    let addresses: HashMap<&str, &Vec<IpAddr>> = o.target_addresses.iter().map(|(t, a)| (t.as_str(), a)).collect();
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
    let owners: BTreeSet<&str> = all.traffic_mirror_targets.iter().map(|t| t.owner_id.as_str()).chain(all.traffic_mirror_sessions.iter().map(|s| s.owner_id.as_str())).filter(|o| !o.is_empty()).collect();
    match owners.iter().collect::<Vec<_>>().as_slice() {
        [one] => cfg.vpc.owner_id = (**one).to_owned(),
        [] => {}
        many => warnings.push(format!("the resources belong to several accounts ({}); [vpc] owner_id keeps {}", many.iter().map(|s| s.to_string()).collect::<Vec<_>>().join(", "), cfg.vpc.owner_id)),
    }

    let mut inventory: Vec<NetworkInterface> = Vec::new();
    let mut load_balancers = Vec::new();
    let mut endpoints = Vec::new();
    let mut targets = Vec::new();
    // The collector's next hop: its own MAC when AWS's output gives it (it is on the mirror
    // port's network), else what the options say.
    let hop_for = |id: &str, known: Option<Mac>| -> Result<(Option<Mac>, Option<IpAddr>)> {
        match (known, o.next_hop_mac, o.next_hop) {
            (Some(m), _, _) => Ok((Some(m), None)),
            (None, Some(m), _) => Ok((Some(m), None)),
            (None, None, Some(ip)) => Ok((None, Some(ip))),
            (None, None, None) => bail!("target {id}: no next hop for its collector: give --next-hop-mac or --next-hop (or describe-network-interfaces JSON with its MAC)"),
        }
    };
    for t in &all.traffic_mirror_targets {
        let id = &t.traffic_mirror_target_id;
        let given = addresses.get(id.as_str());
        let kind = t.kind.or(if t.network_load_balancer_arn.is_some() {
            Some(TargetType::NetworkLoadBalancer)
        } else if t.gateway_load_balancer_endpoint_id.is_some() {
            Some(TargetType::GatewayLoadBalancerEndpoint)
        } else {
            Some(TargetType::NetworkInterface)
        });
        let mut target = match kind.expect("set above") {
            TargetType::NetworkInterface => {
                let eni_id = t.network_interface_id.clone().ok_or_else(|| anyhow!("target {id}: a network-interface target without NetworkInterfaceId"))?;
                let eni = enis.get(eni_id.as_str());
                let known = eni.and_then(|e| e.private_ip_address.map(IpAddr::V4).or(e.ipv6().map(IpAddr::V6)));
                let ip = match (given, known) {
                    (Some(a), _) if a.len() == 1 => a[0],
                    (Some(_), _) => bail!("target {id}: a network-interface target has one collector address"),
                    (None, Some(a)) => a,
                    (None, None) => bail!("target {id}: its collector's address is not in AWS's output: give --target-address {id}=IP or describe-network-interfaces JSON"),
                };
                let (next_hop_mac, next_hop) = hop_for(id, eni.and_then(|e| e.mac_address))?;
                inventory.push(NetworkInterface {
                    id: eni_id.clone(),
                    port: mirror_port.clone(),
                    mac: None,
                    ipv4: v4(ip),
                    ipv6: v6(ip),
                    next_hop_mac,
                    next_hop,
                    description: eni.and_then(|e| e.description.clone()),
                    tags: eni.map(|e| tags(&e.tag_set)).unwrap_or_default(),
                });
                Target::new(id, TargetType::NetworkInterface, &eni_id)
            }
            TargetType::NetworkLoadBalancer => {
                let arn = t.network_load_balancer_arn.clone().ok_or_else(|| anyhow!("target {id}: a load-balancer target without NetworkLoadBalancerArn"))?;
                let addrs = given.map(|a| (*a).clone()).ok_or_else(|| anyhow!("target {id}: a load balancer's collector addresses are not in AWS's output: give --target-address {id}=IP[,IP...]"))?;
                let (next_hop_mac, next_hop) = hop_for(id, None)?;
                load_balancers.push(LoadBalancer { arn: arn.clone(), port: mirror_port.clone(), addresses: addrs, next_hop_mac, next_hop, health_check: None, description: None, tags: Tags::new() });
                Target::new(id, TargetType::NetworkLoadBalancer, &arn)
            }
            TargetType::GatewayLoadBalancerEndpoint => {
                let vpce = t.gateway_load_balancer_endpoint_id.clone().ok_or_else(|| anyhow!("target {id}: an endpoint target without GatewayLoadBalancerEndpointId"))?;
                let ip = match given.map(|a| a.as_slice()) {
                    Some([one]) => *one,
                    _ => bail!("target {id}: the endpoint's address is not in AWS's output: give --target-address {id}=IP"),
                };
                let (next_hop_mac, next_hop) = hop_for(id, None)?;
                endpoints.push(GatewayLoadBalancerEndpoint { id: vpce.clone(), port: mirror_port.clone(), ipv4: v4(ip), ipv6: v6(ip), next_hop_mac, next_hop, description: None, tags: Tags::new() });
                Target::new(id, TargetType::GatewayLoadBalancerEndpoint, &vpce)
            }
        };
        target.description = t.description.clone();
        target.tags = tags(&t.tags);
        targets.push(target);
    }

    let mut filters: Vec<Filter> = all
        .traffic_mirror_filters
        .iter()
        .map(|f| Filter {
            id: f.traffic_mirror_filter_id.clone(),
            network_services: f.network_services.clone(),
            description: f.description.clone(),
            tags: tags(&f.tags),
            ingress_rules: f.ingress_filter_rules.iter().map(TrafficMirrorFilterRule::to_rule).collect(),
            egress_rules: f.egress_filter_rules.iter().map(TrafficMirrorFilterRule::to_rule).collect(),
        })
        .collect();
    // describe-traffic-mirror-filter-rules output: each rule names its filter.
    for r in &all.traffic_mirror_filter_rules {
        let fid = r.traffic_mirror_filter_id.clone().ok_or_else(|| anyhow!("a rule without TrafficMirrorFilterId in describe-traffic-mirror-filter-rules output"))?;
        let f = match filters.iter_mut().position(|f| f.id == fid) {
            Some(i) => &mut filters[i],
            None => {
                filters.push(Filter { id: fid.clone(), ..Default::default() });
                filters.last_mut().expect("just pushed")
            }
        };
        let list = f.rules_mut(r.traffic_direction);
        if !list.iter().any(|x| x.id.is_some() && x.id == r.traffic_mirror_filter_rule_id) {
            list.push(r.to_rule());
        }
    }
    for f in &mut filters {
        for dir in Direction::ALL {
            f.rules_mut(dir).sort_by_key(|r| r.rule_number);
        }
    }

    for s in &all.traffic_mirror_sessions {
        let eni_id = &s.network_interface_id;
        if inventory.iter().any(|x| &x.id == eni_id) {
            continue;
        }
        let eni = enis.get(eni_id.as_str());
        inventory.push(NetworkInterface {
            id: eni_id.clone(),
            port: bind.get(eni_id.as_str()).map_or(default_port.clone(), |p| (*p).to_owned()),
            mac: eni.and_then(|e| e.mac_address),
            ipv4: eni.and_then(|e| e.private_ip_address),
            ipv6: eni.and_then(|e| e.ipv6()),
            next_hop_mac: None,
            next_hop: None,
            description: eni.and_then(|e| e.description.clone()),
            tags: eni.map(|e| tags(&e.tag_set)).unwrap_or_default(),
        });
    }
    let sessions = all.traffic_mirror_sessions.iter().map(TrafficMirrorSession::to_session).collect();

    cfg.network_interfaces = inventory.into();
    cfg.load_balancers = load_balancers.into();
    cfg.gateway_load_balancer_endpoints = endpoints.into();
    cfg.targets = targets.into();
    cfg.filters = filters.into();
    cfg.sessions = sessions;
    cfg.assign_ids();
    if let Err(problems) = cfg.validate() {
        let list = problems.into_iter().map(|p| format!("  {}", p.in_file_terms())).collect::<Vec<_>>().join("\n");
        bail!("the imported configuration is not valid:\n{list}\n(bind ENIs to ports with --port ENI=PORT; sources without a MAC need a port each, or describe-network-interfaces JSON for their MACs)");
    }
    Ok(Imported { config: cfg, warnings })
}

/// `KEY=VALUE` for clap.
pub fn key_value(s: &str) -> Result<(String, String), String> {
    s.split_once('=').map(|(k, v)| (k.to_owned(), v.to_owned())).ok_or_else(|| format!("{s:?}: expected KEY=VALUE"))
}

/// `TARGET=IP[,IP...]` for clap.
pub fn target_addresses(s: &str) -> Result<(String, Vec<IpAddr>), String> {
    let (k, v) = key_value(s)?;
    let addrs = v.split(',').map(|a| a.trim().parse::<IpAddr>().map_err(|e| format!("{a:?}: {e}"))).collect::<Result<_, _>>()?;
    Ok((k, addrs))
}

/// The IPv4 part of an address...
fn v4(a: IpAddr) -> Option<Ipv4Addr> {
    match a {
        IpAddr::V4(a) => Some(a),
        IpAddr::V6(_) => None,
    }
}

/// ...and the IPv6 part.
fn v6(a: IpAddr) -> Option<Ipv6Addr> {
    match a {
        IpAddr::V6(a) => Some(a),
        IpAddr::V4(_) => None,
    }
}
