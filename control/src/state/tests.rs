//! EC2's rules, action by action, on the lab of [`super::testing`].

use super::testing::TestHost;
use crate::api::actions::*;
use crate::api::ec2::{Filter, PortRangeRequest, Tag, TagSpecification};
use crate::api::ApiError;
use crate::config::{Direction, RuleAction};
use serde_json::json;

fn code<T: std::fmt::Debug>(r: Result<T, ApiError>) -> String {
    r.expect_err("should be refused").code
}

fn session(number: u32) -> CreateTrafficMirrorSession {
    CreateTrafficMirrorSession {
        network_interface_id: "eni-web".into(),
        traffic_mirror_target_id: "tmt-ids".into(),
        traffic_mirror_filter_id: "tmf-all".into(),
        session_number: number,
        ..Default::default()
    }
}

fn tagged(resource_type: &str, key: &str, value: &str) -> Vec<TagSpecification> {
    vec![TagSpecification { resource_type: resource_type.into(), tags: vec![Tag { key: key.into(), value: value.into() }] }]
}

#[test]
fn a_session_gets_an_id_a_unique_vni_its_tags_and_the_owner() {
    let mut h = TestHost::lab();
    let existing = h.cfg().sessions.first().unwrap().virtual_network_id;
    let r = h.run(CreateTrafficMirrorSession { tag_specifications: tagged("traffic-mirror-session", "team", "ids"), ..session(2) }).unwrap();
    let s = &r.traffic_mirror_session;
    assert!(s.traffic_mirror_session_id.starts_with("tms-") && s.traffic_mirror_session_id.len() == 21, "{}", s.traffic_mirror_session_id);
    assert!(s.virtual_network_id.is_some() && s.virtual_network_id != existing);
    assert_eq!(s.owner_id, "000000000000");
    assert_eq!(s.tags, vec![Tag { key: "team".into(), value: "ids".into() }]);
    assert_eq!(h.cfg().sessions.len(), 2);
    let e = h.run(CreateTrafficMirrorSession { tag_specifications: tagged("instance", "a", "b"), ..session(3) }).unwrap_err();
    assert_eq!(e.code, "InvalidParameterValue");
    assert!(e.message.contains("TagSpecifications.1.ResourceType") && e.message.contains("instance"), "{e}");
}

#[test]
fn a_client_token_makes_a_create_idempotent() {
    let mut h = TestHost::lab();
    let req = CreateTrafficMirrorSession { client_token: Some("tok-1".into()), ..session(2) };
    let first = h.run(req.clone()).unwrap();
    let again = h.run(req.clone()).unwrap();
    assert_eq!(first, again, "the same reply");
    assert_eq!(h.cfg().sessions.len(), 2, "no second session");
    assert_eq!(first.client_token.as_deref(), Some("tok-1"));
    let e = h.run(CreateTrafficMirrorSession { packet_length: Some(64), ..req }).unwrap_err();
    assert_eq!(e.code, "IdempotentParameterMismatch", "{e}");
}

#[test]
fn dry_run_changes_nothing_and_says_it_would_have_worked() {
    let mut h = TestHost::lab();
    assert_eq!(code(h.run(CreateTrafficMirrorSession { dry_run: true, ..session(2) })), "DryRunOperation");
    assert_eq!(h.cfg().sessions.len(), 1);
    // A dry run of a change that would fail fails for its own reason.
    assert_eq!(code(h.run(CreateTrafficMirrorSession { dry_run: true, ..session(1) })), "InvalidParameterCombination");
    assert_eq!(code(h.run(DescribeTrafficMirrorSessions { dry_run: true, ..Default::default() })), "DryRunOperation");
    assert_eq!(code(h.run(DeleteTrafficMirrorSession { traffic_mirror_session_id: "tms-web".into(), dry_run: true })), "DryRunOperation");
    assert_eq!(h.cfg().sessions.len(), 1);
}

