//! `traffic-mirror ctl`: the control API from the command line, with the AWS CLI's verbs and
//! flags (`create-traffic-mirror-session --network-interface-id ... --session-number 1`),
//! readable tables by default and the raw JSON reply with `--json`.

use crate::api::{self, AwsPortRange, Client, Request, TrafficDirection};
use crate::config::{Mac, NetworkService, RuleAction, TargetType};
use crate::report::{render, Report};
use anyhow::Result;
use clap::{Args, Subcommand};
use ipnet::IpNet;
use serde_json::Value;
use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::time::Duration;

/// Options shared by every `ctl` verb.
#[derive(Args)]
pub struct CtlArgs {
    /// Control socket (default: the one --config names, else /run/traffic-mirror.sock).
    #[arg(long, global = true, value_name = "PATH")]
    socket: Option<PathBuf>,
    /// Read the control socket's path from this configuration file.
    #[arg(long, short, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Print the JSON reply instead of a table.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    verb: Verb,
}

/// A port range: `FromPort=443,ToPort=443` (AWS CLI shorthand), `443-445` or `443`.
fn port_range(s: &str) -> Result<AwsPortRange, String> {
    let (from, to) = if s.contains('=') {
        let mut from = None;
        let mut to = None;
        for kv in s.split(',') {
            match kv.split_once('=') {
                Some(("FromPort", v)) => from = Some(v),
                Some(("ToPort", v)) => to = Some(v),
                _ => return Err(format!("{s:?}: expected FromPort=N,ToPort=M")),
            }
        }
        (from.ok_or("FromPort missing")?, to.ok_or("ToPort missing")?)
    } else {
        s.split_once('-').unwrap_or((s, s))
    };
    let n = |v: &str| v.trim().parse::<u16>().map_err(|e| format!("{v:?}: {e}"));
    Ok(AwsPortRange { from_port: n(from)?, to_port: n(to)? })
}

