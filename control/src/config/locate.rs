//! Reading a configuration file so that every problem is found and located: syntax errors with
//! recovery, then each section and each array element deserialised on its own (so one bad
//! value does not hide the next), then validation; each problem named by file, line, item, key
//! and value.

use super::problem::{ConfigError, Problem, Seg};
use super::schema::*;
use serde::de::DeserializeOwned;
use toml::Spanned;
use std::ops::Range;
use toml::de::{DeTable, DeValue, ValueDeserializer};

/// The tables a file may have, and what each holds.
const SECTIONS: &[&str] = &["dataplane", "vpc", "quotas", "control", "metrics", "api"];
const ARRAYS: &[&str] = &["port", "link", "network_interface", "load_balancer", "gateway_load_balancer_endpoint", "target", "filter", "session"];

/// Parses and validates `text`, naming it `file` in errors; assigns what may be omitted.
pub fn parse(text: &str, file: &str) -> Result<Config, ConfigError> {
    let (root, syntax) = DeTable::parse_recoverable(text);
    let mut out = Located { text, file, problems: Vec::new(), failed: Vec::new() };
    for e in &syntax {
        out.at(e.span(), e.message().trim().to_owned());
    }
    if !syntax.is_empty() {
        return Err(out.error());
    }
    let root = root.into_inner();
    let mut cfg = Config::default();
    for (key, value) in root.iter() {
        let name: &str = key.get_ref();
        match name {
            "dataplane" => out.section(value, name, &mut cfg.dataplane),
            "vpc" => out.section(value, name, &mut cfg.vpc),
            "quotas" => out.section(value, name, &mut cfg.quotas),
            "control" => out.section(value, name, &mut cfg.control),
            "metrics" => {
                let mut m = None;
                out.section(value, name, &mut m);
                cfg.metrics = m;
            }
            "api" => {
                let mut a = None;
                out.section(value, name, &mut a);
                cfg.api = a;
            }
            "port" => cfg.ports = out.array(value, name),
            "link" => cfg.links = out.array(value, name),
            "network_interface" => cfg.network_interfaces = out.array(value, name).into(),
            "load_balancer" => cfg.load_balancers = out.array(value, name).into(),
            "gateway_load_balancer_endpoint" => cfg.gateway_load_balancer_endpoints = out.array(value, name).into(),
            "target" => cfg.targets = out.array(value, name).into(),
            "filter" => cfg.filters = out.array(value, name).into(),
            "session" => cfg.sessions = out.array(value, name).into(),
            "source" => out.at(Some(key.span()), "[[source]] is now [[network_interface]]: a source is any network interface a session names (same keys: id, port, mac, ipv4, description)".into()),
            other => out.at(
                Some(key.span()),
                format!("unknown table `{other}`; the configuration has [{}] and [[{}]]", SECTIONS.join("], ["), ARRAYS.join("]], [[")),
            ),
        }
    }
    // Every problem of the file at once: what the elements that did read say too, less what
    // only follows from the ones that did not (a reference to a target that failed to read).
    let unreadable = std::mem::take(&mut out.failed);
    cfg.assign_ids();
    if let Err(problems) = cfg.validate() {
        for p in problems.iter().filter(|p| !follows_from(p, &unreadable)) {
            let span = span_of(&root, &p.path);
            out.at(span, p.in_file_terms());
        }
    }
    if !out.problems.is_empty() {
        out.problems.sort_by_key(|(_, line, _)| *line);
        return Err(out.error());
    }
    Ok(cfg)
}

/// Where a validation problem is in the document: the line of the deepest element of its path
/// that the document has, for messages about this configuration.
pub fn line_of_problem(text: &str, p: &Problem) -> Option<usize> {
    let root = DeTable::parse(text).ok()?.into_inner();
    span_of(&root, &p.path).map(|s| line_of(text, s.start))
}

struct Located<'t> {
    text: &'t str,
    file: &'t str,
    problems: Vec<(Option<String>, Option<usize>, String)>,
    /// The tables some element of which did not read.
    failed: Vec<String>,
}

