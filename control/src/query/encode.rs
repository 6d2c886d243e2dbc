//! An operation's output, in member names, to EC2's XML reply; errors to EC2's error document.
//!
//! botocore's `EC2QueryParser` finds each member by its `locationName` (`trafficMirrorSessionSet`,
//! `tagSet`, `nextToken`) and reads every child of a list element as one element, whatever its
//! tag; EC2 names them `item`. Members the model does not have are left out, as botocore would
//! drop them anyway.

use super::model::{Kind, Model, Shape};
use serde_json::Value;
use std::fmt::Write;

/// The namespace EC2 puts on every reply.
pub const XMLNS: &str = "http://ec2.amazonaws.com/doc/2016-11-15/";

/// An output the dispatcher returned that does not fit the operation's model.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the output member {path} is {found}, but the model wants {expected}")]
pub struct EncodeError {
    pub path: String,
    pub found: String,
    pub expected: &'static str,
}

/// The reply document for a successful `action`.
pub fn reply(model: &Model, action: &str, output: Option<&Shape>, value: &Value, request_id: &str) -> Result<String, EncodeError> {
    let mut xml = String::from(r#"<?xml version="1.0" encoding="UTF-8"?>"#);
    write!(xml, r#"<{action}Response xmlns="{XMLNS}"><requestId>{}</requestId>"#, escape(request_id)).unwrap();
    match output {
        Some(shape) => members(model, shape, value, action, &mut xml)?,
        // EC2's answer for an operation without output members.
        None => xml.push_str("<return>true</return>"),
    }
    write!(xml, "</{action}Response>").unwrap();
    Ok(xml)
}

/// EC2's error document.
pub fn error(code: &str, message: &str, request_id: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?><Response><Errors><Error><Code>{}</Code><Message>{}</Message></Error></Errors><RequestID>{}</RequestID></Response>"#,
        escape(code),
        escape(message),
        escape(request_id)
    )
}

/// The HTTP status EC2 answers an error code with.
pub fn status(code: &str) -> u16 {
    match code {
        // EC2 answers failed authentication with 401 (`AuthFailure`), unlike the 403 of the
        // JSON services.
        "AuthFailure" | "MissingAuthenticationToken" => 401,
        "UnauthorizedOperation" | "Blocked" | "OptInRequired" | "PendingVerification" => 403,
        // Not a failure: the request would have succeeded.
        "DryRunOperation" => 412,
        "InternalError" | "InternalFailure" => 500,
        // botocore retries these; its throttling detection looks at the code, the status says
        // "try again".
        "ServiceUnavailable" | "Unavailable" | "RequestLimitExceeded" | "Throttling" | "RequestResourceCountExceeded" => 503,
        _ => 400,
    }
}

fn members(model: &Model, shape: &Shape, value: &Value, path: &str, xml: &mut String) -> Result<(), EncodeError> {
    let Value::Object(object) = value else {
        return Err(mismatch(path, value, "a structure"));
    };
    for (name, member) in &shape.members {
        let Some(v) = object.get(name).filter(|v| !v.is_null()) else { continue };
        let member = model.resolve(member);
        let tag = member.element_name(name);
        element(model, member.shape, v, &format!("{path}.{name}"), tag, xml)?;
    }
    Ok(())
}

fn element(model: &Model, shape: &Shape, value: &Value, path: &str, tag: &str, xml: &mut String) -> Result<(), EncodeError> {
    write!(xml, "<{tag}>").unwrap();
    match shape.kind {
        Kind::Structure => members(model, shape, value, path, xml)?,
        Kind::List => {
            let Value::Array(items) = value else {
                return Err(mismatch(path, value, "a list"));
            };
            let member = model.resolve(shape.member.as_ref().expect("a list shape has a member"));
            let item = member.location_name.unwrap_or("item");
            for (i, v) in items.iter().enumerate() {
                element(model, member.shape, v, &format!("{path}[{i}]"), item, xml)?;
            }
        }
        Kind::Boolean => match value {
            Value::Bool(b) => xml.push_str(if *b { "true" } else { "false" }),
            _ => return Err(mismatch(path, value, "true or false")),
        },
        Kind::Integer | Kind::Long | Kind::Float | Kind::Double => match value {
            Value::Number(n) => write!(xml, "{n}").unwrap(),
            _ => return Err(mismatch(path, value, "a number")),
        },
        Kind::String | Kind::Timestamp | Kind::Blob => match value {
            Value::String(s) => xml.push_str(&escape(s)),
            _ => return Err(mismatch(path, value, "a string")),
        },
        Kind::Map => return Err(mismatch(path, value, "no map (the transport encodes none)")),
    }
    write!(xml, "</{tag}>").unwrap();
    Ok(())
}

fn mismatch(path: &str, value: &Value, expected: &'static str) -> EncodeError {
    let found = match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    };
    EncodeError { path: path.to_string(), found: found.to_string(), expected }
}