#[test]
fn references_are_checked_with_ec2s_not_found_codes() {
    let mut h = TestHost::lab();
    let cases = [
        (CreateTrafficMirrorSession { network_interface_id: "eni-nope".into(), ..session(2) }, "InvalidNetworkInterfaceID.NotFound"),
        (CreateTrafficMirrorSession { traffic_mirror_target_id: "tmt-nope".into(), ..session(2) }, "InvalidTrafficMirrorTargetId.NotFound"),
        (CreateTrafficMirrorSession { traffic_mirror_filter_id: "tmf-nope".into(), ..session(2) }, "InvalidTrafficMirrorFilterId.NotFound"),
    ];
    for (req, want) in cases {
        let e = h.run(req).unwrap_err();
        assert_eq!(e.code, want);
        assert!(e.message.contains("nope' does not exist"), "{e}");
    }
    assert_eq!(code(h.run(DeleteTrafficMirrorSession { traffic_mirror_session_id: "tms-nope".into(), dry_run: false })), "InvalidTrafficMirrorSessionId.NotFound");
    assert_eq!(code(h.run(DeleteTrafficMirrorFilterRule { traffic_mirror_filter_rule_id: "tmfr-nope".into(), dry_run: false })), "InvalidTrafficMirrorFilterRuleId.NotFound");
}

#[test]
fn ranges_numbers_and_quotas_are_refused_in_the_apis_terms() {
    let mut h = TestHost::lab();
    let e = h.run(session(40000)).unwrap_err();
    assert_eq!((e.code.as_str(), e.message.as_str()), ("InvalidParameterValue", "Value (40000) for parameter SessionNumber is invalid: must be 1-32766"));
    let e = h.run(session(1)).unwrap_err();
    assert_eq!(e.code, "InvalidParameterCombination");
    assert!(e.message.starts_with("Value (1) for parameter SessionNumber is invalid: session \"tms-web\""), "{e}");
    assert!(!e.message.contains("tms-0"), "no id made up for the refused request: {e}");
    h.run(session(2)).unwrap();
    h.run(session(3)).unwrap();
    let e = h.run(session(4)).unwrap_err();
    assert_eq!(e.code, "TrafficMirrorSessionsPerInterfaceLimitExceeded", "{e}");
    let e = h.run(CreateTrafficMirrorSession { virtual_network_id: Some(1 << 24), ..session(5) }).unwrap_err();
    assert!(e.message.contains("for parameter VirtualNetworkId"), "{e}");
}

#[test]
fn targets_take_exactly_one_destination_of_the_inventory() {
    let mut h = TestHost::lab();
    let t = h.run(CreateTrafficMirrorTarget { network_interface_id: Some("eni-ids".into()), description: Some("IDS".into()), ..Default::default() }).unwrap();
    assert_eq!(t.traffic_mirror_target.kind, Some(crate::config::TargetType::NetworkInterface));
    assert_eq!(code(h.run(CreateTrafficMirrorTarget::default())), "InvalidParameterCombination");
    let both = CreateTrafficMirrorTarget { network_interface_id: Some("eni-ids".into()), gateway_load_balancer_endpoint_id: Some("vpce-1".into()), ..Default::default() };
    assert_eq!(code(h.run(both)), "InvalidParameterCombination");
    assert_eq!(code(h.run(CreateTrafficMirrorTarget { network_interface_id: Some("eni-x".into()), ..Default::default() })), "InvalidNetworkInterfaceID.NotFound");
    assert_eq!(code(h.run(CreateTrafficMirrorTarget { network_load_balancer_arn: Some("arn:x".into()), ..Default::default() })), "InvalidLoadBalancerArn.NotFound");
    let lb = h.run(CreateLoadBalancer { port: "mirror".into(), addresses: vec!["192.0.2.20".parse().unwrap(), "192.0.2.21".parse().unwrap()], next_hop_mac: Some("02:00:00:00:00:20".parse().unwrap()), ..Default::default() }).unwrap();
    let arn = lb.load_balancer.load_balancer_arn;
    assert!(arn.starts_with("arn:aws:elasticloadbalancing:local:000000000000:loadbalancer/net/"), "{arn}");
    let t = h.run(CreateTrafficMirrorTarget { network_load_balancer_arn: Some(arn.clone()), ..Default::default() }).unwrap();
    assert_eq!(t.traffic_mirror_target.network_load_balancer_arn.as_deref(), Some(arn.as_str()));
    let e = h.run(CreateGatewayLoadBalancerEndpoint { port: "mirror".into(), ip_address: Some("192.0.2.30".parse().unwrap()), ..Default::default() }).unwrap();
    let vpce = e.gateway_load_balancer_endpoint.gateway_load_balancer_endpoint_id;
    assert!(vpce.starts_with("vpce-"));
    h.run(CreateTrafficMirrorTarget { gateway_load_balancer_endpoint_id: Some(vpce.clone()), ..Default::default() }).expect("an endpoint target, found by ARP on the mirror port");
    assert_eq!(code(h.run(DeleteLoadBalancer { load_balancer_arn: arn, dry_run: false })), "DependencyViolation");
    assert_eq!(code(h.run(DeleteTrafficMirrorTarget { traffic_mirror_target_id: "tmt-ids".into(), dry_run: false })), "DependencyViolation");
    assert_eq!(code(h.run(DeleteNetworkInterface { network_interface_id: "eni-web".into(), dry_run: false })), "DependencyViolation");
}