/// Whether validation problem `p` only follows from elements of `unreadable` tables missing.
fn follows_from(p: &Problem, unreadable: &[String]) -> bool {
    use super::problem::{Fault, Kind};
    match &p.fault {
        Fault::Missing(k) => unreadable.iter().any(|t| t == k.table() || (*k == Kind::LoadBalancer && t == "load_balancer")),
        _ => p.key.is_empty() && p.path.is_empty() && unreadable.iter().any(|t| t == "port"),
    }
}

impl Located<'_> {
    fn at(&mut self, span: Option<Range<usize>>, message: String) {
        let line = span.map(|s| line_of(self.text, s.start));
        self.problems.push((Some(self.file.to_owned()), line, message));
    }

    fn error(self) -> ConfigError {
        ConfigError { problems: self.problems }
    }

    /// Deserialises a `[section]` into `into`; a problem is recorded, `into` kept.
    fn section<T: DeserializeOwned>(&mut self, value: &Spanned<DeValue>, name: &str, into: &mut T) {
        if !matches!(value.get_ref(), DeValue::Table(_)) {
            self.at(Some(value.span()), format!("`{name}` must be a table: [{name}]"));
            return;
        }
        match self.read(value, &format!("[{name}]")) {
            Some(v) => *into = v,
            None => self.failed.push(name.to_owned()),
        }
    }

    /// Deserialises every element of a `[[name]]` array; the elements that fail are recorded
    /// and left out.
    fn array<T: DeserializeOwned>(&mut self, value: &Spanned<DeValue>, name: &str) -> Vec<T> {
        let DeValue::Array(items) = value.get_ref() else {
            self.at(Some(value.span()), format!("`{name}` must be an array of tables: [[{name}]]"));
            return Vec::new();
        };
        let mut out = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let label = match item.get_ref() {
                DeValue::Table(t) => match t.iter().find(|(k, _)| ["id", "name", "arn"].contains(&k.get_ref().as_ref())).map(|(_, v)| v.get_ref()) {
                    Some(DeValue::String(id)) => format!("[[{name}]] {:?}", id.as_ref()),
                    _ => format!("[[{name}]] {}", i + 1),
                },
                _ => format!("[[{name}]] {}", i + 1),
            };
            match self.read(item, &label) {
                Some(v) => out.push(v),
                None => self.failed.push(name.to_owned()),
            }
        }
        out
    }

    /// Deserialises one item, recording every bad value in it: serde stops at the first, so
    /// each bad key is taken out in turn and the rest read again. `None` when any was bad.
    fn read<T: DeserializeOwned>(&mut self, value: &Spanned<DeValue>, label: &str) -> Option<T> {
        let mut rest = value.clone();
        let mut taken: Vec<String> = Vec::new();
        // Bounded: each round takes a key out, and an item has few.
        for _ in 0..64 {
            let e = match T::deserialize(ValueDeserializer::from(rest.clone())) {
                Ok(v) => return taken.is_empty().then_some(v),
                Err(e) => e,
            };
            // A key taken out to read further is now missing: that only follows from it.
            if taken.iter().any(|k| e.message().trim() == format!("missing field `{}`", k.rsplit('.').next().unwrap_or(k))) {
                return None;
            }
            self.value_error(&rest, label, &e);
            let key = e.span().and_then(|span| key_at(&rest, &span))?;
            if !remove_key(&mut rest, &key) {
                return None;
            }
            taken.push(key);
        }
        None
    }

    /// A deserialisation error inside `value`, with the key and value it is about.
    fn value_error(&mut self, value: &Spanned<DeValue>, item: &str, e: &toml::de::Error) {
        let message = e.message().trim();
        let Some(span) = e.span() else {
            return self.at(Some(value.span()), format!("{item}: {message}"));
        };
        let text = match key_at(value, &span) {
            Some(key) if !message.starts_with("unknown field") => {
                let raw = self.text.get(span.clone()).unwrap_or("").trim();
                format!("{item}: {key} = {raw}: {message}")
            }
            _ => format!("{item}: {message}"),
        };
        self.at(Some(span), text);
    }
}

