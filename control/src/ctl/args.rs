//! Flags from shapes, and back: each action's members become the AWS CLI's flags, and the
//! values given become the action's JSON input, typed by the same shapes.

use crate::api::shape::{Member, Shape};
use crate::api::Entry;
use super::shorthand;
use clap::builder::ValueParser;
use clap::{Arg, ArgAction, ArgMatches, Command};
use serde_json::{Map, Value};

/// The AWS CLI's name for a member or action (botocore's `xform_name` with dashes):
/// `TrafficMirrorSessionIds` is `traffic-mirror-session-ids`.
fn flag_name(name: &str) -> String {
    let chars: Vec<char> = name.chars().collect();
    let mut out = String::new();
    for (i, &c) in chars.iter().enumerate() {
        let prev = i.checked_sub(1).map(|j| chars[j]);
        let next = chars.get(i + 1);
        // A capital starts a word after a lower-case letter or digit, or before a lower-case
        // letter when it ends a run of capitals (`ARNs` stays one word where botocore says so).
        let starts = c.is_ascii_uppercase()
            && i > 0
            && (prev.is_some_and(|p| p.is_ascii_lowercase() || p.is_ascii_digit()) || (prev.is_some_and(|p| p.is_ascii_uppercase()) && next.is_some_and(|n| n.is_ascii_lowercase())));
        if starts {
            out.push('-');
        }
        out.push(c.to_ascii_lowercase());
    }
    out
}

/// The verb of an action: `create-traffic-mirror-session`.
pub fn verb_name(action: &str) -> String {
    flag_name(action)
}

fn no_flag_id(member: &str) -> String {
    format!("no-{member}")
}

/// The subcommand of action `e`: a flag per member, documented by the member's doc comment.
pub fn verb(e: &Entry) -> Command {
    let Shape::Structure(members) = (e.shape)() else { unreachable!("requests are structures") };
    let mut c = Command::new(verb_name(e.name)).about(e.about).infer_long_args(true);
    for m in members {
        let help = describe(&m);
        let long = flag_name(m.name);
        c = match &m.shape {
            Shape::Boolean => c
                .arg(Arg::new(m.name).long(long.clone()).action(ArgAction::SetTrue).overrides_with(no_flag_id(m.name)).help(help))
                .arg(Arg::new(no_flag_id(m.name)).long(format!("no-{long}")).action(ArgAction::SetTrue).overrides_with(m.name).help(format!("The opposite of --{long}"))),
            Shape::List(inner) => c.arg(
                Arg::new(m.name)
                    .long(long)
                    .value_name(value_name(inner))
                    .num_args(1..)
                    .action(ArgAction::Append)
                    .value_parser(parser((**inner).clone(), true))
                    .help(help),
            ),
            shape => c.arg(Arg::new(m.name).long(long).value_name(value_name(shape)).value_parser(parser(shape.clone(), false)).help(help)),
        };
    }
    c.arg(Arg::new("cli-input-json").long("cli-input-json").value_name("JSON").help("The request's members as one JSON object; flags given as well take precedence"))
}

fn value_name(shape: &Shape) -> &'static str {
    match shape {
        Shape::Integer => "INTEGER",
        Shape::Boolean => "BOOLEAN",
        Shape::Enum(_) => "VALUE",
        Shape::Structure(_) => "SHORTHAND|JSON",
        Shape::List(_) => "VALUES",
        Shape::String => "STRING",
    }
}

/// A member's help: its doc, what it takes, and whether it is required.
fn describe(m: &Member) -> String {
    let mut h = m.help();
    match &m.shape {
        Shape::Enum(values) => h += &format!(" Values: {}.", values.join(", ")),
        Shape::List(inner) => match &**inner {
            Shape::Enum(values) => h += &format!(" One or more of: {}.", values.join(", ")),
            Shape::Structure(ms) => h += &format!(" Each in shorthand ({}) or JSON; several may follow.", shorthand_example(ms)),
            _ => h += " Several may follow.",
        },
        Shape::Structure(ms) => h += &format!(" Shorthand ({}) or JSON.", shorthand_example(ms)),
        _ => {}
    }
    if m.required {
        h += " Required.";
    }
    h
}