#[test]
fn a_collector_needs_a_way_to_be_reached() {
    let mut h = TestHost::lab();
    // On a linked port, with no MAC: ARP does not run there.
    h.run(CreateNetworkInterface { network_interface_id: Some("eni-far".into()), port: "host".into(), private_ip_address: Some("10.9.9.9".parse().unwrap()), ..Default::default() }).unwrap();
    let e = h.run(CreateTrafficMirrorTarget { network_interface_id: Some("eni-far".into()), ..Default::default() }).unwrap_err();
    assert_eq!(e.code, "InvalidParameterCombination");
    assert!(e.message.contains("for parameter NetworkInterfaceId") && e.message.contains("ARP and Neighbor Discovery run only on mirror ports"), "{e}");
}

#[test]
fn rules_are_numbered_per_direction_and_move_between_directions() {
    let mut h = TestHost::lab();
    let rule = |n: u32| CreateTrafficMirrorFilterRule {
        traffic_mirror_filter_id: "tmf-all".into(),
        traffic_direction: Direction::Ingress,
        rule_number: n,
        rule_action: RuleAction::Reject,
        protocol: Some(6),
        destination_port_range: Some(PortRangeRequest { from_port: Some(22), to_port: Some(22) }),
        source_cidr_block: "0.0.0.0/0".parse().unwrap(),
        destination_cidr_block: "10.0.0.0/8".parse().unwrap(),
        ..Default::default()
    };
    let r = h.run(rule(50)).unwrap().traffic_mirror_filter_rule;
    let id = r.traffic_mirror_filter_rule_id.clone().unwrap();
    assert!(id.starts_with("tmfr-"));
    assert_eq!(code(h.run(rule(100))), "TrafficMirrorFilterRuleAlreadyExists");
    let moved = h
        .run(ModifyTrafficMirrorFilterRule { traffic_mirror_filter_rule_id: id.clone(), traffic_direction: Some(Direction::Egress), rule_number: Some(100), ..Default::default() })
        .unwrap();
    assert_eq!(moved.traffic_mirror_filter_rule.traffic_direction, Direction::Egress);
    assert_eq!((h.cfg().filters.first().unwrap().ingress_rules.len(), h.cfg().filters.first().unwrap().egress_rules.len()), (1, 1));
    // Removing the protocol would leave a port range on any protocol.
    let e = h.run(ModifyTrafficMirrorFilterRule { traffic_mirror_filter_rule_id: id.clone(), remove_fields: vec![RuleField::Protocol], ..Default::default() }).unwrap_err();
    assert_eq!(e.code, "InvalidParameterCombination");
    assert!(e.message.contains("DestinationPortRange"), "{e}");
    let half = ModifyTrafficMirrorFilterRule { traffic_mirror_filter_rule_id: id.clone(), source_port_range: Some(PortRangeRequest { from_port: Some(1), to_port: None }), ..Default::default() };
    assert_eq!(h.run(half).unwrap_err().message, "The request must contain the parameter SourcePortRange.ToPort");
    h.run(DeleteTrafficMirrorFilterRule { traffic_mirror_filter_rule_id: id, dry_run: false }).unwrap();
    assert!(h.cfg().filters.first().unwrap().egress_rules.is_empty());
}