/// The verbs: EC2's Traffic Mirroring actions, and the appliance's own.
#[derive(Subcommand)]
enum Verb {
    /// Create a target: where copies go (an address, or several behind a load balancer).
    CreateTrafficMirrorTarget {
        /// Choose the id (default: a generated tmt-...).
        #[arg(long)]
        traffic_mirror_target_id: Option<String>,
        /// network-interface (one address) or network-load-balancer (several).
        #[arg(long, value_parser = parse_kind)]
        r#type: Option<TargetType>,
        /// The collector's IPv4 address; repeat for a load balancer's collectors.
        #[arg(long = "address", required = true)]
        addresses: Vec<Ipv4Addr>,
        /// MAC of the next hop towards the collector(s)...
        #[arg(long, required_unless_present = "next_hop")]
        next_hop_mac: Option<Mac>,
        /// ...or its IPv4 address, resolved by ARP on the mirror port.
        #[arg(long, conflicts_with = "next_hop_mac")]
        next_hop: Option<Ipv4Addr>,
        /// The mirror port copies leave by.
        #[arg(long)]
        port: String,
        #[arg(long)]
        mtu: Option<u32>,
        /// 802.1Q tag of the outer frame.
        #[arg(long)]
        vlan: Option<u16>,
        /// UDP destination port (default 4789).
        #[arg(long)]
        udp_port: Option<u16>,
        #[arg(long)]
        description: Option<String>,
        /// Check the request without applying it.
        #[arg(long)]
        dry_run: bool,
    },
    /// Delete a target no session uses.
    DeleteTrafficMirrorTarget {
        #[arg(long)]
        traffic_mirror_target_id: String,
        #[arg(long)]
        dry_run: bool,
    },
    /// List targets (all, or those named).
    DescribeTrafficMirrorTargets {
        #[arg(long, num_args = 1..)]
        traffic_mirror_target_ids: Vec<String>,
    },
    /// Create a filter (without rules).
    CreateTrafficMirrorFilter {
        #[arg(long)]
        traffic_mirror_filter_id: Option<String>,
        #[arg(long)]
        description: Option<String>,
        /// amazon-dns: let DNS to the VPC resolver be mirrored.
        #[arg(long, num_args = 1.., value_parser = parse_service)]
        network_services: Vec<NetworkService>,
        #[arg(long)]
        dry_run: bool,
    },
    /// Delete a filter no session uses.
    DeleteTrafficMirrorFilter {
        #[arg(long)]
        traffic_mirror_filter_id: String,
        #[arg(long)]
        dry_run: bool,
    },
    /// List filters and their rules.
    DescribeTrafficMirrorFilters {
        #[arg(long, num_args = 1..)]
        traffic_mirror_filter_ids: Vec<String>,
    },
    /// Add or remove network services (amazon-dns) of a filter.
    ModifyTrafficMirrorFilterNetworkServices {
        #[arg(long)]
        traffic_mirror_filter_id: String,
        #[arg(long, num_args = 1.., value_parser = parse_service)]
        add_network_services: Vec<NetworkService>,
        #[arg(long, num_args = 1.., value_parser = parse_service)]
        remove_network_services: Vec<NetworkService>,
        #[arg(long)]
        dry_run: bool,
    },
    /// Add a rule to a filter.
    CreateTrafficMirrorFilterRule {
        #[arg(long)]
        traffic_mirror_filter_id: String,
        /// ingress or egress.
        #[arg(long, value_parser = parse_direction)]
        traffic_direction: TrafficDirection,
        /// 1-32766, unique in its direction; rules are tried in ascending order.
        #[arg(long)]
        rule_number: u32,
        /// accept or reject.
        #[arg(long, value_parser = parse_action)]
        rule_action: RuleAction,
        /// IANA protocol number (6 TCP, 17 UDP, 1 ICMP); omit for every protocol.
        #[arg(long)]
        protocol: Option<u8>,
        /// FromPort=N,ToPort=M (TCP and UDP only).
        #[arg(long, value_parser = port_range)]
        destination_port_range: Option<AwsPortRange>,
        #[arg(long, value_parser = port_range)]
        source_port_range: Option<AwsPortRange>,
        #[arg(long)]
        destination_cidr_block: Option<IpNet>,
        #[arg(long)]
        source_cidr_block: Option<IpNet>,
        #[arg(long)]
        description: Option<String>,
        #[arg(long)]
        dry_run: bool,
    },
    /// Change a filter rule; --remove-fields protocol|destination-port-range|... clears one.
    ModifyTrafficMirrorFilterRule {
        #[arg(long)]
        traffic_mirror_filter_rule_id: String,
        #[arg(long, value_parser = parse_direction)]
        traffic_direction: Option<TrafficDirection>,
        #[arg(long)]
        rule_number: Option<u32>,
        #[arg(long, value_parser = parse_action)]
        rule_action: Option<RuleAction>,
        #[arg(long)]
        protocol: Option<u8>,
        #[arg(long, value_parser = port_range)]
        destination_port_range: Option<AwsPortRange>,
        #[arg(long, value_parser = port_range)]
        source_port_range: Option<AwsPortRange>,
        #[arg(long)]
        destination_cidr_block: Option<IpNet>,
        #[arg(long)]
        source_cidr_block: Option<IpNet>,
        #[arg(long)]
        description: Option<String>,
        #[arg(long, num_args = 1..)]
        remove_fields: Vec<String>,
        #[arg(long)]
        dry_run: bool,
    },
    /// Delete a filter rule.
    DeleteTrafficMirrorFilterRule {
        #[arg(long)]
        traffic_mirror_filter_rule_id: String,
        #[arg(long)]
        dry_run: bool,
    },
    /// Create a session: mirror a source's traffic that a filter accepts to a target.
    CreateTrafficMirrorSession {
        #[arg(long)]
        traffic_mirror_session_id: Option<String>,
        /// The source (a configured [[source]] id, as AWS's ENI id).
        #[arg(long)]
        network_interface_id: String,
        #[arg(long)]
        traffic_mirror_target_id: String,
        #[arg(long)]
        traffic_mirror_filter_id: String,
        /// 1-32766; a source's sessions are tried in ascending order, the first that accepts
        /// a packet mirrors it.
        #[arg(long)]
        session_number: u32,
        /// VXLAN network id (default: assigned, unique).
        #[arg(long)]
        virtual_network_id: Option<u32>,
        /// Bytes of each frame to mirror (default: whole frames).
        #[arg(long)]
        packet_length: Option<u32>,
        #[arg(long)]
        description: Option<String>,
        /// Create it switched off.
        #[arg(long)]
        disabled: bool,
        #[arg(long)]
        dry_run: bool,
    },
    /// Change a session; --remove-fields packet-length|description|virtual-network-id.
    ModifyTrafficMirrorSession {
        #[arg(long)]
        traffic_mirror_session_id: String,
        #[arg(long)]
        traffic_mirror_target_id: Option<String>,
        #[arg(long)]
        traffic_mirror_filter_id: Option<String>,
        #[arg(long)]
        packet_length: Option<u32>,
        #[arg(long)]
        session_number: Option<u32>,
        #[arg(long)]
        virtual_network_id: Option<u32>,
        #[arg(long)]
        description: Option<String>,
        /// Switch the session on (true) or off (false).
        #[arg(long)]
        enabled: Option<bool>,
        #[arg(long, num_args = 1..)]
        remove_fields: Vec<String>,
        #[arg(long)]
        dry_run: bool,
    },
    /// Delete a session.
    DeleteTrafficMirrorSession {
        #[arg(long)]
        traffic_mirror_session_id: String,
        #[arg(long)]
        dry_run: bool,
    },
    /// List sessions.
    DescribeTrafficMirrorSessions {
        #[arg(long, num_args = 1..)]
        traffic_mirror_session_ids: Vec<String>,
    },
    /// List the configured sources and their sessions.
    DescribeSources,
    /// Ports and their counters.
    DescribePorts,
    /// Next hops resolved by ARP, and ARP's counters.
    DescribeNeighbors,
    /// Live counters: ports, sessions by direction, workers.
    Stats {
        /// Refresh every SECONDS (default 1) until interrupted, with rates.
        #[arg(long, value_name = "SECONDS", num_args = 0..=1, default_missing_value = "1")]
        watch: Option<f64>,
    },
    /// Re-read the configuration file (as SIGHUP does).
    Reload,
}

