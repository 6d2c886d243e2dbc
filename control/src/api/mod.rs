//! The control API, written once: every action is one request struct (its members named as in
//! botocore's EC2 model) with one typed reply, registered in [`ACTIONS`]. The transports (JSON
//! lines on the Unix socket, the EC2 Query protocol over HTTPS, `ctl`'s flags) and the
//! in-process callers (metrics, telemetry) all go through that table, so an action behaves the
//! same however it arrives, and adding a member to a request is one line in its struct.
//!
//! Decoding is EC2's, strict: an unknown member is `UnknownParameter`, a missing required one
//! `MissingParameter`, a value of the wrong type or out of range `InvalidParameterValue`, each
//! message naming the member and the value in the API's terms.

pub mod actions;
pub mod ec2;
#[cfg(test)]
mod model_tests;
pub mod shape;
pub mod socket;

use crate::state::Host;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{json, Map, Value};
use shape::{HasShape, Shape};
use std::time::Duration;

pub use socket::{Client, Pending};

/// A refused request: EC2's error code and a readable message.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ApiError {
    pub code: String,
    pub message: String,
}

impl ApiError {
    pub fn new(code: &str, message: impl Into<String>) -> Self {
        ApiError { code: code.into(), message: message.into() }
    }

    /// The reply carrying this error on the JSON transport.
    pub fn reply(&self) -> Value {
        json!({ "Error": { "Code": self.code, "Message": self.message } })
    }

    /// `MissingParameter` for a required member.
    pub fn missing(member: &str) -> Self {
        ApiError::new("MissingParameter", format!("The request must contain the parameter {member}"))
    }

    /// `UnknownParameter` for a member the action does not have.
    pub fn unknown(member: &str) -> Self {
        ApiError::new("UnknownParameter", format!("The parameter {member} is not recognized"))
    }

    /// `InvalidParameterValue` naming the member and its value.
    pub fn invalid(member: &str, value: impl std::fmt::Display, why: impl std::fmt::Display) -> Self {
        ApiError::new("InvalidParameterValue", format!("Value ({}) for parameter {member} is invalid: {why}", crate::config::shown(&value.to_string())))
    }

    /// `InvalidParameterCombination`.
    pub fn combination(message: impl Into<String>) -> Self {
        ApiError::new("InvalidParameterCombination", message)
    }

    /// EC2's answer to a request whose DryRun flag is set.
    pub fn dry_run() -> Self {
        ApiError::new("DryRunOperation", "Request would have succeeded, but DryRun flag is set.")
    }

    /// The appliance cannot answer now (shutting down, or busy past the caller's patience).
    pub fn unavailable(why: impl Into<String>) -> Self {
        ApiError::new("ServiceUnavailable", why)
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for ApiError {}

/// One action of the API: its request (this type), its reply, and what it does.
pub trait Action: HasShape + Serialize + DeserializeOwned + Send + 'static {
    /// EC2's name for it (`CreateTrafficMirrorSession`).
    const NAME: &'static str;
    /// One line saying what it does, for `ctl --help`.
    const ABOUT: &'static str;
    type Reply: Serialize + DeserializeOwned + Send + 'static;
    /// Does it, on the control thread, and answers at once. (An action implements this or
    /// [`Action::start`]; this one's default answers what `start` answers at once.)
    fn run(self, host: &mut dyn Host) -> Result<Self::Reply, ApiError>
    where
        Self: Sized,
    {
        answered_at_once(|reply| self.start(host, reply))
    }
    /// Does it and answers through `reply`: at once ([`Action::run`]), or, for an action whose
    /// work goes on off the control thread (a reload reads the file elsewhere, a change is
    /// written down elsewhere), when it is done, the control thread serving others meanwhile.
    fn start(self, host: &mut dyn Host, reply: Reply<Self::Reply>)
    where
        Self: Sized,
    {
        reply(self.run(host));
    }
}

/// Where an answer goes: called once, on the control thread, at once or later.
pub type Reply<R> = Box<dyn FnOnce(Result<R, ApiError>) + Send>;

/// What `start` answered at once, for a caller that cannot wait (a host without work off the
/// control thread, as in tests, always answers at once).
pub fn answered_at_once<R: Send + 'static>(start: impl FnOnce(Reply<R>)) -> Result<R, ApiError> {
    let (tx, rx) = crossbeam::channel::bounded(1);
    start(Box::new(move |r| {
        let _ = tx.send(r);
    }));
    rx.try_recv().unwrap_or_else(|_| Err(ApiError::unavailable("the answer comes later, once the work off the control thread is done")))
}

