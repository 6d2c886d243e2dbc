//! Describe, as EC2 does it for every resource: the items named (each must exist), those the
//! `Filters` select (values of one filter OR'ed, filters AND'ed, `*` and `?` wildcards,
//! `tag:<key>`, `tag-key` and `owner-id`), in pages of `MaxResults` with an opaque `NextToken`.
//! Items come in id order, so a page continues exactly where the last one stopped; a page is
//! read from where the last one stopped (the resources are kept in id order too), so asking
//! for 100 of 10,000 sessions costs 100 sessions, not 10,000.

use crate::api::ec2::Filter;
use crate::api::ApiError;
use crate::config::{Kind, Resource, Resources, Tags};

/// What a resource answers to a filter name: its values, or `None` for a name it does not have.
pub trait FilterField: Resource {
    fn tags(&self) -> &Tags;
    /// The values of field `name` (`description`, `session-number`, ...).
    fn field(&self, name: &str) -> Option<Vec<String>>;
}

/// What a describe call pages through: items found by id, and listed in id order after one.
pub trait ById<T> {
    fn find(&self, id: &str) -> Option<&T>;
    fn after<'s>(&'s self, id: Option<&str>) -> Box<dyn Iterator<Item = &'s T> + 's>;
}

impl<T: Resource> ById<T> for Resources<T> {
    fn find(&self, id: &str) -> Option<&T> {
        self.get(id)
    }
    fn after<'s>(&'s self, id: Option<&str>) -> Box<dyn Iterator<Item = &'s T> + 's> {
        Box::new(self.by_id_after(id))
    }
}

/// Items kept in no order (filter rules live in their filters), sorted by id for one call.
pub struct Sorted<T>(Vec<T>);

impl<T: Resource> Sorted<T> {
    pub fn new(mut items: Vec<T>) -> Self {
        items.sort_by(|a, b| a.id().cmp(b.id()));
        Sorted(items)
    }
}

impl<T: Resource> ById<T> for Sorted<T> {
    fn find(&self, id: &str) -> Option<&T> {
        self.0.binary_search_by(|x| x.id().cmp(id)).ok().map(|i| &self.0[i])
    }
    fn after<'s>(&'s self, id: Option<&str>) -> Box<dyn Iterator<Item = &'s T> + 's> {
        let start = id.map_or(0, |a| self.0.partition_point(|x| x.id() <= a));
        Box::new(self.0[start..].iter())
    }
}

/// The items of `all` that a describe call selects, and the next page's token.
pub fn describe<'a, T: FilterField>(
    kind: Kind,
    owner: &str,
    all: &'a impl ById<T>,
    ids: &[String],
    filters: &[Filter],
    max_results: Option<u32>,
    next_token: Option<&str>,
) -> Result<(Vec<&'a T>, Option<String>), ApiError> {
    if let Some(m) = max_results {
        if !(5..=1000).contains(&m) {
            return Err(ApiError::invalid("MaxResults", m, "must be 5-1000"));
        }
    }
    let mut named: Vec<&str> = ids.iter().map(String::as_str).collect();
    named.sort_unstable();
    named.dedup();
    if let Some(id) = named.iter().find(|id| all.find(id).is_none()) {
        return Err(super::not_found(kind, id));
    }
    let after = next_token.map(|t| decode_token(t).ok_or_else(|| ApiError::new("InvalidPaginationToken", format!("The pagination token '{t}' is invalid")))).transpose()?;
    let candidates: Box<dyn Iterator<Item = &'a T> + '_> = if named.is_empty() {
        all.after(after.as_deref())
    } else {
        let start = after.as_deref().map_or(0, |a| named.partition_point(|id| *id <= a));
        Box::new(named[start..].iter().filter_map(|id| all.find(id)))
    };
    let mut out = Vec::new();
    let mut next = None;
    for x in candidates {
        if !matches_all(x, owner, filters)? {
            continue;
        }
        if max_results.is_some_and(|m| out.len() == m as usize) {
            next = out.last().map(|l: &&T| encode_token(l.id()));
            break;
        }
        out.push(x);
    }
    Ok((out, next))
}

fn matches_all<T: FilterField>(x: &T, owner: &str, filters: &[Filter]) -> Result<bool, ApiError> {
    for f in filters {
        let values: Vec<String> = if let Some(key) = f.name.strip_prefix("tag:") {
            x.tags().get(key).cloned().into_iter().collect()
        } else if f.name == "tag-key" {
            x.tags().keys().cloned().collect()
        } else if f.name == "owner-id" {
            // Every resource is the appliance's account's.
            vec![owner.to_owned()]
        } else {
            x.field(&f.name).ok_or_else(|| ApiError::new("InvalidParameterValue", format!("The filter '{}' is invalid", f.name)))?
        };
        if !f.values.iter().any(|want| values.iter().any(|v| glob(want, v))) {
            return Ok(false);
        }
    }
    Ok(true)
}