fn parse_kind(s: &str) -> Result<TargetType, String> {
    serde_json::from_value(Value::String(s.into())).map_err(|_| "network-interface or network-load-balancer".into())
}

fn parse_service(s: &str) -> Result<NetworkService, String> {
    serde_json::from_value(Value::String(s.into())).map_err(|_| "the only network service is amazon-dns".into())
}

fn parse_direction(s: &str) -> Result<TrafficDirection, String> {
    serde_json::from_value(Value::String(s.into())).map_err(|_| "ingress or egress".into())
}

fn parse_action(s: &str) -> Result<RuleAction, String> {
    serde_json::from_value(Value::String(s.into())).map_err(|_| "accept or reject".into())
}

fn ids(v: Vec<String>) -> Option<Vec<String>> {
    (!v.is_empty()).then_some(v)
}

fn list<T>(v: Vec<T>) -> Option<Vec<T>> {
    (!v.is_empty()).then_some(v)
}

impl Verb {
    fn request(self) -> Request {
        use Verb::*;
        match self {
            CreateTrafficMirrorTarget { traffic_mirror_target_id, r#type, addresses, next_hop_mac, next_hop, port, mtu, vlan, udp_port, description, dry_run } => {
                let nlb = r#type == Some(TargetType::NetworkLoadBalancer) || addresses.len() > 1;
                Request::CreateTrafficMirrorTarget {
                    traffic_mirror_target_id,
                    kind: r#type,
                    address: (!nlb).then(|| addresses[0]),
                    addresses: nlb.then_some(addresses),
                    next_hop_mac,
                    next_hop,
                    port,
                    mtu,
                    vlan,
                    udp_port,
                    description,
                    dry_run,
                }
            }
            DeleteTrafficMirrorTarget { traffic_mirror_target_id, dry_run } => Request::DeleteTrafficMirrorTarget { traffic_mirror_target_id, dry_run },
            DescribeTrafficMirrorTargets { traffic_mirror_target_ids } => {
                Request::DescribeTrafficMirrorTargets { traffic_mirror_target_ids: ids(traffic_mirror_target_ids) }
            }
            CreateTrafficMirrorFilter { traffic_mirror_filter_id, description, network_services, dry_run } => {
                Request::CreateTrafficMirrorFilter { traffic_mirror_filter_id, description, network_services: list(network_services), dry_run }
            }
            DeleteTrafficMirrorFilter { traffic_mirror_filter_id, dry_run } => Request::DeleteTrafficMirrorFilter { traffic_mirror_filter_id, dry_run },
            DescribeTrafficMirrorFilters { traffic_mirror_filter_ids } => {
                Request::DescribeTrafficMirrorFilters { traffic_mirror_filter_ids: ids(traffic_mirror_filter_ids) }
            }
            ModifyTrafficMirrorFilterNetworkServices { traffic_mirror_filter_id, add_network_services, remove_network_services, dry_run } => {
                Request::ModifyTrafficMirrorFilterNetworkServices {
                    traffic_mirror_filter_id,
                    add_network_services: list(add_network_services),
                    remove_network_services: list(remove_network_services),
                    dry_run,
                }
            }
            CreateTrafficMirrorFilterRule {
                traffic_mirror_filter_id,
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
            } => Request::CreateTrafficMirrorFilterRule {
                traffic_mirror_filter_id,
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
            },
            ModifyTrafficMirrorFilterRule {
                traffic_mirror_filter_rule_id,
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
            } => Request::ModifyTrafficMirrorFilterRule {
                traffic_mirror_filter_rule_id,
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
            },
            DeleteTrafficMirrorFilterRule { traffic_mirror_filter_rule_id, dry_run } => {
                Request::DeleteTrafficMirrorFilterRule { traffic_mirror_filter_rule_id, dry_run }
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
                disabled,
                dry_run,
            } => Request::CreateTrafficMirrorSession {
                traffic_mirror_session_id,
                network_interface_id,
                traffic_mirror_target_id,
                traffic_mirror_filter_id,
                session_number,
                virtual_network_id,
                packet_length,
                description,
                enabled: disabled.then_some(false),
                dry_run,
            },
            ModifyTrafficMirrorSession {
                traffic_mirror_session_id,
                traffic_mirror_target_id,
                traffic_mirror_filter_id,
                packet_length,
                session_number,
                virtual_network_id,
                description,
                enabled,
                remove_fields,
                dry_run,
            } => Request::ModifyTrafficMirrorSession {
                traffic_mirror_session_id,
                traffic_mirror_target_id,
                traffic_mirror_filter_id,
                packet_length,
                session_number,
                virtual_network_id,
                description,
                enabled,
                remove_fields,
                dry_run,
            },
            DeleteTrafficMirrorSession { traffic_mirror_session_id, dry_run } => Request::DeleteTrafficMirrorSession { traffic_mirror_session_id, dry_run },
            DescribeTrafficMirrorSessions { traffic_mirror_session_ids } => {
                Request::DescribeTrafficMirrorSessions { traffic_mirror_session_ids: ids(traffic_mirror_session_ids) }
            }
            DescribeSources => Request::DescribeSources {},
            DescribePorts => Request::DescribePorts {},
            DescribeNeighbors => Request::DescribeNeighbors {},
            Stats { .. } => Request::DescribeCounters {},
            Reload => Request::ReloadConfiguration {},
        }
    }
}

