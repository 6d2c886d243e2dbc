//! botocore's EC2 service model, cut down to Traffic Mirroring (`ec2-model.json`, made by
//! `scripts/ec2-model.py`): the single source of every name on the wire.
//!
//! botocore resolves a member reference by laying the member's own traits (`locationName`,
//! `queryName`) over the shape it points at; [`Model::resolve`] does the same, so the names
//! computed here are the ones botocore computes.

use serde::Deserialize;
use std::collections::BTreeMap;
use std::sync::OnceLock;

const EXTRACT: &str = include_str!("ec2-model.json");

/// The extract: operations, the shapes they reach, and their paginators.
#[derive(Debug, Deserialize)]
pub struct Model {
    /// The botocore release the extract was taken from.
    pub botocore_version: String,
    pub metadata: Metadata,
    pub operations: BTreeMap<String, Operation>,
    pub shapes: BTreeMap<String, Shape>,
    #[serde(default)]
    pub paginators: BTreeMap<String, Paginator>,
}

/// The service's protocol facts.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Metadata {
    /// The only `Version` a request may carry (`2016-11-15`).
    pub api_version: String,
    pub protocol: String,
}

/// One operation: its input and output structures.
#[derive(Debug, Deserialize)]
pub struct Operation {
    #[serde(default)]
    pub input: Option<ShapeRef>,
    #[serde(default)]
    pub output: Option<ShapeRef>,
}

/// A reference to a shape, with the traits the referring member lays over it.
#[derive(Debug, Deserialize)]
pub struct ShapeRef {
    pub shape: String,
    #[serde(default, rename = "locationName")]
    pub location_name: Option<String>,
    #[serde(default, rename = "queryName")]
    pub query_name: Option<String>,
}

/// The kinds of shape the EC2 model uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Structure,
    List,
    Map,
    String,
    Integer,
    Long,
    Boolean,
    Float,
    Double,
    Timestamp,
    Blob,
}

/// A shape; only the fields its kind uses are set.
#[derive(Debug, Deserialize)]
pub struct Shape {
    #[serde(rename = "type")]
    pub kind: Kind,
    #[serde(default)]
    pub members: BTreeMap<String, ShapeRef>,
    #[serde(default)]
    pub required: Vec<String>,
    #[serde(default)]
    pub member: Option<ShapeRef>,
    #[serde(default, rename = "locationName")]
    pub location_name: Option<String>,
    #[serde(default, rename = "queryName")]
    pub query_name: Option<String>,
}

/// A paginator: which members carry the page token and the page size.
#[derive(Debug, Deserialize)]
pub struct Paginator {
    pub input_token: String,
    pub output_token: String,
    pub limit_key: Option<String>,
    pub result_key: String,
}

/// A member reference resolved as botocore resolves it.
#[derive(Clone, Copy, Debug)]
pub struct Resolved<'m> {
    pub shape: &'m Shape,
    /// The member's `locationName`, else the shape's.
    pub location_name: Option<&'m str>,
    /// The member's `queryName`, else the shape's.
    pub query_name: Option<&'m str>,
}

impl Model {
    /// The extract embedded in the binary, parsed once.
    pub fn get() -> &'static Model {
        static MODEL: OnceLock<Model> = OnceLock::new();
        MODEL.get_or_init(|| Model::parse(EXTRACT).expect("the embedded ec2-model.json is valid (checked by its unit test)"))
    }

    /// Parses an extract and checks that every shape it references is in it.
    pub fn parse(text: &str) -> Result<Model, String> {
        let model: Model = serde_json::from_str(text).map_err(|e| format!("ec2-model.json: {e}"))?;
        let mut refs: Vec<&ShapeRef> = model.operations.values().flat_map(|o| o.input.iter().chain(o.output.iter())).collect();
        for shape in model.shapes.values() {
            refs.extend(shape.members.values());
            refs.extend(shape.member.iter());
        }
        if let Some(r) = refs.iter().find(|r| !model.shapes.contains_key(&r.shape)) {
            return Err(format!("ec2-model.json: shape {} is referenced but not extracted", r.shape));
        }
        if model.metadata.protocol != "ec2" {
            return Err(format!("ec2-model.json: the protocol is {}, and only ec2 is served", model.metadata.protocol));
        }
        // The transport passes page tokens through untouched; that is only right while every
        // paginator's members are plain members of its operation's input and output.
        for (name, p) in &model.paginators {
            let members = |r: &Option<ShapeRef>| r.as_ref().map(|r| &model.shapes[&r.shape].members);
            let op = model.operations.get(name).ok_or_else(|| format!("ec2-model.json: a paginator for unknown {name}"))?;
            let (input, output) = (members(&op.input), members(&op.output));
            let inputs = [Some(&p.input_token), p.limit_key.as_ref()];
            if inputs.into_iter().flatten().any(|m| !input.is_some_and(|i| i.contains_key(m)))
                || [&p.output_token, &p.result_key].into_iter().any(|m| !output.is_some_and(|o| o.contains_key(m)))
            {
                return Err(format!("ec2-model.json: the paginator of {name} names members its operation does not have"));
            }
        }
        Ok(model)
    }

    /// The operation called `action`, if the model has it.
    pub fn operation(&self, action: &str) -> Option<&Operation> {
        self.operations.get(action)
    }

    /// A reference resolved to its shape and effective serialization traits.
    pub fn resolve<'m>(&'m self, r: &'m ShapeRef) -> Resolved<'m> {
        let shape = &self.shapes[&r.shape];
        Resolved {
            shape,
            location_name: r.location_name.as_deref().or(shape.location_name.as_deref()),
            query_name: r.query_name.as_deref().or(shape.query_name.as_deref()),
        }
    }
}

