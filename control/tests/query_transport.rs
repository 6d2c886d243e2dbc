//! The EC2 Query transport against the stock clients: the real AWS CLI and boto3 (from the venv
//! `scripts/setup.sh` makes) talk to the transport, served in-process on loopback, with an
//! in-memory fake of the actions behind `Dispatch`. The fake exists only to exercise the
//! transport; the real actions are tested through the real binary.

use control::api::ApiError;
use control::query::{self, ApiConfig, Dispatch, Limits, QueryServer};
use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const KEY: &str = "AKIDAPPLIANCE0001";
const SECRET: &str = "appliance/secret+key=0001";
const OTHER_KEY: &str = "AKIDOPERATOR00002";
const OTHER_SECRET: &str = "operator-secret-0002";

// ---------------------------------------------------------------------------------------------
// The fake actions

/// The resources the fake keeps, by kind: targets, filters, sessions.
struct Kind {
    /// The resource's name in action names and in the singular output member.
    name: &'static str,
    prefix: &'static str,
}

const TARGET: Kind = Kind { name: "TrafficMirrorTarget", prefix: "tmt" };
const FILTER: Kind = Kind { name: "TrafficMirrorFilter", prefix: "tmf" };
const SESSION: Kind = Kind { name: "TrafficMirrorSession", prefix: "tms" };

#[derive(Default)]
struct State {
    next_id: u32,
    resources: Vec<(&'static str, Value)>,
    rules: Vec<Value>,
    /// Every call the transport made, in order.
    calls: Vec<(String, Value)>,
}

/// An in-memory stand-in for the appliance's actions, good enough to answer the stock clients.
#[derive(Default)]
struct Fake {
    state: Mutex<State>,
}

fn err(code: &str, message: impl Into<String>) -> ApiError {
    ApiError::new(code, message)
}

impl Fake {
    fn calls(&self, action: &str) -> Vec<Value> {
        self.state.lock().unwrap().calls.iter().filter(|(a, _)| a == action).map(|(_, v)| v.clone()).collect()
    }

    /// Adds a session directly, as if created earlier.
    fn add_session(&self, number: u32, tags: Value) -> String {
        let mut s = self.state.lock().unwrap();
        s.next_id += 1;
        let id = format!("tms-{:08x}", s.next_id);
        let session = json!({"TrafficMirrorSessionId": id, "NetworkInterfaceId": format!("eni-{number}"), "TrafficMirrorTargetId": "tmt-1",
                             "TrafficMirrorFilterId": "tmf-1", "SessionNumber": number, "VirtualNetworkId": number, "OwnerId": "123456789012", "Tags": tags});
        s.resources.push((SESSION.name, session));
        id
    }

    fn create(&self, kind: &Kind, input: &Value) -> Result<Value, ApiError> {
        let mut s = self.state.lock().unwrap();
        s.next_id += 1;
        let id = format!("{}-{:08x}", kind.prefix, s.next_id);
        let mut resource = serde_json::Map::new();
        for (k, v) in input.as_object().unwrap() {
            if !matches!(k.as_str(), "DryRun" | "ClientToken" | "TagSpecifications") {
                resource.insert(k.clone(), v.clone());
            }
        }
        resource.insert(format!("{}Id", kind.name), json!(id));
        resource.insert("OwnerId".into(), json!("123456789012"));
        let tags: Vec<Value> = input["TagSpecifications"].as_array().into_iter().flatten().flat_map(|t| t["Tags"].as_array().cloned().unwrap_or_default()).collect();
        resource.insert("Tags".into(), json!(tags));
        match kind.name {
            "TrafficMirrorTarget" => {
                resource.insert("Type".into(), json!("network-interface"));
            }
            "TrafficMirrorFilter" => {
                for list in ["IngressFilterRules", "EgressFilterRules", "NetworkServices"] {
                    resource.insert(list.into(), json!([]));
                }
            }
            _ => {
                let vni = resource.get("VirtualNetworkId").cloned().unwrap_or(json!(s.next_id));
                resource.insert("VirtualNetworkId".into(), vni);
                // Not an EC2 member: the transport must leave it out.
                resource.insert("Enabled".into(), json!(true));
            }
        }
        let resource = Value::Object(resource);
        s.resources.push((kind.name, resource.clone()));
        let mut out = json!({ kind.name: resource });
        if let Some(token) = input.get("ClientToken") {
            out["ClientToken"] = token.clone();
        }
        Ok(out)
    }

