//! The AWS CLI's (v1) shorthand syntax for structure arguments, a port of
//! `awscli.shorthand.ShorthandParser`:
//!
//! ```text
//! FromPort=22,ToPort=22                    {"FromPort": "22", "ToPort": "22"}
//! Name=tag:team,Values=ids,web             {"Name": "tag:team", "Values": ["ids", "web"]}
//! Tags=[{Key=Name,Value=web},{Key=a,Value=b}]
//! Description='has, a comma'               {"Description": "has, a comma"}
//! ```
//!
//! Grammar, as the CLI has it: `key=value` pairs separated by commas. A key is made of ASCII
//! letters, digits and `-_.#/:` (and may be empty). A value is a single word, a comma-separated
//! list of words (the list runs until a word is followed by `=`: `a=b,c,d=e` is
//! `{"a": ["b", "c"], "d": "e"}`), an explicit list `[v,v,...]`, a hash `{k=v,...}` (whose
//! values are words, lists or hashes), or a quoted string, `'...'` or `"..."` with `\'` / `\"`
//! and `\\` as escapes. In a bare word `\,` is a comma; other characters stand for themselves,
//! and trailing whitespace is dropped. `key@=file://path` reads the value from a file.
//!
//! Every value comes out as a JSON string (or a list or object of them): the CLI gives them
//! their types afterwards from the operation's model, which is the caller's job here.
//!
//! Whether an argument is shorthand at all is [`looks_like_json`]'s decision.

use super::py;
use serde_json::{Map, Value};
use std::fmt;

/// Why a shorthand argument could not be parsed. [`fmt::Display`] prints what the CLI prints
/// (after its `Error parsing parameter '--flag': `): the expectation, then the input with a
/// caret under the character where parsing stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ShorthandError {
    /// `expected` (a character, or `<second>`, `<singled quoted>` or `<double quoted>` for a
    /// value the parser needed) was not there: at character `index` (counted in characters,
    /// not bytes) of `input` was `actual` (a character, `EOF` or `<none>`).
    Syntax { input: String, expected: String, actual: String, index: usize },
    /// A top-level `key` came a second time; `index` is just past the previous pair, where the
    /// CLI suspects a `,` that should have been a space.
    DuplicateKey { input: String, key: String, index: usize },
    /// `key@=file://...` named a file that could not be read as text.
    Paramfile { message: String },
}

impl fmt::Display for ShorthandError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ShorthandError::Syntax { input, expected, actual, index } => {
                write!(f, "Expected: '{expected}', received: '{actual}' for input:\n{}", error_location(input, *index))
            }
            ShorthandError::DuplicateKey { input, key, index } => write!(
                f,
                "Second instance of key \"{key}\" encountered for input:\n{}\nThis is often because there is a preceding \",\" instead of a space.",
                error_location(input, *index)
            ),
            ShorthandError::Paramfile { message } => f.write_str(message),
        }
    }
}

impl std::error::Error for ShorthandError {}

/// The input up to the end of the line holding character `index`, a caret under that
/// character on a line of its own, then the rest of the input.
fn error_location(input: &str, index: usize) -> String {
    let chars: Vec<char> = input.chars().collect();
    let index = index.min(chars.len());
    let (before, after) = (&chars[..index], &chars[index..]);
    let spaces = match before.iter().rposition(|&c| c == '\n') {
        Some(nl) => index - nl - 1,
        None => index,
    };
    let (consumed, remaining): (String, String) = match after.iter().position(|&c| c == '\n') {
        Some(nl) => (chars[..index + nl].iter().collect(), chars[index + nl..].iter().collect()),
        None => (input.to_owned(), String::new()),
    };
    format!("{consumed}\n{}^{remaining}", " ".repeat(spaces))
}

/// Whether the CLI takes `arg` as JSON rather than shorthand: its first character that is not
/// whitespace (as Python's `str.strip` sees it) is `{` or `[`. (For a list argument given as
/// several words the CLI looks at the first word only.)
pub fn looks_like_json(arg: &str) -> bool {
    matches!(arg.trim_start_matches(py::is_space).chars().next(), Some('{' | '['))
}