/// Runs one `ctl` command; returns the process exit code (2 when the request was refused).
pub fn ctl(args: CtlArgs) -> Result<u8> {
    let path = api::socket_path(args.socket.as_deref(), args.config.as_deref())?;
    let mut client = Client::connect(&path)?;
    if let Verb::Stats { watch: Some(every) } = args.verb {
        return watch(&mut client, Duration::from_secs_f64(every.max(0.1)), args.json);
    }
    let req = args.verb.request();
    match client.call(&req)? {
        Ok(reply) => {
            if args.json {
                println!("{}", serde_json::to_string_pretty(&reply)?);
            } else {
                print!("{}", readable(&reply));
            }
            Ok(0)
        }
        Err(e) => {
            if args.json {
                println!("{}", e.reply());
            } else {
                eprintln!("traffic-mirror: {e}");
            }
            Ok(2)
        }
    }
}

/// Counters every `every`, with rates since the previous refresh.
fn watch(client: &mut Client, every: Duration, json: bool) -> Result<u8> {
    let mut previous: Option<Report> = None;
    loop {
        let reply = client.call(&Request::DescribeCounters {})?.map_err(anyhow::Error::new)?;
        if json {
            println!("{reply}");
        } else {
            let report: Report = serde_json::from_value(reply)?;
            // Clear the terminal and go home, as `watch` does.
            print!("\x1b[2J\x1b[H{}", report.text());
            if let Some(prev) = &previous {
                print!("{}", rates(prev, &report));
            }
            previous = Some(report);
        }
        use std::io::Write;
        std::io::stdout().flush()?;
        std::thread::sleep(every);
    }
}

