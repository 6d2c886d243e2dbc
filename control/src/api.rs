//! The control API: one JSON request per line on a Unix socket, one JSON reply per line.
//!
//! Requests are named and shaped after the EC2 API (`{"Action":
//! "CreateTrafficMirrorSession", "NetworkInterfaceId": "eni-web", ...}`) and replies use
//! EC2's field names (`TrafficMirrorSessionId`, `SessionNumber`, `VirtualNetworkId`, ...),
//! so AWS users recognise them. Fields AWS does not have (a target's address and next hop, a
//! session's `Enabled`) are additions, never renames. Errors are `{"Error": {"Code": ...,
//! "Message": ...}}` with EC2's codes where one fits.

use crate::config::{self, Filter, FilterRule, Mac, NetworkService, PortRange, RuleAction, Session, Target, TargetType};
use ipnet::IpNet;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Write};
use std::net::Ipv4Addr;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;

/// A filter rule's direction, as EC2 spells it (`ingress`, `egress`): the dataplane's.
pub use dataplane::types::Direction as TrafficDirection;

/// EC2's port range.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AwsPortRange {
    pub from_port: u16,
    pub to_port: u16,
}

impl From<PortRange> for AwsPortRange {
    fn from(p: PortRange) -> Self {
        AwsPortRange { from_port: p.from, to_port: p.to }
    }
}

impl From<AwsPortRange> for PortRange {
    fn from(p: AwsPortRange) -> Self {
        PortRange { from: p.from_port, to: p.to_port }
    }
}

/// A request, by EC2 action name.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "Action", rename_all_fields = "PascalCase")]
pub enum Request {
    CreateTrafficMirrorTarget {
        /// Our addition: choose the id (default: a generated `tmt-...`).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        traffic_mirror_target_id: Option<String>,
        #[serde(default, rename = "Type", skip_serializing_if = "Option::is_none")]
        kind: Option<TargetType>,
        /// The collector (network-interface targets).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        address: Option<Ipv4Addr>,
        /// The collectors (network-load-balancer targets).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        addresses: Option<Vec<Ipv4Addr>>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        next_hop_mac: Option<Mac>,
        /// Our addition: the next hop's IPv4 address, resolved by ARP (instead of its MAC).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        next_hop: Option<Ipv4Addr>,
        port: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        mtu: Option<u32>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        vlan: Option<u16>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        udp_port: Option<u16>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        description: Option<String>,
        #[serde(default)]
        dry_run: bool,
    },
    DeleteTrafficMirrorTarget {
        traffic_mirror_target_id: String,
        #[serde(default)]
        dry_run: bool,
    },
    DescribeTrafficMirrorTargets {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        traffic_mirror_target_ids: Option<Vec<String>>,
    },
    CreateTrafficMirrorFilter {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        traffic_mirror_filter_id: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        description: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        network_services: Option<Vec<NetworkService>>,
        #[serde(default)]
        dry_run: bool,
    },
    DeleteTrafficMirrorFilter {
        traffic_mirror_filter_id: String,
        #[serde(default)]
        dry_run: bool,
    },
    DescribeTrafficMirrorFilters {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        traffic_mirror_filter_ids: Option<Vec<String>>,
    },
    ModifyTrafficMirrorFilterNetworkServices {
        traffic_mirror_filter_id: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        add_network_services: Option<Vec<NetworkService>>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        remove_network_services: Option<Vec<NetworkService>>,
        #[serde(default)]
        dry_run: bool,
    },
    CreateTrafficMirrorFilterRule {
        traffic_mirror_filter_id: String,
        traffic_direction: TrafficDirection,
        rule_number: u32,
        rule_action: RuleAction,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        protocol: Option<u8>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        destination_port_range: Option<AwsPortRange>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        source_port_range: Option<AwsPortRange>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        destination_cidr_block: Option<IpNet>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        source_cidr_block: Option<IpNet>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        description: Option<String>,
        #[serde(default)]
        dry_run: bool,
    },
    ModifyTrafficMirrorFilterRule {
        traffic_mirror_filter_rule_id: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        traffic_direction: Option<TrafficDirection>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        rule_number: Option<u32>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        rule_action: Option<RuleAction>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        protocol: Option<u8>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        destination_port_range: Option<AwsPortRange>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        source_port_range: Option<AwsPortRange>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        destination_cidr_block: Option<IpNet>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        source_cidr_block: Option<IpNet>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        description: Option<String>,
        /// `destination-port-range`, `source-port-range`, `protocol`, `description` (EC2's
        /// names), and our `destination-cidr-block`, `source-cidr-block`.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        remove_fields: Vec<String>,
        #[serde(default)]
        dry_run: bool,
    },
    DeleteTrafficMirrorFilterRule {
        traffic_mirror_filter_rule_id: String,
        #[serde(default)]
        dry_run: bool,
    },
    CreateTrafficMirrorSession {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        traffic_mirror_session_id: Option<String>,
        network_interface_id: String,
        traffic_mirror_target_id: String,
        traffic_mirror_filter_id: String,
        session_number: u32,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        virtual_network_id: Option<u32>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        packet_length: Option<u32>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        description: Option<String>,
        /// Our addition: create it switched off.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        enabled: Option<bool>,
        #[serde(default)]
        dry_run: bool,
    },
    ModifyTrafficMirrorSession {
        traffic_mirror_session_id: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        traffic_mirror_target_id: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        traffic_mirror_filter_id: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        packet_length: Option<u32>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        session_number: Option<u32>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        virtual_network_id: Option<u32>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        description: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        enabled: Option<bool>,
        /// `packet-length`, `description`, `virtual-network-id` (EC2's names).
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        remove_fields: Vec<String>,
        #[serde(default)]
        dry_run: bool,
    },
    DeleteTrafficMirrorSession {
        traffic_mirror_session_id: String,
        #[serde(default)]
        dry_run: bool,
    },
    DescribeTrafficMirrorSessions {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        traffic_mirror_session_ids: Option<Vec<String>>,
    },
    /// The configured sources (AWS's network interfaces), with their ports.
    DescribeSources {},
    /// The ports and their counters.
    DescribePorts {},
    /// Every counter: ports, sessions by direction, workers, mempools.
    DescribeCounters {},
    /// Next hops resolved by ARP.
    DescribeNeighbors {},
    /// Re-read the configuration file, as SIGHUP does.
    ReloadConfiguration {},
    /// The running configuration as TOML.
    ExportConfiguration {},
}