/// The dotted key (`ingress_rule.1.source_cidr`) whose value holds `span`, within `value`.
/// (A table of an array of tables spans only its header, so every branch is searched.)
fn key_at(value: &Spanned<DeValue>, span: &Range<usize>) -> Option<String> {
    fn find(v: &Spanned<DeValue>, span: &Range<usize>, path: &mut Vec<String>) -> bool {
        let inside = |s: Range<usize>| s.start <= span.start && span.end <= s.end.max(s.start + 1);
        let children: Vec<(String, &Spanned<DeValue>)> = match v.get_ref() {
            DeValue::Table(t) => t.iter().map(|(k, v)| (k.get_ref().to_string(), v)).collect(),
            DeValue::Array(a) => a.iter().enumerate().map(|(i, v)| ((i + 1).to_string(), v)).collect(),
            _ => return false,
        };
        for (k, child) in children {
            let leaf = !matches!(child.get_ref(), DeValue::Table(_) | DeValue::Array(_));
            path.push(k);
            if (leaf && inside(child.span())) || (!leaf && (find(child, span, path) || inside(child.span()))) {
                return true;
            }
            path.pop();
        }
        false
    }
    let mut path = Vec::new();
    find(value, span, &mut path).then(|| path.join("."))
}

/// Takes the key at dotted `path` (as [`key_at`] names it) out of `value`, or, inside an
/// array of values, the key that holds the array. False when the path leads nowhere.
fn remove_key(value: &mut Spanned<DeValue>, path: &str) -> bool {
    fn take(v: &mut DeValue, segs: &[&str]) -> bool {
        match v {
            DeValue::Table(t) => {
                let Some(key) = t.iter().map(|(k, _)| k).find(|k| &**k.get_ref() == segs[0]).cloned() else { return false };
                let deeper = segs.len() > 1 && t.get_mut(&key).is_some_and(|child| take(child.get_mut(), &segs[1..]));
                if !deeper {
                    t.remove(&key);
                }
                true
            }
            DeValue::Array(a) => match segs[0].parse::<usize>().ok().and_then(|i| a.get_mut(i.checked_sub(1)?)) {
                Some(item) if segs.len() > 1 => take(item.get_mut(), &segs[1..]),
                _ => false,
            },
            _ => false,
        }
    }
    let segs: Vec<&str> = path.split('.').collect();
    take(value.get_mut(), &segs)
}

/// Span of the deepest element of `path` that the document has.
fn span_of(root: &DeTable, path: &[Seg]) -> Option<Range<usize>> {
    let mut best = None;
    let mut here: Option<&Spanned<DeValue>> = None;
    for seg in path {
        let next = match (seg, here.map(|h| h.get_ref())) {
            (Seg::Key(k), None) => root.iter().find(|(key, _)| key.get_ref() == k).map(|(_, v)| v),
            (Seg::Key(k), Some(DeValue::Table(t))) => t.iter().find(|(key, _)| key.get_ref() == k).map(|(_, v)| v),
            (Seg::Index(i), Some(DeValue::Array(a))) => a.get(*i),
            _ => None,
        };
        let Some(next) = next else { break };
        best = Some(next.span());
        here = Some(next);
    }
    best
}