/// Parses a shorthand argument into a JSON object, exactly as `ShorthandParser().parse` does.
/// It touches nothing outside but for `key@=file://path` (read the file, as text).
pub fn parse(s: &str) -> Result<Value, ShorthandError> {
    let mut p = Parser { input: s, chars: s.chars().collect(), index: 0, resolve_paramfiles: false };
    p.parameter().map(Value::Object)
}

type Result<T, E = ShorthandError> = std::result::Result<T, E>;

struct Parser<'a> {
    input: &'a str,
    chars: Vec<char>,
    index: usize,
    /// Set by `@=`, and (as in the CLI) only reset at the next key, so it carries past the end
    /// of a hash literal into the values that follow it.
    resolve_paramfiles: bool,
}

/// `string.whitespace`: what the parser skips between tokens.
fn is_ascii_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r' | '\u{b}' | '\u{c}')
}

fn is_key_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '#' | '/' | ':')
}

/// The character classes of the CLI's value regular expressions. None reaches past U+FFFF.
/// A word starts with anything printable but `"` `'` `,` `=` `[` `{`;
fn starts_word(c: char) -> bool {
    matches!(c as u32, 0x21 | 0x23..=0x26 | 0x28..=0x2B | 0x2D..=0x3C | 0x3E..=0x5A | 0x5C..=0x7A | 0x7C..=0xFFFF)
}

/// goes on, in a first value (or a list or hash element), with whitespace and anything but
/// `"` `'` `,` `]` `}`;
fn continues_first(c: char) -> bool {
    matches!(c as u32, 0x09..=0x0D | 0x1C..=0x21 | 0x23..=0x26 | 0x28..=0x2B | 0x2D..=0x5C | 0x5E..=0x7C | 0x7E..=0xFFFF)
}

/// and, in the second and later values of a comma-separated list, with anything but
/// `"` `'` `,` `=`.
fn continues_second(c: char) -> bool {
    matches!(c as u32, 0x09..=0x0D | 0x1C..=0x21 | 0x23..=0x26 | 0x28..=0x2B | 0x2D..=0x3C | 0x3E..=0xFFFF)
}

