//! Typed builders for a lab's configuration, instead of TOML text.
//!
//! [`Setup`] holds the product's own [`control::config::Config`] and serialises it as
//! ExportConfiguration does (`toml::to_string`), so a test's file is read exactly as the
//! product reads any file. One builder per concept of the file ([`Port`], [`Eni`], [`Target`],
//! [`Filter`] and its [`Rule`]s, [`Session`]), each a thin wrapper over the product's type
//! with its fields public for what the builder does not spell. Paths may hold `{lab}`, which
//! [`crate::Lab::config`] replaces with the lab folder.
//!
//! ```ignore
//! let setup = Setup::lab()
//!     .port(Port::pcap("host").rx("{lab}/in.pcap").infinite())
//!     .port(Port::null("uplink"))
//!     .port(Port::pcap("mirror").tx("{lab}/out/mirror.pcap").ipv4("192.0.2.1"))
//!     .link("host", "uplink")
//!     .eni(Eni::new("eni-web", "host"))
//!     .eni(Eni::collector("eni-ids", "mirror", "192.0.2.10").next_hop_mac("02:00:00:00:00:20"))
//!     .target(Target::eni("tmt-ids", "eni-ids"))
//!     .filter(Filter::new("tmf-web").egress(Rule::accept(100).protocol(6)))
//!     .session(Session::new("tms-1", 1).source("eni-web").target("tmt-ids").filter("tmf-web"));
//! let cfg = lab.config(&setup.toml());
//! ```

use control::config as product;
use control::config::{Config, Direction, NetworkService, PortRange, RuleAction, TargetType};

/// A whole configuration for a lab.
#[derive(Clone, Debug)]
pub struct Setup(pub Config);

impl Setup {
    /// What every lab runs on: one worker on 256 MB of ordinary memory, the control socket in
    /// the lab folder (so parallel tests never share one); no port yet.
    pub fn lab() -> Setup {
        let mut c = Config::default();
        c.dataplane.workers = 1;
        c.dataplane.eal_args = ["--no-huge", "-m", "256", "--no-pci"].map(String::from).to_vec();
        c.control.socket = "{lab}/control.sock".into();
        Setup(c)
    }

    /// Adds a port. A port built by driver gets the next free instance of it (`net_pcap0`,
    /// `net_pcap1`, ...), as DPDK wants each vdev named once.
    pub fn port(mut self, port: Port) -> Setup {
        let mut p = port.port;
        if let Some(driver) = port.driver {
            let taken = self.0.ports.iter().filter(|q| q.device.strip_prefix(driver).is_some_and(|rest| rest.starts_with(|c: char| c.is_ascii_digit()))).count();
            p.device = std::iter::once(format!("{driver}{taken}")).chain(port.args).collect::<Vec<_>>().join(",");
        }
        self.0.ports.push(p);
        self
    }

    /// Links two ports: frames are forwarded between them both ways.
    pub fn link(mut self, a: &str, b: &str) -> Setup {
        self.0.links.push(product::Link { ports: vec![a.into(), b.into()] });
        self
    }

    /// Adds a network interface to the inventory (a source or a collector).
    pub fn eni(mut self, eni: Eni) -> Setup {
        self.0.network_interfaces.push(eni.0);
        self
    }

    /// Adds a network load balancer to the inventory: collectors behind one ARN.
    pub fn load_balancer(mut self, arn: &str, port: &str, addresses: &[&str], next_hop_mac: &str) -> Setup {
        self.0.load_balancers.push(product::LoadBalancer {
            arn: arn.into(),
            port: port.into(),
            addresses: addresses.iter().map(|a| a.parse().expect("an IP address")).collect(),
            next_hop_mac: Some(next_hop_mac.parse().expect("a MAC address")),
            ..Default::default()
        });
        self
    }

