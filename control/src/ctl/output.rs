//! `--output json|text|table` as the AWS CLI (v1) prints a reply: ports of `awscli.formatter`'s
//! `JSONFormatter`, `TextFormatter` (`awscli.text.format_text`) and `TableFormatter` with
//! `awscli.table.MultiTable` as it renders without colour (stdout not a terminal, or
//! `--color off`).
//!
//! The input is the reply as JSON, read the way the CLI reads it: a JSON object is a Python
//! dict, so where the CLI keeps the reply's key order (JSON output, and the row of keys a dict
//! gives inside a list of scalars in a table) this port keeps the order of the
//! [`serde_json::Map`]. control enables serde_json's `preserve_order` feature for that: a
//! reply built with `serde_json::to_value` from a struct keeps the struct's field order, which
//! is the order the EC2 model lists the members in. Text and table output sort keys anyway.
//!
//! Like every CLI formatter these drop a top-level `ResponseMetadata` key, and print nothing
//! for a reply that is (then) `{}`.

use super::py;
use serde_json::{Map, Value};
use std::borrow::Cow;

/// The width the CLI lays tables out for when it cannot ask a terminal (stdout is a pipe or
/// a file): `awscli.table.determine_terminal_width`'s default.
pub const DEFAULT_WIDTH: usize = 80;

/// The reply without the top-level `ResponseMetadata` that botocore adds and every CLI
/// formatter deletes before printing.
fn without_response_metadata(v: &Value) -> Cow<'_, Value> {
    match v {
        Value::Object(map) if map.contains_key("ResponseMetadata") => Cow::Owned(Value::Object(
            map.iter().filter(|(k, _)| k.as_str() != "ResponseMetadata").map(|(k, v)| (k.clone(), v.clone())).collect(),
        )),
        _ => Cow::Borrowed(v),
    }
}

fn is_empty_object(v: &Value) -> bool {
    matches!(v, Value::Object(map) if map.is_empty())
}

fn is_container(v: &Value) -> bool {
    matches!(v, Value::Array(_) | Value::Object(_))
}

/// Python's truth value of what `json.loads` made of `v`.
fn truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64() != Some(0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(m) => !m.is_empty(),
    }
}

// ---------------------------------------------------------------------------------------------
// json
// ---------------------------------------------------------------------------------------------

/// `--output json`: `json.dump(reply, indent=4, ensure_ascii=False)` and a newline, that is
/// four spaces a level, `", "`-free item separators, `": "` between key and value, non-ASCII
/// characters as they are and numbers as Python prints them (`1e+16`, `1e-05`). Nothing at
/// all for `{}`.
pub fn json(v: &Value) -> String {
    let v = without_response_metadata(v);
    if is_empty_object(&v) {
        return String::new();
    }
    let mut out = String::new();
    write_json(&mut out, &v, 0);
    out.push('\n');
    out
}

fn write_json(out: &mut String, v: &Value, level: usize) {
    const INDENT: &str = "    ";
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&py::number(n)),
        Value::String(s) => write_json_str(out, s),
        Value::Array(items) if items.is_empty() => out.push_str("[]"),
        Value::Object(map) if map.is_empty() => out.push_str("{}"),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                out.push_str(if i == 0 { "\n" } else { ",\n" });
                out.push_str(&INDENT.repeat(level + 1));
                write_json(out, item, level + 1);
            }
            out.push('\n');
            out.push_str(&INDENT.repeat(level));
            out.push(']');
        }
        Value::Object(map) => {
            out.push('{');
            for (i, (k, item)) in map.iter().enumerate() {
                out.push_str(if i == 0 { "\n" } else { ",\n" });
                out.push_str(&INDENT.repeat(level + 1));
                write_json_str(out, k);
                out.push_str(": ");
                write_json(out, item, level + 1);
            }
            out.push('\n');
            out.push_str(&INDENT.repeat(level));
            out.push('}');
        }
    }
}