fn rates(a: &Report, b: &Report) -> String {
    let dt = (b.duration_s - a.duration_s).max(1e-6);
    let per_s = |x: u64, y: u64| (y.saturating_sub(x)) as f64 / dt;
    let mut rows = Vec::new();
    for (p, q) in a.ports.iter().zip(&b.ports) {
        rows.push(vec![
            q.name.clone(),
            format!("{:.0}", per_s(p.rx_packets, q.rx_packets)),
            format!("{:.1}", per_s(p.rx_bytes, q.rx_bytes) * 8.0 / 1e6),
            format!("{:.0}", per_s(p.tx_packets, q.tx_packets)),
            format!("{:.1}", per_s(p.tx_bytes, q.tx_bytes) * 8.0 / 1e6),
        ]);
    }
    let mut out = format!("\nrates over the last {dt:.1} s\n");
    out += &render(&["port", "rx pkt/s", "rx Mbit/s", "tx pkt/s", "tx Mbit/s"], &rows);
    let mut rows = Vec::new();
    for (s, t) in a.sessions.iter().zip(&b.sessions).filter(|(s, t)| s.id == t.id) {
        for (name, x, y) in [("ingress", &s.ingress, &t.ingress), ("egress", &s.egress, &t.egress)] {
            rows.push(vec![t.id.clone(), name.into(), format!("{:.0}", per_s(x.packets, y.packets)), format!("{:.0}", per_s(x.skip_packets, y.skip_packets))]);
        }
    }
    if !rows.is_empty() {
        out += &render(&["session", "direction", "copies/s", "skips/s"], &rows);
    }
    out
}

fn s(v: &Value) -> String {
    match v {
        Value::Null => "-".into(),
        Value::String(s) => s.clone(),
        Value::Array(a) => a.iter().map(s).collect::<Vec<_>>().join(","),
        other => other.to_string(),
    }
}

fn ports_text(v: &Value) -> String {
    if v.is_null() {
        return "-".into();
    }
    let (a, b) = (&v["FromPort"], &v["ToPort"]);
    if a == b { s(a) } else { format!("{}-{}", s(a), s(b)) }
}

fn rule_rows(rules: &[&Value]) -> Vec<Vec<String>> {
    rules
        .iter()
        .map(|r| {
            vec![
                s(&r["TrafficDirection"]),
                s(&r["RuleNumber"]),
                s(&r["RuleAction"]),
                s(&r["Protocol"]),
                s(&r["SourceCidrBlock"]),
                ports_text(&r["SourcePortRange"]),
                s(&r["DestinationCidrBlock"]),
                ports_text(&r["DestinationPortRange"]),
                s(&r["TrafficMirrorFilterRuleId"]),
            ]
        })
        .collect()
}

const RULE_HEADERS: [&str; 9] = ["direction", "number", "action", "protocol", "source", "sports", "destination", "dports", "rule id"];