    /// Adds a gateway load balancer endpoint at `address` (IPv4 or IPv6) to the inventory.
    pub fn endpoint(mut self, id: &str, port: &str, address: &str, next_hop_mac: &str) -> Setup {
        let (ipv4, ipv6) = match address.parse().expect("an IP address") {
            std::net::IpAddr::V4(a) => (Some(a), None),
            std::net::IpAddr::V6(a) => (None, Some(a)),
        };
        self.0.gateway_load_balancer_endpoints.push(product::GatewayLoadBalancerEndpoint {
            id: id.into(),
            port: port.into(),
            ipv4,
            ipv6,
            next_hop_mac: Some(next_hop_mac.parse().expect("a MAC address")),
            next_hop: None,
            description: None,
            tags: Default::default(),
        });
        self
    }

    /// The collector most tests mirror to: 192.0.2.10 behind the next hop 02:00:00:00:00:20
    /// on the port named `mirror`, as network interface `eni`, and target `target` for it.
    pub fn collector(self, eni: &str, target: &str) -> Setup {
        self.collector_on("mirror", eni, target)
    }

    /// [`Setup::collector`] behind port `port`.
    pub fn collector_on(self, port: &str, eni: &str, target: &str) -> Setup {
        self.eni(Eni::collector(eni, port, "192.0.2.10").next_hop_mac("02:00:00:00:00:20")).target(Target::eni(target, eni))
    }

    /// [`Setup::collector`] as `eni-tmt`, target `tmt`.
    pub fn tmt(self) -> Setup {
        self.collector("eni-tmt", "tmt")
    }

    /// Adds a mirror target.
    pub fn target(mut self, target: Target) -> Setup {
        self.0.targets.push(target.0);
        self
    }

    /// Adds a mirror filter.
    pub fn filter(mut self, filter: Filter) -> Setup {
        self.0.filters.push(filter.0);
        self
    }

    /// Adds a mirror session.
    pub fn session(mut self, session: Session) -> Setup {
        self.0.sessions.push(session.0);
        self
    }

    /// Serves Prometheus metrics on a port of loopback the kernel picks.
    pub fn metrics(mut self) -> Setup {
        self.0.metrics = Some(product::Metrics { listen: "127.0.0.1:0".parse().expect("a socket address") });
        self
    }

    /// Changes anything else, in the product's own terms (`|c| c.dataplane.idle_sleep_us = 20`).
    pub fn with(mut self, change: impl FnOnce(&mut Config)) -> Setup {
        change(&mut self.0);
        self
    }

    /// The configuration as the file the product reads: what ExportConfiguration would write.
    pub fn toml(&self) -> String {
        toml::to_string(&self.0).expect("a configuration serialises")
    }
}

/// `[[port]]`: a DPDK port, by driver and arguments or by a whole device string.
#[derive(Clone, Debug)]
pub struct Port {
    /// The port; its device is set by [`Setup::port`] when `driver` is.
    pub port: product::Port,
    driver: Option<&'static str>,
    args: Vec<String>,
}

impl Port {
    fn driver(name: &str, driver: &'static str) -> Port {
        let port = product::Port { name: name.into(), device: String::new(), mac: None, ipv4: None, ipv6: None, mtu: None, copy_by_reference: None };
        Port { port, driver: Some(driver), args: Vec::new() }
    }

    /// A `net_pcap` port: give it `rx` and/or `tx` files.
    pub fn pcap(name: &str) -> Port {
        Port::driver(name, "net_pcap")
    }

    /// A `net_null` port that receives nothing: a sink.
    pub fn null(name: &str) -> Port {
        Port::driver(name, "net_null").arg("no-rx=1")
    }

    /// A `net_null` port that receives endless empty frames.
    pub fn null_source(name: &str) -> Port {
        Port::driver(name, "net_null")
    }

    /// A `net_tap` port: a kernel interface named `iface`.
    pub fn tap(name: &str, iface: &str) -> Port {
        Port::driver(name, "net_tap").arg(&format!("iface={iface}"))
    }

    /// A `net_af_packet` port: the kernel interface `iface`, through a packet socket.
    pub fn af_packet(name: &str, iface: &str) -> Port {
        Port::driver(name, "net_af_packet").arg(&format!("iface={iface}"))
    }

    /// A port on a device string given whole (a PCI address, or a vdev spelt out).
    pub fn device(name: &str, device: &str) -> Port {
        let mut p = Port::driver(name, "");
        p.driver = None;
        p.port.device = device.into();
        p
    }