/// A failed request: an EC2-style code and a readable message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiError {
    pub code: String,
    pub message: String,
}

impl ApiError {
    pub fn new(code: &str, message: impl Into<String>) -> Self {
        ApiError { code: code.into(), message: message.into() }
    }

    /// The reply carrying this error.
    pub fn reply(&self) -> Value {
        json!({ "Error": { "Code": self.code, "Message": self.message } })
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for ApiError {}

/// A target as EC2 describes it, plus where this appliance sends its copies.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AwsTarget {
    pub traffic_mirror_target_id: String,
    #[serde(rename = "Type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<TargetType>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network_interface_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network_load_balancer_arn: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gateway_load_balancer_endpoint_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub addresses: Vec<Ipv4Addr>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_hop_mac: Option<Mac>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_hop: Option<Ipv4Addr>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mtu: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vlan: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub udp_port: Option<u16>,
}

impl From<&Target> for AwsTarget {
    fn from(t: &Target) -> Self {
        AwsTarget {
            traffic_mirror_target_id: t.id.clone(),
            kind: Some(t.kind),
            description: t.description.clone(),
            addresses: t.all_addresses(),
            next_hop_mac: t.next_hop_mac,
            next_hop: t.next_hop,
            port: Some(t.port.clone()),
            mtu: Some(t.mtu),
            vlan: t.vlan,
            udp_port: Some(t.udp_port),
            ..AwsTarget::default()
        }
    }
}

/// A filter rule as EC2 describes it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AwsRule {
    #[serde(default)]
    pub traffic_mirror_filter_rule_id: Option<String>,
    #[serde(default)]
    pub traffic_mirror_filter_id: Option<String>,
    pub traffic_direction: TrafficDirection,
    pub rule_number: u32,
    pub rule_action: RuleAction,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub protocol: Option<u8>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destination_port_range: Option<AwsPortRange>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_port_range: Option<AwsPortRange>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destination_cidr_block: Option<IpNet>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_cidr_block: Option<IpNet>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

impl AwsRule {
    /// EC2's view of a configured rule.
    pub fn of(filter: &str, dir: TrafficDirection, r: &FilterRule) -> Self {
        AwsRule {
            traffic_mirror_filter_rule_id: r.id.clone(),
            traffic_mirror_filter_id: Some(filter.to_owned()),
            traffic_direction: dir,
            rule_number: r.rule_number,
            rule_action: r.action,
            protocol: r.protocol,
            destination_port_range: r.destination_port.map(Into::into),
            source_port_range: r.source_port.map(Into::into),
            destination_cidr_block: r.destination_cidr,
            source_cidr_block: r.source_cidr,
            description: r.description.clone(),
        }
    }