/// An action in the table: its name, help and shape, and how to call it with JSON.
pub struct Entry {
    pub name: &'static str,
    pub about: &'static str,
    pub shape: fn() -> Shape,
    pub call: fn(&mut dyn Host, Value, Reply<Value>),
}

/// Decodes `input` as `A`, starts it and encodes the reply when it comes.
fn call_json<A: Action>(host: &mut dyn Host, input: Value, reply: Reply<Value>) {
    match decode::<A>(input) {
        Ok(request) => request.start(host, Box::new(move |r| reply(r.map(|v| serde_json::to_value(v).expect("API replies always serialise"))))),
        Err(e) => reply(Err(e)),
    }
}

const fn entry<A: Action>() -> Entry {
    Entry { name: A::NAME, about: A::ABOUT, shape: A::shape, call: call_json::<A> }
}

/// Every action, once.
pub static ACTIONS: &[Entry] = {
    use actions::*;
    &[
        entry::<CreateTrafficMirrorTarget>(),
        entry::<DeleteTrafficMirrorTarget>(),
        entry::<DescribeTrafficMirrorTargets>(),
        entry::<CreateTrafficMirrorFilter>(),
        entry::<DeleteTrafficMirrorFilter>(),
        entry::<DescribeTrafficMirrorFilters>(),
        entry::<ModifyTrafficMirrorFilterNetworkServices>(),
        entry::<CreateTrafficMirrorFilterRule>(),
        entry::<ModifyTrafficMirrorFilterRule>(),
        entry::<DeleteTrafficMirrorFilterRule>(),
        entry::<DescribeTrafficMirrorFilterRules>(),
        entry::<CreateTrafficMirrorSession>(),
        entry::<ModifyTrafficMirrorSession>(),
        entry::<DeleteTrafficMirrorSession>(),
        entry::<DescribeTrafficMirrorSessions>(),
        entry::<CreateNetworkInterface>(),
        entry::<DeleteNetworkInterface>(),
        entry::<DescribeNetworkInterfaces>(),
        entry::<CreateLoadBalancer>(),
        entry::<DeleteLoadBalancer>(),
        entry::<DescribeLoadBalancers>(),
        entry::<CreateGatewayLoadBalancerEndpoint>(),
        entry::<DeleteGatewayLoadBalancerEndpoint>(),
        entry::<DescribeGatewayLoadBalancerEndpoints>(),
        entry::<DescribePorts>(),
        entry::<DescribeNeighbors>(),
        entry::<DescribeCounters>(),
        entry::<ReloadConfiguration>(),
        entry::<ExportConfiguration>(),
        entry::<ExplainFrames>(),
    ]
};

/// The action named `name`.
pub fn action(name: &str) -> Option<&'static Entry> {
    ACTIONS.iter().find(|a| a.name == name)
}

/// Runs a JSON request (`{"Action": "...", members...}`) against `host`, answering through
/// `reply`.
pub fn handle(host: &mut dyn Host, request: Value, reply: Reply<Value>) {
    match entry_of(request) {
        Ok((entry, members)) => (entry.call)(host, members, reply),
        Err(e) => reply(Err(e)),
    }
}

/// The action a JSON request names, and its members.
fn entry_of(mut request: Value) -> Result<(&'static Entry, Value), ApiError> {
    let Some(obj) = request.as_object_mut() else {
        return Err(ApiError::new("InvalidRequest", "a request is a JSON object with an Action member"));
    };
    let name = match obj.remove("Action") {
        Some(Value::String(s)) => s,
        Some(other) => return Err(ApiError::invalid("Action", other, "must be a string")),
        None => return Err(ApiError::new("MissingAction", "The request must contain the parameter Action")),
    };
    let entry = action(&name).ok_or_else(|| ApiError::new("InvalidAction", format!("The action {name} is not valid for this web service.")))?;
    Ok((entry, request))
}

/// Decodes a request's members strictly, with EC2's error codes.
pub fn decode<T: HasShape + DeserializeOwned>(input: Value) -> Result<T, ApiError> {
    let input = match input {
        Value::Null => Value::Object(Map::new()),
        other => other,
    };
    let Value::Object(members) = &input else {
        return Err(ApiError::new("InvalidRequest", "the members of a request are a JSON object"));
    };
    let Shape::Structure(known) = T::shape() else { unreachable!("requests are structures") };
    for name in members.keys() {
        if !known.iter().any(|m| m.name == name) {
            return Err(ApiError::unknown(name));
        }
    }
    for m in known.iter().filter(|m| m.required) {
        if members.get(m.name).is_none_or(Value::is_null) {
            return Err(ApiError::missing(m.name));
        }
    }
    serde_path_to_error::deserialize(&input).map_err(|e| value_error(&input, e))
}