/// A JSON string as `json.dumps(..., ensure_ascii=False)` writes it: only `"`, `\` and the
/// C0 controls are escaped (`\n`-style where JSON has a short form, else `\u00XX`).
fn write_json_str(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

// ---------------------------------------------------------------------------------------------
// text
// ---------------------------------------------------------------------------------------------

/// `--output text`: one line per dict, its scalar values tab-separated in the order of their
/// sorted keys, led by the upper-cased key the dict sits under; a list of dicts shares the
/// sorted union of its members' scalar keys (a member lacking one prints an empty field); a
/// list of scalars is one `KEY\tvalue` line per element (one tab-joined line at the top level);
/// nested lists and dicts follow, in sorted key order. Values print as Python's `str()`:
/// `True`, `False`, `None`. Nothing at all for `{}`.
///
/// Where the CLI fails with a traceback (a list that mixes dicts with scalars or lists), the
/// dicts' keys are gathered and every element printed as the CLI would print it alone.
pub fn text(v: &Value) -> String {
    let v = without_response_metadata(v);
    let mut out = String::new();
    format_text(&mut out, &v, None, None);
    out
}

fn format_text(out: &mut String, item: &Value, identifier: Option<&str>, scalar_keys: Option<&[String]>) {
    match item {
        Value::Object(map) => format_dict(out, scalar_keys, map, identifier),
        Value::Array(items) => format_list(out, items, identifier),
        scalar => {
            out.push_str(&py::str_of(scalar));
            out.push('\n');
        }
    }
}

fn format_list(out: &mut String, items: &[Value], identifier: Option<&str>) {
    if items.is_empty() {
        return;
    }
    if items.iter().any(Value::is_object) {
        let keys = all_scalar_keys(items);
        for element in items {
            format_text(out, element, identifier, Some(&keys));
        }
    } else if items.iter().any(Value::is_array) {
        let (scalars, lists): (Vec<&Value>, Vec<&Value>) = items.iter().partition(|v| !is_container(v));
        if !scalars.is_empty() {
            format_scalar_list(out, &scalars, identifier);
        }
        for list in lists {
            format_text(out, list, identifier, None);
        }
    } else {
        format_scalar_list(out, &items.iter().collect::<Vec<_>>(), identifier);
    }
}

fn format_scalar_list(out: &mut String, elements: &[&Value], identifier: Option<&str>) {
    match identifier {
        Some(id) => {
            let id = id.to_uppercase();
            for element in elements {
                out.push_str(&id);
                out.push('\t');
                out.push_str(&py::str_of(element));
                out.push('\n');
            }
        }
        None => {
            out.push_str(&elements.iter().map(|e| py::str_of(e)).collect::<Vec<_>>().join("\t"));
            out.push('\n');
        }
    }
}

fn format_dict(out: &mut String, scalar_keys: Option<&[String]>, map: &Map<String, Value>, identifier: Option<&str>) {
    let mut scalars = Vec::new();
    let mut nested = Vec::new();
    match scalar_keys {
        None => {
            for k in sorted_keys(map.keys()) {
                let v = &map[k];
                if is_container(v) {
                    nested.push((k, v));
                } else {
                    scalars.push(py::str_of(v));
                }
            }
        }
        Some(keys) => {
            for k in keys {
                scalars.push(map.get(k).map(py::str_of).unwrap_or_default());
            }
            for k in sorted_keys(map.keys().filter(|k| !keys.contains(k))) {
                nested.push((k, &map[k]));
            }
        }
    }
    if !scalars.is_empty() {
        if let Some(id) = identifier {
            scalars.insert(0, id.to_uppercase());
        }
        out.push_str(&scalars.join("\t"));
        out.push('\n');
    }
    for (k, v) in nested {
        format_text(out, v, Some(k), None);
    }
}

fn sorted_keys<'a>(keys: impl Iterator<Item = &'a String>) -> Vec<&'a String> {
    let mut keys: Vec<_> = keys.collect();
    keys.sort();
    keys
}