    /// The configured rule for EC2's.
    pub fn to_rule(&self) -> FilterRule {
        FilterRule {
            id: self.traffic_mirror_filter_rule_id.clone(),
            rule_number: self.rule_number,
            action: self.rule_action,
            protocol: self.protocol,
            source_cidr: self.source_cidr_block,
            destination_cidr: self.destination_cidr_block,
            source_port: self.source_port_range.map(Into::into),
            destination_port: self.destination_port_range.map(Into::into),
            description: self.description.clone(),
        }
    }
}

/// A filter as EC2 describes it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AwsFilter {
    pub traffic_mirror_filter_id: String,
    #[serde(default)]
    pub ingress_filter_rules: Vec<AwsRule>,
    #[serde(default)]
    pub egress_filter_rules: Vec<AwsRule>,
    #[serde(default)]
    pub network_services: Vec<NetworkService>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

impl From<&Filter> for AwsFilter {
    fn from(f: &Filter) -> Self {
        AwsFilter {
            traffic_mirror_filter_id: f.id.clone(),
            ingress_filter_rules: f.ingress_rules.iter().map(|r| AwsRule::of(&f.id, TrafficDirection::Ingress, r)).collect(),
            egress_filter_rules: f.egress_rules.iter().map(|r| AwsRule::of(&f.id, TrafficDirection::Egress, r)).collect(),
            network_services: f.network_services.clone(),
            description: f.description.clone(),
        }
    }
}

/// A session as EC2 describes it, plus whether it is enabled.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AwsSession {
    pub traffic_mirror_session_id: String,
    pub traffic_mirror_target_id: String,
    pub traffic_mirror_filter_id: String,
    pub network_interface_id: String,
    pub session_number: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub virtual_network_id: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub packet_length: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled: Option<bool>,
}

impl From<&Session> for AwsSession {
    fn from(s: &Session) -> Self {
        AwsSession {
            traffic_mirror_session_id: s.id.clone(),
            traffic_mirror_target_id: s.target.clone(),
            traffic_mirror_filter_id: s.filter.clone(),
            network_interface_id: s.source.clone(),
            session_number: s.session_number,
            virtual_network_id: s.virtual_network_id,
            packet_length: s.packet_length,
            description: s.description.clone(),
            enabled: Some(s.enabled),
        }
    }
}

impl AwsSession {
    /// The configured session for EC2's.
    pub fn to_session(&self) -> Session {
        Session {
            id: self.traffic_mirror_session_id.clone(),
            source: self.network_interface_id.clone(),
            target: self.traffic_mirror_target_id.clone(),
            filter: self.traffic_mirror_filter_id.clone(),
            session_number: self.session_number,
            virtual_network_id: self.virtual_network_id,
            packet_length: self.packet_length,
            enabled: self.enabled.unwrap_or(true),
            description: self.description.clone(),
        }
    }
}

/// Serialises `v` into a JSON value (for replies).
pub fn to_value<T: Serialize>(v: &T) -> Value {
    serde_json::to_value(v).expect("API shapes always serialise")
}

/// Binds the control socket at `path` with permissions `mode`. A stale socket (nothing
/// listening) is replaced; a live one means another instance runs: an error.
pub fn bind(path: &Path, mode: u32) -> anyhow::Result<UnixListener> {
    use anyhow::Context;
    use std::os::unix::fs::PermissionsExt;
    if path.exists() {
        if UnixStream::connect(path).is_ok() {
            anyhow::bail!("another traffic-mirror is listening on {} ([control] socket)", path.display());
        }
        std::fs::remove_file(path).with_context(|| format!("removing the stale socket {}", path.display()))?;
    }
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let listener = UnixListener::bind(path).with_context(|| format!("binding the control socket {}", path.display()))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
        .with_context(|| format!("setting the mode of {}", path.display()))?;
    Ok(listener)
}

/// A request waiting for the control thread, with where to send its reply.
pub type Pending = (Request, crossbeam::channel::Sender<Value>);

/// Serves `listener`: each connection gets a thread that reads request lines, hands them to
/// the control thread over `to_control`, and writes the replies back.
pub fn serve(listener: UnixListener, to_control: crossbeam::channel::Sender<Pending>) {
    std::thread::Builder::new()
        .name("tm-api".into())
        .spawn(move || {
            for conn in listener.incoming() {
                let Ok(conn) = conn else { continue };
                let to_control = to_control.clone();
                let _ = std::thread::Builder::new().name("tm-api-conn".into()).spawn(move || connection(conn, to_control));
            }
        })
        .expect("spawning the API thread");
}