/// A serde error during decoding, as EC2 says it: the member's path, its value, and why.
fn value_error(input: &Value, e: serde_path_to_error::Error<serde_json::Error>) -> ApiError {
    let path = member_path(e.path());
    let why = e.inner().to_string();
    let why = why.split(" at line ").next().unwrap_or(&why).to_owned();
    if let Some(rest) = why.strip_prefix("unknown field `") {
        let field = rest.split('`').next().unwrap_or(rest);
        // The path already ends at the unknown member.
        let full = if path.ends_with(field) { path } else if path.is_empty() { field.to_owned() } else { format!("{path}.{field}") };
        return ApiError::unknown(&full);
    }
    if let Some(rest) = why.strip_prefix("missing field `") {
        let field = rest.split('`').next().unwrap_or(rest);
        return ApiError::missing(&if path.is_empty() { field.to_owned() } else { format!("{path}.{field}") });
    }
    let value = lookup(input, e.path()).map(show).unwrap_or_else(|| "?".into());
    ApiError::invalid(&path, value, friendly(&why))
}

/// `TagSpecifications.1.Tags.1.Key`: members by name, list items counted from 1 as in EC2.
fn member_path(p: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;
    p.iter()
        .filter_map(|s| match s {
            Segment::Map { key } => Some(key.clone()),
            Segment::Seq { index } => Some((index + 1).to_string()),
            Segment::Enum { variant } => Some(variant.clone()),
            Segment::Unknown => None,
        })
        .collect::<Vec<_>>()
        .join(".")
}

fn lookup<'v>(v: &'v Value, p: &serde_path_to_error::Path) -> Option<&'v Value> {
    use serde_path_to_error::Segment;
    p.iter().try_fold(v, |v, s| match s {
        Segment::Map { key } => v.get(key),
        Segment::Seq { index } => v.get(index),
        _ => Some(v),
    })
}

