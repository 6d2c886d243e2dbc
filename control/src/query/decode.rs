//! A request's form parameters to the operation's input, in member names.
//!
//! botocore's `EC2Serializer` flattens the input structure into keys: a member's key is its
//! `queryName`, else its `locationName` capitalised, else its name; a list's elements are
//! `Key.1`, `Key.2`, ...; a nested structure's members are `Parent.Member`. Decoding walks the
//! same model the other way, so every key the model does not produce is refused by name
//! rather than silently ignored.

use super::model::{Kind, Model, Resolved, Shape};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// Why a request's parameters do not fit the operation's input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("The parameter {0} is not recognized")]
    UnknownParameter(String),
    #[error("Value ({value}) for parameter {param} is invalid. Expected {expected}.")]
    InvalidValue { param: String, value: String, expected: &'static str },
    #[error("The parameter {0} is given more than once")]
    Repeated(String),
    #[error("The request must contain the parameter {0}")]
    Missing(String),
}

impl DecodeError {
    /// EC2's error code for this refusal.
    pub fn code(&self) -> &'static str {
        match self {
            DecodeError::UnknownParameter(_) => "UnknownParameter",
            DecodeError::InvalidValue { .. } | DecodeError::Repeated(_) => "InvalidParameterValue",
            DecodeError::Missing(_) => "MissingParameter",
        }
    }
}

/// The keys of a request as a tree split on `.`, so a structure, a list and a scalar each see
/// exactly the keys below them.
#[derive(Default)]
struct Node<'p> {
    /// The full key of this node, for messages.
    key: String,
    value: Option<&'p str>,
    children: BTreeMap<&'p str, Node<'p>>,
}

/// No key the model produces is deeper than this (`TagSpecification.1.Tag.1.Key` is 5); a
/// deeper one is refused before it can build a tree deep enough to exhaust the stack.
const MAX_KEY_DEPTH: usize = 12;

/// How much of a client's key or value a message quotes.
const QUOTE: usize = 200;

fn quote(s: &str) -> String {
    match s.char_indices().nth(QUOTE) {
        Some((end, _)) => format!("{}...", &s[..end]),
        None => s.to_string(),
    }
}

