//! Issue 18: the stock AWS CLI and boto3 drive a running appliance over HTTPS, signed with
//! SigV4, through the same actions as the socket: AWS's Getting-started sequence with the
//! CLI's output formats and --query, a paginator, ClientToken retries, tags and filters,
//! refused credentials, and copies on the mirror port that follow the sessions. A hostile
//! client of the EC2 API leaves the socket API and the metrics answering.

use control::api::Client;
use e2e::config::{Eni, Port, Setup};
use e2e::traffic::{tcp4, udp4, Frame};
use e2e::{require_root, Lab, Running};
use serde_json::{json, Value};
use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

const KEY: &str = "AKIDAPPLIANCETEST001";
const SECRET: &str = "a-long-and-random-secret-for-the-test";

fn venv(tool: &str) -> PathBuf {
    let path = e2e::workspace().join("out/venv/bin").join(tool);
    assert!(path.exists(), "{} is missing: run scripts/setup.sh (it installs the AWS CLI and boto3 into out/venv)", path.display());
    path
}

fn private(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
}

/// A running appliance with the EC2 API on HTTPS.
struct Appliance {
    lab: Lab,
    child: Option<Running>,
    url: String,
    cert: PathBuf,
    metrics: String,
}

impl Appliance {
    fn start(name: &str) -> Appliance {
        require_root();
        let lab = Lab::new(name);
        // One frame in ten is HTTPS (what the session mirrors), in sizes around the packet
        // lengths the test sets; the capture replays forever.
        let sizes = [60, 100, 200, 400, 1000];
        let frames: Vec<Frame> = (0..500u32).map(|i| if i % 10 == 0 { tcp4(i, 40000, 443, sizes[(i / 10) as usize % 5]) } else { udp4(i, 40000, 80, 128) }).collect();
        lab.write_pcap("in.pcap", frames.iter().map(|f| f.bytes.as_slice()));
        let (cert, key) = (lab.path("cert.pem"), lab.path("key.pem"));
        let out = Command::new("openssl")
            .args(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1", "-subj", "/CN=appliance"])
            .args(["-addext", "subjectAltName=IP:127.0.0.1", "-keyout"])
            .arg(&key)
            .arg("-out")
            .arg(&cert)
            .output()
            .expect("openssl: run scripts/setup.sh");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let creds = lab.path("credentials");
        private(&creds, &format!("[appliance]\naws_access_key_id = {KEY}\naws_secret_access_key = {SECRET}\n"));
        let api = control::query::ApiConfig { listen: "127.0.0.1:0".parse().unwrap(), credentials_file: creds, tls_cert: Some(cert.clone()), tls_key: Some(key) };
        let setup = Setup::lab()
            .with(|c| c.quotas.sessions_per_source = 40)
            .metrics()
            .with(|c| c.api = Some(api))
            .port(Port::pcap("host").rx("{lab}/in.pcap").infinite())
            .port(Port::null("uplink"))
            .port(Port::pcap("mirror").tx("{lab}/out/mirror.pcap").ipv4("192.0.2.1"))
            .link("host", "uplink")
            // What AWS keeps outside Traffic Mirroring: the ENIs.
            .eni(Eni::new("eni-web", "host"))
            .eni(Eni::collector("eni-ids", "mirror", "192.0.2.10").next_hop_mac("02:00:00:00:00:20"));
        let cfg = lab.config(&setup.toml());
        let mut child = lab.spawn(&cfg, &[]);
        let _ = lab.client(&mut child);
        let log = std::fs::read_to_string(lab.path("run.stderr")).unwrap();
        let after = |marker: &str| log.split(marker).nth(1).and_then(|r| r.split(|c: char| c.is_whitespace() || c == '/').next()).unwrap_or_else(|| panic!("{marker:?} in:\n{log}")).to_owned();
        let url = format!("https://{}", after("EC2 API on https://"));
        let metrics = after("Prometheus metrics on http://");
        Appliance { lab, child: Some(child), url, cert, metrics }
    }

    fn aws_with(&self, secret: &str, args: &[&str]) -> Output {
        let creds = self.lab.path(&format!("client-{}", secret.len()));
        private(&creds, &format!("[appliance]\naws_access_key_id = {KEY}\naws_secret_access_key = {secret}\n"));
        let mut cmd = Command::new(venv("aws"));
        for var in ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_CA_BUNDLE", "AWS_ENDPOINT_URL", "HTTPS_PROXY", "https_proxy"] {
            cmd.env_remove(var);
        }
        cmd.env("AWS_SHARED_CREDENTIALS_FILE", creds).env("AWS_CONFIG_FILE", "/dev/null").env("AWS_EC2_METADATA_DISABLED", "true");
        cmd.args(["--profile", "appliance", "--region", "us-east-1", "--endpoint-url", &self.url, "--ca-bundle"]).arg(&self.cert).arg("ec2").args(args);
        cmd.output().unwrap()
    }