impl Parser<'_> {
    fn current(&self) -> Option<char> {
        self.chars.get(self.index).copied()
    }

    fn at_eof(&self) -> bool {
        self.index >= self.chars.len()
    }

    fn syntax_error(&self, expected: impl Into<String>, actual: impl Into<String>) -> ShorthandError {
        ShorthandError::Syntax { input: self.input.to_owned(), expected: expected.into(), actual: actual.into(), index: self.index }
    }

    fn consume_whitespace(&mut self) {
        while self.current().is_some_and(is_ascii_space) {
            self.index += 1;
        }
    }

    fn expect(&mut self, c: char, consume_whitespace: bool) -> Result<()> {
        if consume_whitespace {
            self.consume_whitespace();
        }
        match self.current() {
            None => return Err(self.syntax_error(c, "EOF")),
            Some(actual) if actual != c => return Err(self.syntax_error(c, actual)),
            Some(_) => self.index += 1,
        }
        if consume_whitespace {
            self.consume_whitespace();
        }
        Ok(())
    }

    /// parameter = keyval *("," keyval); a top-level key may come only once.
    fn parameter(&mut self) -> Result<Map<String, Value>> {
        let mut params = Map::new();
        let (key, value) = self.keyval()?;
        params.insert(key, value);
        let mut last_index = self.index;
        while !self.at_eof() {
            self.expect(',', true)?;
            let (key, value) = self.keyval()?;
            if params.contains_key(&key) {
                return Err(ShorthandError::DuplicateKey { input: self.input.to_owned(), key, index: last_index + 1 });
            }
            params.insert(key, value);
            last_index = self.index;
        }
        Ok(params)
    }

    /// keyval = key ("=" / "@=") values
    fn keyval(&mut self) -> Result<(String, Value)> {
        let key = self.key();
        self.at_sign()?;
        self.expect('=', true)?;
        Ok((key, self.values()?))
    }

    /// An optional `@` before the `=`, asking for the value to be read from a file.
    fn at_sign(&mut self) -> Result<()> {
        self.resolve_paramfiles = false;
        match self.expect('@', true) {
            Ok(()) => self.resolve_paramfiles = true,
            Err(ShorthandError::Syntax { .. }) => {}
            Err(e) => return Err(e),
        }
        Ok(())
    }

    fn key(&mut self) -> String {
        let start = self.index;
        while self.current().is_some_and(is_key_char) {
            self.index += 1;
        }
        self.chars[start..self.index].iter().collect()
    }

    /// values = csv-list / explicit-list / hash-literal; nothing at all is the empty string.
    fn values(&mut self) -> Result<Value> {
        match self.current() {
            None => Ok(Value::String(String::new())),
            Some('[') => self.explicit_list(),
            Some('{') => self.hash_literal(),
            Some(_) => self.csv_value(),
        }
    }

    /// A value, or a list of them if commas follow; the list ends (backtracking to its last
    /// comma) at the first element that turns out to be the next `key=`.
    fn csv_value(&mut self) -> Result<Value> {
        let first = self.first_value()?;
        self.consume_whitespace();
        if self.current() != Some(',') {
            return Ok(Value::String(first));
        }
        self.expect(',', true)?;
        let mut list = vec![Value::String(first.clone())];
        loop {
            match self.next_csv_element() {
                Ok((value, done)) => {
                    list.push(Value::String(value));
                    if done {
                        break;
                    }
                }
                Err(e @ ShorthandError::Syntax { .. }) => {
                    if self.at_eof() {
                        return Err(e);
                    }
                    self.backtrack_to(',');
                    break;
                }
                Err(e) => return Err(e),
            }
        }
        if list.len() == 1 {
            return Ok(Value::String(first));
        }
        Ok(Value::Array(list))
    }

    /// One more list element and the comma after it; `true` if the input ended instead.
    fn next_csv_element(&mut self) -> Result<(String, bool)> {
        let value = self.second_value()?;
        self.consume_whitespace();
        if self.at_eof() {
            return Ok((value, true));
        }
        self.expect(',', true)?;
        Ok((value, false))
    }

    fn backtrack_to(&mut self, c: char) {
        while self.index > 0 && self.chars.get(self.index) != Some(&c) {
            self.index -= 1;
        }
    }

    /// explicit-list = "[" [value *("," value)] "]"
    fn explicit_list(&mut self) -> Result<Value> {
        self.expect('[', true)?;
        let mut values = Vec::new();
        while self.current() != Some(']') {
            values.push(self.explicit_value()?);
            self.consume_whitespace();
            if self.current() != Some(']') {
                self.expect(',', false)?;
                self.consume_whitespace();
            }
        }
        self.expect(']', false)?;
        Ok(Value::Array(values))
    }

    fn explicit_value(&mut self) -> Result<Value> {
        match self.current() {
            Some('[') => self.explicit_list(),
            Some('{') => self.hash_literal(),
            _ => self.first_value().map(Value::String),
        }
    }

    /// hash-literal = "{" [key "=" value *("," key "=" value)] "}"; a repeated key keeps its
    /// first place and takes the last value.
    fn hash_literal(&mut self) -> Result<Value> {
        self.expect('{', true)?;
        let mut map = Map::new();
        while self.current() != Some('}') {
            let key = self.key();
            self.at_sign()?;
            self.expect('=', true)?;
            let value = self.explicit_value()?;
            self.consume_whitespace();
            if self.current() != Some('}') {
                self.expect(',', false)?;
                self.consume_whitespace();
            }
            map.insert(key, value);
        }
        self.expect('}', false)?;
        Ok(Value::Object(map))
    }

    fn first_value(&mut self) -> Result<String> {
        match self.current() {
            Some('\'') => self.quoted('\'', "singled quoted"),
            Some('"') => self.quoted('"', "double quoted"),
            _ => match self.word(starts_word, continues_first) {
                Some(word) => self.finish_word(&word),
                None => Ok(String::new()),
            },
        }
    }

    fn second_value(&mut self) -> Result<String> {
        match self.current() {
            Some('\'') => self.quoted('\'', "singled quoted"),
            Some('"') => self.quoted('"', "double quoted"),
            _ => match self.word(starts_word, continues_second) {
                Some(word) => self.finish_word(&word),
                None => Err(self.syntax_error("<second>", "<none>")),
            },
        }
    }

    /// Consumes `(\,|start)(\,|follow)*`, as a greedy regular expression would.
    fn word(&mut self, start: fn(char) -> bool, follow: fn(char) -> bool) -> Option<String> {
        let escaped_comma = |i: usize| self.chars.get(i) == Some(&'\\') && self.chars.get(i + 1) == Some(&',');
        let mut i = self.index;
        if escaped_comma(i) {
            i += 2;
        } else if self.chars.get(i).copied().is_some_and(start) {
            i += 1;
        } else {
            return None;
        }
        loop {
            if escaped_comma(i) {
                i += 2;
            } else if self.chars.get(i).copied().is_some_and(follow) {
                i += 1;
            } else {
                break;
            }
        }
        let word = self.chars[self.index..i].iter().collect();
        self.index = i;
        Some(word)
    }

    fn finish_word(&self, word: &str) -> Result<String> {
        let word = word.replace("\\,", ",");
        self.resolve(word.trim_end_matches(py::is_space).to_owned())
    }

    /// A string in `quote`s, as the regular expression `q(?:\\q|[^q])*q` finds it: up to the
    /// first quote not preceded by a backslash or, when there is none, up to the last
    /// backslash-quote (which then ends the string after a literal backslash). Inside, `\q`
    /// is `q`, then `\\` is `\`.
    fn quoted(&mut self, quote: char, name: &str) -> Result<String> {
        let start = self.index;
        let mut i = start + 1;
        let mut last_escaped_quote = None;
        let end = loop {
            match self.chars.get(i) {
                None => match last_escaped_quote {
                    Some(backslash) => break backslash + 2,
                    None => return Err(self.syntax_error(format!("<{name}>"), "<none>")),
                },
                Some('\\') if self.chars.get(i + 1) == Some(&quote) => {
                    last_escaped_quote = Some(i);
                    i += 2;
                }
                Some(&c) if c == quote => break i + 1,
                Some(_) => i += 1,
            }
        };
        self.index = end;
        let inner: String = self.chars[start + 1..end - 1].iter().collect();
        let value = inner.replace(&format!("\\{quote}"), &quote.to_string()).replace("\\\\", "\\");
        self.resolve(value)
    }

    fn resolve(&self, value: String) -> Result<String> {
        if self.resolve_paramfiles {
            resolve_paramfile(value)
        } else {
            Ok(value)
        }
    }
}

