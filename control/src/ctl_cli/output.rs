//! Placeholder: JSON for every format until the port of the AWS CLI's formatters lands.
use serde_json::Value;
pub fn json(v: &Value) -> String {
    serde_json::to_string_pretty(v).unwrap_or_default() + "\n"
}
pub fn text(v: &Value) -> String {
    json(v)
}
pub fn table(_title: &str, v: &Value, _width: usize) -> String {
    json(v)
}