    fn aws(&self, args: &[&str]) -> String {
        let out = self.aws_with(SECRET, args);
        assert!(out.status.success(), "aws ec2 {}: {}", args.join(" "), String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    }

    fn aws_json(&self, args: &[&str]) -> Value {
        let out = self.aws(&[args, &["--output", "json"]].concat());
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("aws ec2 {}: {e}: {out}", args.join(" ")))
    }

    fn client(&self) -> Client {
        Client::connect(&self.lab.socket()).unwrap()
    }

    fn session_counts(&self, id: &str) -> (u64, u64) {
        let r = self.client().call_value(&json!({"Action": "DescribeCounters"})).unwrap().unwrap();
        let s = r["sessions"].as_array().unwrap().iter().find(|s| s["id"] == id).cloned().unwrap_or(Value::Null);
        (s["egress"]["packets"].as_u64().unwrap_or(0), s["egress"]["bytes"].as_u64().unwrap_or(0))
    }

    fn mirror_tx(&self) -> u64 {
        let r = self.client().call_value(&json!({"Action": "DescribePorts"})).unwrap().unwrap();
        r["Ports"].as_array().unwrap().iter().find(|p| p["name"] == "mirror").unwrap()["tx_packets"].as_u64().unwrap()
    }

    fn stop(mut self) {
        let child = self.child.take().unwrap();
        // SAFETY: signalling our own child.
        unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
        self.lab.finish(child).assert_ok();
    }
}

