//! Placeholder: flat `Key=Value,Key=Value` until the port of the AWS CLI's parser lands.
use serde_json::{Map, Value};
#[derive(Debug)]
pub struct ShorthandError(String);
impl std::fmt::Display for ShorthandError {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}
pub fn looks_like_json(s: &str) -> bool {
    matches!(s.trim_start().chars().next(), Some('{') | Some('['))
}
pub fn parse(s: &str) -> Result<Value, ShorthandError> {
    let mut m = Map::new();
    let mut last: Option<String> = None;
    for part in s.split(',') {
        match part.split_once('=') {
            Some((k, v)) => {
                m.insert(k.to_owned(), Value::String(v.to_owned()));
                last = Some(k.to_owned());
            }
            None => {
                let k = last.clone().ok_or_else(|| ShorthandError(format!("{s:?}: expected Key=Value")))?;
                let prev = m.remove(&k).unwrap_or(Value::Null);
                let mut list = match prev { Value::Array(a) => a, Value::Null => vec![], one => vec![one] };
                list.push(Value::String(part.to_owned()));
                m.insert(k, Value::Array(list));
            }
        }
    }
    Ok(Value::Object(m))
}