/// The sorted union of the keys whose values are scalars, over the dicts of a list.
fn all_scalar_keys(items: &[Value]) -> Vec<String> {
    let mut keys: Vec<String> = items
        .iter()
        .filter_map(Value::as_object)
        .flat_map(|m| m.iter().filter(|(_, v)| !is_container(v)).map(|(k, _)| k.clone()))
        .collect();
    keys.sort();
    keys.dedup();
    keys
}

// ---------------------------------------------------------------------------------------------
// table
// ---------------------------------------------------------------------------------------------

/// `--output table`, for a terminal `width` columns wide ([`DEFAULT_WIDTH`] when stdout is not
/// a terminal), under `title`, which the CLI makes the operation's name
/// (`DescribeTrafficMirrorSessions`).
///
/// Each dict is a section: its sorted scalar keys are a row of column headers over one row of
/// values (a lone scalar is a `key | value` row instead), and each list or dict under it is a
/// section of its own, titled with its key and indented one more level. A list of dicts is one
/// section with the sorted union of the members' scalar keys as headers and one row per
/// member, or one section per member when members have nested values. Every section's columns
/// are stretched to the width of the widest section, under a centred title. If the table is
/// wider than `width`, every section with a single row is turned into `header | value` rows
/// (once: the result may still be wider). Nothing at all for `{}`, `[]` or any other empty or false reply.
///
/// Where the CLI fails with a traceback (a row whose length differs from its section's first,
/// or a list mixing dicts with other values), the table is drawn anyway.
pub fn table(title: &str, v: &Value, width: usize) -> String {
    let v = without_response_metadata(v);
    let mut t = MultiTable { sections: Vec::new(), terminal_width: width as i64 };
    if !t.build(Some(title), &v, 0) {
        return String::new();
    }
    t.render()
}

/// One titled block of the table, as `awscli.table.Section`.
struct Section {
    /// `None` is Python's `None` title (a list nested directly in a list): not drawn, but
    /// `len(str(None))` still counts towards the table's width.
    title: Option<String>,
    headers: Vec<String>,
    rows: Vec<Vec<String>>,
    indent_level: usize,
    max_widths: Vec<usize>,
}

impl Section {
    fn new(title: Option<&str>, indent_level: usize) -> Section {
        Section { title: title.map(str::to_owned), headers: Vec::new(), rows: Vec::new(), indent_level, max_widths: Vec::new() }
    }

    fn title_length(&self) -> i64 {
        self.title.as_deref().map_or(4, py::text_length) as i64
    }

    fn add_header(&mut self, headers: Vec<String>) {
        self.update_max_widths(&headers);
        self.headers = headers;
    }

    fn add_row(&mut self, row: Vec<String>) {
        self.update_max_widths(&row);
        self.rows.push(row);
    }

    fn update_max_widths(&mut self, row: &[String]) {
        if self.max_widths.is_empty() {
            self.max_widths = row.iter().map(|e| py::text_length(e)).collect();
        } else {
            for (i, e) in row.iter().enumerate() {
                let w = py::text_length(e);
                match self.max_widths.get_mut(i) {
                    Some(m) => *m = (*m).max(w),
                    None => self.max_widths.push(w),
                }
            }
        }
    }

    /// Each column's widest cell plus `padding`, scaled (rounding half to even, as Python's
    /// `round`) so that they add up to `max_width`; the rounding error is taken one column at
    /// a time from the left (too wide) or added from the right (too narrow).
    fn column_widths(&self, padding: i64, max_width: i64) -> Vec<i64> {
        let unscaled: Vec<i64> = self.max_widths.iter().map(|&w| w as i64 + padding).collect();
        if unscaled.is_empty() {
            return unscaled;
        }
        let scale = max_width as f64 / unscaled.iter().sum::<i64>() as f64;
        let mut scaled: Vec<i64> = unscaled.iter().map(|&w| (scale * w as f64).round_ties_even() as i64).collect();
        let mut off_by = scaled.iter().sum::<i64>() - max_width;
        while off_by != 0 {
            let order: Vec<usize> = if off_by < 0 { (0..scaled.len()).rev().collect() } else { (0..scaled.len()).collect() };
            for i in order {
                if off_by > 0 {
                    scaled[i] -= 1;
                    off_by -= 1;
                } else {
                    scaled[i] += 1;
                    off_by += 1;
                }
                if off_by == 0 {
                    break;
                }
            }
        }
        scaled
    }