fn until(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn the_aws_cli_runs_the_getting_started_sequence_and_the_copies_follow() {
    let a = Appliance::start("awscli");
    let team = "Tags=[{Key=team,Value=ids}]";
    // Getting started: target, filter, rule, session.
    let t = a.aws_json(&["create-traffic-mirror-target", "--network-interface-id", "eni-ids", "--description", "IDS", "--tag-specifications", &format!("ResourceType=traffic-mirror-target,{team}")]);
    let tmt = t["TrafficMirrorTarget"]["TrafficMirrorTargetId"].as_str().unwrap().to_owned();
    assert!(tmt.starts_with("tmt-"), "{t}");
    assert_eq!(t["TrafficMirrorTarget"]["Type"], "network-interface");
    assert!(t["ClientToken"].is_string(), "the CLI's own idempotency token comes back: {t}");
    let tmf = a.aws(&["create-traffic-mirror-filter", "--description", "web", "--query", "TrafficMirrorFilter.TrafficMirrorFilterId", "--output", "text"]).trim().to_owned();
    assert!(tmf.starts_with("tmf-"), "{tmf}");
    let r = a.aws_json(&["create-traffic-mirror-filter-rule", "--traffic-mirror-filter-id", &tmf, "--traffic-direction", "egress", "--rule-number", "100", "--rule-action", "accept",
        "--protocol", "6", "--destination-port-range", "FromPort=443,ToPort=443", "--source-cidr-block", "0.0.0.0/0", "--destination-cidr-block", "0.0.0.0/0"]);
    assert_eq!(r["TrafficMirrorFilterRule"]["DestinationPortRange"], json!({"FromPort": 443, "ToPort": 443}));
    let create = ["create-traffic-mirror-session", "--network-interface-id", "eni-web", "--traffic-mirror-target-id", &tmt, "--traffic-mirror-filter-id", &tmf,
        "--session-number", "1", "--packet-length", "200", "--virtual-network-id", "4242", "--client-token", "getting-started-1",
        "--tag-specifications", &format!("ResourceType=traffic-mirror-session,{team}")];
    let s = a.aws_json(&create);
    let tms = s["TrafficMirrorSession"]["TrafficMirrorSessionId"].as_str().unwrap().to_owned();
    // A retry with the same token is the same session.
    let again = a.aws_json(&create);
    assert_eq!(again["TrafficMirrorSession"]["TrafficMirrorSessionId"], tms.as_str());

    // Describe, in every output and through --query.
    let listed = a.aws_json(&["describe-traffic-mirror-sessions"]);
    assert_eq!(listed["TrafficMirrorSessions"].as_array().unwrap().len(), 1, "the retry made nothing");
    assert_eq!(listed["TrafficMirrorSessions"][0]["Tags"], json!([{"Key": "team", "Value": "ids"}]));
    let text = a.aws(&["describe-traffic-mirror-sessions", "--output", "text"]);
    assert!(text.starts_with("TRAFFICMIRRORSESSIONS\t") && text.contains(&tms) && text.contains("\t4242\n"), "{text}");
    let table = a.aws(&["describe-traffic-mirror-sessions", "--output", "table"]);
    assert!(table.contains("DescribeTrafficMirrorSessions") && table.contains(&tms), "{table}");
    let q = a.aws(&["describe-traffic-mirror-sessions", "--query", "TrafficMirrorSessions[0].VirtualNetworkId", "--output", "text"]);
    assert_eq!(q.trim(), "4242");
    let filters = a.aws_json(&["describe-traffic-mirror-filters", "--traffic-mirror-filter-ids", &tmf]);
    assert_eq!(filters["TrafficMirrorFilters"][0]["EgressFilterRules"][0]["RuleNumber"], 100);
    let tagged = a.aws_json(&["describe-traffic-mirror-targets", "--filters", "Name=tag:team,Values=ids"]);
    assert_eq!(tagged["TrafficMirrorTargets"].as_array().unwrap().len(), 1);
    let none = a.aws_json(&["describe-traffic-mirror-sessions", "--filters", "Name=tag:team,Values=web"]);
    assert_eq!(none["TrafficMirrorSessions"], json!([]));

    // The copies follow: they flow, shrink with the packet length, stop with the session.
    until("copies", || a.session_counts(&tms).0 > 2000);
    let c1 = a.session_counts(&tms);
    until("more copies", || a.session_counts(&tms).0 > c1.0 + 2000);
    let c2 = a.session_counts(&tms);
    assert!((c2.1 - c1.1) as f64 / (c2.0 - c1.0) as f64 > 100.0, "copies cut at 200 average more than 100 bytes");
    a.aws(&["modify-traffic-mirror-session", "--traffic-mirror-session-id", &tms, "--packet-length", "64"]);
    let m1 = a.session_counts(&tms);
    until("copies after the change", || a.session_counts(&tms).0 > m1.0 + 2000);
    let m2 = a.session_counts(&tms);
    assert!((m2.1 - m1.1) as f64 / (m2.0 - m1.0) as f64 <= 64.0, "copies are cut at 64 once the CLI said so");
    a.aws(&["delete-traffic-mirror-session", "--traffic-mirror-session-id", &tms]);
    let x = a.mirror_tx();
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(a.mirror_tx(), x, "no copy once the session is deleted");

    // Errors come back as EC2's, and refused credentials are refused.
    let out = a.aws_with(SECRET, &["delete-traffic-mirror-session", "--traffic-mirror-session-id", "tms-nope"]);
    assert_eq!(out.status.code(), Some(255), "the exit status of the CLI (v1, from PyPI) for a service error");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("An error occurred (InvalidTrafficMirrorSessionId.NotFound) when calling the DeleteTrafficMirrorSession operation"), "{err}");
    let out = a.aws_with("the-wrong-secret", &["describe-traffic-mirror-sessions"]);
    assert!(!out.status.success() && String::from_utf8_lossy(&out.stderr).contains("AuthFailure"), "{}", String::from_utf8_lossy(&out.stderr));
    let curl = Command::new("curl").args(["-s", "--cacert"]).arg(&a.cert).args(["-d", "Action=DescribeTrafficMirrorSessions&Version=2016-11-15", &a.url]).output().unwrap();
    let body = String::from_utf8_lossy(&curl.stdout);
    assert!(body.contains("<Code>MissingAuthenticationToken</Code>") || body.contains("<Code>AuthFailure</Code>"), "an unsigned request: {body}");
    a.stop();
}

