//! The actions against botocore's EC2 model (the extract the Query transport serves from):
//! every Traffic Mirroring operation is an action here, every member of its input is a member
//! of the request with the same kind and requiredness, and every member a reply carries is one
//! the model's output has, or an appliance addition named here.

use super::shape::{Member, Shape};
use super::ACTIONS;
use crate::state::testing::TestHost;
use serde_json::{json, Value};

/// Output members the appliance adds to AWS's (the Query transport leaves them out).
const APPLIANCE_OUTPUT: &[&str] = &["Enabled", "Mtu", "Vlan", "UdpPort", "Ttl", "DontFragment", "HitCount"];

fn model() -> Value {
    serde_json::from_str(include_str!("../query/ec2-model.json")).expect("the model extract is JSON")
}

fn shape<'m>(m: &'m Value, name: &str) -> &'m Value {
    &m["shapes"][name]
}

/// Our shape matches the model's `name`, recursively; `path` for messages.
fn same(m: &Value, model_shape: &str, ours: &Shape, path: &str, top: bool) -> Vec<String> {
    let s = shape(m, model_shape);
    let mut out = Vec::new();
    let kind = s["type"].as_str().unwrap_or("");
    match (kind, ours) {
        ("string", Shape::String) if s.get("enum").is_none() => {}
        ("string", Shape::Enum(values)) => {
            let want: Vec<&str> = s["enum"].as_array().map(|a| a.iter().filter_map(Value::as_str).collect()).unwrap_or_default();
            if want.as_slice() != *values {
                out.push(format!("{path}: values {values:?}, the model's {want:?}"));
            }
        }
        // CIDRs, addresses and ids are strings in the model and typed here.
        ("string", Shape::String) => {}
        ("integer", Shape::Integer) | ("boolean", Shape::Boolean) => {}
        ("list", Shape::List(inner)) => {
            out.extend(same(m, s["member"]["shape"].as_str().unwrap_or(""), inner, &format!("{path}[]"), false));
        }
        ("structure", Shape::Structure(members)) => {
            let required: Vec<&str> = s["required"].as_array().map(|a| a.iter().filter_map(Value::as_str).collect()).unwrap_or_default();
            let model_members = s["members"].as_object().cloned().unwrap_or_default();
            for (name, r) in &model_members {
                let Some(mine) = members.iter().find(|x| x.name == name) else {
                    out.push(format!("{path}.{name}: in the model, not in the request"));
                    continue;
                };
                if top && mine.required != required.contains(&name.as_str()) {
                    out.push(format!("{path}.{name}: required {} here, {} in the model", mine.required, required.contains(&name.as_str())));
                }
                out.extend(same(m, r["shape"].as_str().unwrap_or(""), &mine.shape, &format!("{path}.{name}"), false));
            }
            for extra in members.iter().filter(|x: &&Member| !model_members.contains_key(x.name)) {
                if !extra.help().starts_with("The appliance's") {
                    out.push(format!("{path}.{}: not in the model, and not documented as the appliance's", extra.name));
                }
            }
        }
        (k, o) => out.push(format!("{path}: {o:?} here, {k} in the model")),
    }
    out
}

#[test]
fn every_operation_of_the_model_is_an_action_with_its_members() {
    let m = model();
    let ops = m["operations"].as_object().unwrap();
    assert!(ops.len() >= 15, "the extract has the Traffic Mirroring operations");
    let mut problems = Vec::new();
    for (name, op) in ops {
        let Some(entry) = ACTIONS.iter().find(|a| a.name == name) else {
            problems.push(format!("{name}: no such action"));
            continue;
        };
        problems.extend(same(&m, op["input"]["shape"].as_str().unwrap(), &(entry.shape)(), name, true));
    }
    assert!(problems.is_empty(), "the actions differ from botocore's model:\n{}", problems.join("\n"));
}

/// Every member of `reply` is in the model's output shape `name` (or an appliance addition).
fn reply_fits(m: &Value, model_shape: &str, reply: &Value, path: &str, out: &mut Vec<String>) {
    let s = shape(m, model_shape);
    match (s["type"].as_str().unwrap_or(""), reply) {
        ("structure", Value::Object(obj)) => {
            for (k, v) in obj {
                match s["members"].get(k) {
                    Some(r) => reply_fits(m, r["shape"].as_str().unwrap_or(""), v, &format!("{path}.{k}"), out),
                    None if APPLIANCE_OUTPUT.contains(&k.as_str()) => {}
                    None => out.push(format!("{path}.{k}: not in the model's output")),
                }
            }
        }
        ("list", Value::Array(items)) => {
            for (i, v) in items.iter().enumerate() {
                reply_fits(m, s["member"]["shape"].as_str().unwrap_or(""), v, &format!("{path}[{i}]"), out);
            }
        }
        ("string", Value::String(_)) | ("integer", Value::Number(_)) | ("boolean", Value::Bool(_)) => {}
        (k, v) => out.push(format!("{path}: {v} is not a {k}")),
    }
}

#[test]
fn replies_carry_the_models_output_members() {
    let m = model();
    let mut h = TestHost::lab();
    let tags = json!([{"ResourceType": "traffic-mirror-session", "Tags": [{"Key": "team", "Value": "ids"}]}]);
    let calls = [
        json!({"Action": "CreateTrafficMirrorTarget", "NetworkInterfaceId": "eni-ids", "Description": "d", "ClientToken": "t1"}),
        json!({"Action": "DescribeTrafficMirrorTargets"}),
        json!({"Action": "CreateTrafficMirrorFilter", "Description": "d", "TrafficMirrorFilterId": "tmf-new"}),
        json!({"Action": "CreateTrafficMirrorFilterRule", "TrafficMirrorFilterId": "tmf-new", "TrafficDirection": "egress", "RuleNumber": 1, "RuleAction": "accept",
               "Protocol": 6, "DestinationPortRange": {"FromPort": 1, "ToPort": 2}, "SourceCidrBlock": "0.0.0.0/0", "DestinationCidrBlock": "10.0.0.0/8"}),
        json!({"Action": "DescribeTrafficMirrorFilters"}),
        json!({"Action": "DescribeTrafficMirrorFilterRules"}),
        json!({"Action": "ModifyTrafficMirrorFilterNetworkServices", "TrafficMirrorFilterId": "tmf-new", "AddNetworkServices": ["amazon-dns"]}),
        json!({"Action": "CreateTrafficMirrorSession", "NetworkInterfaceId": "eni-web", "TrafficMirrorTargetId": "tmt-ids", "TrafficMirrorFilterId": "tmf-new",
               "SessionNumber": 2, "PacketLength": 64, "TagSpecifications": tags}),
        json!({"Action": "ModifyTrafficMirrorSession", "TrafficMirrorSessionId": "tms-web", "Description": "x"}),
        json!({"Action": "DescribeTrafficMirrorSessions", "MaxResults": 5}),
        json!({"Action": "DeleteTrafficMirrorSession", "TrafficMirrorSessionId": "tms-web"}),
    ];
    let mut problems = Vec::new();
    for call in calls {
        let action = call["Action"].as_str().unwrap().to_owned();
        let reply = h.json(call).unwrap_or_else(|e| panic!("{action}: {e}"));
        let output = m["operations"][&action]["output"]["shape"].as_str().unwrap().to_owned();
        reply_fits(&m, &output, &reply, &action, &mut problems);
    }
    assert!(problems.is_empty(), "replies differ from botocore's model:\n{}", problems.join("\n"));
}