    /// The width the section needs: its columns' widest cells, 4 of padding each, the two
    /// border characters and the indentation on both sides, or its title's if that is wider.
    fn total_width(&self) -> i64 {
        let outer = 2 * self.indent_level as i64;
        let columns: i64 = self.max_widths.iter().map(|&w| w as i64 + 4).sum::<i64>() + 2 + outer;
        columns.max(self.title_length() + 2 + outer)
    }
}

/// `awscli.table.MultiTable` with `TableFormatter`'s builder on top.
struct MultiTable {
    sections: Vec<Section>,
    terminal_width: i64,
}

impl MultiTable {
    fn new_section(&mut self, title: Option<&str>, indent_level: usize) {
        self.sections.push(Section::new(title, indent_level));
    }

    fn current(&mut self) -> &mut Section {
        if self.sections.is_empty() {
            self.new_section(None, 0);
        }
        self.sections.last_mut().expect("a section exists")
    }

    fn add_row_header(&mut self, headers: Vec<String>) {
        self.current().add_header(headers);
    }

    fn add_row(&mut self, row: Vec<String>) {
        self.current().add_row(row);
    }

    // --- TableFormatter._build_table and its helpers ---

    fn build(&mut self, title: Option<&str>, current: &Value, indent_level: usize) -> bool {
        if !truthy(current) {
            return false;
        }
        if let Some(title) = title {
            self.new_section(Some(title), indent_level);
        }
        match current {
            Value::Array(items) => {
                if items[0].is_object() {
                    self.sub_table_from_list(items, indent_level, title);
                } else {
                    for item in items {
                        match item {
                            Value::Array(elements) if elements.iter().any(is_container) => {
                                self.build(None, item, 0);
                            }
                            Value::Array(elements) => self.add_row(elements.iter().map(py::str_of).collect()),
                            // Iterating a dict yields its keys: the CLI prints them as a row.
                            Value::Object(map) => self.add_row(map.keys().cloned().collect()),
                            scalar => self.add_row(vec![py::str_of(scalar)]),
                        }
                    }
                }
            }
            Value::Object(map) => self.sub_table_from_dict(map, indent_level),
            _ => {}
        }
        true
    }

    fn sub_table_from_dict(&mut self, map: &Map<String, Value>, indent_level: usize) {
        let (headers, more) = group_scalar_keys(map);
        if headers.len() == 1 {
            let value = py::str_of(&map[&headers[0]]);
            self.add_row(vec![headers[0].clone(), value]);
        } else if !headers.is_empty() {
            let row = headers.iter().map(|k| py::str_of(&map[k])).collect();
            self.add_row_header(headers);
            self.add_row(row);
        }
        for key in more {
            self.build(Some(&key), &map[&key], indent_level + 1);
        }
    }

    fn sub_table_from_list(&mut self, items: &[Value], indent_level: usize, title: Option<&str>) {
        let mut headers = Vec::new();
        let mut more = Vec::new();
        for map in items.iter().filter_map(Value::as_object) {
            let (h, m) = group_scalar_keys(map);
            headers.extend(h);
            more.extend(m);
        }
        for keys in [&mut headers, &mut more] {
            keys.sort();
            keys.dedup();
        }
        self.add_row_header(headers.clone());
        let empty = Map::new();
        for (i, element) in items.iter().enumerate() {
            let element = element.as_object().unwrap_or(&empty);
            if i > 0 && !more.is_empty() {
                self.new_section(title, indent_level);
                self.add_row_header(headers.clone());
            }
            self.add_row(headers.iter().map(|h| element.get(h).map(py::str_of).unwrap_or_default()).collect());
            for key in &more {
                if let Some(v) = element.get(key) {
                    self.build(Some(key), v, indent_level + 1);
                }
            }
        }
    }