/// 1-based line of byte offset `at`.
fn line_of(text: &str, at: usize) -> usize {
    text[..at.min(text.len())].bytes().filter(|&b| b == b'\n').count() + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
[dataplane]
workers = 1

[[port]]
name = "host"
device = "net_pcap0,rx_pcap=a.pcap,tx_pcap=b.pcap"

[[port]]
name = "uplink"
device = "net_pcap1,rx_pcap=c.pcap,tx_pcap=d.pcap"

[[port]]
name = "mirror"
device = "net_pcap2,tx_pcap=m.pcap"
ipv4 = "192.0.2.1"

[[link]]
ports = ["host", "uplink"]

[[network_interface]]
id = "eni-web"
port = "host"
tags = { Name = "web" }

[[network_interface]]
id = "eni-ids"
port = "mirror"
ipv4 = "192.0.2.10"
next_hop_mac = "02:00:00:00:00:20"

[[target]]
id = "tmt-ids"
network_interface_id = "eni-ids"

[[filter]]
id = "tmf-all"
[[filter.ingress_rule]]
rule_number = 100
action = "accept"
[[filter.egress_rule]]
rule_number = 100
action = "accept"
protocol = 6
destination_port = { from = 443, to = 443 }

[[session]]
id = "tms-1"
source = "eni-web"
target = "tmt-ids"
filter = "tmf-all"
session_number = 1
"#;

    fn errors(text: &str) -> String {
        parse(text, "t.toml").unwrap_err().to_string()
    }

    #[test]
    fn the_example_is_valid_and_gets_a_stable_vni() {
        let c = parse(GOOD, "t.toml").unwrap();
        let vni = c.sessions.first().unwrap().virtual_network_id.unwrap();
        assert!(vni <= 0xff_ffff);
        assert_eq!(parse(GOOD, "t.toml").unwrap().sessions.first().unwrap().virtual_network_id, Some(vni), "stable");
        assert_eq!(c.peers(), vec![Some(1), Some(0), None]);
        assert_eq!(c.network_interfaces.first().unwrap().tags["Name"], "web");
    }

    #[test]
    fn unknown_keys_name_key_and_line() {
        let e = errors(&GOOD.replace("device = \"net_pcap2", "devcie = \"net_pcap2"));
        assert!(e.starts_with("t.toml:15: [[port]] \"mirror\": unknown field `devcie`"), "{e}");
        let e = errors(&GOOD.replace("[[network_interface]]\nid = \"eni-web\"", "[[source]]\nid = \"eni-web\""));
        assert!(e.contains("[[source]] is now [[network_interface]]"), "{e}");
    }

    #[test]
    fn every_problem_of_a_file_at_once_with_line_key_and_value() {
        let text = GOOD
            .replace("destination_port = { from = 443, to = 443 }", "destination_port = { from = 500, to = 400 }")
            .replace("rule_number = 100\naction = \"accept\"\n[[filter.egress_rule]]", "rule_number = 100\naction = \"accept\"\nsource_cidr = \"10.0.0.0/33\"\n[[filter.egress_rule]]")
            .replace("session_number = 1", "session_number = 40000\nvirtual_network_id = 16777216")
            .replace("ports = [\"host\", \"uplink\"]", "ports = [\"host\", \"uplnk\"]");
        let e = errors(&text);
        let lines: Vec<&str> = e.lines().collect();
        assert_eq!(lines.len(), 4, "{e}");
        assert!(lines[0].starts_with("t.toml:19: [[link]] 1: ports = \"uplnk\": no port has that name"), "{e}");
        assert!(e.contains("t.toml:41: [[filter]] \"tmf-all\": ingress_rule.1.source_cidr = \"10.0.0.0/33\": invalid IP address syntax"), "{e}");
        assert!(e.contains("session_number = 40000: must be 1-32766"), "{e}");
        assert!(e.contains("virtual_network_id = 16777216: must be 0-16777215"), "{e}");
        // A filter that did not read is not also reported as missing from the session.
        assert!(!e.contains("filter \"tmf-all\" is not defined"), "{e}");
        let e = errors(&GOOD.replace("from = 443, to = 443", "from = 500, to = 400"));
        assert_eq!(e, "t.toml:45: [[filter]] \"tmf-all\" egress_rule 100: destination_port = { from = 500, to = 400 }: its first port is greater than its last");
    }

    #[test]
    fn every_bad_value_of_one_item_is_reported() {
        let text = GOOD.replace(
            "rule_number = 100\naction = \"accept\"\nprotocol = 6",
            "rule_number = 100\naction = \"allow\"\nprotocol = \"tcp\"\nsource_cidr = \"10.0.0.0/33\"",
        );
        let e = errors(&text);
        assert!(e.contains("egress_rule.1.action = \"allow\": unknown variant `allow`"), "{e}");
        assert!(e.contains("egress_rule.1.protocol = \"tcp\""), "{e}");
        assert!(e.contains("egress_rule.1.source_cidr = \"10.0.0.0/33\": invalid IP address syntax"), "{e}");
        assert!(!e.contains("missing field"), "a key taken out to read on is not reported missing: {e}");
        assert_eq!(e.lines().count(), 3, "{e}");
        let e = errors(&GOOD.replace("workers = 1", "workers = \"one\"\nburst_size = \"many\""));
        assert_eq!(e.lines().count(), 2, "{e}");
    }

    #[test]
    fn copy_by_reference_is_a_port_switch_and_refuses_other_values_by_name() {
        let c = parse(&GOOD.replace("ipv4 = \"192.0.2.1\"\n", "ipv4 = \"192.0.2.1\"\ncopy_by_reference = false\n"), "t.toml").unwrap();
        let mirror = c.ports.iter().find(|p| p.name == "mirror").unwrap();
        assert_eq!(mirror.copy_by_reference, Some(false));
        assert!(c.ports.iter().filter(|p| p.name != "mirror").all(|p| p.copy_by_reference.is_none()), "unset: as the device suits");
        let e = errors(&GOOD.replace("ipv4 = \"192.0.2.1\"\n", "ipv4 = \"192.0.2.1\"\ncopy_by_reference = \"yes\"\n"));
        assert!(e.contains("[[port]] \"mirror\"") && e.contains("copy_by_reference"), "{e}");
    }

    #[test]
    fn pdump_is_a_dataplane_switch_refused_on_private_memory_by_name() {
        let on = GOOD.replace("workers = 1\n", "workers = 1\npdump = true\neal_args = [\"--huge-dir\", \"/dev/hugepages\"]\n");
        assert!(parse(&on, "t.toml").unwrap().dataplane.pdump);
        assert!(!parse(GOOD, "t.toml").unwrap().dataplane.pdump, "off unless asked for");
        for private in ["--no-huge", "--in-memory"] {
            let e = errors(&on.replace("\"--huge-dir\", \"/dev/hugepages\"", &format!("\"{private}\"")));
            assert!(e.contains("[dataplane]: pdump = true: dpdk-pdump needs hugepages shared with it, and eal_args has ") && e.contains(private), "{e}");
        }
        let e = errors(&GOOD.replace("workers = 1\n", "workers = 1\npdump = \"yes\"\n"));
        assert!(e.contains("pdump"), "{e}");
    }

    #[test]
    fn a_collector_names_its_next_hop_and_sessions_an_outer_address() {
        let e = errors(&GOOD.replace("next_hop_mac = \"02:00:00:00:00:20\"\n", "").replace("ipv4 = \"192.0.2.1\"\n", ""));
        assert!(e.contains("[[target]] \"tmt-ids\": network_interface_id = \"eni-ids\": network interface \"eni-ids\" has no next_hop_mac, and finding its next hop by ARP needs an IPv4 address on port \"mirror\""), "{e}");
        assert!(e.contains("[[session]] \"tms-1\": source = \"eni-web\": copies need an outer source address"), "{e}");
    }

    #[test]
    fn hosts_on_a_shared_port_need_macs_of_their_own() {
        let mut text = GOOD.to_owned();
        text.push_str("\n[[network_interface]]\nid = \"eni-db\"\nport = \"host\"\n\n[[session]]\nid = \"tms-2\"\nsource = \"eni-db\"\ntarget = \"tmt-ids\"\nfilter = \"tmf-all\"\nsession_number = 1\n");
        let e = errors(&text);
        assert!(e.contains("network interface \"eni-web\" is already a source on port \"host\" without a MAC"), "{e}");
    }

    #[test]
    fn fourth_session_on_a_source_is_refused_once() {
        let mut text = GOOD.to_owned();
        for n in 2..=4 {
            text.push_str(&format!("\n[[session]]\nid = \"tms-{n}\"\nsource = \"eni-web\"\ntarget = \"tmt-ids\"\nfilter = \"tmf-all\"\nsession_number = {n}\n"));
        }
        let e = errors(&text);
        assert!(e.contains("network interface \"eni-web\" would have more than 3 sessions"), "{e}");
        assert_eq!(e.lines().count(), 1, "{e}");
    }

    #[test]
    fn load_balancer_packet_length_limit_and_default() {
        let text = GOOD
            .replace("[[target]]\nid = \"tmt-ids\"\nnetwork_interface_id = \"eni-ids\"", "[[load_balancer]]\narn = \"arn:lb\"\nport = \"mirror\"\naddresses = [\"192.0.2.10\", \"192.0.2.11\"]\nnext_hop_mac = \"02:00:00:00:00:20\"\n\n[[target]]\nid = \"tmt-ids\"\nnetwork_load_balancer_arn = \"arn:lb\"")
            .replace("session_number = 1", "session_number = 1\npacket_length = 9000");
        assert!(errors(&text).contains("packet_length = 9000: must be 1-8500 for a load balancer target"));
        let ok = parse(&text.replace("packet_length = 9000", ""), "t").unwrap();
        assert_eq!(ok.effective_packet_length(ok.sessions.first().unwrap()), Some(8500));
    }

    #[test]
    fn absurd_sizes_are_refused_with_key_and_value_before_anything_is_allocated() {
        let text = GOOD.replace(
            "[dataplane]\nworkers = 1",
            "[dataplane]\nworkers = 1\ntx_retries = 4294967295\nmbufs = 4000000000\ncopy_mbufs = 16777217\n\n[quotas]\nsessions = 18446744073709551615\nrules_per_filter = 0\nsessions_per_source = 40000",
        );
        let e = errors(&text);
        for part in [
            "t.toml:4: [dataplane]: tx_retries = 4294967295: at most 1000",
            "t.toml:5: [dataplane]: mbufs = 4000000000: at most 16777216 (0: sized automatically)",
            "t.toml:6: [dataplane]: copy_mbufs = 16777217: at most 16777216",
            "t.toml:9: [quotas]: sessions = 18446744073709551615: must be 1-100000",
            "t.toml:10: [quotas]: rules_per_filter = 0: must be 1-100000",
            "t.toml:11: [quotas]: sessions_per_source = 40000: must be 1-32766",
        ] {
            assert!(e.contains(part), "{part:?} not in:\n{e}");
        }
        let e = errors(&GOOD.replace("[dataplane]\nworkers = 1", "[dataplane]\nworkers = 1\nrx_desc = 70000"));
        assert!(e.contains("t.toml:4") && e.contains("rx_desc") && e.contains("70000"), "{e}");
    }

    #[test]
    fn export_round_trips() {
        let c = parse(GOOD, "t.toml").unwrap();
        let text = toml::to_string(&c).unwrap();
        assert_eq!(parse(&text, "again").unwrap(), c);
        // With every key of this issue set: they survive the round trip (and AWS's defaults
        // stay out of the file).
        assert!(!text.contains("ttl") && !text.contains("dont_fragment"), "{text}");
        let c = parse(&ipv6_lab(), "t.toml").unwrap();
        let text = toml::to_string(&c).unwrap();
        assert!(text.contains("ttl = 64") && text.contains("dont_fragment = true") && text.contains("ipv6 = \"2001:db8:0:2::10\""), "{text}");
        assert_eq!(parse(&text, "again").unwrap(), c);
    }

    /// GOOD with an IPv6 collector resolved by Neighbor Discovery, a mirror port with an IPv6
    /// address, an IPv6 endpoint and a target with its own TTL and DF.
    fn ipv6_lab() -> String {
        GOOD.replace("ipv4 = \"192.0.2.1\"\n", "ipv4 = \"192.0.2.1\"\nipv6 = \"2001:db8:0:2::1\"\n")
            .replace("ipv4 = \"192.0.2.10\"\nnext_hop_mac = \"02:00:00:00:00:20\"\n", "ipv6 = \"2001:db8:0:2::10\"\n")
            .replace("network_interface_id = \"eni-ids\"\n", "network_interface_id = \"eni-ids\"\nttl = 64\ndont_fragment = true\n")
            + "\n[[gateway_load_balancer_endpoint]]\nid = \"vpce-6\"\nport = \"mirror\"\nipv6 = \"2001:db8:0:2::30\"\nnext_hop = \"2001:db8:0:2::fe\"\n"
    }

    #[test]
    fn ipv6_collectors_and_the_targets_ttl_and_df_read_and_compile_to_their_destinations() {
        let c = parse(&ipv6_lab(), "t.toml").unwrap();
        let t = &c.targets.first().unwrap();
        assert_eq!((t.ttl, t.dont_fragment), (64, true));
        let d = c.target_destination(t).unwrap();
        let collector: std::net::IpAddr = "2001:db8:0:2::10".parse().unwrap();
        assert_eq!(d.collectors, vec![super::super::Collector { address: collector, hop: NextHop::Address(collector) }], "found by Neighbor Discovery");
        let e = c.destination_of(TargetType::GatewayLoadBalancerEndpoint, "vpce-6").unwrap();
        assert_eq!(e.collectors[0].hop, NextHop::Address("2001:db8:0:2::fe".parse().unwrap()));
        // Defaults: AWS's TTL 255 and DF clear.
        let good = parse(GOOD, "t.toml").unwrap();
        assert_eq!((good.targets.first().unwrap().ttl, good.targets.first().unwrap().dont_fragment), (255, false));
    }

    #[test]
    fn bad_ipv6_ttl_and_df_values_are_refused_with_key_and_value() {
        let lab = ipv6_lab();
        let e = errors(&lab.replace("ttl = 64", "ttl = 0"));
        assert!(e.contains("[[target]] \"tmt-ids\": ttl = 0: must be 1-255"), "{e}");
        let e = errors(&lab.replace("ttl = 64", "ttl = 256"));
        assert!(e.contains("ttl") && e.contains("256"), "{e}");
        let e = errors(&lab.replace("dont_fragment = true", "dont_fragment = \"yes\""));
        assert!(e.contains("dont_fragment") && e.contains("yes"), "{e}");
        let e = errors(&lab.replace("ipv6 = \"2001:db8:0:2::1\"", "ipv6 = \"ff02::1\""));
        assert!(e.contains("[[port]] \"mirror\": ipv6 = \"ff02::1\": must be a unicast IPv6 address"), "{e}");
        let e = errors(&lab.replace("ipv6 = \"2001:db8:0:2::30\"", "ipv6 = \"2001:db8:0:2::30\"\nipv4 = \"192.0.2.30\""));
        assert!(e.contains("[[gateway_load_balancer_endpoint]] \"vpce-6\": ipv6 = \"2001:db8:0:2::30\": an endpoint has one address"), "{e}");
        let e = errors(&lab.replace("ipv6 = \"2001:db8:0:2::30\"\n", ""));
        assert!(e.contains("an endpoint needs its address: ipv4 or ipv6"), "{e}");
    }

    #[test]
    fn an_ipv6_collector_needs_the_mirror_ports_ipv6() {
        // Without the port's ipv6 there is no sender for Neighbor Discovery, nor an outer IPv6
        // source for the copies of a source without one.
        let e = errors(&ipv6_lab().replace("ipv6 = \"2001:db8:0:2::1\"\n", ""));
        assert!(e.contains("finding its next hop by Neighbor Discovery needs an IPv6 address on port \"mirror\""), "{e}");
        assert!(e.contains("[[session]] \"tms-1\": source = \"eni-web\": copies to an IPv6 collector need an outer IPv6 source address"), "{e}");
        // With a next hop MAC and the source's own IPv6 address, it needs neither.
        let given = ipv6_lab()
            .replace("ipv6 = \"2001:db8:0:2::1\"\n", "")
            .replace("ipv6 = \"2001:db8:0:2::10\"\n", "ipv6 = \"2001:db8:0:2::10\"\nnext_hop_mac = \"02:00:00:00:00:20\"\n")
            .replace("port = \"host\"\n", "port = \"host\"\nipv6 = \"2001:db8::5\"\n")
            .replace("next_hop = \"2001:db8:0:2::fe\"", "next_hop_mac = \"02:00:00:00:00:20\"");
        parse(&given, "t.toml").unwrap();
        // An IPv6 collector's copies carry 20 bytes more of outer header: the MTU must hold them.
        let e = errors(&ipv6_lab().replace("ttl = 64", "ttl = 64\nmtu = 60"));
        assert!(e.contains("mtu = 60: must be 70-65535 for a target with an IPv6 collector"), "{e}");
    }
}