#[test]
fn boto3_pages_through_25_sessions_five_at_a_time() {
    let a = Appliance::start("boto3");
    let tmt = a.aws_json(&["create-traffic-mirror-target", "--network-interface-id", "eni-ids"])["TrafficMirrorTarget"]["TrafficMirrorTargetId"].as_str().unwrap().to_owned();
    let tmf = a.aws_json(&["create-traffic-mirror-filter"])["TrafficMirrorFilter"]["TrafficMirrorFilterId"].as_str().unwrap().to_owned();
    let script = r#"
import boto3, json, sys, botocore.exceptions
url, ca, tmt, tmf = sys.argv[1:5]
ec2 = boto3.session.Session(profile_name="appliance", region_name="us-east-1").client("ec2", endpoint_url=url, verify=ca)
made = []
for n in range(1, 26):
    r = ec2.create_traffic_mirror_session(NetworkInterfaceId="eni-web", TrafficMirrorTargetId=tmt, TrafficMirrorFilterId=tmf, SessionNumber=n,
        TagSpecifications=[{"ResourceType": "traffic-mirror-session", "Tags": [{"Key": "n", "Value": str(n)}]}])
    made.append(r["TrafficMirrorSession"]["TrafficMirrorSessionId"])
pages = [p["TrafficMirrorSessions"] for p in ec2.get_paginator("describe_traffic_mirror_sessions").paginate(PaginationConfig={"PageSize": 5})]
try:
    ec2.delete_traffic_mirror_filter(TrafficMirrorFilterId=tmf)
    code = None
except botocore.exceptions.ClientError as e:
    code = e.response["Error"]["Code"]
print(json.dumps({"made": made, "pages": [[s["TrafficMirrorSessionId"] for s in p] for p in pages], "delete_in_use": code}))
"#;
    let creds = a.lab.path("client-boto");
    private(&creds, &format!("[appliance]\naws_access_key_id = {KEY}\naws_secret_access_key = {SECRET}\n"));
    let out = Command::new(venv("python"))
        .env("AWS_SHARED_CREDENTIALS_FILE", &creds)
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .arg("-c")
        .arg(script)
        .arg(&a.url)
        .arg(&a.cert)
        .args([&tmt, &tmf])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let pages = v["pages"].as_array().unwrap();
    assert_eq!(pages.len(), 5, "{v}");
    assert!(pages.iter().all(|p| p.as_array().unwrap().len() == 5), "{v}");
    let mut seen: Vec<&str> = pages.iter().flat_map(|p| p.as_array().unwrap().iter().map(|s| s.as_str().unwrap())).collect();
    let mut made: Vec<&str> = v["made"].as_array().unwrap().iter().map(|s| s.as_str().unwrap()).collect();
    seen.sort_unstable();
    made.sort_unstable();
    assert_eq!(seen, made, "every session once");
    assert_eq!(v["delete_in_use"], "DependencyViolation");
    // The CLI pages the same way: five requests of five.
    let out = a.aws_with(SECRET, &["describe-traffic-mirror-sessions", "--page-size", "5", "--debug"]);
    assert!(out.status.success());
    let debug = String::from_utf8_lossy(&out.stderr);
    let requests = debug.matches("Making request for OperationModel(name=DescribeTrafficMirrorSessions)").count();
    assert_eq!(requests, 5, "the CLI made {requests} requests");
    let listed: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(listed["TrafficMirrorSessions"].as_array().unwrap().len(), 25);
    a.stop();
}

#[test]
fn a_hostile_ec2_client_leaves_the_socket_api_and_metrics_answering() {
    let a = Appliance::start("awshostile");
    let addr = a.url.trim_start_matches("https://").to_owned();
    // Slow: a byte a second. Oversized: 100 MB announced. Many: more connections than the limit.
    let slow = {
        let addr = addr.clone();
        std::thread::spawn(move || {
            let mut s = std::net::TcpStream::connect(&addr).unwrap();
            for b in b"\x16\x03\x01\x00" {
                if s.write_all(&[*b]).is_err() {
                    return;
                }
                std::thread::sleep(Duration::from_secs(1));
            }
        })
    };
    let mut big = std::net::TcpStream::connect(&addr).unwrap();
    let _ = big.write_all(&vec![0x16; 1 << 20]);
    let many: Vec<std::net::TcpStream> = (0..200).filter_map(|_| std::net::TcpStream::connect(&addr).ok()).collect();
    for _ in 0..5 {
        let t = Instant::now();
        let r = a.client().call_value(&json!({"Action": "DescribeTrafficMirrorSessions"})).unwrap();
        assert!(r.is_ok() && t.elapsed() < Duration::from_secs(5), "the socket API took {:?}", t.elapsed());
        let t = Instant::now();
        let mut s = std::net::TcpStream::connect(&a.metrics).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
        write!(s, "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").unwrap();
        let mut body = String::new();
        s.read_to_string(&mut body).unwrap();
        assert!(body.starts_with("HTTP/1.1 200") && t.elapsed() < Duration::from_secs(5), "metrics took {:?}", t.elapsed());
    }
    // And a signed request still gets through.
    let t = Instant::now();
    a.aws(&["describe-traffic-mirror-sessions"]);
    assert!(t.elapsed() < Duration::from_secs(30), "the CLI took {:?}", t.elapsed());
    drop(many);
    drop(big);
    let _ = slow.join();
    a.stop();
}