    // --- MultiTable.render ---

    fn render(&mut self) -> String {
        let mut max_width = self.max_width();
        if max_width > self.terminal_width {
            self.convert_to_vertical();
            max_width = self.max_width();
        }
        let mut out = "-".repeat(max_width.max(0) as usize);
        out.push('\n');
        for section in &self.sections {
            render_section(&mut out, section, max_width);
        }
        out
    }

    fn max_width(&self) -> i64 {
        self.sections.iter().map(Section::total_width).max().unwrap_or(0)
    }

    /// Sections of one row under headers become one `header | value` row per column.
    fn convert_to_vertical(&mut self) {
        for section in &mut self.sections {
            if section.rows.len() == 1 && !section.headers.is_empty() {
                let mut vertical = Section::new(section.title.as_deref(), section.indent_level);
                for (header, element) in section.headers.iter().zip(&section.rows[0]) {
                    vertical.add_row(vec![header.clone(), element.clone()]);
                }
                *section = vertical;
            }
        }
    }
}

/// The keys of a dict whose values are scalars and those whose values are not, each sorted.
fn group_scalar_keys(map: &Map<String, Value>) -> (Vec<String>, Vec<String>) {
    let (mut headers, mut more): (Vec<String>, Vec<String>) = (Vec::new(), Vec::new());
    for (k, v) in map {
        if is_container(v) {
            more.push(k.clone());
        } else {
            headers.push(k.clone());
        }
    }
    headers.sort();
    more.sort();
    (headers, more)
}

fn spaces(n: i64) -> String {
    " ".repeat(n.max(0) as usize)
}

fn dashes(n: i64) -> String {
    "-".repeat(n.max(0) as usize)
}

/// One section, each line framed by `indent_level` `|` on either side.
fn render_section(out: &mut String, section: &Section, max_width: i64) {
    let indent = "|".repeat(section.indent_level);
    let mut write = |line: &str| {
        out.push_str(&indent);
        out.push_str(line);
        out.push_str(&indent);
        out.push('\n');
    };
    let max_width = max_width - 2 * section.indent_level as i64;
    if let Some(title) = section.title.as_deref().filter(|t| !t.is_empty()) {
        write(&center(title, max_width, "|", "|"));
        if section.headers.is_empty() && section.rows.is_empty() {
            write(&format!("+{}+", dashes(max_width - 2)));
        }
    }
    if !section.headers.is_empty() {
        let widths = section.column_widths(4, max_width);
        let mut line = String::new();
        for (i, (&w, header)) in widths.iter().zip(&section.headers).enumerate() {
            line.push_str(&center(header, w, if i == 0 { "|" } else { "" }, "|"));
        }
        write(&line_break(&widths));
        write(&line);
    }
    if !section.rows.is_empty() {
        let widths = section.column_widths(4, max_width);
        if widths.is_empty() {
            return;
        }
        write(&line_break(&widths));
        for row in &section.rows {
            let mut line = String::new();
            for (i, (&w, element)) in widths.iter().zip(row).enumerate() {
                line.push_str(&align_left(element, w, if i == 0 { "|" } else { "" }, "|"));
            }
            write(&line);
        }
        write(&line_break(&widths));
    }
}

/// `+-----+------+`: a border under or over cells of these widths.
fn line_break(widths: &[i64]) -> String {
    let mut line = String::new();
    for (i, &w) in widths.iter().enumerate() {
        if i == 0 {
            line.push_str(&format!("+{}+", dashes(w - 2)));
        } else {
            line.push_str(&format!("{}+", dashes(w - 1)));
        }
    }
    line
}

/// `awscli.table.center_text`: `text` between the edges in `length` columns, starting at
/// `length/2 - text/2 - 1` (rounding down) past the left edge.
fn center(text: &str, length: i64, left_edge: &str, right_edge: &str) -> String {
    let text_length = py::text_length(text) as i64;
    let start = length.div_euclid(2) - text_length.div_euclid(2) - 1;
    let so_far = left_edge.len() as i64 + start + text_length;
    format!("{left_edge}{}{text}{}{right_edge}", spaces(start), spaces(length - right_edge.len() as i64 - so_far))
}

