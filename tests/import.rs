//! Issues 4 and 17: `import-aws` turns `aws ec2 describe-traffic-mirror-*` output (in the
//! shapes AWS documents: targets of all three kinds, filters, filter rules, sessions, with
//! their tags and owner) into a configuration that validates and mirrors as the AWS rules say.

use control::config::Config;
use e2e::config::{Port, Setup};
use e2e::expect::{check_capture, copies, tshark_check, Input};
use e2e::traffic::{mixed, Frame, Side};
use e2e::{assert_same_frames, read_pcap, require_root, Lab};
use std::process::Command;
use std::time::Duration;

const TARGETS: &str = r#"{
    "TrafficMirrorTargets": [
        {
            "TrafficMirrorTargetId": "tmt-07f75d8feeEXAMPLE",
            "NetworkInterfaceId": "eni-0a9f2ed5e0EXAMPLE",
            "Type": "network-interface",
            "Description": "Suricata",
            "OwnerId": "111122223333",
            "Tags": []
        },
        {
            "TrafficMirrorTargetId": "tmt-0dabe9b0a6EXAMPLE",
            "NetworkLoadBalancerArn": "arn:aws:elasticloadbalancing:us-east-1:111122223333:loadbalancer/net/NLB/7cdec873EXAMPLE",
            "Type": "network-load-balancer",
            "Description": "Example Network Load Balancer target",
            "OwnerId": "111122223333",
            "Tags": [{"Key": "Name", "Value": "nlb"}]
        },
        {
            "TrafficMirrorTargetId": "tmt-0e7e1ef8f1EXAMPLE",
            "GatewayLoadBalancerEndpointId": "vpce-0e7e1ef8f1EXAMPLE",
            "Type": "gateway-load-balancer-endpoint",
            "Description": "Example Gateway Load Balancer Endpoint target",
            "OwnerId": "111122223333",
            "Tags": []
        }
    ]
}"#;

/// `aws ec2 describe-traffic-mirror-filter-rules` output, one page of several.
const RULES: &str = r#"{
    "TrafficMirrorFilterRules": [
        {
            "TrafficMirrorFilterRuleId": "tmfr-0ca76e0e0bEXAMPLE",
            "TrafficMirrorFilterId": "tmf-0293f26e86EXAMPLE",
            "TrafficDirection": "egress",
            "RuleNumber": 150,
            "RuleAction": "reject",
            "Protocol": 17,
            "DestinationCidrBlock": "0.0.0.0/0",
            "SourceCidrBlock": "0.0.0.0/0",
            "Description": "no UDP",
            "Tags": [{"Key": "why", "Value": "noise"}]
        },
        {
            "TrafficMirrorFilterRuleId": "tmfr-0ca76e0e0aEXAMPLE",
            "TrafficMirrorFilterId": "tmf-0293f26e86EXAMPLE",
            "TrafficDirection": "egress",
            "RuleNumber": 100,
            "RuleAction": "reject",
            "Protocol": 6,
            "DestinationPortRange": {"FromPort": 22, "ToPort": 22},
            "DestinationCidrBlock": "0.0.0.0/0",
            "SourceCidrBlock": "0.0.0.0/0",
            "Description": "no SSH"
        }
    ],
    "NextToken": "eyJ2IjoiMiJ9"
}"#;