    /// One more device argument (`key=value`).
    pub fn arg(mut self, arg: &str) -> Port {
        self.args.push(arg.into());
        self
    }

    /// A pcap file read for received frames.
    pub fn rx(self, path: &str) -> Port {
        self.arg(&format!("rx_pcap={path}"))
    }

    /// A pcap file written with sent frames.
    pub fn tx(self, path: &str) -> Port {
        self.arg(&format!("tx_pcap={path}"))
    }

    /// Replays its rx file for ever (single-segment mbufs: no jumbo frames).
    pub fn infinite(self) -> Port {
        self.arg("infinite_rx=1")
    }

    /// Outer source MAC of copies sent here; ARP's sender.
    pub fn mac(mut self, mac: &str) -> Port {
        self.port.mac = Some(mac.parse().expect("a MAC address"));
        self
    }

    /// The port's own IPv4 address.
    pub fn ipv4(mut self, ip: &str) -> Port {
        self.port.ipv4 = Some(ip.parse().expect("an IPv4 address"));
        self
    }

    /// The port's own IPv6 address.
    pub fn ipv6(mut self, ip: &str) -> Port {
        self.port.ipv6 = Some(ip.parse().expect("an IPv6 address"));
        self
    }

    /// The device's frame MTU.
    pub fn mtu(mut self, mtu: u16) -> Port {
        self.port.mtu = Some(mtu);
        self
    }
}

/// `[[network_interface]]`: a host in the inventory.
#[derive(Clone, Debug)]
pub struct Eni(pub product::NetworkInterface);

impl Eni {
    /// A host whose frames cross `port`.
    pub fn new(id: &str, port: &str) -> Eni {
        Eni(product::NetworkInterface { id: id.into(), port: port.into(), ..Default::default() })
    }

    /// A collector at `ipv4`, reached through `port`.
    pub fn collector(id: &str, port: &str, ipv4: &str) -> Eni {
        Eni::new(id, port).ipv4(ipv4)
    }

    /// Its MAC.
    pub fn mac(mut self, mac: &str) -> Eni {
        self.0.mac = Some(mac.parse().expect("a MAC address"));
        self
    }

    /// Its IPv4 address.
    pub fn ipv4(mut self, ip: &str) -> Eni {
        self.0.ipv4 = Some(ip.parse().expect("an IPv4 address"));
        self
    }

    /// Its IPv6 address.
    pub fn ipv6(mut self, ip: &str) -> Eni {
        self.0.ipv6 = Some(ip.parse().expect("an IPv6 address"));
        self
    }

    /// The next hop towards it, by MAC.
    pub fn next_hop_mac(mut self, mac: &str) -> Eni {
        self.0.next_hop_mac = Some(mac.parse().expect("a MAC address"));
        self
    }

    /// The next hop towards it, by an address to resolve.
    pub fn next_hop(mut self, ip: &str) -> Eni {
        self.0.next_hop = Some(ip.parse().expect("an IP address"));
        self
    }
}

/// `[[target]]`: where copies go.
#[derive(Clone, Debug)]
pub struct Target(pub product::Target);

impl Target {
    /// Copies to network interface `eni`.
    pub fn eni(id: &str, eni: &str) -> Target {
        Target(product::Target::new(id, TargetType::NetworkInterface, eni))
    }

    /// Copies to the network load balancer `arn`.
    pub fn nlb(id: &str, arn: &str) -> Target {
        Target(product::Target::new(id, TargetType::NetworkLoadBalancer, arn))
    }

    /// Copies to the gateway load balancer endpoint `vpce`.
    pub fn endpoint(id: &str, vpce: &str) -> Target {
        Target(product::Target::new(id, TargetType::GatewayLoadBalancerEndpoint, vpce))
    }

    /// The largest outer IP packet.
    pub fn mtu(mut self, mtu: u32) -> Target {
        self.0.mtu = mtu;
        self
    }

    /// An 802.1Q tag on the outer frame.
    pub fn vlan(mut self, vlan: u16) -> Target {
        self.0.vlan = Some(vlan);
        self
    }

    /// The UDP destination port.
    pub fn udp_port(mut self, port: u16) -> Target {
        self.0.udp_port = port;
        self
    }