impl Resolved<'_> {
    /// The key of this member in a request, as botocore's `EC2Serializer` names it: `queryName`,
    /// else `locationName` with its first letter upper-cased, else the member name.
    pub fn query_key(&self, member_name: &str) -> String {
        match (self.query_name, self.location_name) {
            (Some(q), _) => q.to_string(),
            (None, Some(l)) => upper_first(l),
            (None, None) => member_name.to_string(),
        }
    }

    /// The element name of this member in a reply, as botocore's `EC2QueryParser` looks it up.
    pub fn element_name<'a>(&'a self, member_name: &'a str) -> &'a str {
        self.location_name.unwrap_or(member_name)
    }
}

fn upper_first(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_extract_loads_and_has_every_traffic_mirroring_operation() {
        let model = Model::get();
        let names: Vec<&str> = model.operations.keys().map(String::as_str).collect();
        assert_eq!(
            names,
            [
                "CreateTrafficMirrorFilter",
                "CreateTrafficMirrorFilterRule",
                "CreateTrafficMirrorSession",
                "CreateTrafficMirrorTarget",
                "DeleteTrafficMirrorFilter",
                "DeleteTrafficMirrorFilterRule",
                "DeleteTrafficMirrorSession",
                "DeleteTrafficMirrorTarget",
                "DescribeTrafficMirrorFilterRules",
                "DescribeTrafficMirrorFilters",
                "DescribeTrafficMirrorSessions",
                "DescribeTrafficMirrorTargets",
                "ModifyTrafficMirrorFilterNetworkServices",
                "ModifyTrafficMirrorFilterRule",
                "ModifyTrafficMirrorSession",
            ]
        );
        assert_eq!(model.metadata.api_version, "2016-11-15");
        assert_eq!(model.metadata.protocol, "ec2");
        assert!(!model.botocore_version.is_empty());
        for (name, op) in &model.operations {
            assert!(op.input.is_some() && op.output.is_some(), "{name} has an input and an output");
        }
        assert_eq!(model.paginators.len(), 3, "the three Describe calls that page");
    }

    #[test]
    fn the_extract_uses_only_kinds_the_transport_encodes() {
        // A map or a timestamp appearing after a botocore update would need code here first.
        for (name, shape) in &Model::get().shapes {
            assert!(
                matches!(shape.kind, Kind::Structure | Kind::List | Kind::String | Kind::Integer | Kind::Boolean),
                "shape {name} is a {:?}",
                shape.kind
            );
        }
    }

    #[test]
    fn query_keys_and_element_names_are_botocores() {
        let model = Model::get();
        let req = &model.shapes["DescribeTrafficMirrorSessionsRequest"];
        let ids = model.resolve(&req.members["TrafficMirrorSessionIds"]);
        assert_eq!(ids.query_key("TrafficMirrorSessionIds"), "TrafficMirrorSessionId");
        assert_eq!(model.resolve(&req.members["MaxResults"]).query_key("MaxResults"), "MaxResults");
        let tag = &model.shapes["Tag"];
        assert_eq!(model.resolve(&tag.members["Key"]).query_key("Key"), "Key");
        assert_eq!(model.resolve(&tag.members["Key"]).element_name("Key"), "key");
        let out = &model.shapes["DescribeTrafficMirrorSessionsResult"];
        assert_eq!(model.resolve(&out.members["TrafficMirrorSessions"]).element_name("TrafficMirrorSessions"), "trafficMirrorSessionSet");
        let p = &model.paginators["DescribeTrafficMirrorSessions"];
        assert_eq!((p.input_token.as_str(), p.output_token.as_str(), p.limit_key.as_deref()), ("NextToken", "NextToken", Some("MaxResults")));
    }

    #[test]
    fn a_dangling_shape_reference_is_refused() {
        let text = r#"{"botocore_version":"x","metadata":{"apiVersion":"2016-11-15","protocol":"ec2"},
            "operations":{"A":{"input":{"shape":"Missing"}}},"shapes":{}}"#;
        assert!(Model::parse(text).unwrap_err().contains("Missing"));
    }
}