/// Text as XML character data. Control characters XML 1.0 cannot carry at all become U+FFFD,
/// so a stray byte in a description cannot make the whole reply unparseable; a carriage return
/// is escaped so XML's line-end normalisation keeps it.
pub fn escape(s: &str) -> std::borrow::Cow<'_, str> {
    if !s.chars().any(|c| matches!(c, '<' | '>' | '&' | '"' | '\'' | '\r') || (c < ' ' && c != '\t' && c != '\n') || c == '\u{FFFE}' || c == '\u{FFFF}') {
        return s.into();
    }
    let mut out = String::with_capacity(s.len() + 16);
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\r' => out.push_str("&#13;"),
            '\t' | '\n' => out.push(c),
            c if c < ' ' || c == '\u{FFFE}' || c == '\u{FFFF}' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out.into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn reply_for(action: &str, value: Value) -> Result<String, EncodeError> {
        let model = Model::get();
        let output = &model.shapes[&model.operations[action].output.as_ref().unwrap().shape];
        reply(model, action, Some(output), &value, "req-1")
    }

    #[test]
    fn a_describe_reply_uses_location_names_and_items() {
        let xml = reply_for(
            "DescribeTrafficMirrorSessions",
            json!({"TrafficMirrorSessions": [{"TrafficMirrorSessionId": "tms-1", "SessionNumber": 1, "VirtualNetworkId": 42,
                    "Tags": [{"Key": "team", "Value": "ids & soc"}], "Enabled": true}], "NextToken": "t2"}),
        )
        .unwrap();
        assert_eq!(
            xml,
            concat!(
                r#"<?xml version="1.0" encoding="UTF-8"?><DescribeTrafficMirrorSessionsResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">"#,
                "<requestId>req-1</requestId><nextToken>t2</nextToken><trafficMirrorSessionSet><item>",
                "<sessionNumber>1</sessionNumber><tagSet><item><key>team</key><value>ids &amp; soc</value></item></tagSet>",
                "<trafficMirrorSessionId>tms-1</trafficMirrorSessionId><virtualNetworkId>42</virtualNetworkId>",
                "</item></trafficMirrorSessionSet></DescribeTrafficMirrorSessionsResponse>"
            )
        );
    }

    #[test]
    fn appliance_members_such_as_a_rules_hit_count_are_left_out() {
        let xml = reply_for(
            "DescribeTrafficMirrorFilterRules",
            json!({"TrafficMirrorFilterRules": [{"TrafficMirrorFilterRuleId": "tmfr-1", "RuleNumber": 100, "HitCount": 7}]}),
        )
        .unwrap();
        assert!(xml.contains("<trafficMirrorFilterRuleSet><item><ruleNumber>100</ruleNumber><trafficMirrorFilterRuleId>tmfr-1</trafficMirrorFilterRuleId></item>"), "{xml}");
        assert!(!xml.contains("7<") && !xml.to_lowercase().contains("hitcount"), "{xml}");
    }

    #[test]
    fn a_filter_reply_nests_rules_and_port_ranges() {
        let xml = reply_for(
            "CreateTrafficMirrorFilterRule",
            json!({"TrafficMirrorFilterRule": {"RuleNumber": 100, "DestinationPortRange": {"FromPort": 22, "ToPort": 22}}, "ClientToken": "c"}),
        )
        .unwrap();
        assert!(xml.contains("<clientToken>c</clientToken><trafficMirrorFilterRule><destinationPortRange><fromPort>22</fromPort><toPort>22</toPort></destinationPortRange><ruleNumber>100</ruleNumber></trafficMirrorFilterRule>"), "{xml}");
        let xml = reply_for("DeleteTrafficMirrorSession", json!({"TrafficMirrorSessionId": "tms-1"})).unwrap();
        assert!(xml.contains("<trafficMirrorSessionId>tms-1</trafficMirrorSessionId>"));
        let xml = reply_for("DescribeTrafficMirrorSessions", json!({"TrafficMirrorSessions": []})).unwrap();
        assert!(xml.contains("<trafficMirrorSessionSet></trafficMirrorSessionSet>"));
    }

    #[test]
    fn an_output_of_the_wrong_type_is_an_encoding_error_naming_the_member() {
        let err = reply_for("DescribeTrafficMirrorSessions", json!({"TrafficMirrorSessions": [{"SessionNumber": "one"}]})).unwrap_err();
        assert_eq!(err.path, "DescribeTrafficMirrorSessions.TrafficMirrorSessions[0].SessionNumber");
        assert_eq!(err.expected, "a number");
    }

    #[test]
    fn errors_are_ec2s_document_with_ec2s_status() {
        assert_eq!(
            error("InvalidParameterValue", "a < b", "r"),
            r#"<?xml version="1.0" encoding="UTF-8"?><Response><Errors><Error><Code>InvalidParameterValue</Code><Message>a &lt; b</Message></Error></Errors><RequestID>r</RequestID></Response>"#
        );
        assert_eq!(status("AuthFailure"), 401);
        assert_eq!(status("InvalidTrafficMirrorSessionId.NotFound"), 400);
        assert_eq!(status("DryRunOperation"), 412);
        assert_eq!(status("RequestLimitExceeded"), 503);
        assert_eq!(status("InternalError"), 500);
    }

    #[test]
    fn escaping_keeps_the_document_well_formed() {
        assert_eq!(escape("plain"), "plain");
        assert_eq!(escape("<a href='x'>&\"\r\n\t\u{1}"), "&lt;a href=&apos;x&apos;&gt;&amp;&quot;&#13;\n\t\u{FFFD}");
    }
}