    /// The outer TTL / hop limit.
    pub fn ttl(mut self, ttl: u8) -> Target {
        self.0.ttl = ttl;
        self
    }

    /// Sets the outer IPv4 DF flag.
    pub fn dont_fragment(mut self) -> Target {
        self.0.dont_fragment = true;
        self
    }
}

/// `[[filter]]`: rules per direction.
#[derive(Clone, Debug)]
pub struct Filter(pub product::Filter);

impl Filter {
    /// A filter with no rule.
    pub fn new(id: &str) -> Filter {
        Filter(product::Filter { id: id.into(), ..Default::default() })
    }

    /// A filter accepting everything, both ways (rule 1 each).
    pub fn accept_all(id: &str) -> Filter {
        Filter::new(id).ingress(Rule::accept(1)).egress(Rule::accept(1))
    }

    /// Adds a rule for traffic into the source.
    pub fn ingress(self, rule: Rule) -> Filter {
        self.rule(Direction::Ingress, rule)
    }

    /// Adds a rule for traffic out of the source.
    pub fn egress(self, rule: Rule) -> Filter {
        self.rule(Direction::Egress, rule)
    }

    /// Adds a rule in direction `dir`.
    pub fn rule(mut self, dir: Direction, rule: Rule) -> Filter {
        self.0.rules_mut(dir).push(rule.0);
        self
    }

    /// Lets DNS to the VPC's resolvers through as well (`amazon-dns`).
    pub fn amazon_dns(mut self) -> Filter {
        self.0.network_services.push(NetworkService::AmazonDns);
        self
    }
}

/// `[[filter.ingress_rule]]` / `[[filter.egress_rule]]`: every protocol and address unless
/// narrowed.
#[derive(Clone, Debug)]
pub struct Rule(pub product::FilterRule);

impl Rule {
    fn new(number: u32, action: RuleAction) -> Rule {
        Rule(product::FilterRule::new(number, action))
    }

    /// Rule `number`, mirroring what it matches.
    pub fn accept(number: u32) -> Rule {
        Rule::new(number, RuleAction::Accept)
    }

    /// Rule `number`, not mirroring what it matches.
    pub fn reject(number: u32) -> Rule {
        Rule::new(number, RuleAction::Reject)
    }

    /// Its id (assigned when not given).
    pub fn id(mut self, id: &str) -> Rule {
        self.0.id = Some(id.into());
        self
    }

    /// Only this IANA protocol.
    pub fn protocol(mut self, protocol: u8) -> Rule {
        self.0.protocol = Some(protocol);
        self
    }

    /// Only from this block.
    pub fn source(mut self, cidr: &str) -> Rule {
        self.0.source_cidr = Some(cidr.parse().expect("a CIDR block"));
        self
    }

    /// Only to this block.
    pub fn destination(mut self, cidr: &str) -> Rule {
        self.0.destination_cidr = Some(cidr.parse().expect("a CIDR block"));
        self
    }

    /// Only from these ports.
    pub fn source_port(mut self, from: u16, to: u16) -> Rule {
        self.0.source_port = Some(PortRange { from, to });
        self
    }

    /// Only to these ports.
    pub fn destination_port(mut self, from: u16, to: u16) -> Rule {
        self.0.destination_port = Some(PortRange { from, to });
        self
    }
}

/// `[[session]]`: a source's traffic, through a filter, to a target.
#[derive(Clone, Debug)]
pub struct Session(pub product::Session);

impl Session {
    /// Session `number` with id `id`; name its source, target and filter next.
    pub fn new(id: &str, number: u32) -> Session {
        Session(product::Session::new(id, number, "", "", ""))
    }

    /// The monitored network interface.
    pub fn source(mut self, eni: &str) -> Session {
        self.0.source = eni.into();
        self
    }

    /// Where its copies go.
    pub fn target(mut self, target: &str) -> Session {
        self.0.target = target.into();
        self
    }

    /// What it mirrors.
    pub fn filter(mut self, filter: &str) -> Session {
        self.0.filter = filter.into();
        self
    }

    /// Its VXLAN network identifier (assigned when not given).
    pub fn vni(mut self, vni: u32) -> Session {
        self.0.virtual_network_id = Some(vni);
        self
    }