/// `awscli.table.align_left`: two spaces, `text`, and spaces up to the right edge; without the
/// two spaces when they do not fit (the text itself is never cut).
fn align_left(text: &str, length: i64, left_edge: &str, right_edge: &str) -> String {
    let text_length = py::text_length(text) as i64;
    let edges = (left_edge.len() + right_edge.len()) as i64;
    let padding = if length - (text_length + 2 + edges) >= 0 { 2 } else { 0 };
    let so_far = left_edge.len() as i64 + padding + text_length;
    format!("{left_edge}{}{text}{}{right_edge}", spaces(padding), spaces(length - so_far - right_edge.len() as i64))
}

#[cfg(test)]
mod tests {
    //! Expectations printed by the AWS CLI 1.46 itself for the same documents.

    use super::*;
    use serde_json::json;

    fn sessions() -> Value {
        json!({"TrafficMirrorSessions": [
            {"TrafficMirrorSessionId": "tms-web", "TrafficMirrorTargetId": "tmt-ids", "TrafficMirrorFilterId": "tmf-web", "NetworkInterfaceId": "eni-web",
             "PacketLength": 96, "SessionNumber": 1, "VirtualNetworkId": 321, "Tags": [{"Key": "Name", "Value": "web"}, {"Key": "team", "Value": "ids"}]},
            {"TrafficMirrorSessionId": "tms-db", "TrafficMirrorTargetId": "tmt-ids", "TrafficMirrorFilterId": "tmf-all", "NetworkInterfaceId": "eni-db",
             "SessionNumber": 2, "VirtualNetworkId": 7, "Tags": []}],
         "NextToken": "tok"})
    }

    fn filters() -> Value {
        json!({"TrafficMirrorFilters": [{"TrafficMirrorFilterId": "tmf-web",
            "IngressFilterRules": [{"RuleNumber": 100, "RuleAction": "accept"}, {"RuleNumber": 200, "RuleAction": "reject", "Protocol": 17}],
            "EgressFilterRules": [], "NetworkServices": ["amazon-dns"], "Tags": []}]})
    }

    fn rule() -> Value {
        json!({"TrafficMirrorFilterRule": {"TrafficMirrorFilterRuleId": "tmfr-1", "RuleNumber": 100, "RuleAction": "accept", "Protocol": 6,
            "DestinationPortRange": {"FromPort": 22, "ToPort": 22}}})
    }

    fn misc() -> Value {
        json!({"Return": true, "Ratio": 0.5, "Nothing": null, "Big": 1e16, "ResponseMetadata": {"RequestId": "r-1"}})
    }