impl<'p> Node<'p> {
    fn build(params: &'p [(String, String)]) -> Result<Node<'p>, DecodeError> {
        let mut root = Node::default();
        for (key, value) in params {
            if key.split('.').count() > MAX_KEY_DEPTH {
                return Err(DecodeError::UnknownParameter(quote(key)));
            }
            let mut node = &mut root;
            for part in key.split('.') {
                if part.is_empty() {
                    return Err(DecodeError::UnknownParameter(quote(key)));
                }
                let prefix = &node.key;
                let child_key = if prefix.is_empty() { part.to_string() } else { format!("{prefix}.{part}") };
                node = node.children.entry(part).or_insert_with(|| Node { key: child_key, ..Node::default() });
            }
            if node.value.replace(value).is_some() {
                return Err(DecodeError::Repeated(quote(key)));
            }
        }
        Ok(root)
    }

    /// The first full key at or below this node, to name a parameter that does not belong.
    fn first_key(&self) -> String {
        match (self.value, self.children.values().next()) {
            (None, Some(child)) => child.first_key(),
            _ => quote(&self.key),
        }
    }
}

/// Decodes `params` (the request's keys and values, less `Action` and `Version`) into `shape`,
/// the operation's input structure, as a JSON object keyed by member names.
pub fn decode(model: &Model, input: &Shape, params: &[(String, String)]) -> Result<Value, DecodeError> {
    let root = Node::build(params)?;
    structure(model, input, root)
}

fn structure(model: &Model, shape: &Shape, mut node: Node) -> Result<Value, DecodeError> {
    if let Some(value) = node.value {
        return Err(invalid(&node.key, value, "a structure, given as its members (Key.Member=...)"));
    }
    let mut out = Map::new();
    for (name, member) in &shape.members {
        let member = model.resolve(member);
        if let Some(child) = node.children.remove(member.query_key(name).as_str()) {
            out.insert(name.clone(), value(model, member, child)?);
        }
    }
    if let Some(extra) = node.children.into_values().next() {
        return Err(DecodeError::UnknownParameter(extra.first_key()));
    }
    // After the type checks, so a request is told about a bad value before a missing one.
    if let Some(name) = shape.required.iter().find(|name| !out.contains_key(*name)) {
        let key = model.resolve(&shape.members[name]).query_key(name);
        return Err(DecodeError::Missing(if node.key.is_empty() { key } else { format!("{}.{key}", node.key) }));
    }
    Ok(Value::Object(out))
}

fn value(model: &Model, member: Resolved, node: Node) -> Result<Value, DecodeError> {
    let shape = member.shape;
    match shape.kind {
        Kind::Structure => structure(model, shape, node),
        Kind::List => list(model, shape, node),
        _ => {
            if let Some(extra) = node.children.into_values().next() {
                return Err(DecodeError::UnknownParameter(extra.first_key()));
            }
            scalar(shape.kind, &node.key, node.value.unwrap_or_default())
        }
    }
}

fn list(model: &Model, shape: &Shape, node: Node) -> Result<Value, DecodeError> {
    let element = model.resolve(shape.member.as_ref().expect("a list shape has a member"));
    if let Some(value) = node.value {
        // The plain query protocol sends an empty list as `Key=`; EC2's serializer sends
        // nothing, but an empty value means the same thing either way.
        if value.is_empty() && node.children.is_empty() {
            return Ok(Value::Array(vec![]));
        }
        return Err(invalid(&node.key, value, "a list, given as Key.1, Key.2, ..."));
    }
    let mut elements = Vec::with_capacity(node.children.len());
    for (index, child) in node.children {
        match index.parse::<u32>() {
            Ok(i) if i >= 1 && !index.starts_with('0') => elements.push((i, child)),
            _ => return Err(DecodeError::UnknownParameter(child.first_key())),
        }
    }
    // botocore numbers from 1 without gaps; order by the number, not the key's spelling.
    elements.sort_by_key(|(i, _)| *i);
    elements.into_iter().map(|(_, child)| value(model, element, child)).collect::<Result<Vec<_>, _>>().map(Value::Array)
}

fn scalar(kind: Kind, key: &str, text: &str) -> Result<Value, DecodeError> {
    match kind {
        Kind::Integer => text.parse::<i32>().map(Value::from).map_err(|_| invalid(key, text, "an integer")),
        Kind::Long => text.parse::<i64>().map(Value::from).map_err(|_| invalid(key, text, "an integer")),
        Kind::Boolean => match text {
            "true" => Ok(Value::Bool(true)),
            "false" => Ok(Value::Bool(false)),
            _ => Err(invalid(key, text, "true or false")),
        },
        Kind::Float | Kind::Double => match text.parse::<f64>().ok().and_then(serde_json::Number::from_f64) {
            Some(n) => Ok(Value::Number(n)),
            None => Err(invalid(key, text, "a number")),
        },
        // Enums are left to the actions, which name the values they accept.
        Kind::String | Kind::Timestamp | Kind::Blob => Ok(Value::String(text.to_string())),
        Kind::Structure | Kind::List | Kind::Map => unreachable!("containers are decoded by value()"),
    }
}

fn invalid(key: &str, value: &str, expected: &'static str) -> DecodeError {
    DecodeError::InvalidValue { param: key.to_string(), value: quote(value), expected }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn decode_for(action: &str, params: &[(&str, &str)]) -> Result<Value, DecodeError> {
        let model = Model::get();
        let input = &model.shapes[&model.operations[action].input.as_ref().unwrap().shape];
        let params: Vec<(String, String)> = params.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        decode(model, input, &params)
    }

    #[test]
    fn lists_filters_and_scalars_decode_to_member_names() {
        let input = decode_for(
            "DescribeTrafficMirrorSessions",
            &[
                ("TrafficMirrorSessionId.1", "tms-1"),
                ("TrafficMirrorSessionId.2", "tms-2"),
                ("Filter.1.Name", "tag:team"),
                ("Filter.1.Value.1", "ids"),
                ("Filter.1.Value.2", "soc"),
                ("MaxResults", "5"),
                ("NextToken", "abc"),
                ("DryRun", "true"),
            ],
        )
        .unwrap();
        assert_eq!(
            input,
            json!({"TrafficMirrorSessionIds": ["tms-1", "tms-2"], "Filters": [{"Name": "tag:team", "Values": ["ids", "soc"]}],
                   "MaxResults": 5, "NextToken": "abc", "DryRun": true})
        );
    }

    #[test]
    fn nested_structures_and_tag_specifications_decode() {
        let input = decode_for(
            "CreateTrafficMirrorFilterRule",
            &[
                ("TrafficMirrorFilterId", "tmf-1"),
                ("TrafficDirection", "ingress"),
                ("RuleNumber", "100"),
                ("RuleAction", "accept"),
                ("Protocol", "6"),
                ("DestinationPortRange.FromPort", "22"),
                ("DestinationPortRange.ToPort", "23"),
                ("DestinationCidrBlock", "0.0.0.0/0"),
                ("SourceCidrBlock", "10.0.0.0/8"),
                ("TagSpecification.1.ResourceType", "traffic-mirror-filter-rule"),
                ("TagSpecification.1.Tag.1.Key", "team"),
                ("TagSpecification.1.Tag.1.Value", "ids"),
            ],
        )
        .unwrap();
        assert_eq!(input["DestinationPortRange"], json!({"FromPort": 22, "ToPort": 23}));
        assert_eq!(input["RuleNumber"], json!(100));
        assert_eq!(input["TagSpecifications"], json!([{"ResourceType": "traffic-mirror-filter-rule", "Tags": [{"Key": "team", "Value": "ids"}]}]));
    }

    #[test]
    fn modify_lists_use_their_singular_keys() {
        let s = decode_for("ModifyTrafficMirrorSession", &[("TrafficMirrorSessionId", "tms-1"), ("RemoveField.1", "packet-length"), ("RemoveField.2", "description")]).unwrap();
        assert_eq!(s["RemoveFields"], json!(["packet-length", "description"]));
        let n = decode_for("ModifyTrafficMirrorFilterNetworkServices", &[("TrafficMirrorFilterId", "tmf-1"), ("AddNetworkService.1", "amazon-dns")]).unwrap();
        assert_eq!(n["AddNetworkServices"], json!(["amazon-dns"]));
    }

    #[test]
    fn list_elements_keep_their_numeric_order() {
        let keys: Vec<(String, &str)> = (1..=12).rev().map(|i| (format!("TrafficMirrorSessionId.{i}"), "x")).collect();
        let params: Vec<(&str, &str)> = keys.iter().map(|(k, v)| (k.as_str(), *v)).collect();
        let mut params = params;
        params[0].1 = "twelfth";
        params[11].1 = "first";
        let input = decode_for("DescribeTrafficMirrorSessions", &params).unwrap();
        let ids = input["TrafficMirrorSessionIds"].as_array().unwrap();
        assert_eq!((ids[0].as_str(), ids[11].as_str(), ids.len()), (Some("first"), Some("twelfth"), 12));
    }

    #[test]
    fn unknown_keys_are_refused_by_their_full_name() {
        let cases: &[(&[(&str, &str)], &str)] = &[
            (&[("Bogus", "1")], "Bogus"),
            (&[("TrafficMirrorSessionIds.1", "tms-1")], "TrafficMirrorSessionIds.1"),
            (&[("Filter.1.Nmae", "x")], "Filter.1.Nmae"),
            (&[("Filter.0.Name", "x")], "Filter.0.Name"),
            (&[("Filter.one.Name", "x")], "Filter.one.Name"),
            (&[("MaxResults.1", "5")], "MaxResults.1"),
            (&[("Filter..Name", "x")], "Filter..Name"),
        ];
        for (params, name) in cases {
            let err = decode_for("DescribeTrafficMirrorSessions", params).unwrap_err();
            assert_eq!(err, DecodeError::UnknownParameter(name.to_string()), "{params:?}");
            assert_eq!(err.code(), "UnknownParameter");
            assert!(err.to_string().contains(name));
        }
    }

    #[test]
    fn wrongly_typed_values_are_refused_naming_parameter_and_value() {
        let err = decode_for("DescribeTrafficMirrorSessions", &[("MaxResults", "five")]).unwrap_err();
        assert_eq!(err.code(), "InvalidParameterValue");
        assert_eq!(err.to_string(), "Value (five) for parameter MaxResults is invalid. Expected an integer.");
        let err = decode_for("DescribeTrafficMirrorSessions", &[("DryRun", "yes")]).unwrap_err();
        assert!(err.to_string().contains("(yes) for parameter DryRun"));
        let err = decode_for("CreateTrafficMirrorFilterRule", &[("DestinationPortRange.FromPort", "99999999999")]).unwrap_err();
        assert!(err.to_string().contains("parameter DestinationPortRange.FromPort"));
        let err = decode_for("CreateTrafficMirrorFilterRule", &[("DestinationPortRange", "22")]).unwrap_err();
        assert_eq!(err.code(), "InvalidParameterValue");
        let err = decode_for("DescribeTrafficMirrorSessions", &[("TrafficMirrorSessionId", "tms-1")]).unwrap_err();
        assert!(err.to_string().contains("parameter TrafficMirrorSessionId "), "{err}");
    }

    #[test]
    fn a_key_deeper_than_any_in_the_model_is_refused_and_quoted_short() {
        let deep = vec!["a"; 100_000].join(".");
        let err = decode_for("DescribeTrafficMirrorSessions", &[(&deep, "x")]).unwrap_err();
        assert_eq!(err.code(), "UnknownParameter");
        assert!(err.to_string().len() < 300, "{}", err.to_string().len());
        let long = "9".repeat(10_000);
        let err = decode_for("DescribeTrafficMirrorSessions", &[("MaxResults", &long)]).unwrap_err();
        assert!(err.to_string().len() < 300);
    }

    #[test]
    fn a_repeated_key_is_refused() {
        let err = decode_for("DescribeTrafficMirrorSessions", &[("MaxResults", "5"), ("MaxResults", "6")]).unwrap_err();
        assert_eq!(err, DecodeError::Repeated("MaxResults".into()));
    }

    #[test]
    fn a_missing_required_member_is_named_by_its_key() {
        let err = decode_for("CreateTrafficMirrorSession", &[("NetworkInterfaceId", "eni-1"), ("TrafficMirrorTargetId", "tmt-1"), ("SessionNumber", "1")]).unwrap_err();
        assert_eq!((err.code(), err.to_string().as_str()), ("MissingParameter", "The request must contain the parameter TrafficMirrorFilterId"));
    }

    #[test]
    fn an_empty_request_is_an_empty_input() {
        assert_eq!(decode_for("DescribeTrafficMirrorTargets", &[]).unwrap(), json!({}));
    }
}