/// `file://path` is the text of that file (`~` and `$VAR` expanded, newlines made `\n`, as
/// Python's text mode does); anything else is itself.
fn resolve_paramfile(value: String) -> Result<String> {
    if let Some(path) = value.strip_prefix("file://") {
        let file_path = expand_vars(&expand_user(path));
        let bytes = std::fs::read(&file_path).map_err(|e| {
            let text = e.to_string();
            let reason = text.split(" (os error").next().unwrap_or(&text);
            let errno = e.raw_os_error().map(|n| format!("[Errno {n}] ")).unwrap_or_default();
            ShorthandError::Paramfile {
                message: format!("Unable to load paramfile {value}: {errno}{reason}: {}", py::repr_str(&file_path)),
            }
        })?;
        let text = String::from_utf8(bytes).map_err(|_| ShorthandError::Paramfile {
            message: format!(
                "Unable to load paramfile ({file_path}), text contents could not be decoded.  If this is a binary file, please use the fileb:// prefix instead of the file:// prefix."
            ),
        })?;
        return Ok(text.replace("\r\n", "\n").replace('\r', "\n"));
    }
    if value.starts_with("fileb://") {
        return Err(ShorthandError::Paramfile {
            message: format!("Unable to load paramfile {value}: binary parameter files are not supported by traffic-mirror ctl; use file://"),
        });
    }
    Ok(value)
}

