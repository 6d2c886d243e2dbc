//! What is wrong with a configuration, said once and shown two ways: in the file's terms
//! (`config.toml:40: [[session]] "tms-1": session_number = 40000: must be 1-32766`) for a file,
//! and in the API's terms (`InvalidParameterValue: Value (40000) for parameter SessionNumber is
//! invalid: must be 1-32766`) for a request, so that neither speaks the other's language.

use std::fmt;

/// The kinds of resource, with their names in the file and in the API.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    Port,
    Link,
    NetworkInterface,
    LoadBalancer,
    GatewayLoadBalancerEndpoint,
    Target,
    Filter,
    FilterRule,
    Session,
}

impl Kind {
    /// The array of tables that holds it in the file (`[[session]]`).
    pub fn table(self) -> &'static str {
        match self {
            Kind::Port => "port",
            Kind::Link => "link",
            Kind::NetworkInterface => "network_interface",
            Kind::LoadBalancer => "load_balancer",
            Kind::GatewayLoadBalancerEndpoint => "gateway_load_balancer_endpoint",
            Kind::Target => "target",
            Kind::Filter => "filter",
            Kind::FilterRule => "rule",
            Kind::Session => "session",
        }
    }

    /// How people call it ("traffic mirror session").
    pub fn noun(self) -> &'static str {
        match self {
            Kind::Port => "port",
            Kind::Link => "link",
            Kind::NetworkInterface => "network interface",
            Kind::LoadBalancer => "load balancer",
            Kind::GatewayLoadBalancerEndpoint => "gateway load balancer endpoint",
            Kind::Target => "traffic mirror target",
            Kind::Filter => "traffic mirror filter",
            Kind::FilterRule => "traffic mirror filter rule",
            Kind::Session => "traffic mirror session",
        }
    }

    /// EC2's error code for an id of this kind that does not exist.
    pub fn not_found_code(self) -> &'static str {
        match self {
            Kind::NetworkInterface => "InvalidNetworkInterfaceID.NotFound",
            Kind::LoadBalancer => "InvalidLoadBalancerArn.NotFound",
            Kind::GatewayLoadBalancerEndpoint => "InvalidVpcEndpointId.NotFound",
            Kind::Target => "InvalidTrafficMirrorTargetId.NotFound",
            Kind::Filter => "InvalidTrafficMirrorFilterId.NotFound",
            Kind::FilterRule => "InvalidTrafficMirrorFilterRuleId.NotFound",
            Kind::Session => "InvalidTrafficMirrorSessionId.NotFound",
            Kind::Port | Kind::Link => "InvalidParameterValue",
        }
    }

    /// The API member a file key of this kind corresponds to.
    pub fn member(self, key: &str) -> &'static str {
        let pairs: &[(&str, &'static str)] = match self {
            Kind::NetworkInterface => &[
                ("id", "NetworkInterfaceId"),
                ("port", "Port"),
                ("mac", "MacAddress"),
                ("ipv4", "PrivateIpAddress"),
                ("ipv6", "Ipv6Addresses"),
                ("next_hop_mac", "NextHopMac"),
                ("next_hop", "NextHop"),
            ],
            Kind::LoadBalancer => &[
                ("arn", "LoadBalancerArn"),
                ("port", "Port"),
                ("addresses", "Addresses"),
                ("next_hop_mac", "NextHopMac"),
                ("next_hop", "NextHop"),
                ("health_check.protocol", "HealthCheckProtocol"),
                ("health_check.port", "HealthCheckPort"),
                ("health_check.interval", "HealthCheckIntervalSeconds"),
                ("health_check.healthy_threshold", "HealthyThresholdCount"),
                ("health_check.unhealthy_threshold", "UnhealthyThresholdCount"),
            ],
            Kind::GatewayLoadBalancerEndpoint => &[
                ("id", "GatewayLoadBalancerEndpointId"),
                ("port", "Port"),
                ("ipv4", "IpAddress"),
                ("ipv6", "IpAddress"),
                ("next_hop_mac", "NextHopMac"),
                ("next_hop", "NextHop"),
            ],
            Kind::Target => &[
                ("id", "TrafficMirrorTargetId"),
                ("network_interface_id", "NetworkInterfaceId"),
                ("network_load_balancer_arn", "NetworkLoadBalancerArn"),
                ("gateway_load_balancer_endpoint_id", "GatewayLoadBalancerEndpointId"),
                ("mtu", "Mtu"),
                ("vlan", "Vlan"),
                ("udp_port", "UdpPort"),
                ("ttl", "Ttl"),
                ("dont_fragment", "DontFragment"),
            ],
            Kind::Filter => &[("id", "TrafficMirrorFilterId"), ("network_services", "NetworkServices"), ("ingress_rule", "TrafficDirection"), ("egress_rule", "TrafficDirection")],
            Kind::FilterRule => &[
                ("id", "TrafficMirrorFilterRuleId"),
                ("rule_number", "RuleNumber"),
                ("action", "RuleAction"),
                ("protocol", "Protocol"),
                ("source_cidr", "SourceCidrBlock"),
                ("destination_cidr", "DestinationCidrBlock"),
                ("source_port", "SourcePortRange"),
                ("destination_port", "DestinationPortRange"),
            ],
            Kind::Session => &[
                ("id", "TrafficMirrorSessionId"),
                ("source", "NetworkInterfaceId"),
                ("target", "TrafficMirrorTargetId"),
                ("filter", "TrafficMirrorFilterId"),
                ("session_number", "SessionNumber"),
                ("virtual_network_id", "VirtualNetworkId"),
                ("packet_length", "PacketLength"),
                ("enabled", "Enabled"),
            ],
            Kind::Port => &[("name", "Port")],
            Kind::Link => &[],
        };
        match key {
            "description" => "Description",
            "tags" => "TagSpecifications",
            _ => pairs.iter().find(|(k, _)| *k == key).map_or("", |(_, m)| *m),
        }
    }
}