/// EC2's filter wildcards: `*` any run of characters, `?` one; `\` escapes them.
fn glob(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    // Iterative matching with one backtrack point, linear in practice.
    let (mut pi, mut ti, mut star, mut mark) = (0, 0, None, 0);
    while ti < t.len() {
        match p.get(pi) {
            Some('*') => {
                star = Some(pi);
                mark = ti;
                pi += 1;
            }
            Some('\\') if p.get(pi + 1) == Some(&t[ti]) => {
                pi += 2;
                ti += 1;
            }
            Some(&c) if c == '?' || c == t[ti] => {
                pi += 1;
                ti += 1;
            }
            _ => match star {
                Some(s) => {
                    pi = s + 1;
                    mark += 1;
                    ti = mark;
                }
                None => return false,
            },
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

/// The token for "after `id`": opaque to clients (hex), exact for us.
fn encode_token(id: &str) -> String {
    id.bytes().map(|b| format!("{b:02x}")).collect()
}

fn decode_token(t: &str) -> Option<String> {
    if !t.len().is_multiple_of(2) {
        return None;
    }
    let bytes: Option<Vec<u8>> = (0..t.len()).step_by(2).map(|i| u8::from_str_radix(t.get(i..i + 2)?, 16).ok()).collect();
    String::from_utf8(bytes?).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Clone, Debug)]
    struct Item(String, Tags);

    impl Resource for Item {
        fn id(&self) -> &str {
            &self.0
        }
    }

    impl FilterField for Item {
        fn tags(&self) -> &Tags {
            &self.1
        }
        fn field(&self, name: &str) -> Option<Vec<String>> {
            (name == "id").then(|| vec![self.0.clone()])
        }
    }

    fn items(n: usize) -> Resources<Item> {
        (0..n).rev().map(|i| Item(format!("tms-{i:02}"), [("team".to_owned(), if i % 2 == 0 { "ids" } else { "web" }.to_owned())].into())).collect()
    }

    fn filter(name: &str, values: &[&str]) -> Filter {
        Filter { name: name.into(), values: values.iter().map(|v| v.to_string()).collect() }
    }

    #[test]
    fn pages_cover_everything_once_in_id_order() {
        let all = items(23);
        let mut seen = Vec::new();
        let mut token = None;
        loop {
            let (page, next) = describe(Kind::Session, "0", &all, &[], &[], Some(5), token.as_deref()).unwrap();
            assert!(page.len() <= 5);
            seen.extend(page.iter().map(|i| i.0.clone()));
            match next {
                Some(t) => token = Some(t),
                None => break,
            }
        }
        assert_eq!(seen, (0..23).map(|i| format!("tms-{i:02}")).collect::<Vec<_>>());
        // Items kept in no order page the same.
        let sorted = Sorted::new(all.iter().cloned().collect::<Vec<_>>());
        let (page, next) = describe(Kind::Session, "0", &sorted, &[], &[], Some(5), None).unwrap();
        assert_eq!(page.iter().map(|i| i.0.as_str()).collect::<Vec<_>>(), ["tms-00", "tms-01", "tms-02", "tms-03", "tms-04"]);
        let (page, _) = describe(Kind::Session, "0", &sorted, &[], &[], Some(5), next.as_deref()).unwrap();
        assert_eq!(page[0].0, "tms-05");
    }

    #[test]
    fn filters_tags_wildcards_and_refusals() {
        let all = items(6);
        let ids = |v: Vec<&Item>| v.iter().map(|i| i.0.clone()).collect::<Vec<_>>();
        let (page, _) = describe(Kind::Session, "0", &all, &[], &[filter("tag:team", &["ids"])], None, None).unwrap();
        assert_eq!(ids(page), ["tms-00", "tms-02", "tms-04"]);
        let (page, _) = describe(Kind::Session, "0", &all, &[], &[filter("id", &["tms-0?"]), filter("tag:team", &["w*"])], None, None).unwrap();
        assert_eq!(ids(page), ["tms-01", "tms-03", "tms-05"]);
        let (page, _) = describe(Kind::Session, "0", &all, &["tms-03".into()], &[], None, None).unwrap();
        assert_eq!(ids(page), ["tms-03"]);
        let named: Vec<String> = ["tms-05", "tms-01", "tms-03", "tms-01", "tms-02", "tms-04"].map(String::from).into();
        let (page, next) = describe(Kind::Session, "0", &all, &named, &[], Some(5), None).unwrap();
        assert_eq!(ids(page), ["tms-01", "tms-02", "tms-03", "tms-04", "tms-05"]);
        assert_eq!(next, None);
        assert_eq!(describe(Kind::Session, "0", &all, &["tms-99".into()], &[], None, None).unwrap_err().code, "InvalidTrafficMirrorSessionId.NotFound");
        assert_eq!(describe(Kind::Session, "0", &all, &[], &[filter("colour", &["x"])], None, None).unwrap_err().message, "The filter 'colour' is invalid");
        assert_eq!(describe(Kind::Session, "0", &all, &[], &[], Some(4), None).unwrap_err().code, "InvalidParameterValue");
        assert_eq!(describe(Kind::Session, "0", &all, &[], &[], None, Some("zz")).unwrap_err().code, "InvalidPaginationToken");
    }

    #[test]
    fn wildcards() {
        assert!(glob("a*c", "abbbc") && glob("a?c", "abc") && glob("*", "") && glob("a\\*", "a*"));
        assert!(!glob("a?c", "ac") && !glob("a\\*", "ab") && !glob("abc", "abcd"));
    }
}