    #[test]
    fn json_is_four_space_indented_in_the_replys_key_order() {
        assert_eq!(
            json(&sessions()),
            r#"{
    "TrafficMirrorSessions": [
        {
            "TrafficMirrorSessionId": "tms-web",
            "TrafficMirrorTargetId": "tmt-ids",
            "TrafficMirrorFilterId": "tmf-web",
            "NetworkInterfaceId": "eni-web",
            "PacketLength": 96,
            "SessionNumber": 1,
            "VirtualNetworkId": 321,
            "Tags": [
                {
                    "Key": "Name",
                    "Value": "web"
                },
                {
                    "Key": "team",
                    "Value": "ids"
                }
            ]
        },
        {
            "TrafficMirrorSessionId": "tms-db",
            "TrafficMirrorTargetId": "tmt-ids",
            "TrafficMirrorFilterId": "tmf-all",
            "NetworkInterfaceId": "eni-db",
            "SessionNumber": 2,
            "VirtualNetworkId": 7,
            "Tags": []
        }
    ],
    "NextToken": "tok"
}
"#
        );
    }

    #[test]
    fn json_prints_python_numbers_drops_response_metadata_and_keeps_unicode() {
        assert_eq!(json(&misc()), "{\n    \"Return\": true,\n    \"Ratio\": 0.5,\n    \"Nothing\": null,\n    \"Big\": 1e+16\n}\n");
        assert_eq!(json(&json!({"D": "日本 \"q\" \\ \n\u{1}"})), "{\n    \"D\": \"日本 \\\"q\\\" \\\\ \\n\\u0001\"\n}\n");
        assert_eq!(json(&json!({"TrafficMirrorSessions": []})), "{\n    \"TrafficMirrorSessions\": []\n}\n");
        assert_eq!(json(&json!([])), "[]\n");
    }

    #[test]
    fn text_sorts_scalar_keys_and_labels_nested_rows() {
        assert_eq!(
            text(&sessions()),
            "tok\n\
             TRAFFICMIRRORSESSIONS\teni-web\t96\t1\ttmf-web\ttms-web\ttmt-ids\t321\n\
             TAGS\tName\tweb\n\
             TAGS\tteam\tids\n\
             TRAFFICMIRRORSESSIONS\teni-db\t\t2\ttmf-all\ttms-db\ttmt-ids\t7\n"
        );
        assert_eq!(text(&rule()), "TRAFFICMIRRORFILTERRULE\t6\taccept\t100\ttmfr-1\nDESTINATIONPORTRANGE\t22\t22\n");
    }

    #[test]
    fn text_gives_a_list_of_dicts_the_union_of_their_keys_and_skips_empty_lists() {
        assert_eq!(
            text(&filters()),
            "TRAFFICMIRRORFILTERS\ttmf-web\nINGRESSFILTERRULES\t\taccept\t100\nINGRESSFILTERRULES\t17\treject\t200\nNETWORKSERVICES\tamazon-dns\n"
        );
    }

    #[test]
    fn text_prints_booleans_and_null_as_python_does() {
        assert_eq!(text(&misc()), "1e+16\tNone\t0.5\tTrue\n");
        assert_eq!(text(&json!({"Return": false})), "False\n");
        assert_eq!(text(&json!(["tms-1", "tms-2"])), "tms-1\ttms-2\n");
        assert_eq!(text(&json!({"Ids": [["a", "b"], ["c"]]})), "IDS\ta\nIDS\tb\nIDS\tc\n");
    }

    #[test]
    fn an_empty_reply_prints_nothing() {
        for v in [json!({}), json!({"ResponseMetadata": {"RequestId": "r"}})] {
            assert_eq!(json(&v), "");
            assert_eq!(text(&v), "");
            assert_eq!(table("DeleteTrafficMirrorTarget", &v, 80), "");
        }
        assert_eq!(text(&json!({"TrafficMirrorSessions": []})), "");
        assert_eq!(table("Q", &json!([]), 80), "");
        assert_eq!(table("Q", &json!(false), 80), "");
    }

    #[test]
    fn table_turns_single_rows_vertical_when_too_wide() {
        assert_eq!(
            table("DescribeTrafficMirrorSessions", &sessions(), DEFAULT_WIDTH),
            "\
-----------------------------------------
|     DescribeTrafficMirrorSessions     |
+-------------------------+-------------+
|  NextToken              |  tok        |
+-------------------------+-------------+
||        TrafficMirrorSessions        ||
|+-------------------------+-----------+|
||  NetworkInterfaceId     |  eni-web  ||
||  PacketLength           |  96       ||
||  SessionNumber          |  1        ||
||  TrafficMirrorFilterId  |  tmf-web  ||
||  TrafficMirrorSessionId |  tms-web  ||
||  TrafficMirrorTargetId  |  tmt-ids  ||
||  VirtualNetworkId       |  321      ||
|+-------------------------+-----------+|
|||               Tags                |||
||+---------------+-------------------+||
|||      Key      |       Value       |||
||+---------------+-------------------+||
|||  Name         |  web              |||
|||  team         |  ids              |||
||+---------------+-------------------+||
||        TrafficMirrorSessions        ||
|+-------------------------+-----------+|
||  NetworkInterfaceId     |  eni-db   ||
||  PacketLength           |           ||
||  SessionNumber          |  2        ||
||  TrafficMirrorFilterId  |  tmf-all  ||
||  TrafficMirrorSessionId |  tms-db   ||
||  TrafficMirrorTargetId  |  tmt-ids  ||
||  VirtualNetworkId       |  7        ||
|+-------------------------+-----------+|
"
        );
    }

    #[test]
    fn table_keeps_columns_when_they_fit_and_scales_them_to_the_widest_section() {
        assert_eq!(
            table("CreateTrafficMirrorFilterRule", &rule(), DEFAULT_WIDTH),
            "\
-------------------------------------------------------------------------
|                     CreateTrafficMirrorFilterRule                     |
+-----------------------------------------------------------------------+
||                       TrafficMirrorFilterRule                       ||
|+----------+-------------+-------------+------------------------------+|
|| Protocol | RuleAction  | RuleNumber  |  TrafficMirrorFilterRuleId   ||
|+----------+-------------+-------------+------------------------------+|
||  6       |  accept     |  100        |  tmfr-1                      ||
|+----------+-------------+-------------+------------------------------+|
|||                       DestinationPortRange                        |||
||+------------------------------------+------------------------------+||
|||              FromPort              |           ToPort             |||
||+------------------------------------+------------------------------+||
|||  22                                |  22                          |||
||+------------------------------------+------------------------------+||
"
        );
    }

    #[test]
    fn table_lists_of_dicts_and_scalars() {
        assert_eq!(
            table("DescribeTrafficMirrorFilters", &filters(), DEFAULT_WIDTH),
            "\
----------------------------------------------
|        DescribeTrafficMirrorFilters        |
+--------------------------------------------+
||           TrafficMirrorFilters           ||
|+------------------------------------------+|
||           TrafficMirrorFilterId          ||
|+------------------------------------------+|
||  tmf-web                                 ||
|+------------------------------------------+|
|||           IngressFilterRules           |||
||+----------+--------------+--------------+||
||| Protocol | RuleAction   | RuleNumber   |||
||+----------+--------------+--------------+||
|||          |  accept      |  100         |||
|||  17      |  reject      |  200         |||
||+----------+--------------+--------------+||
|||             NetworkServices            |||
||+----------------------------------------+||
|||  amazon-dns                            |||
||+----------------------------------------+||
"
        );
    }

    #[test]
    fn table_counts_east_asian_characters_as_two_columns() {
        let targets = json!({"TrafficMirrorTargets": [{"TrafficMirrorTargetId": "tmt-ids", "Type": "network-interface", "NetworkInterfaceId": "eni-ids", "Description": "IDS 日本"}]});
        assert_eq!(
            table("DescribeTrafficMirrorTargets", &targets, 40),
            "\
--------------------------------------------------
|          DescribeTrafficMirrorTargets          |
+------------------------------------------------+
||             TrafficMirrorTargets             ||
|+------------------------+---------------------+|
||  Description           |  IDS 日本           ||
||  NetworkInterfaceId    |  eni-ids            ||
||  TrafficMirrorTargetId |  tmt-ids            ||
||  Type                  |  network-interface  ||
|+------------------------+---------------------+|
"
        );
    }

    #[test]
    fn table_prints_python_scalars_and_a_title_wider_than_the_columns() {
        assert_eq!(
            table("ModifyTrafficMirrorFilterNetworkServices", &misc(), DEFAULT_WIDTH),
            "\
------------------------------------------
|ModifyTrafficMirrorFilterNetworkServices|
+-------+-----------+---------+----------+
|  Big  |  Nothing  |  Ratio  | Return   |
+-------+-----------+---------+----------+
|  1e+16|  None     |  0.5    |  True    |
+-------+-----------+---------+----------+
"
        );
        assert_eq!(
            table("DescribeTrafficMirrorSessions", &json!({"TrafficMirrorSessions": []}), DEFAULT_WIDTH),
            "-------------------------------\n|DescribeTrafficMirrorSessions|\n+-----------------------------+\n"
        );
    }
}