const FILTERS: &str = r#"{
    "TrafficMirrorFilters": [
        {
            "TrafficMirrorFilterId": "tmf-0293f26e86EXAMPLE",
            "IngressFilterRules": [
                {
                    "TrafficMirrorFilterRuleId": "tmfr-0ca76e0e08EXAMPLE",
                    "TrafficMirrorFilterId": "tmf-0293f26e86EXAMPLE",
                    "TrafficDirection": "ingress",
                    "RuleNumber": 100,
                    "RuleAction": "accept",
                    "Protocol": 6,
                    "DestinationCidrBlock": "10.0.0.0/24",
                    "SourceCidrBlock": "0.0.0.0/0",
                    "Description": "TCP to the web servers"
                }
            ],
            "EgressFilterRules": [
                {
                    "TrafficMirrorFilterRuleId": "tmfr-0ca76e0e09EXAMPLE",
                    "TrafficMirrorFilterId": "tmf-0293f26e86EXAMPLE",
                    "TrafficDirection": "egress",
                    "RuleNumber": 200,
                    "RuleAction": "accept",
                    "Protocol": 6,
                    "DestinationCidrBlock": "0.0.0.0/0",
                    "SourceCidrBlock": "0.0.0.0/0"
                },
                {
                    "TrafficMirrorFilterRuleId": "tmfr-0ca76e0e0aEXAMPLE",
                    "TrafficMirrorFilterId": "tmf-0293f26e86EXAMPLE",
                    "TrafficDirection": "egress",
                    "RuleNumber": 100,
                    "RuleAction": "reject",
                    "Protocol": 6,
                    "DestinationPortRange": {"FromPort": 22, "ToPort": 22},
                    "DestinationCidrBlock": "0.0.0.0/0",
                    "SourceCidrBlock": "0.0.0.0/0",
                    "Description": "no SSH"
                }
            ],
            "NetworkServices": [],
            "Description": "Example filter",
            "Tags": []
        },
        {
            "TrafficMirrorFilterId": "tmf-0fbe4b6ff1EXAMPLE",
            "IngressFilterRules": [
                {
                    "TrafficMirrorFilterRuleId": "tmfr-0fb51fbd3aEXAMPLE",
                    "TrafficMirrorFilterId": "tmf-0fbe4b6ff1EXAMPLE",
                    "TrafficDirection": "ingress",
                    "RuleNumber": 10,
                    "RuleAction": "accept",
                    "DestinationCidrBlock": "::/0",
                    "SourceCidrBlock": "::/0"
                }
            ],
            "EgressFilterRules": [
                {
                    "TrafficMirrorFilterRuleId": "tmfr-0fb51fbd3bEXAMPLE",
                    "TrafficMirrorFilterId": "tmf-0fbe4b6ff1EXAMPLE",
                    "TrafficDirection": "egress",
                    "RuleNumber": 10,
                    "RuleAction": "accept",
                    "Protocol": 17,
                    "SourcePortRange": {"FromPort": 1024, "ToPort": 65535},
                    "DestinationCidrBlock": "0.0.0.0/0",
                    "SourceCidrBlock": "0.0.0.0/0"
                }
            ],
            "NetworkServices": ["amazon-dns"],
            "Description": "UDP out and IPv6 in",
            "Tags": []
        },
        {
            "TrafficMirrorFilterId": "tmf-0a11a11a11EXAMPLE",
            "IngressFilterRules": [],
            "EgressFilterRules": [
                {
                    "TrafficMirrorFilterRuleId": "tmfr-0a11a11a11EXAMPLE",
                    "TrafficMirrorFilterId": "tmf-0a11a11a11EXAMPLE",
                    "TrafficDirection": "egress",
                    "RuleNumber": 1,
                    "RuleAction": "accept",
                    "DestinationCidrBlock": "0.0.0.0/0",
                    "SourceCidrBlock": "0.0.0.0/0"
                }
            ],
            "NetworkServices": [],
            "Description": "the rest of IPv4 out",
            "Tags": []
        }
    ]
}"#;