/// What kind of wrong, which decides EC2's error code.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fault {
    /// A value out of range or malformed.
    Invalid,
    /// Names a resource of this kind that does not exist.
    Missing(Kind),
    /// Values that cannot go together (or a value already taken).
    Combination,
    /// Over a quota; EC2's code for it.
    Quota(&'static str),
}

impl Fault {
    /// EC2's error code.
    pub fn code(&self) -> &'static str {
        match self {
            Fault::Invalid => "InvalidParameterValue",
            Fault::Missing(k) => k.not_found_code(),
            Fault::Combination => "InvalidParameterCombination",
            Fault::Quota(code) => code,
        }
    }
}

/// One step of a path into the document.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Seg {
    Key(&'static str),
    Index(usize),
}

/// A problem with one value of the configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// Where in the document: `[Key("session"), Index(3), Key("session_number")]`.
    pub path: Vec<Seg>,
    /// The resource it is about and how it is named in the file (`[[session]] "tms-1"`).
    pub kind: Option<Kind>,
    pub item: String,
    /// The key, as the file names it.
    pub key: &'static str,
    /// The value as written, when there is one.
    pub value: Option<String>,
    /// Why it is wrong, in words that fit both the file and the API.
    pub reason: String,
    pub fault: Fault,
}

impl Problem {
    /// The problem in the file's terms, without the location: `item: key = value: reason`.
    pub fn in_file_terms(&self) -> String {
        let mut s = self.item.clone();
        if !self.key.is_empty() {
            if !s.is_empty() {
                s.push_str(": ");
            }
            s.push_str(self.key);
            if let Some(v) = &self.value {
                s.push_str(" = ");
                s.push_str(&shown(v));
            }
        }
        if s.is_empty() { self.reason.clone() } else { format!("{s}: {}", self.reason) }
    }

    /// The problem in the API's terms: EC2's code and a message naming the member and value.
    pub fn in_api_terms(&self) -> (&'static str, String) {
        let member = self.kind.map_or("", |k| k.member(self.key));
        let message = match (&self.fault, member, &self.value) {
            (Fault::Missing(k), _, Some(v)) => format!("The {} ID '{}' does not exist", k.noun(), unquote(v)),
            (_, m, Some(v)) if !m.is_empty() => format!("Value ({}) for parameter {m} is invalid: {}", shown(unquote(v)), self.reason),
            (_, m, None) if !m.is_empty() => format!("Parameter {m} is invalid: {}", self.reason),
            _ => self.reason.clone(),
        };
        (self.fault.code(), message)
    }
}

/// A value as a message shows it: whole up to a few hundred characters, else its start and its
/// length (a megabyte echoed back in a reply or a log line would be the sender's to waste).
pub fn shown(value: &str) -> std::borrow::Cow<'_, str> {
    const SHOWN: usize = 256;
    match value.char_indices().nth(SHOWN) {
        None => value.into(),
        Some(_) => {
            let head: String = value.chars().take(64).collect();
            format!("{head}... ({} characters)", value.chars().count()).into()
        }
    }
}

/// A value as written in the file (`"tms-1"`, `40000`) as the API shows it (`tms-1`).
fn unquote(v: &str) -> &str {
    v.strip_prefix('"').and_then(|v| v.strip_suffix('"')).unwrap_or(v)
}

/// Why a configuration file was refused: every problem, each with its file and line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// (file, line, message) of each problem; file and line where known.
    pub problems: Vec<(Option<String>, Option<usize>, String)>,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        for (i, (file, line, msg)) in self.problems.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            match (file, line) {
                (Some(file), Some(line)) => write!(f, "{file}:{line}: {msg}")?,
                (Some(file), None) => write!(f, "{file}: {msg}")?,
                _ => write!(f, "{msg}")?,
            }
        }
        Ok(())
    }
}

impl std::error::Error for ConfigError {}

impl ConfigError {
    /// One problem of `file`, no line.
    pub fn file(file: &str, message: impl Into<String>) -> Self {
        ConfigError { problems: vec![(Some(file.to_owned()), None, message.into())] }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problem(fault: Fault) -> Problem {
        Problem {
            path: vec![],
            kind: Some(Kind::Session),
            item: "[[session]] \"tms-1\"".into(),
            key: "session_number",
            value: Some("40000".into()),
            reason: "must be 1-32766".into(),
            fault,
        }
    }

    #[test]
    fn one_problem_in_both_languages() {
        let p = problem(Fault::Invalid);
        assert_eq!(p.in_file_terms(), "[[session]] \"tms-1\": session_number = 40000: must be 1-32766");
        assert_eq!(p.in_api_terms(), ("InvalidParameterValue", "Value (40000) for parameter SessionNumber is invalid: must be 1-32766".into()));
    }

    #[test]
    fn a_missing_reference_is_ec2s_not_found() {
        let mut p = problem(Fault::Missing(Kind::Target));
        p.key = "target";
        p.value = Some("\"tmt-x\"".into());
        assert_eq!(p.in_api_terms(), ("InvalidTrafficMirrorTargetId.NotFound", "The traffic mirror target ID 'tmt-x' does not exist".into()));
    }
}