/// A value as EC2 quotes it in messages: strings bare.
fn show(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// serde's wording in the API's: integer widths as ranges, variants as EC2's values.
fn friendly(why: &str) -> String {
    let ranges = [("u8", "an integer 0-255"), ("u16", "an integer 0-65535"), ("u32", "an integer 0-4294967295"), ("u64", "a non-negative integer"), ("i64", "an integer")];
    for (ty, words) in ranges {
        if why.ends_with(&format!("expected {ty}")) {
            return format!("expected {words}");
        }
    }
    if let Some(rest) = why.strip_prefix("unknown variant `") {
        if let Some((_, expected)) = rest.split_once("expected ") {
            let list = expected.trim_start_matches("one of ").replace('`', "").replace(" or ", ", ");
            return format!("valid values are {list}");
        }
    }
    why.replace("invalid type: ", "").replace('`', "")
}

/// Calls action `A` on the control thread from another thread (metrics, telemetry, the
/// transports): the typed reply, or `ServiceUnavailable` when the control thread does not take
/// the job within `patience` (shutting down).
pub fn call<A: Action>(to_control: &crossbeam::channel::Sender<Pending>, request: A, patience: Duration) -> Result<A::Reply, ApiError> {
    run_on_control(to_control, patience, move |host, reply| request.start(host, reply))
}

/// Runs action `name` with members `input` on the control thread from another thread (the
/// EC2 Query transport, which has decoded the request by botocore's model).
pub fn call_action(to_control: &crossbeam::channel::Sender<Pending>, name: &str, input: Value, patience: Duration) -> Result<Value, ApiError> {
    let entry = action(name).ok_or_else(|| ApiError::new("InvalidAction", format!("The action {name} is not valid for this web service.")))?;
    run_on_control(to_control, patience, move |host, reply| (entry.call)(host, input, reply))
}

/// Runs a JSON request on the control thread from another thread.
pub fn call_value(to_control: &crossbeam::channel::Sender<Pending>, request: Value, patience: Duration) -> Result<Value, ApiError> {
    run_on_control(to_control, patience, move |host, reply| handle(host, request, reply))
}

/// Hands `job` to the control thread and waits here (never there) for its answer, which may
/// come after other jobs ran.
fn run_on_control<R: Send + 'static>(
    to_control: &crossbeam::channel::Sender<Pending>,
    patience: Duration,
    job: impl FnOnce(&mut dyn Host, Reply<R>) + Send + 'static,
) -> Result<R, ApiError> {
    let (tx, rx) = crossbeam::channel::bounded(1);
    let pending: Pending = Box::new(move |host: &mut dyn Host| {
        job(
            host,
            Box::new(move |r| {
                let _ = tx.send(r);
            }),
        )
    });
    to_control.send(pending).map_err(|_| ApiError::unavailable("traffic-mirror is shutting down"))?;
    rx.recv_timeout(patience).unwrap_or_else(|e| match e {
        crossbeam::channel::RecvTimeoutError::Timeout => Err(ApiError::unavailable("traffic-mirror did not answer in time")),
        crossbeam::channel::RecvTimeoutError::Disconnected => Err(ApiError::unavailable("traffic-mirror stopped before answering")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::actions::{CreateTrafficMirrorFilterRule, CreateTrafficMirrorSession};

    fn err<T: HasShape + DeserializeOwned + std::fmt::Debug>(v: Value) -> ApiError {
        decode::<T>(v).unwrap_err()
    }

    #[test]
    fn members_are_ec2s_and_strict() {
        let ok: CreateTrafficMirrorFilterRule = decode(json!({
            "TrafficMirrorFilterId": "tmf-1", "TrafficDirection": "ingress", "RuleNumber": 100, "RuleAction": "accept",
            "Protocol": 6, "DestinationPortRange": {"FromPort": 443, "ToPort": 443},
            "SourceCidrBlock": "0.0.0.0/0", "DestinationCidrBlock": "10.0.0.0/8"
        }))
        .unwrap();
        assert_eq!(ok.rule_number, 100);
        let e = err::<CreateTrafficMirrorSession>(json!({"PacketLenght": 64}));
        assert_eq!((e.code.as_str(), e.message.as_str()), ("UnknownParameter", "The parameter PacketLenght is not recognized"));
        let e = err::<CreateTrafficMirrorSession>(json!({"NetworkInterfaceId": "eni-1", "TrafficMirrorTargetId": "tmt-1", "TrafficMirrorFilterId": "tmf-1"}));
        assert_eq!((e.code.as_str(), e.message.as_str()), ("MissingParameter", "The request must contain the parameter SessionNumber"));
        let e = err::<CreateTrafficMirrorSession>(json!({"NetworkInterfaceId": "eni-1", "TrafficMirrorTargetId": "tmt-1", "TrafficMirrorFilterId": "tmf-1", "SessionNumber": "two"}));
        assert_eq!(e.code, "InvalidParameterValue");
        assert!(e.message.starts_with("Value (two) for parameter SessionNumber is invalid"), "{e}");
    }

    #[test]
    fn nested_values_and_enums_name_their_member() {
        let base = json!({"TrafficMirrorFilterId": "tmf-1", "TrafficDirection": "ingress", "RuleNumber": 1, "RuleAction": "accept",
                          "SourceCidrBlock": "0.0.0.0/0", "DestinationCidrBlock": "0.0.0.0/0"});
        let with = |k: &str, v: Value| {
            let mut b = base.clone();
            b[k] = v;
            b
        };
        let e = err::<CreateTrafficMirrorFilterRule>(with("SourceCidrBlock", json!("10.0.0.0/33")));
        assert_eq!(e.code, "InvalidParameterValue");
        assert!(e.message.starts_with("Value (10.0.0.0/33) for parameter SourceCidrBlock is invalid"), "{e}");
        let e = err::<CreateTrafficMirrorFilterRule>(with("RuleAction", json!("allow")));
        assert_eq!(e.message, "Value (allow) for parameter RuleAction is invalid: valid values are accept, reject", "{e}");
        let e = err::<CreateTrafficMirrorFilterRule>(with("DestinationPortRange", json!({"FromPort": 70000, "ToPort": 1})));
        assert_eq!(e.message, "Value (70000) for parameter DestinationPortRange.FromPort is invalid: expected an integer 0-65535", "{e}");
        let e = err::<CreateTrafficMirrorFilterRule>(with("DestinationPortRange", json!({"FromPort": 1, "ToPrt": 1})));
        assert_eq!((e.code.as_str(), e.message.as_str()), ("UnknownParameter", "The parameter DestinationPortRange.ToPrt is not recognized"));
    }

    #[test]
    fn every_action_is_in_the_table_once() {
        let mut names: Vec<&str> = ACTIONS.iter().map(|a| a.name).collect();
        names.sort_unstable();
        let n = names.len();
        names.dedup();
        assert_eq!(names.len(), n);
        for a in ACTIONS {
            assert!(matches!((a.shape)(), Shape::Structure(_)), "{}", a.name);
            assert!(!a.about.is_empty(), "{}", a.name);
        }
    }
}