const SESSIONS: &str = r#"{
    "TrafficMirrorSessions": [
        {
            "TrafficMirrorSessionId": "tms-0a45c7bd8e1d6a7c4",
            "TrafficMirrorTargetId": "tmt-07f75d8feeEXAMPLE",
            "TrafficMirrorFilterId": "tmf-0293f26e86EXAMPLE",
            "NetworkInterfaceId": "eni-070203f901EXAMPLE",
            "OwnerId": "111122223333",
            "PacketLength": 128,
            "SessionNumber": 1,
            "VirtualNetworkId": 7159709,
            "Description": "web TCP",
            "Tags": []
        },
        {
            "TrafficMirrorSessionId": "tms-0b45c7bd8e1d6a7c5",
            "TrafficMirrorTargetId": "tmt-0dabe9b0a6EXAMPLE",
            "TrafficMirrorFilterId": "tmf-0fbe4b6ff1EXAMPLE",
            "NetworkInterfaceId": "eni-070203f901EXAMPLE",
            "OwnerId": "111122223333",
            "SessionNumber": 2,
            "VirtualNetworkId": 13314,
            "Tags": []
        },
        {
            "TrafficMirrorSessionId": "tms-0c45c7bd8e1d6a7c6",
            "TrafficMirrorTargetId": "tmt-07f75d8feeEXAMPLE",
            "TrafficMirrorFilterId": "tmf-0fbe4b6ff1EXAMPLE",
            "NetworkInterfaceId": "eni-080203f901EXAMPLE",
            "OwnerId": "111122223333",
            "SessionNumber": 1,
            "VirtualNetworkId": 99,
            "Tags": [{"Key": "team", "Value": "db"}]
        },
        {
            "TrafficMirrorSessionId": "tms-0d45c7bd8e1d6a7c7",
            "TrafficMirrorTargetId": "tmt-0e7e1ef8f1EXAMPLE",
            "TrafficMirrorFilterId": "tmf-0a11a11a11EXAMPLE",
            "NetworkInterfaceId": "eni-070203f901EXAMPLE",
            "OwnerId": "111122223333",
            "SessionNumber": 3,
            "VirtualNetworkId": 42,
            "Tags": []
        }
    ]
}"#;

/// `aws ec2 describe-network-interfaces` for the two monitored hosts and the IDS.
const ENIS: &str = r#"{
    "NetworkInterfaces": [
        {"NetworkInterfaceId": "eni-070203f901EXAMPLE", "MacAddress": "02:00:00:00:00:01", "PrivateIpAddress": "10.0.0.5", "Description": "web", "Status": "in-use"},
        {"NetworkInterfaceId": "eni-080203f901EXAMPLE", "MacAddress": "02:00:00:00:00:02", "PrivateIpAddress": "10.0.0.6", "Status": "in-use"},
        {"NetworkInterfaceId": "eni-0a9f2ed5e0EXAMPLE", "MacAddress": "02:00:00:00:00:20", "PrivateIpAddress": "192.0.2.10", "Status": "in-use"}
    ]
}"#;

/// What `--base` gives the import: the ports and their link.
fn base() -> Setup {
    Setup::lab()
        .port(Port::pcap("host").rx("{lab}/host.pcap").tx("{lab}/out/host.pcap"))
        .port(Port::pcap("uplink").rx("{lab}/uplink.pcap").tx("{lab}/out/uplink.pcap"))
        .port(Port::pcap("mirror").tx("{lab}/out/mirror.pcap").mac("02:00:00:00:00:10"))
        .link("host", "uplink")
}

fn import(lab: &Lab, extra: &[&str]) -> std::process::Output {
    for (name, text) in [("targets.json", TARGETS), ("filters.json", FILTERS), ("rules.json", RULES), ("sessions.json", SESSIONS), ("enis.json", ENIS)] {
        std::fs::write(lab.path(name), text).unwrap();
    }
    let base = lab.config(&base().toml());
    std::fs::rename(&base, lab.path("base.toml")).unwrap();
    Command::new(e2e::binary())
        .arg("import-aws")
        .args(["targets.json", "filters.json", "rules.json", "sessions.json", "enis.json"].map(|f| lab.path(f)))
        .arg("--base")
        .arg(lab.path("base.toml"))
        .args(extra)
        .output()
        .unwrap()
}