    fn describe(&self, kind: &Kind, input: &Value) -> Result<Value, ApiError> {
        let s = self.state.lock().unwrap();
        let ids: Option<Vec<&str>> = input[format!("{}Ids", kind.name)].as_array().map(|a| a.iter().filter_map(Value::as_str).collect());
        let mut found: Vec<Value> = Vec::new();
        for (k, r) in &s.resources {
            if *k != kind.name || ids.as_ref().is_some_and(|ids| !ids.contains(&r[format!("{}Id", kind.name)].as_str().unwrap())) {
                continue;
            }
            let mut keep = true;
            for f in input["Filters"].as_array().into_iter().flatten() {
                let name = f["Name"].as_str().unwrap_or("");
                let values: Vec<&str> = f["Values"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
                let Some(tag) = name.strip_prefix("tag:") else {
                    return Err(err("InvalidParameterValue", format!("The filter '{name}' is invalid")));
                };
                let tags = r["Tags"].as_array().cloned().unwrap_or_default();
                keep &= tags.iter().any(|t| t["Key"] == tag && values.contains(&t["Value"].as_str().unwrap_or("")));
            }
            if keep {
                if kind.name == FILTER.name {
                    let mut r = r.clone();
                    let id = r["TrafficMirrorFilterId"].clone();
                    for (dir, list) in [("ingress", "IngressFilterRules"), ("egress", "EgressFilterRules")] {
                        r[list] = json!(s.rules.iter().filter(|x| x["TrafficMirrorFilterId"] == id && x["TrafficDirection"] == dir).collect::<Vec<_>>());
                    }
                    found.push(r);
                } else {
                    found.push(r.clone());
                }
            }
        }
        let start: usize = match input.get("NextToken").and_then(Value::as_str) {
            Some(t) => t.strip_prefix("page-").and_then(|n| n.parse().ok()).ok_or_else(|| err("InvalidNextToken", format!("The token '{t}' is invalid")))?,
            None => 0,
        };
        let size = match input.get("MaxResults").and_then(Value::as_u64) {
            Some(n) if !(5..=1000).contains(&n) => return Err(err("InvalidParameterValue", format!("Value ({n}) for parameter MaxResults is invalid. Expected a value between 5 and 1000."))),
            Some(n) => n as usize,
            None => 1000,
        };
        let page: Vec<Value> = found.iter().skip(start).take(size).cloned().collect();
        let mut out = json!({ format!("{}s", kind.name): page });
        if start + size < found.len() {
            out["NextToken"] = json!(format!("page-{}", start + size));
        }
        Ok(out)
    }

    fn delete(&self, kind: &Kind, input: &Value) -> Result<Value, ApiError> {
        let member = format!("{}Id", kind.name);
        let id = input[&member].as_str().unwrap_or("").to_string();
        let mut s = self.state.lock().unwrap();
        let before = s.resources.len();
        s.resources.retain(|(k, r)| !(*k == kind.name && r[&member] == id.as_str()));
        if s.resources.len() == before {
            return Err(err(&format!("Invalid{member}.NotFound"), format!("The {} '{id}' does not exist.", kind.name)));
        }
        Ok(json!({ member: id }))
    }

    fn create_rule(&self, input: &Value) -> Result<Value, ApiError> {
        let mut s = self.state.lock().unwrap();
        let filter = input["TrafficMirrorFilterId"].clone();
        if !s.resources.iter().any(|(k, r)| *k == FILTER.name && r["TrafficMirrorFilterId"] == filter) {
            return Err(err("InvalidTrafficMirrorFilterId.NotFound", format!("The traffic mirror filter {filter} does not exist.")));
        }
        s.next_id += 1;
        let mut rule = input.clone();
        let obj = rule.as_object_mut().unwrap();
        obj.remove("DryRun");
        obj.remove("ClientToken");
        obj.remove("TagSpecifications");
        obj.insert("TrafficMirrorFilterRuleId".into(), json!(format!("tmfr-{:08x}", s.next_id)));
        s.rules.push(rule.clone());
        Ok(json!({"TrafficMirrorFilterRule": rule}))
    }

    fn delete_rule(&self, input: &Value) -> Result<Value, ApiError> {
        let id = input["TrafficMirrorFilterRuleId"].clone();
        let mut s = self.state.lock().unwrap();
        let before = s.rules.len();
        s.rules.retain(|r| r["TrafficMirrorFilterRuleId"] != id);
        if s.rules.len() == before {
            return Err(err("InvalidTrafficMirrorFilterRuleId.NotFound", format!("The traffic mirror filter rule {id} does not exist.")));
        }
        Ok(json!({"TrafficMirrorFilterRuleId": id}))
    }

    fn modify_session(&self, input: &Value) -> Result<Value, ApiError> {
        let mut s = self.state.lock().unwrap();
        let id = input["TrafficMirrorSessionId"].clone();
        let Some((_, session)) = s.resources.iter_mut().find(|(k, r)| *k == SESSION.name && r["TrafficMirrorSessionId"] == id) else {
            return Err(err("InvalidTrafficMirrorSessionId.NotFound", format!("The traffic mirror session {id} does not exist.")));
        };
        for (k, v) in input.as_object().unwrap() {
            if !matches!(k.as_str(), "TrafficMirrorSessionId" | "RemoveFields" | "DryRun") {
                session[k] = v.clone();
            }
        }
        for field in input["RemoveFields"].as_array().into_iter().flatten() {
            let member = match field.as_str().unwrap_or("") {
                "packet-length" => "PacketLength",
                "description" => "Description",
                "virtual-network-id" => "VirtualNetworkId",
                other => return Err(err("InvalidParameterValue", format!("Value ({other}) for parameter RemoveField is invalid."))),
            };
            session.as_object_mut().unwrap().remove(member);
        }
        Ok(json!({"TrafficMirrorSession": session.clone()}))
    }
}

impl Dispatch for Fake {
    fn call(&self, action: &str, input: Value) -> Result<Value, ApiError> {
        self.state.lock().unwrap().calls.push((action.to_string(), input.clone()));
        if input["DryRun"] == json!(true) {
            return Err(err("DryRunOperation", "Request would have succeeded, but DryRun flag is set."));
        }
        let kind = |a: &str| [TARGET, FILTER, SESSION].into_iter().find(|k| a.strip_suffix('s').unwrap_or(a) == k.name);
        let (verb, rest) = action.split_at(action.find("TrafficMirror").unwrap_or(0));
        match (verb, rest, kind(rest)) {
            ("Create", "TrafficMirrorFilterRule", _) => self.create_rule(&input),
            ("Delete", "TrafficMirrorFilterRule", _) => self.delete_rule(&input),
            ("Modify", "TrafficMirrorSession", _) => self.modify_session(&input),
            ("Create", _, Some(k)) => self.create(&k, &input),
            ("Describe", _, Some(k)) => self.describe(&k, &input),
            ("Delete", _, Some(k)) => self.delete(&k, &input),
            _ => Err(err("UnsupportedOperation", format!("{action} is not supported by the fake"))),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The appliance's side: a served transport, its credentials

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap().to_path_buf()
}

/// A tool of the venv; missing, the test fails naming the script that installs it.
fn venv(tool: &str) -> PathBuf {
    let path = workspace().join("out/venv/bin").join(tool);
    assert!(path.exists(), "{} is missing: run scripts/setup.sh (it installs the AWS CLI and boto3 into out/venv)", path.display());
    path
}

struct Appliance {
    server: QueryServer,
    fake: Arc<Fake>,
    dir: tempfile::TempDir,
    /// The endpoint URL a client is given.
    url: String,
}

fn write_credentials(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    path
}

fn appliance_with(limits: Limits, tls: bool) -> Appliance {
    let dir = tempfile::tempdir().unwrap();
    let credentials_file = write_credentials(
        dir.path(),
        "appliance-credentials",
        &format!("[appliance]\naws_access_key_id = {KEY}\naws_secret_access_key = {SECRET}\n\n[operator]\naws_access_key_id = {OTHER_KEY}\naws_secret_access_key = {OTHER_SECRET}\n"),
    );
    let (tls_cert, tls_key) = if tls { self_signed_certificate(dir.path()) } else { (None, None) };
    let cfg = ApiConfig { listen: "127.0.0.1:0".parse().unwrap(), credentials_file, tls_cert, tls_key };
    let fake = Arc::new(Fake::default());
    let server = query::serve_with_limits(&cfg, fake.clone(), limits).unwrap();
    let url = format!("{}://127.0.0.1:{}", if tls { "https" } else { "http" }, server.local_addr().port());
    Appliance { server, fake, dir, url }
}

fn appliance() -> Appliance {
    appliance_with(Limits::default(), false)
}

fn self_signed_certificate(dir: &Path) -> (Option<PathBuf>, Option<PathBuf>) {
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    let out = Command::new("openssl")
        .args(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1", "-subj", "/CN=traffic-mirror test"])
        .args(["-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost", "-keyout"])
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("openssl is needed to make the test certificate: run scripts/setup.sh");
    assert!(out.status.success(), "openssl failed: {}", String::from_utf8_lossy(&out.stderr));
    (Some(cert), Some(key))
}

// ---------------------------------------------------------------------------------------------
// The clients' side

impl Appliance {
    /// The client's credentials file: the appliance's key under a profile, as a user keeps it.
    fn client_credentials(&self, secret: &str) -> PathBuf {
        write_credentials(self.dir.path(), &format!("client-{}", secret.len()), &format!("[appliance]\naws_access_key_id = {KEY}\naws_secret_access_key = {secret}\n"))
    }

    fn client_env(&self, cmd: &mut Command, secret: &str) {
        for var in ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_CA_BUNDLE", "AWS_ENDPOINT_URL"] {
            cmd.env_remove(var);
        }
        cmd.env("AWS_SHARED_CREDENTIALS_FILE", self.client_credentials(secret))
            .env("AWS_CONFIG_FILE", "/dev/null")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("AWS_MAX_ATTEMPTS", "1")
            .env("NO_PROXY", "127.0.0.1,localhost")
            .env_remove("HTTPS_PROXY")
            .env_remove("HTTP_PROXY")
            .env_remove("https_proxy")
            .env_remove("http_proxy");
    }

    /// Runs `aws ec2 <args>` against the appliance, signed with `secret`.
    fn aws_with(&self, secret: &str, extra: &[&str], args: &[&str]) -> Output {
        let mut cmd = Command::new(venv("aws"));
        self.client_env(&mut cmd, secret);
        cmd.args(["--profile", "appliance", "--region", "us-east-1", "--endpoint-url", &self.url]).args(extra).arg("ec2").args(args);
        cmd.output().unwrap()
    }

    /// Runs `aws ec2 <args>`, which must succeed; its standard output.
    fn aws(&self, args: &[&str]) -> String {
        let out = self.aws_with(SECRET, &[], args);
        assert!(out.status.success(), "aws ec2 {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    }

    fn aws_json(&self, args: &[&str]) -> Value {
        let out = self.aws(&[args, &["--output", "json"]].concat());
        serde_json::from_str(&out).unwrap_or_else(|e| panic!("aws ec2 {args:?}: {e}: {out}"))
    }

    /// Runs `aws ec2 <args>`, which must fail; its standard error.
    fn aws_fails(&self, secret: &str, args: &[&str]) -> String {
        let out = self.aws_with(secret, &[], args);
        assert!(!out.status.success(), "aws ec2 {args:?} should have failed: {}", String::from_utf8_lossy(&out.stdout));
        String::from_utf8(out.stderr).unwrap()
    }

    /// Runs a Python script with boto3 under the venv; `argv[1]` is the endpoint URL. Its
    /// standard output, which the scripts keep to one JSON document.
    fn python(&self, script: &str, args: &[&str]) -> Value {
        let mut cmd = Command::new(venv("python"));
        self.client_env(&mut cmd, SECRET);
        let out = cmd.arg("-c").arg(script).arg(&self.url).args(args).output().unwrap();
        assert!(out.status.success(), "python failed: {}", String::from_utf8_lossy(&out.stderr));
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)))
    }
}

/// Sends one raw request over plain HTTP; the status and body.
fn raw(url: &str, request: &[u8]) -> (u16, String) {
    let addr = url.trim_start_matches("http://");
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(request).unwrap();
    let mut reply = String::new();
    let _ = s.read_to_string(&mut reply);
    let status = reply.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
    (status, reply.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default())
}

// ---------------------------------------------------------------------------------------------
// The tests

#[test]
fn the_committed_model_extract_is_what_the_installed_botocore_gives() {
    let out = Command::new(venv("python")).arg(workspace().join("scripts/ec2-model.py")).arg("--check").output().unwrap();
    assert!(out.status.success(), "{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("matches botocore"));
}

#[test]
fn the_cli_creates_describes_modifies_and_deletes_as_in_aws_getting_started() {
    let a = appliance();
    let target = a.aws_json(&[
        "create-traffic-mirror-target",
        "--network-interface-id",
        "eni-collector",
        "--description",
        "IDS <collector> & co",
        "--tag-specifications",
        "ResourceType=traffic-mirror-target,Tags=[{Key=team,Value=ids}]",
    ]);
    let target_id = target["TrafficMirrorTarget"]["TrafficMirrorTargetId"].as_str().unwrap().to_string();
    assert_eq!(target["TrafficMirrorTarget"]["Description"], "IDS <collector> & co");
    assert_eq!(target["TrafficMirrorTarget"]["Tags"], json!([{"Key": "team", "Value": "ids"}]));
    assert_eq!(target["TrafficMirrorTarget"]["Type"], "network-interface");
    assert!(target["ClientToken"].is_string(), "the CLI sends an idempotency token: {target}");

    let filter = a.aws_json(&["create-traffic-mirror-filter", "--description", "ssh only"]);
    let filter_id = filter["TrafficMirrorFilter"]["TrafficMirrorFilterId"].as_str().unwrap().to_string();
    let rule = a.aws_json(&[
        "create-traffic-mirror-filter-rule",
        "--traffic-mirror-filter-id",
        &filter_id,
        "--traffic-direction",
        "ingress",
        "--rule-number",
        "100",
        "--rule-action",
        "accept",
        "--protocol",
        "6",
        "--destination-port-range",
        "FromPort=22,ToPort=22",
        "--destination-cidr-block",
        "10.0.0.0/8",
        "--source-cidr-block",
        "0.0.0.0/0",
    ]);
    let rule_id = rule["TrafficMirrorFilterRule"]["TrafficMirrorFilterRuleId"].as_str().unwrap().to_string();
    assert_eq!(rule["TrafficMirrorFilterRule"]["DestinationPortRange"], json!({"FromPort": 22, "ToPort": 22}));
    let sent = &a.fake.calls("CreateTrafficMirrorFilterRule")[0];
    assert_eq!(sent["DestinationPortRange"], json!({"FromPort": 22, "ToPort": 22}));
    assert_eq!((&sent["RuleNumber"], &sent["Protocol"], &sent["TrafficDirection"]), (&json!(100), &json!(6), &json!("ingress")));

    let session = a.aws_json(&[
        "create-traffic-mirror-session",
        "--network-interface-id",
        "eni-web",
        "--traffic-mirror-target-id",
        &target_id,
        "--traffic-mirror-filter-id",
        &filter_id,
        "--session-number",
        "1",
        "--packet-length",
        "128",
    ]);
    let session_id = session["TrafficMirrorSession"]["TrafficMirrorSessionId"].as_str().unwrap().to_string();
    assert!(session["TrafficMirrorSession"].get("Enabled").is_none(), "a member EC2 does not have is left out: {session}");

    let filters = a.aws_json(&["describe-traffic-mirror-filters", "--traffic-mirror-filter-ids", &filter_id]);
    assert_eq!(filters["TrafficMirrorFilters"][0]["IngressFilterRules"][0]["TrafficMirrorFilterRuleId"], rule_id.as_str());
    assert_eq!(filters["TrafficMirrorFilters"][0]["EgressFilterRules"], json!([]));

    // --output text, table and --query are the CLI's own, over the parsed reply.
    let text = a.aws(&["describe-traffic-mirror-sessions", "--output", "text"]);
    assert!(text.starts_with("TRAFFICMIRRORSESSIONS") && text.contains(&session_id) && text.contains("128"), "{text}");
    let table = a.aws(&["describe-traffic-mirror-sessions", "--output", "table"]);
    assert!(table.contains("DescribeTrafficMirrorSessions") && table.contains(&session_id), "{table}");
    let number = a.aws(&["describe-traffic-mirror-sessions", "--query", "TrafficMirrorSessions[0].[SessionNumber,PacketLength]", "--output", "text"]);
    assert_eq!(number.trim(), "1\t128");

    let modified = a.aws_json(&[
        "modify-traffic-mirror-session",
        "--traffic-mirror-session-id",
        &session_id,
        "--virtual-network-id",
        "4242",
        "--remove-fields",
        "packet-length",
        "description",
    ]);
    assert_eq!(modified["TrafficMirrorSession"]["VirtualNetworkId"], 4242);
    assert!(modified["TrafficMirrorSession"].get("PacketLength").is_none());
    assert_eq!(a.fake.calls("ModifyTrafficMirrorSession")[0]["RemoveFields"], json!(["packet-length", "description"]));

    let deleted = a.aws_json(&["delete-traffic-mirror-session", "--traffic-mirror-session-id", &session_id]);
    assert_eq!(deleted["TrafficMirrorSessionId"], session_id.as_str());
    a.aws(&["delete-traffic-mirror-filter-rule", "--traffic-mirror-filter-rule-id", &rule_id]);
    a.aws(&["delete-traffic-mirror-filter", "--traffic-mirror-filter-id", &filter_id]);
    a.aws(&["delete-traffic-mirror-target", "--traffic-mirror-target-id", &target_id]);
    assert_eq!(a.aws_json(&["describe-traffic-mirror-sessions"]), json!({"TrafficMirrorSessions": []}));
    assert_eq!(a.aws_json(&["describe-traffic-mirror-targets"]), json!({"TrafficMirrorTargets": []}));
}

#[test]
fn the_cli_pages_25_sessions_in_5_requests_of_5() {
    let a = appliance();
    for n in 1..=25 {
        a.fake.add_session(n, json!([]));
    }
    let out = a.aws(&["describe-traffic-mirror-sessions", "--page-size", "5", "--query", "TrafficMirrorSessions[].SessionNumber", "--output", "json"]);
    let numbers: Vec<u32> = serde_json::from_str(&out).unwrap();
    assert_eq!(numbers, (1..=25).collect::<Vec<_>>());
    let calls = a.fake.calls("DescribeTrafficMirrorSessions");
    assert_eq!(calls.len(), 5, "{calls:?}");
    assert!(calls.iter().all(|c| c["MaxResults"] == 5));
    assert!(calls[0].get("NextToken").is_none());
    assert_eq!(calls[1]["NextToken"], "page-5");
    assert_eq!(calls[4]["NextToken"], "page-20");
    // Without --page-size the CLI still follows NextToken to the end.
    let all = a.aws_json(&["describe-traffic-mirror-sessions", "--max-items", "7"]);
    assert_eq!(all["TrafficMirrorSessions"].as_array().unwrap().len(), 7);
    assert!(all["NextToken"].is_string(), "the CLI's own token for --starting-token: {all}");
}

#[test]
fn tag_filters_reach_the_dispatcher_as_filters() {
    let a = appliance();
    let ids = a.fake.add_session(1, json!([{"Key": "team", "Value": "ids"}]));
    a.fake.add_session(2, json!([{"Key": "team", "Value": "netops"}]));
    let out = a.aws_json(&["describe-traffic-mirror-sessions", "--filters", "Name=tag:team,Values=ids"]);
    assert_eq!(out["TrafficMirrorSessions"].as_array().unwrap().len(), 1);
    assert_eq!(out["TrafficMirrorSessions"][0]["TrafficMirrorSessionId"], ids.as_str());
    assert_eq!(out["TrafficMirrorSessions"][0]["Tags"], json!([{"Key": "team", "Value": "ids"}]));
    assert_eq!(a.fake.calls("DescribeTrafficMirrorSessions")[0]["Filters"], json!([{"Name": "tag:team", "Values": ["ids"]}]));
}

#[test]
fn the_dispatchers_errors_reach_the_cli_as_ec2_errors() {
    let a = appliance();
    let stderr = a.aws_fails(SECRET, &["delete-traffic-mirror-session", "--traffic-mirror-session-id", "tms-nope"]);
    assert!(
        stderr.contains("An error occurred (InvalidTrafficMirrorSessionId.NotFound) when calling the DeleteTrafficMirrorSession operation: The TrafficMirrorSession 'tms-nope' does not exist."),
        "{stderr}"
    );
    let stderr = a.aws_fails(SECRET, &["create-traffic-mirror-filter", "--dry-run"]);
    assert!(stderr.contains("(DryRunOperation)") && stderr.contains("Request would have succeeded"), "{stderr}");
    assert_eq!(a.fake.calls("CreateTrafficMirrorFilter")[0]["DryRun"], true);
}

#[test]
fn a_wrong_secret_an_unknown_key_and_an_unsigned_request_are_refused() {
    let a = appliance();
    let stderr = a.aws_fails("not-the-secret", &["describe-traffic-mirror-sessions"]);
    assert!(stderr.contains("(AuthFailure)"), "{stderr}");
    assert!(a.fake.calls("DescribeTrafficMirrorSessions").is_empty(), "a refused request never reaches the actions");

    // Any profile's key of the appliance's file is accepted.
    let op = a.python(BOTO3_AS, &[OTHER_KEY, OTHER_SECRET]);
    assert_eq!(op, json!({"ok": 0}));
    let unknown = a.python(BOTO3_AS, &["AKIDUNKNOWN", SECRET]);
    assert_eq!(unknown, json!({"Code": "AuthFailure", "HTTPStatusCode": 401}));

    let body = "Action=DescribeTrafficMirrorSessions&Version=2016-11-15";
    let request = format!("POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len());
    let (status, reply) = raw(&a.url, request.as_bytes());
    assert_eq!(status, 401, "{reply}");
    assert!(reply.starts_with(r#"<?xml version="1.0" encoding="UTF-8"?><Response><Errors><Error><Code>MissingAuthenticationToken</Code>"#), "{reply}");
    assert!(reply.contains("<RequestID>"), "{reply}");

    // curl, as an operator would try it.
    let out = Command::new("curl").args(["-s", "-w", "\n%{http_code}", "-d", body, &a.url]).output().expect("curl is needed: run scripts/setup.sh");
    let out = String::from_utf8(out.stdout).unwrap();
    assert!(out.ends_with("\n401") && out.contains("MissingAuthenticationToken"), "{out}");
}

#[test]
fn a_request_dated_ten_minutes_ago_is_expired() {
    let a = appliance();
    let out = a.python(BOTO3_EXPIRED, &[]);
    assert_eq!(out["Code"], "RequestExpired", "{out}");
    assert_eq!(out["HTTPStatusCode"], 400);
    assert!(out["Message"].as_str().unwrap().contains("expired"), "{out}");
}

#[test]
fn boto3_pages_reads_errors_and_request_ids() {
    let a = appliance();
    for n in 1..=12 {
        a.fake.add_session(n, json!([{"Key": "n", "Value": n.to_string()}]));
    }
    let out = a.python(BOTO3_SESSION, &[]);
    assert_eq!(out["pages"], json!([5, 5, 2]));
    assert_eq!(out["tag"], json!([{"Key": "n", "Value": "1"}]));
    assert_eq!(out["request_id_len"], 36, "{out}");
    assert_eq!(out["not_found"], json!({"Code": "InvalidTrafficMirrorSessionId.NotFound", "Message": "The TrafficMirrorSession 'tms-x' does not exist.", "HTTPStatusCode": 400}));
    assert_eq!(out["filter_rule_description"], "a <b> & 'c'");
}

#[test]
fn malformed_requests_get_ec2s_codes_naming_the_parameter() {
    let a = appliance();
    let out = a.python(BOTO3_RAW, &[]);
    let expect = json!([
        [400, "UnknownParameter", "The parameter Bogus is not recognized"],
        [400, "UnknownParameter", "The parameter Filter.1.Nmae is not recognized"],
        [400, "InvalidParameterValue", "Value (five) for parameter MaxResults is invalid. Expected an integer."],
        [400, "InvalidParameterValue", "Value (maybe) for parameter DryRun is invalid. Expected true or false."],
        [400, "InvalidAction", "The action DescribeInstances is not valid for this web service."],
        [400, "NoSuchVersion", "The requested version (2015-10-01) of service AmazonEC2 does not exist"],
        [400, "MissingParameter", "The request must contain the parameter Version"],
        [400, "MissingParameter", "The request must contain the parameter TrafficMirrorSessionId"],
        [400, "MissingAction", "The request must contain the parameter Action"],
        [200, null, null],
    ]);
    assert_eq!(out, expect);
}

#[test]
fn https_with_a_self_signed_certificate_and_ca_bundle() {
    let a = appliance_with(Limits::default(), true);
    let cert = a.dir.path().join("cert.pem");
    let out = a.aws_with(SECRET, &["--ca-bundle", cert.to_str().unwrap()], &["describe-traffic-mirror-targets", "--output", "json"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(serde_json::from_slice::<Value>(&out.stdout).unwrap(), json!({"TrafficMirrorTargets": []}));
    // Without the bundle the certificate is not trusted: TLS is really checked.
    let out = a.aws_with(SECRET, &[], &["describe-traffic-mirror-targets"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("SSL"), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(a.fake.calls("DescribeTrafficMirrorTargets").len(), 1);
}

#[test]
fn hostile_clients_do_not_delay_a_signed_request() {
    let limits = Limits { max_connections: 16, request_timeout: Duration::from_secs(3), ..Limits::default() };
    let a = appliance_with(limits, false);
    let addr = a.server.local_addr();

    // boto3 starts, warms its connection and waits, so only the request itself is timed.
    let mut cmd = Command::new(venv("python"));
    a.client_env(&mut cmd, SECRET);
    let mut timed = cmd.arg("-c").arg(BOTO3_TIMED).arg(&a.url).stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().unwrap();
    let mut timed_out = BufReader::new(timed.stdout.take().unwrap());
    let mut line = String::new();
    timed_out.read_line(&mut line).unwrap();
    assert_eq!(line.trim(), "ready");

    // A client sending a byte a second.
    let slow = std::thread::spawn(move || {
        let mut s = TcpStream::connect(addr).unwrap();
        let started = Instant::now();
        for b in b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n" {
            if s.write_all(&[*b]).is_err() || started.elapsed() > Duration::from_secs(5) {
                break;
            }
            std::thread::sleep(Duration::from_secs(1));
        }
    });
    // An oversized request, refused before its body is read.
    let (status, reply) = raw(&a.url, b"POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 100000000\r\n\r\nAction=");
    assert_eq!(status, 413, "{reply}");
    // Three times as many idle connections as the limit.
    let idle: Vec<TcpStream> = (0..48).map(|_| TcpStream::connect(addr).unwrap()).collect();
    std::thread::sleep(Duration::from_millis(300));
    assert!(a.server.active_connections() <= 16, "{} connections served", a.server.active_connections());

    timed.stdin.as_mut().unwrap().write_all(b"go\n").unwrap();
    line.clear();
    timed_out.read_line(&mut line).unwrap();
    let result: Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line}"));
    assert!(timed.wait().unwrap().success());
    assert_eq!(result["sessions"], 0, "{result}");
    assert!(result["seconds"].as_f64().unwrap() < 1.0, "the signed request took {result}");
    assert!(a.server.active_connections() <= 16);
    drop(idle);
    slow.join().unwrap();
}

// ---------------------------------------------------------------------------------------------
// The boto3 scripts

/// A describe call as the key `argv[2]` with secret `argv[3]`: `{"ok": n}` or the error.
const BOTO3_AS: &str = r#"
import json, sys, boto3, botocore.exceptions
c = boto3.client("ec2", endpoint_url=sys.argv[1], region_name="us-east-1", aws_access_key_id=sys.argv[2], aws_secret_access_key=sys.argv[3])
try:
    print(json.dumps({"ok": len(c.describe_traffic_mirror_sessions()["TrafficMirrorSessions"])}))
except botocore.exceptions.ClientError as e:
    print(json.dumps({"Code": e.response["Error"]["Code"], "HTTPStatusCode": e.response["ResponseMetadata"]["HTTPStatusCode"]}))
"#;

/// A call signed by botocore with its clock ten minutes slow.
const BOTO3_EXPIRED: &str = r#"
import datetime, json, sys
from unittest import mock
import boto3, botocore.auth, botocore.exceptions
c = boto3.Session(profile_name="appliance").client("ec2", endpoint_url=sys.argv[1], region_name="us-east-1")
then = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(minutes=10)
with mock.patch("botocore.auth.get_current_datetime", return_value=then):
    try:
        c.describe_traffic_mirror_targets()
        print(json.dumps({"Code": None}))
    except botocore.exceptions.ClientError as e:
        print(json.dumps({"Code": e.response["Error"]["Code"], "Message": e.response["Error"]["Message"],
                          "HTTPStatusCode": e.response["ResponseMetadata"]["HTTPStatusCode"]}))
"#;

/// boto3's paginator, a tag, a request id, an error document, and text that needs escaping.
const BOTO3_SESSION: &str = r#"
import json, sys
import boto3, botocore.exceptions
c = boto3.Session(profile_name="appliance").client("ec2", endpoint_url=sys.argv[1], region_name="us-east-1")
pages = [len(p["TrafficMirrorSessions"]) for p in
         c.get_paginator("describe_traffic_mirror_sessions").paginate(PaginationConfig={"PageSize": 5})]
first = c.describe_traffic_mirror_sessions(MaxResults=5)
out = {"pages": pages, "tag": first["TrafficMirrorSessions"][0]["Tags"], "request_id_len": len(first["ResponseMetadata"]["RequestId"])}
try:
    c.delete_traffic_mirror_session(TrafficMirrorSessionId="tms-x")
except botocore.exceptions.ClientError as e:
    out["not_found"] = {"Code": e.response["Error"]["Code"], "Message": e.response["Error"]["Message"],
                        "HTTPStatusCode": e.response["ResponseMetadata"]["HTTPStatusCode"]}
f = c.create_traffic_mirror_filter()["TrafficMirrorFilter"]["TrafficMirrorFilterId"]
r = c.create_traffic_mirror_filter_rule(TrafficMirrorFilterId=f, TrafficDirection="egress", RuleNumber=1, RuleAction="reject",
                                        DestinationCidrBlock="0.0.0.0/0", SourceCidrBlock="0.0.0.0/0", Description="a <b> & 'c'")
out["filter_rule_description"] = r["TrafficMirrorFilterRule"]["Description"]
print(json.dumps(out))
"#;

/// Requests botocore's own validation would never send, signed by botocore's SigV4Auth:
/// `[status, code, message]` for each.
const BOTO3_RAW: &str = r#"
import json, sys, urllib.parse, xml.etree.ElementTree as ET
import botocore.auth, botocore.session
from botocore.awsrequest import AWSRequest
import urllib.request, urllib.error
creds = botocore.session.Session(profile="appliance").get_credentials()
def send(body):
    req = AWSRequest(method="POST", url=sys.argv[1] + "/", data=body, headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"})
    botocore.auth.SigV4Auth(creds, "ec2", "us-east-1").add_auth(req)
    p = req.prepare()
    r = urllib.request.Request(p.url, data=p.body.encode() if isinstance(p.body, str) else p.body, headers=dict(p.headers), method="POST")
    try:
        with urllib.request.urlopen(r) as resp:
            return [resp.status, None, None]
    except urllib.error.HTTPError as e:
        doc = ET.fromstring(e.read())
        return [e.code, doc.findtext("Errors/Error/Code"), doc.findtext("Errors/Error/Message")]
d = "Action=DescribeTrafficMirrorSessions&Version=2016-11-15"
print(json.dumps([send(b) for b in [
    d + "&Bogus=1",
    d + "&Filter.1.Nmae=tag%3Ateam",
    d + "&MaxResults=five",
    d + "&DryRun=maybe",
    "Action=DescribeInstances&Version=2016-11-15",
    "Action=DescribeTrafficMirrorSessions&Version=2015-10-01",
    "Action=DescribeTrafficMirrorSessions",
    "Action=DeleteTrafficMirrorSession&Version=2016-11-15",
    "Version=2016-11-15",
    d + "&Filter.1.Name=tag%3Ateam&Filter.1.Value.1=ids&MaxResults=5",
]]))
"#;

/// Warms a connection, says "ready", waits for a line, then times one describe call.
const BOTO3_TIMED: &str = r#"
import json, sys, time
import boto3
c = boto3.Session(profile_name="appliance").client("ec2", endpoint_url=sys.argv[1], region_name="us-east-1")
c.describe_traffic_mirror_sessions()
print("ready", flush=True)
sys.stdin.readline()
t = time.monotonic()
n = len(c.describe_traffic_mirror_sessions()["TrafficMirrorSessions"])
print(json.dumps({"seconds": time.monotonic() - t, "sessions": n}), flush=True)
"#;