/// `os.path.expanduser` for `~` and `~/...` (from `$HOME`); `~user` is left as it is.
fn expand_user(path: &str) -> String {
    let Some(rest) = path.strip_prefix('~') else { return path.to_owned() };
    if !(rest.is_empty() || rest.starts_with('/')) {
        return path.to_owned();
    }
    match std::env::var("HOME") {
        Ok(home) => {
            let joined = format!("{}{rest}", home.trim_end_matches('/'));
            if joined.is_empty() {
                "/".to_owned()
            } else {
                joined
            }
        }
        Err(_) => path.to_owned(),
    }
}

/// `os.path.expandvars`: `$NAME` (ASCII letters, digits, `_`) and `${NAME}` of variables that
/// are set; the others stay as they are.
fn expand_vars(path: &str) -> String {
    let mut out = String::new();
    let mut rest = path;
    while let Some(dollar) = rest.find('$') {
        out.push_str(&rest[..dollar]);
        let after = &rest[dollar + 1..];
        let (name, len) = match after.strip_prefix('{') {
            Some(braced) => braced.find('}').map_or(("", 0), |close| (&braced[..close], close + 2)),
            None => {
                let n = after.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(after.len());
                (&after[..n], n)
            }
        };
        if len == 0 {
            out.push('$');
            rest = after;
            continue;
        }
        match std::env::var(name) {
            Ok(value) if !name.is_empty() => out.push_str(&value),
            _ => out.push_str(&rest[dollar..dollar + 1 + len]),
        }
        rest = &after[len..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    //! Expectations the AWS CLI 1.46's `ShorthandParser` gives for the same strings.

    use super::*;
    use serde_json::json;

    fn ok(s: &str) -> Value {
        parse(s).unwrap_or_else(|e| panic!("{s:?}: {e}"))
    }

    #[test]
    fn key_value_pairs_are_strings() {
        assert_eq!(ok("FromPort=22,ToPort=22"), json!({"FromPort": "22", "ToPort": "22"}));
        assert_eq!(ok("Name=tag:team,Values=ids"), json!({"Name": "tag:team", "Values": "ids"}));
        assert_eq!(ok("a="), json!({"a": ""}));
        assert_eq!(ok("key.with-chars_#/:=v"), json!({"key.with-chars_#/:": "v"}));
    }

    #[test]
    fn keys_keep_their_order() {
        assert_eq!(serde_json::to_string(&ok("z=1,a=2,m=3")).unwrap(), r#"{"z":"1","a":"2","m":"3"}"#);
    }

    #[test]
    fn commas_after_a_value_make_a_list_until_the_next_key() {
        assert_eq!(ok("Name=tag:team,Values=ids,web"), json!({"Name": "tag:team", "Values": ["ids", "web"]}));
        assert_eq!(ok("a=b,c,d=e"), json!({"a": ["b", "c"], "d": "e"}));
        assert_eq!(ok("Values=ids,\nweb=x="), json!({"Values": "ids", "web": "x="}));
    }

    #[test]
    fn explicit_lists_and_hashes_nest() {
        assert_eq!(
            ok("ResourceType=traffic-mirror-session,Tags=[{Key=Name,Value=web},{Key=team,Value=ids}]"),
            json!({"ResourceType": "traffic-mirror-session", "Tags": [{"Key": "Name", "Value": "web"}, {"Key": "team", "Value": "ids"}]})
        );
        assert_eq!(ok("Tags=[],Other={}"), json!({"Tags": [], "Other": {}}));
        assert_eq!(ok("a=[b,[c,d]],e={f=[g],h={i=j}}"), json!({"a": ["b", ["c", "d"]], "e": {"f": ["g"], "h": {"i": "j"}}}));
        assert_eq!(ok("a={k=v,k=w}"), json!({"a": {"k": "w"}}));
    }

    #[test]
    fn quotes_and_escapes() {
        assert_eq!(ok("Description='has, a comma',Other=\"say \\\"hi\\\"\""), json!({"Description": "has, a comma", "Other": "say \"hi\""}));
        assert_eq!(ok("Description='it\\'s a \\\\ backslash'"), json!({"Description": "it's a \\ backslash"}));
        assert_eq!(ok("Description=it\\,s"), json!({"Description": "it,s"}));
        assert_eq!(ok("a=[ x , 'y, z' ]"), json!({"a": ["x", "y, z"]}));
    }

    #[test]
    fn whitespace_around_tokens_is_skipped_but_not_before_the_first_key() {
        assert_eq!(ok("FromPort = 22 , ToPort = 22 "), json!({"FromPort": "22", "ToPort": "22"}));
        assert_eq!(ok("a= b c ,d=e"), json!({"a": "b c", "d": "e"}));
        assert_eq!(
            parse(" Key=a").unwrap_err().to_string(),
            "Expected: '=', received: 'K' for input:\n Key=a\n ^"
        );
    }

    #[test]
    fn errors_say_what_was_expected_and_point_at_where() {
        let e = parse("a").unwrap_err();
        assert_eq!(e, ShorthandError::Syntax { input: "a".into(), expected: "=".into(), actual: "EOF".into(), index: 1 });
        assert_eq!(e.to_string(), "Expected: '=', received: 'EOF' for input:\na\n ^");
        assert_eq!(parse("a=[b,c").unwrap_err().to_string(), "Expected: ',', received: 'EOF' for input:\na=[b,c\n      ^");
        let e = parse("a='open").unwrap_err();
        assert!(matches!(e, ShorthandError::Syntax { index: 2, .. }), "{e:?}");
        assert_eq!(e.to_string(), "Expected: '<singled quoted>', received: '<none>' for input:\na='open\n  ^");
        assert_eq!(
            parse("a=b,a=c").unwrap_err().to_string(),
            "Second instance of key \"a\" encountered for input:\na=b,a=c\n    ^\nThis is often because there is a preceding \",\" instead of a space."
        );
        // The caret goes under the right line of a multi-line input.
        assert_eq!(
            parse("a=b,\nb=c,\nb=d").unwrap_err().to_string(),
            "Second instance of key \"b\" encountered for input:\na=b,\nb=c,\n    ^\nb=d\nThis is often because there is a preceding \",\" instead of a space."
        );
    }

    #[test]
    fn json_is_recognised_by_its_first_character() {
        assert!(looks_like_json("{\"FromPort\": 22}"));
        assert!(looks_like_json(" \n[{\"Key\": \"a\"}]"));
        assert!(looks_like_json("\u{1c}{"));
        assert!(!looks_like_json("FromPort=22"));
        assert!(!looks_like_json("a={b=c}"));
        assert!(!looks_like_json(""));
    }

    #[test]
    fn at_equals_reads_a_file() {
        let path = std::env::temp_dir().join(format!("tm-shorthand-unit-{}.txt", std::process::id()));
        std::fs::write(&path, "line one\r\nline, two\n").unwrap();
        let got = parse(&format!("Description@=file://{},Other@=plain", path.display()));
        std::fs::remove_file(&path).unwrap();
        assert_eq!(got.unwrap(), json!({"Description": "line one\nline, two\n", "Other": "plain"}));
        // Without the @ a file:// value is just a string.
        assert_eq!(ok("Description=file:///etc/hostname"), json!({"Description": "file:///etc/hostname"}));
        let e = parse("a@=file:///nonexistent/traffic-mirror").unwrap_err();
        assert_eq!(
            e.to_string(),
            "Unable to load paramfile file:///nonexistent/traffic-mirror: [Errno 2] No such file or directory: '/nonexistent/traffic-mirror'"
        );
    }

    #[test]
    fn paths_expand_as_python_expands_them() {
        let path = std::env::var("PATH").expect("PATH is set");
        assert_eq!(expand_vars("$PATH/a/${PATH}"), format!("{path}/a/{path}"));
        assert_eq!(expand_vars("$TM_SHORTHAND_UNSET/a$"), "$TM_SHORTHAND_UNSET/a$");
        assert_eq!(expand_vars("${TM_SHORTHAND_UNSET"), "${TM_SHORTHAND_UNSET");
        assert_eq!(expand_user("~user/x"), "~user/x");
    }
}