fn shorthand_example(members: &[Member]) -> String {
    members
        .iter()
        .map(|m| match &m.shape {
            Shape::List(inner) => match &**inner {
                Shape::Structure(ms) => format!("{}=[{{{}}}]", m.name, shorthand_example(ms)),
                _ => format!("{}=a,b", m.name),
            },
            Shape::Integer => format!("{}=N", m.name),
            _ => format!("{}=...", m.name),
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// Parses one command-line value of `shape` into JSON; a list member's value may also be a
/// whole JSON list.
fn parser(shape: Shape, list_item: bool) -> ValueParser {
    ValueParser::new(move |s: &str| -> Result<Value, String> {
        if list_item && s.trim_start().starts_with('[') {
            let v: Value = serde_json::from_str(s).map_err(|e| format!("not a JSON list: {e}"))?;
            return coerce(v, &Shape::List(Box::new(shape.clone())));
        }
        match &shape {
            Shape::Structure(_) => {
                let v = if shorthand::looks_like_json(s) { serde_json::from_str(s).map_err(|e| format!("not JSON: {e}"))? } else { shorthand::parse(s).map_err(|e| e.to_string())? };
                coerce(v, &shape)
            }
            _ => coerce(Value::String(s.to_owned()), &shape),
        }
    })
}

/// A value typed by its shape, as the AWS CLI types shorthand: strings become integers and
/// booleans where the member says so, a single value becomes a list of one.
pub fn coerce(v: Value, shape: &Shape) -> Result<Value, String> {
    Ok(match (shape, v) {
        (Shape::Integer, Value::String(s)) => Value::Number(s.trim().parse::<i64>().map_err(|_| format!("{s:?} is not an integer"))?.into()),
        (Shape::Boolean, Value::String(s)) => match s.as_str() {
            "true" => Value::Bool(true),
            "false" => Value::Bool(false),
            _ => return Err(format!("{s:?} is not true or false")),
        },
        (Shape::List(inner), Value::Array(items)) => Value::Array(items.into_iter().map(|i| coerce(i, inner)).collect::<Result<_, _>>()?),
        (Shape::List(inner), one) => Value::Array(vec![coerce(one, inner)?]),
        (Shape::Structure(members), Value::Object(obj)) => {
            let mut out = Map::new();
            for (k, v) in obj {
                // A member the shape lacks is passed on: the appliance names it in its refusal.
                let v = match members.iter().find(|m| m.name == k) {
                    Some(m) => coerce(v, &m.shape)?,
                    None => v,
                };
                out.insert(k, v);
            }
            Value::Object(out)
        }
        (_, v) => v,
    })
}

/// The JSON input of action `e` from its subcommand's matches; a usage error as text.
pub fn input(e: &Entry, m: &ArgMatches) -> Result<Value, String> {
    let Shape::Structure(members) = (e.shape)() else { unreachable!("requests are structures") };
    let mut obj = match m.get_one::<String>("cli-input-json") {
        Some(text) => match serde_json::from_str::<Value>(text) {
            Ok(Value::Object(o)) => match coerce(Value::Object(o), &(e.shape)()) {
                Ok(Value::Object(o)) => o,
                Ok(_) => unreachable!("a structure stays an object"),
                Err(why) => return Err(format!("--cli-input-json: {why}")),
            },
            Ok(_) | Err(_) => return Err("--cli-input-json: expected a JSON object of the request's members".into()),
        },
        None => Map::new(),
    };
    for mem in &members {
        let value = match &mem.shape {
            Shape::Boolean => {
                if m.get_flag(mem.name) {
                    Some(Value::Bool(true))
                } else if m.get_flag(&no_flag_id(mem.name)) {
                    Some(Value::Bool(false))
                } else {
                    None
                }
            }
            Shape::List(_) => m.get_many::<Value>(mem.name).map(|vals| {
                Value::Array(vals.flat_map(|v| match v {
                    Value::Array(items) => items.clone(),
                    one => vec![one.clone()],
                }).collect())
            }),
            _ => m.get_one::<Value>(mem.name).cloned(),
        };
        if let Some(v) = value {
            obj.insert(mem.name.to_owned(), v);
        }
    }
    // As the AWS CLI does, a Create gets a fresh idempotency token unless one is given, so that
    // a retry of the same command line is still one request.
    if members.iter().any(|mem| mem.name == "ClientToken") && !obj.contains_key("ClientToken") {
        obj.insert("ClientToken".into(), Value::String(uuid::Uuid::new_v4().to_string()));
    }
    let missing: Vec<String> = members.iter().filter(|mem| mem.required && !obj.contains_key(mem.name)).map(|mem| format!("--{}", flag_name(mem.name))).collect();
    if !missing.is_empty() {
        return Err(format!("traffic-mirror ctl {}: the following arguments are required: {}", verb_name(e.name), missing.join(", ")));
    }
    Ok(Value::Object(obj))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_as_the_aws_cli_makes_them() {
        assert_eq!(flag_name("TrafficMirrorSessionIds"), "traffic-mirror-session-ids");
        assert_eq!(flag_name("DryRun"), "dry-run");
        assert_eq!(flag_name("NetworkLoadBalancerArn"), "network-load-balancer-arn");
        assert_eq!(flag_name("DescribeTrafficMirrorFilterRules"), "describe-traffic-mirror-filter-rules");
        assert_eq!(flag_name("IpAddress"), "ip-address");
        assert_eq!(flag_name("MaxResults"), "max-results");
    }

    #[test]
    fn shorthand_and_json_are_typed_by_the_shape() {
        let range = Shape::Structure(vec![
            Member { name: "FromPort", doc: &[], required: false, shape: Shape::Integer },
            Member { name: "ToPort", doc: &[], required: false, shape: Shape::Integer },
        ]);
        let p = parser(range.clone(), false);
        let cmd = Command::new("t").arg(Arg::new("r").long("r").value_parser(p));
        let m = cmd.clone().try_get_matches_from(["t", "--r", "FromPort=22,ToPort=22"]).unwrap();
        assert_eq!(m.get_one::<Value>("r"), Some(&serde_json::json!({"FromPort": 22, "ToPort": 22})));
        let m = cmd.clone().try_get_matches_from(["t", "--r", r#"{"FromPort":22,"ToPort":23}"#]).unwrap();
        assert_eq!(m.get_one::<Value>("r"), Some(&serde_json::json!({"FromPort": 22, "ToPort": 23})));
        assert!(cmd.try_get_matches_from(["t", "--r", "FromPort=x,ToPort=1"]).is_err(), "a usage error");
    }
}