#[test]
fn describe_filters_tags_pages_and_rules() {
    let mut h = TestHost::lab();
    for n in 2..=3 {
        h.run(CreateTrafficMirrorSession { tag_specifications: tagged("traffic-mirror-session", "team", if n == 2 { "ids" } else { "web" }), ..session(n) }).unwrap();
    }
    let by = |name: &str, v: &str| vec![Filter { name: name.into(), values: vec![v.into()] }];
    let r = h.run(DescribeTrafficMirrorSessions { filters: by("tag:team", "ids"), ..Default::default() }).unwrap();
    assert_eq!(r.traffic_mirror_sessions.len(), 1);
    let r = h.run(DescribeTrafficMirrorSessions { filters: by("session-number", "1"), ..Default::default() }).unwrap();
    assert_eq!(r.traffic_mirror_sessions[0].traffic_mirror_session_id, "tms-web");
    assert_eq!(h.run(DescribeTrafficMirrorSessions { filters: by("owner-id", "000000000000"), ..Default::default() }).unwrap().traffic_mirror_sessions.len(), 3);
    assert_eq!(h.run(DescribeTrafficMirrorSessions { filters: by("owner-id", "111122223333"), ..Default::default() }).unwrap().traffic_mirror_sessions.len(), 0);
    let page = h.run(DescribeTrafficMirrorSessions { max_results: Some(5), ..Default::default() }).unwrap();
    assert!(page.next_token.is_none(), "all fit");
    assert_eq!(code(h.run(DescribeTrafficMirrorSessions { max_results: Some(2), ..Default::default() })), "InvalidParameterValue");
    let rules = h.run(DescribeTrafficMirrorFilterRules { traffic_mirror_filter_id: Some("tmf-all".into()), ..Default::default() }).unwrap();
    assert_eq!(rules.traffic_mirror_filter_rules.len(), 1);
    assert_eq!(rules.traffic_mirror_filter_rules[0].traffic_direction, Direction::Ingress);
    let rules = h.run(DescribeTrafficMirrorFilterRules { filters: by("traffic-direction", "egress"), ..Default::default() }).unwrap();
    assert!(rules.traffic_mirror_filter_rules.is_empty());
}