    /// Bytes of each original to mirror.
    pub fn packet_length(mut self, length: u32) -> Session {
        self.0.packet_length = Some(length);
        self
    }

    /// Configured but mirroring nothing.
    pub fn disabled(mut self) -> Session {
        self.0.enabled = false;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(setup: &Setup) -> Config {
        let text = setup.toml();
        control::config::parse(&text, "built").unwrap_or_else(|e| panic!("{e}\n{text}"))
    }

    #[test]
    fn a_built_setup_reads_back_as_the_configuration_it_was_built_from() {
        let setup = Setup::lab()
            .port(Port::pcap("host").rx("{lab}/in.pcap").infinite())
            .port(Port::null("uplink"))
            .port(Port::pcap("mirror").tx("{lab}/out/mirror.pcap").ipv4("192.0.2.1").ipv6("2001:db8:2::1").mac("02:00:00:00:00:10"))
            .link("host", "uplink")
            .metrics()
            .eni(Eni::new("eni-web", "host").mac("02:00:00:00:00:01").ipv4("10.0.0.5"))
            .eni(Eni::collector("eni-ids", "mirror", "192.0.2.10").next_hop_mac("02:00:00:00:00:20"))
            .target(Target::eni("tmt-ids", "eni-ids").mtu(1000).vlan(7))
            .filter(Filter::new("tmf-web").egress(Rule::reject(100).id("tmfr-ssh").protocol(6).destination_port(22, 22)).ingress(Rule::accept(1).source("10.0.0.0/8")).amazon_dns())
            .session(Session::new("tms-1", 1).source("eni-web").target("tmt-ids").filter("tmf-web").vni(77).packet_length(64))
            .load_balancer("arn:aws:elasticloadbalancing:local:000000000000:loadbalancer/net/nlb/1", "mirror", &["192.0.2.20", "2001:db8::20"], "02:00:00:00:00:22")
            .endpoint("vpce-6", "mirror", "2001:db8:2::30", "02:00:00:00:00:31")
            .target(Target::endpoint("tmt-gwlb6", "vpce-6").ttl(64).udp_port(4790))
            .target(Target::nlb("tmt-nlb", "arn:aws:elasticloadbalancing:local:000000000000:loadbalancer/net/nlb/1").dont_fragment())
            .session(Session::new("tms-2", 2).source("eni-web").target("tmt-gwlb6").filter("tmf-web").vni(78).disabled())
            .with(|c| c.quotas.sessions_per_source = 40);
        let mut read = parsed(&setup);
        // Reading assigns what may be omitted: the rule id not given.
        let assigned = read.filters.get_mut("tmf-web").unwrap().ingress_rules[0].id.take();
        assert!(assigned.is_some_and(|id| id.starts_with("tmfr-")));
        assert_eq!(read, setup.0);
    }

    #[test]
    fn ports_built_by_driver_are_numbered_per_driver() {
        let setup = Setup::lab()
            .port(Port::pcap("a").rx("{lab}/a.pcap").tx("{lab}/out/a.pcap"))
            .port(Port::null("b"))
            .port(Port::device("c", "net_pcap1,rx_pcap={lab}/c.pcap"))
            .port(Port::pcap("d").tx("{lab}/out/d.pcap"))
            .port(Port::null_source("e"))
            .port(Port::tap("f", "tm0"))
            .port(Port::af_packet("g", "veth0").arg("qdisc_bypass=0"));
        let devices: Vec<&str> = setup.0.ports.iter().map(|p| p.device.as_str()).collect();
        assert_eq!(
            devices,
            [
                "net_pcap0,rx_pcap={lab}/a.pcap,tx_pcap={lab}/out/a.pcap",
                "net_null0,no-rx=1",
                "net_pcap1,rx_pcap={lab}/c.pcap",
                "net_pcap2,tx_pcap={lab}/out/d.pcap",
                "net_null1",
                "net_tap0,iface=tm0",
                "net_af_packet0,iface=veth0,qdisc_bypass=0"
            ]
        );
        assert!(setup.toml().contains("socket = \"{lab}/control.sock\""), "the socket is in the lab: {}", setup.toml());
    }
}