/// A reply as tables.
fn readable(reply: &Value) -> String {
    let arr = |k: &str| reply.get(k).and_then(Value::as_array).cloned();
    let one = |k: &str| reply.get(k).map(|v| vec![v.clone()]);
    if let Some(list) = arr("TrafficMirrorSessions").or_else(|| one("TrafficMirrorSession")) {
        let rows = list
            .iter()
            .map(|x| {
                ["TrafficMirrorSessionId", "NetworkInterfaceId", "TrafficMirrorTargetId", "TrafficMirrorFilterId", "SessionNumber", "VirtualNetworkId", "PacketLength", "Enabled"]
                    .iter()
                    .map(|k| s(&x[*k]))
                    .collect()
            })
            .collect::<Vec<_>>();
        return render(&["session", "source", "target", "filter", "number", "vni", "packet length", "enabled"], &rows);
    }
    if let Some(list) = arr("TrafficMirrorTargets").or_else(|| one("TrafficMirrorTarget")) {
        let rows = list
            .iter()
            .map(|x| {
                let hop = if x["NextHopMac"].is_null() { s(&x["NextHop"]) } else { s(&x["NextHopMac"]) };
                ["TrafficMirrorTargetId", "Type", "Addresses"].iter().map(|k| s(&x[*k])).chain([hop]).chain(["Port", "Mtu", "Vlan", "UdpPort"].iter().map(|k| s(&x[*k]))).collect()
            })
            .collect::<Vec<_>>();
        return render(&["target", "type", "addresses", "next hop", "port", "mtu", "vlan", "udp port"], &rows);
    }
    if let Some(list) = arr("TrafficMirrorFilters").or_else(|| one("TrafficMirrorFilter")) {
        let mut out = String::new();
        for f in &list {
            let services = s(&f["NetworkServices"]);
            out += &format!("{}{}{}\n", s(&f["TrafficMirrorFilterId"]), if services.is_empty() { String::new() } else { format!(" [{services}]") }, f["Description"].as_str().map(|d| format!(": {d}")).unwrap_or_default());
            let rules: Vec<&Value> = ["IngressFilterRules", "EgressFilterRules"].iter().flat_map(|k| f[*k].as_array().into_iter().flatten()).collect();
            if rules.is_empty() {
                out += "  (no rules: mirrors nothing)\n";
            } else {
                out += &render(&RULE_HEADERS, &rule_rows(&rules)).lines().map(|l| format!("  {l}\n")).collect::<String>();
            }
        }
        return out;
    }
    if let Some(r) = reply.get("TrafficMirrorFilterRule") {
        return render(&RULE_HEADERS, &rule_rows(&[r]));
    }
    if let Some(list) = arr("Sources") {
        let rows = list
            .iter()
            .map(|x| ["NetworkInterfaceId", "Port", "MacAddress", "PrivateIpAddress", "TrafficMirrorSessionIds"].iter().map(|k| s(&x[*k])).collect())
            .collect::<Vec<_>>();
        return render(&["source", "port", "mac", "ipv4", "sessions"], &rows);
    }
    if let Some(list) = arr("Neighbors") {
        let rows = list.iter().map(|x| ["port", "vlan", "ip", "mac", "age_s"].iter().map(|k| s(&x[*k])).collect()).collect::<Vec<_>>();
        let a = &reply["Arp"];
        return render(&["port", "vlan", "next hop", "mac", "age (s)"], &rows)
            + &format!("ARP: {} requests sent, {} replies sent, {} received\n", s(&a["requests_sent"]), s(&a["replies_sent"]), s(&a["received"]));
    }
    if let Some(list) = arr("Ports") {
        let rows = list
            .iter()
            .map(|x| ["name", "rx_packets", "rx_bytes", "tx_packets", "tx_bytes", "rx_missed", "tx_dropped", "copies_dropped"].iter().map(|k| s(&x[*k])).collect())
            .collect::<Vec<_>>();
        return render(&["port", "rx pkts", "rx bytes", "tx pkts", "tx bytes", "rx missed", "tx dropped", "copies dropped"], &rows);
    }
    if reply.get("sessions").is_some() {
        if let Ok(r) = serde_json::from_value::<Report>(reply.clone()) {
            return r.text();
        }
    }
    for k in ["TrafficMirrorSessionId", "TrafficMirrorTargetId", "TrafficMirrorFilterId", "TrafficMirrorFilterRuleId"] {
        if let Some(id) = reply.get(k) {
            return format!("deleted {}\n", s(id));
        }
    }
    if let Some(t) = reply.get("Table") {
        return format!("configuration reloaded: table {t}\n");
    }
    format!("{reply}\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn port_ranges_in_three_spellings() {
        let r = AwsPortRange { from_port: 443, to_port: 445 };
        assert_eq!(port_range("FromPort=443,ToPort=445"), Ok(r));
        assert_eq!(port_range("443-445"), Ok(r));
        assert_eq!(port_range("22"), Ok(AwsPortRange { from_port: 22, to_port: 22 }));
        assert!(port_range("FromPort=1").is_err());
        assert!(port_range("70000").is_err());
    }
}