fn connection(conn: UnixStream, to_control: crossbeam::channel::Sender<Pending>) {
    let Ok(mut out) = conn.try_clone() else { return };
    for line in BufReader::new(conn).lines() {
        let Ok(line) = line else { return };
        if line.trim().is_empty() {
            continue;
        }
        let reply = match serde_json::from_str::<Request>(&line) {
            Ok(req) => {
                let (tx, rx) = crossbeam::channel::bounded(1);
                if to_control.send((req, tx)).is_err() {
                    ApiError::new("ServiceUnavailable", "traffic-mirror is shutting down").reply()
                } else {
                    rx.recv().unwrap_or_else(|_| ApiError::new("ServiceUnavailable", "traffic-mirror is shutting down").reply())
                }
            }
            Err(e) => ApiError::new(if e.to_string().contains("unknown variant") { "InvalidAction" } else { "InvalidParameterValue" }, e.to_string()).reply(),
        };
        if writeln!(out, "{reply}").and_then(|_| out.flush()).is_err() {
            return;
        }
    }
}

/// A connection to a running traffic-mirror's control socket.
pub struct Client {
    reader: BufReader<UnixStream>,
    writer: UnixStream,
}

impl Client {
    /// Connects to the socket at `path`.
    pub fn connect(path: &Path) -> anyhow::Result<Self> {
        let s = UnixStream::connect(path).map_err(|e| {
            anyhow::anyhow!("cannot reach traffic-mirror at {}: {e} (is it running? is this its [control] socket?)", path.display())
        })?;
        Ok(Client { reader: BufReader::new(s.try_clone()?), writer: s })
    }

    /// Sends `req` and returns the reply; an `Error` reply becomes `Err`.
    pub fn call(&mut self, req: &Request) -> anyhow::Result<Result<Value, ApiError>> {
        writeln!(self.writer, "{}", serde_json::to_string(req)?)?;
        let mut line = String::new();
        if self.reader.read_line(&mut line)? == 0 {
            anyhow::bail!("traffic-mirror closed the control connection");
        }
        let v: Value = serde_json::from_str(&line)?;
        Ok(match v.get("Error") {
            Some(e) => Err(ApiError::new(e["Code"].as_str().unwrap_or("Unknown"), e["Message"].as_str().unwrap_or(""))),
            None => Ok(v),
        })
    }
}

/// The socket to use: an explicit path, else the one `config` names, else the default.
pub fn socket_path(explicit: Option<&Path>, config: Option<&Path>) -> anyhow::Result<std::path::PathBuf> {
    if let Some(p) = explicit {
        return Ok(p.to_path_buf());
    }
    if let Some(c) = config {
        let cfg = config::Config::load(c).map_err(|e| anyhow::anyhow!("{e}"))?;
        return Ok(cfg.control.socket.into());
    }
    Ok(config::DEFAULT_SOCKET.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_read_ec2_names() {
        let r: Request = serde_json::from_str(
            r#"{"Action":"CreateTrafficMirrorFilterRule","TrafficMirrorFilterId":"tmf-1","TrafficDirection":"ingress",
                "RuleNumber":100,"RuleAction":"accept","Protocol":6,"DestinationPortRange":{"FromPort":443,"ToPort":443},
                "SourceCidrBlock":"0.0.0.0/0","DestinationCidrBlock":"10.0.0.0/8"}"#,
        )
        .unwrap();
        match r {
            Request::CreateTrafficMirrorFilterRule { rule_number, destination_port_range, .. } => {
                assert_eq!(rule_number, 100);
                assert_eq!(destination_port_range, Some(AwsPortRange { from_port: 443, to_port: 443 }));
            }
            other => panic!("{other:?}"),
        }
        let e = serde_json::from_str::<Request>(r#"{"Action":"LaunchRockets"}"#).unwrap_err();
        assert!(e.to_string().contains("unknown variant"));
    }

    #[test]
    fn sessions_round_trip_through_ec2_shape() {
        let s = Session {
            id: "tms-1".into(),
            source: "eni-1".into(),
            target: "tmt-1".into(),
            filter: "tmf-1".into(),
            session_number: 2,
            virtual_network_id: Some(42),
            packet_length: None,
            enabled: false,
            description: Some("d".into()),
        };
        let v = to_value(&AwsSession::from(&s));
        assert_eq!(v["TrafficMirrorSessionId"], "tms-1");
        assert_eq!(v["NetworkInterfaceId"], "eni-1");
        assert_eq!(v["VirtualNetworkId"], 42);
        assert!(v.get("PacketLength").is_none());
        let back: AwsSession = serde_json::from_value(v).unwrap();
        assert_eq!(back.to_session(), s);
    }
}