#[test]
fn import_aws_mirrors_as_the_aws_rules_say() {
    require_root();
    let lab = Lab::new("import");
    let out = import(&lab, &["--target-address", "tmt-0dabe9b0a6EXAMPLE=192.0.2.20,192.0.2.21", "--target-address", "tmt-0e7e1ef8f1EXAMPLE=192.0.2.30", "--next-hop-mac", "02:00:00:00:00:21"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("rules.json holds one page of AWS's answer (it has a NextToken)"), "{err}");
    let text = String::from_utf8(out.stdout).unwrap();
    for id in ["tms-0a45c7bd8e1d6a7c4", "tmt-0dabe9b0a6EXAMPLE", "tmf-0fbe4b6ff1EXAMPLE", "tmfr-0ca76e0e0aEXAMPLE", "tmfr-0ca76e0e0bEXAMPLE", "eni-080203f901EXAMPLE", "vpce-0e7e1ef8f1EXAMPLE", "amazon-dns"] {
        assert!(text.contains(id), "{id} kept:\n{text}");
    }
    let path = lab.config(&text);
    let cfg = Config::load(&path).expect("the imported configuration validates");
    assert_eq!(cfg.vpc.owner_id, "111122223333", "the owner is kept");
    let web = cfg.network_interfaces.iter().find(|s| s.id == "eni-070203f901EXAMPLE").unwrap();
    assert_eq!((web.port.as_str(), web.mac.unwrap().to_string().as_str(), web.ipv4.unwrap().to_string().as_str()), ("host", "02:00:00:00:00:01", "10.0.0.5"));
    let ids = cfg.network_interfaces.iter().find(|s| s.id == "eni-0a9f2ed5e0EXAMPLE").unwrap();
    assert_eq!(ids.ipv4.unwrap().to_string(), "192.0.2.10", "the ENI target's address comes from describe-network-interfaces");
    assert_eq!(ids.next_hop_mac.unwrap().to_string(), "02:00:00:00:00:20", "its own MAC, known: --next-hop-mac is for the others");
    assert_eq!(cfg.load_balancers.first().unwrap().next_hop_mac.unwrap().to_string(), "02:00:00:00:00:21");
    assert_eq!(cfg.gateway_load_balancer_endpoints.first().unwrap().ipv4.unwrap().to_string(), "192.0.2.30");
    let nlb = cfg.targets.iter().find(|t| t.id == "tmt-0dabe9b0a6EXAMPLE").unwrap();
    assert_eq!(nlb.tags.get("Name").map(String::as_str), Some("nlb"), "tags are kept");
    let f = cfg.filters.iter().find(|f| f.id == "tmf-0293f26e86EXAMPLE").unwrap();
    assert_eq!(f.egress_rules.iter().map(|r| r.rule_number).collect::<Vec<_>>(), vec![100, 150, 200], "describe-traffic-mirror-filter-rules added rule 150 once");
    assert_eq!(cfg.sessions.iter().find(|s| s.id == "tms-0c45c7bd8e1d6a7c6").unwrap().tags["team"], "db");

    // It mirrors as the AWS rules say: the same model and checks as the mirroring tests.
    let host: Vec<Frame> = mixed(101, 5000, Side::Host);
    let uplink: Vec<Frame> = mixed(102, 5000, Side::Uplink);
    lab.write_pcap("host.pcap", host.iter().map(|f| f.bytes.as_slice()));
    lab.write_pcap("uplink.pcap", uplink.iter().map(|f| f.bytes.as_slice()));
    let run = lab.run(&path, Duration::from_secs(60));
    run.assert_ok();
    assert_same_frames("uplink output", &read_pcap(&lab.path("out/uplink.pcap")), &host.iter().map(|f| f.bytes.clone()).collect::<Vec<_>>());
    let (want, totals) = copies(&cfg, &[Input { port: "host", frames: &host }, Input { port: "uplink", frames: &uplink }]);
    let order = check_capture(&read_pcap(&lab.path("out/mirror.pcap")), &want);
    tshark_check(&lab.path("out/mirror.pcap"), &order);
    for s in &cfg.sessions {
        let n: u64 = totals.iter().filter(|((id, _), _)| id == &s.id).map(|(_, t)| t.0).sum();
        assert!(n > 20, "session {} mirrored {n}", s.id);
    }
    let nlb: std::collections::HashSet<_> = order.iter().filter(|c| c.session == "tms-0b45c7bd8e1d6a7c5").map(|c| c.dst_ips.clone()).collect();
    assert_eq!(nlb.len(), 1);
}

#[test]
fn import_aws_says_what_it_is_missing() {
    let lab = Lab::new("import-missing");
    let out = import(&lab, &[]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("target tmt-0dabe9b0a6EXAMPLE") && err.contains("--target-address tmt-0dabe9b0a6EXAMPLE=IP"), "{err}");
}