#[test]
fn describe_shows_each_rules_hits() {
    let mut h = TestHost::lab();
    let id = h.cfg().filters.first().unwrap().ingress_rules[0].id.clone().unwrap();
    h.hits.add("tmf-all", &id, Direction::Ingress, 42);
    h.hits.add("tmf-all", &id, Direction::Egress, 5);
    let rules = h.run(DescribeTrafficMirrorFilterRules::default()).unwrap();
    assert_eq!(rules.traffic_mirror_filter_rules[0].hit_count, Some(42), "the rule's own direction");
    let filters = h.run(DescribeTrafficMirrorFilters::default()).unwrap();
    assert_eq!(filters.traffic_mirror_filters[0].ingress_filter_rules[0].hit_count, Some(42));
    let created = h
        .run(CreateTrafficMirrorFilterRule {
            traffic_mirror_filter_id: "tmf-all".into(),
            traffic_direction: Direction::Egress,
            rule_number: 1,
            rule_action: RuleAction::Reject,
            source_cidr_block: "0.0.0.0/0".parse().unwrap(),
            destination_cidr_block: "0.0.0.0/0".parse().unwrap(),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(created.traffic_mirror_filter_rule.hit_count, None, "only describe counts");
    let json = h.json(json!({"Action": "DescribeTrafficMirrorFilterRules", "TrafficMirrorFilterId": "tmf-all"})).unwrap();
    let counts: Vec<u64> = json["TrafficMirrorFilterRules"].as_array().unwrap().iter().map(|r| r["HitCount"].as_u64().unwrap()).collect();
    assert_eq!(counts.len(), 2);
    assert!(counts.contains(&42) && counts.contains(&0), "{json}");
}

#[test]
fn json_requests_decode_strictly_before_anything_runs() {
    let mut h = TestHost::lab();
    let e = h.json(json!({"Action": "CreateTrafficMirrorSession", "NetworkInterfaceId": "eni-web", "TrafficMirrorTargetId": "tmt-ids",
                          "TrafficMirrorFilterId": "tmf-all", "SessionNumber": 2, "Dryrun": true}))
        .unwrap_err();
    assert_eq!((e.code.as_str(), e.message.as_str()), ("UnknownParameter", "The parameter Dryrun is not recognized"));
    assert_eq!(h.cfg().sessions.len(), 1, "a misspelt DryRun changes nothing");
    assert_eq!(h.json(json!({"Action": "LaunchRockets"})).unwrap_err().code, "InvalidAction");
    assert_eq!(h.json(json!({"SessionNumber": 1})).unwrap_err().code, "MissingAction");
    let ok = h
        .json(json!({"Action": "ModifyTrafficMirrorSession", "TrafficMirrorSessionId": "tms-web", "RemoveFields": ["virtual-network-id"], "PacketLength": 64}))
        .unwrap();
    assert_eq!(ok["TrafficMirrorSession"]["PacketLength"], 64);
    assert!(ok["TrafficMirrorSession"]["VirtualNetworkId"].is_u64(), "a removed VNI is assigned anew");
    let e = h.json(json!({"Action": "ModifyTrafficMirrorSession", "TrafficMirrorSessionId": "tms-web", "RemoveFields": ["colour"]})).unwrap_err();
    assert!(e.message.starts_with("Value (colour) for parameter RemoveFields.1 is invalid: valid values are packet-length, description, virtual-network-id"), "{e}");
}

#[test]
fn a_target_sets_its_outer_ttl_and_df_and_describe_shows_them() {
    let mut h = TestHost::lab();
    let t = h.run(CreateTrafficMirrorTarget { network_interface_id: Some("eni-ids".into()), ttl: Some(64), dont_fragment: Some(true), ..Default::default() }).unwrap();
    assert_eq!((t.traffic_mirror_target.ttl, t.traffic_mirror_target.dont_fragment), (Some(64), Some(true)));
    let id = t.traffic_mirror_target.traffic_mirror_target_id;
    let d = h.run(DescribeTrafficMirrorTargets { traffic_mirror_target_ids: vec![id], ..Default::default() }).unwrap();
    assert_eq!((d.traffic_mirror_targets[0].ttl, d.traffic_mirror_targets[0].dont_fragment), (Some(64), Some(true)));
    let defaults = h.run(DescribeTrafficMirrorTargets { traffic_mirror_target_ids: vec!["tmt-ids".into()], ..Default::default() }).unwrap();
    assert_eq!((defaults.traffic_mirror_targets[0].ttl, defaults.traffic_mirror_targets[0].dont_fragment), (Some(255), Some(false)), "AWS's");
    let e = h.run(CreateTrafficMirrorTarget { network_interface_id: Some("eni-ids".into()), ttl: Some(0), ..Default::default() }).unwrap_err();
    assert_eq!((e.code.as_str(), e.message.as_str()), ("InvalidParameterValue", "Value (0) for parameter Ttl is invalid: must be 1-255"));
    let e = h.json(json!({"Action": "CreateTrafficMirrorTarget", "NetworkInterfaceId": "eni-ids", "Ttl": 300})).unwrap_err();
    assert_eq!(e.message, "Value (300) for parameter Ttl is invalid: expected an integer 0-255");
    let e = h.json(json!({"Action": "CreateTrafficMirrorTarget", "NetworkInterfaceId": "eni-ids", "DontFragment": "sometimes"})).unwrap_err();
    assert!(e.message.starts_with("Value (sometimes) for parameter DontFragment is invalid"), "{e}");
}

/// The lab with an IPv6 address on the mirror port.
fn ipv6_lab() -> TestHost {
    TestHost::new(&super::testing::LAB.replace("ipv4 = \"192.0.2.1\"\n", "ipv4 = \"192.0.2.1\"\nipv6 = \"2001:db8:0:2::1\"\n"))
}

#[test]
fn ipv6_collectors_network_interfaces_load_balancers_and_endpoints() {
    let mut h = ipv6_lab();
    let six = |s: &str| s.parse::<std::net::Ipv6Addr>().unwrap();
    let n = h
        .run(CreateNetworkInterface {
            network_interface_id: Some("eni-ids6".into()),
            port: "mirror".into(),
            ipv6_addresses: vec![crate::api::ec2::InstanceIpv6Address { ipv6_address: Some(six("2001:db8:0:2::10")) }],
            ..Default::default()
        })
        .unwrap();
    assert_eq!(n.network_interface.ipv6_address, Some(six("2001:db8:0:2::10")));
    assert_eq!(n.network_interface.ipv6_addresses[0].ipv6_address, six("2001:db8:0:2::10"));
    assert_eq!(h.cfg().network_interfaces.iter().nth(2).unwrap().ipv6, Some(six("2001:db8:0:2::10")));
    let by = |v: &str| vec![Filter { name: "ipv6-addresses.ipv6-address".into(), values: vec![v.into()] }];
    let found = h.run(DescribeNetworkInterfaces { filters: by("2001:db8:0:2::10"), ..Default::default() }).unwrap();
    assert_eq!(found.network_interfaces.len(), 1);
    // Found by Neighbor Discovery from the port's IPv6 address; the source has no IPv6
    // address, so its copies leave from the port's.
    let t = h.run(CreateTrafficMirrorTarget { network_interface_id: Some("eni-ids6".into()), ..Default::default() }).unwrap();
    h.run(CreateTrafficMirrorSession { traffic_mirror_target_id: t.traffic_mirror_target.traffic_mirror_target_id, ..session(2) }).unwrap();

    let lb = h.run(CreateLoadBalancer { port: "mirror".into(), addresses: vec!["192.0.2.20".parse().unwrap(), "2001:db8:0:2::21".parse().unwrap()], ..Default::default() }).unwrap();
    assert_eq!(lb.load_balancer.addresses[1], "2001:db8:0:2::21".parse::<std::net::IpAddr>().unwrap());
    h.run(CreateTrafficMirrorTarget { network_load_balancer_arn: Some(lb.load_balancer.load_balancer_arn), ..Default::default() }).unwrap();

    let e = h.run(CreateGatewayLoadBalancerEndpoint { port: "mirror".into(), ip_address: Some("2001:db8:0:2::30".parse().unwrap()), ..Default::default() }).unwrap();
    let vpce = e.gateway_load_balancer_endpoint;
    assert_eq!(vpce.ip_address, "2001:db8:0:2::30".parse::<std::net::IpAddr>().unwrap());
    let stored = h.cfg().gateway_load_balancer_endpoints.iter().find(|x| x.id == vpce.gateway_load_balancer_endpoint_id).unwrap();
    assert_eq!((stored.ipv4, stored.ipv6), (None, Some(six("2001:db8:0:2::30"))));
    h.run(CreateTrafficMirrorTarget { gateway_load_balancer_endpoint_id: Some(vpce.gateway_load_balancer_endpoint_id), ..Default::default() }).unwrap();

    // One IPv6 address per network interface here.
    let two = ["2001:db8::1", "2001:db8::2"].map(|a| crate::api::ec2::InstanceIpv6Address { ipv6_address: Some(six(a)) });
    let e = h.run(CreateNetworkInterface { port: "mirror".into(), ipv6_addresses: two.to_vec(), ..Default::default() }).unwrap_err();
    assert_eq!(e.message, "Value (2001:db8::1, 2001:db8::2) for parameter Ipv6Addresses is invalid: a network interface here has at most one IPv6 address");
}

#[test]
fn an_ipv6_collector_is_refused_without_the_mirror_ports_ipv6() {
    let mut h = TestHost::lab();
    let addr = crate::api::ec2::InstanceIpv6Address { ipv6_address: Some("2001:db8:0:2::10".parse().unwrap()) };
    h.run(CreateNetworkInterface { network_interface_id: Some("eni-ids6".into()), port: "mirror".into(), ipv6_addresses: vec![addr], ..Default::default() }).unwrap();
    let e = h.run(CreateTrafficMirrorTarget { network_interface_id: Some("eni-ids6".into()), ..Default::default() }).unwrap_err();
    assert_eq!(e.code, "InvalidParameterCombination");
    assert!(e.message.contains("for parameter NetworkInterfaceId") && e.message.contains("Neighbor Discovery needs an IPv6 address on port \"mirror\""), "{e}");
    let e = h.json(json!({"Action": "CreateNetworkInterface", "Port": "mirror", "Ipv6Addresses": [{"Ipv6Address": "10.0.0.1"}]})).unwrap_err();
    assert!(e.message.starts_with("Value (10.0.0.1) for parameter Ipv6Addresses.1.Ipv6Address is invalid"), "{e}");
}
