//! Folding journalled changes into the configuration file: the file's TOML is edited in place
//! (toml_edit), so its comments, order and layout stay, and only the resources that changed
//! are rewritten. Runs on a thread of its own, batching changes that come close together.

use super::{load_knowing, text_hash, write_atomically_then, FoldJob, Folded, Signature, Watch};
use crate::config::{self, Config, Direction};
use crate::state::{apply_all, Edit};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};
use toml_edit::{ArrayOfTables, DocumentMut, Item, Table, Value};

/// Changes are folded once none has come for this long...
const QUIET: Duration = Duration::from_secs(1);
/// ...or this long after the first waiting one, whichever is sooner. A fold rewrites the whole
/// file (over a second of CPU with 10,000 sessions), on the core the control thread shares:
/// while changes keep coming, they are folded in batches this far apart, not one fold each.
const AT_MOST: Duration = Duration::from_secs(30);
/// How often an idle fold thread looks whether the file was edited by hand.
const WATCH: Duration = Duration::from_secs(1);

/// Starts the fold thread for `path`, whose text is `text` and whose journal holds `pending`
/// changes beyond it.
pub(super) fn spawn(
    path: PathBuf,
    text: String,
    pending: Vec<(u64, Vec<Edit>)>,
    jobs: crossbeam::channel::Receiver<FoldJob>,
    done: crossbeam::channel::Sender<Folded>,
    watch: Arc<Watch>,
) {
    let spawned = std::thread::Builder::new().name("tm-fold".into()).spawn(move || {
        let mut f = Folder { path, text, parsed: None, pending, watch, done };
        f.run(jobs);
    });
    if let Err(e) = spawned {
        log::error!("cannot start the thread that writes changes into the configuration file: {e}; they stay in the journal");
    }
}

struct Folder {
    path: PathBuf,
    /// The file's text as last read or written here...
    text: String,
    /// ...and the configuration it holds, once known (saves a fold parsing it again).
    parsed: Option<Config>,
    pending: Vec<(u64, Vec<Edit>)>,
    watch: Arc<Watch>,
    done: crossbeam::channel::Sender<Folded>,
}

impl Folder {
    fn run(&mut self, jobs: crossbeam::channel::Receiver<FoldJob>) {
        // Changes replayed at start-up are folded as soon as the thread runs.
        let mut first_waiting: Option<Instant> = (!self.pending.is_empty()).then(Instant::now);
        // Between a reload's reading and its outcome nothing is folded.
        let mut paused = false;
        loop {
            let timeout = match first_waiting {
                Some(t) => QUIET.min(AT_MOST.saturating_sub(t.elapsed())),
                None => WATCH,
            };
            match jobs.recv_timeout(timeout) {
                Ok(FoldJob::Changes(seq, edits)) => {
                    self.pending.push((seq, edits));
                    first_waiting.get_or_insert_with(Instant::now);
                    continue;
                }
                Ok(FoldJob::Reread) => {
                    let folds = self.watch.folds.lock().map(|f| f.clone()).unwrap_or_default();
                    paused = true;
                    let _ = self.done.send(Folded::Reread(Box::new(load_knowing(&self.path, &folds))));
                    continue;
                }
                Ok(FoldJob::Loaded { text, pending }) => {
                    self.text = text;
                    self.parsed = None;
                    self.pending = pending;
                    paused = false;
                    first_waiting = (!self.pending.is_empty()).then(Instant::now);
                    continue;
                }
                Ok(FoldJob::Resume) => {
                    paused = false;
                    continue;
                }
                Err(crossbeam::channel::RecvTimeoutError::Disconnected) => return,
                Err(crossbeam::channel::RecvTimeoutError::Timeout) => {}
            }
            if paused || self.watch.edited() {
                continue;
            }
            if !self.file_is_ours() {
                self.watch.mark_edited();
                let _ = self.done.send(Folded::HandEdit);
                continue;
            }
            if first_waiting.take().is_some() && !self.pending.is_empty() {
                self.fold();
            }
        }
    }

    /// Whether the file still holds the text written or read here. On a hung mount this
    /// waits (this thread has nothing else to do: nothing can be folded into such a file, and
    /// a reload meanwhile is timed by the control thread) rather than leave a reader thread
    /// behind every second.
    fn file_is_ours(&self) -> bool {
        match config::read_text(&self.path) {
            Ok(now) => now == self.text,
            // Unreadable for now: nothing to fold into; try again later.
            Err(_) => true,
        }
    }

    fn fold(&mut self) {
        let through = self.pending.last().map_or(0, |(s, _)| *s);
        let edits: Vec<Edit> = self.pending.iter().flat_map(|(_, e)| e.iter().cloned()).collect();
        let file = self.path.display().to_string();
        let before = match self.parsed.take() {
            Some(cfg) => Ok(cfg),
            None => config::parse(&self.text, &file).map_err(|e| format!("the file does not load: {e}")),
        };
        match before.and_then(|before| rewrite_from(&self.text, &before, &file, &edits)) {
            Ok((new, parsed)) => {
                // The new file's signature, taken before it is renamed into place (a rename
                // keeps it): a look at the path afterwards could already see a hand edit.
                let mut written: Option<Signature> = None;
                let result = write_atomically_then(&self.path, &new, |sig| {
                    written = sig;
                    self.watch.set(sig, true);
                    self.watch.folding(text_hash(&new), through);
                });
                match result {
                Ok(()) => {
                    self.watch.set(written, false);
                    self.text = new;
                    self.parsed = Some(parsed);
                    self.pending.clear();
                    let _ = self.done.send(Folded::Written { hash: text_hash(&self.text), through });
                }
                Err(e) => {
                    let _ = self.done.send(Folded::Failed(format!("writing {}: {e}", self.path.display())));
                }
                }
            }
            Err(e) => {
                let _ = self.done.send(Folded::Failed(e));
            }
        }
    }
}

/// The file's `text` with `edits` applied, its comments and layout kept; checked to read back
/// as exactly the configuration the edits make, so a fold never writes a file that loads as
/// something else. (The fold thread calls [`rewrite_from`]; this is its tests' way in.)
#[cfg(test)]
fn rewrite(text: &str, file: &str, edits: &[Edit]) -> Result<String, String> {
    let before = config::parse(text, file).map_err(|e| format!("the file does not load: {e}"))?;
    rewrite_from(text, &before, file, edits).map(|(out, _)| out)
}

/// [`rewrite`] of a `text` known to hold `before`; returns the configuration it then holds too.
fn rewrite_from(text: &str, before: &Config, file: &str, edits: &[Edit]) -> Result<(String, Config), String> {
    let mut want = before.clone();
    apply_all(&mut want, edits);
    let mut doc: DocumentMut = text.parse().map_err(|e| format!("{file}: {e}"))?;
    // What was assigned at load (VNIs, rule ids) is written out, so it cannot change later
    // when other sessions or rules come and go.
    materialise(&mut doc, before);
    for e in edits {
        apply(&mut doc, e).map_err(|why| format!("{file}: {why}"))?;
    }
    let out = doc.to_string();
    let again = config::parse(&out, file).map_err(|e| format!("the rewritten file would not load: {e}"))?;
    if again != want {
        return Err("the rewritten file would not load as the running configuration; the changes stay in the journal".into());
    }
    Ok((out, again))
}

fn materialise(doc: &mut DocumentMut, cfg: &Config) {
    if let Some(sessions) = doc.get_mut("session").and_then(Item::as_array_of_tables_mut) {
        for (t, s) in sessions.iter_mut().zip(&cfg.sessions) {
            if !t.contains_key("virtual_network_id") {
                if let Some(vni) = s.virtual_network_id {
                    t.insert("virtual_network_id", toml_edit::value(i64::from(vni)));
                }
            }
        }
    }
    if let Some(filters) = doc.get_mut("filter").and_then(Item::as_array_of_tables_mut) {
        for (t, f) in filters.iter_mut().zip(&cfg.filters) {
            for dir in Direction::ALL {
                let Some(rules) = t.get_mut(rule_key(dir)).and_then(Item::as_array_of_tables_mut) else { continue };
                for (rt, r) in rules.iter_mut().zip(f.rules(dir)) {
                    if !rt.contains_key("id") {
                        if let Some(id) = &r.id {
                            insert_first(rt, "id", toml_edit::value(id.as_str()));
                        }
                    }
                }
            }
        }
    }
}

fn rule_key(dir: Direction) -> &'static str {
    match dir {
        Direction::Ingress => "ingress_rule",
        Direction::Egress => "egress_rule",
    }
}

/// `key = item` as the table's first entry (ids read best at the top).
fn insert_first(t: &mut Table, key: &str, item: Item) {
    let rest: Vec<(String, Item)> = t.iter().map(|(k, v)| (k.to_owned(), v.clone())).collect();
    let decor: Vec<_> = rest.iter().map(|(k, _)| t.key(k).map(|k| k.leaf_decor().clone())).collect();
    t.clear();
    t.insert(key, item);
    for ((k, v), d) in rest.into_iter().zip(decor) {
        t.insert(&k, v);
        if let (Some(d), Some(mut key)) = (d, t.key_mut(&k)) {
            *key.leaf_decor_mut() = d;
        }
    }
}

/// A resource as a TOML table, nested tables inline (`tags = { Name = "web" }`).
fn table_of<T: serde::Serialize>(resource: &T) -> Result<Table, String> {
    let doc = toml_edit::ser::to_document(resource).map_err(|e| e.to_string())?;
    let mut t = doc.as_table().clone();
    for (_, item) in t.iter_mut() {
        if let Item::Table(inner) = item {
            *item = Item::Value(Value::InlineTable(inner.clone().into_inline_table()));
        }
    }
    Ok(t)
}

/// Replaces `old`'s entries by `new`'s, keeping the comments on `old` and on the keys both have.
fn update(old: &mut Table, new: Table, keep: &[&str]) {
    let stale: Vec<String> = old.iter().map(|(k, _)| k.to_owned()).filter(|k| !keep.contains(&k.as_str()) && !new.contains_key(k)).collect();
    for k in stale {
        old.remove(&k);
    }
    for (k, v) in new.into_iter() {
        match old.get_mut(&k) {
            Some(Item::Value(existing)) if v.is_value() => {
                let decor = existing.decor().clone();
                let mut v = v.into_value().expect("checked");
                *v.decor_mut() = decor;
                *existing = v;
            }
            _ => {
                old.insert(&k, v);
            }
        }
    }
}

fn array<'d>(doc: &'d mut DocumentMut, key: &str) -> &'d mut ArrayOfTables {
    if !doc.contains_key(key) {
        doc.insert(key, Item::ArrayOfTables(ArrayOfTables::new()));
    }
    doc[key].as_array_of_tables_mut().expect("an array of tables, as parsing checked")
}

/// Puts `resource` as the table of `key`'s array whose `id_key` is `id`, or adds it.
fn put<T: serde::Serialize>(doc: &mut DocumentMut, key: &str, id_key: &str, id: &str, resource: &T, keep: &[&str]) -> Result<(), String> {
    let new = table_of(resource)?;
    put_table(array(doc, key), id_key, id, new, keep);
    Ok(())
}

/// Updates the table of `tables` whose `id_key` is `id` with `new`, or adds `new`.
fn put_table(tables: &mut ArrayOfTables, id_key: &str, id: &str, new: Table, keep: &[&str]) {
    let at = (0..tables.len()).find(|&i| tables.get(i).and_then(|t| t.get(id_key)).and_then(Item::as_str) == Some(id));
    match at.and_then(|i| tables.get_mut(i)) {
        Some(old) => update(old, new, keep),
        None => tables.push(new),
    }
}

fn delete(doc: &mut DocumentMut, key: &str, id_key: &str, id: &str) {
    if let Some(tables) = doc.get_mut(key).and_then(Item::as_array_of_tables_mut) {
        tables.retain(|t| t.get(id_key).and_then(Item::as_str) != Some(id));
        if tables.is_empty() {
            doc.remove(key);
        }
    }
}

fn apply(doc: &mut DocumentMut, e: &Edit) -> Result<(), String> {
    match e {
        Edit::PutNetworkInterface(n) => put(doc, "network_interface", "id", &n.id, n, &[]),
        Edit::DeleteNetworkInterface(id) => {
            delete(doc, "network_interface", "id", id);
            Ok(())
        }
        Edit::PutLoadBalancer(lb) => put(doc, "load_balancer", "arn", &lb.arn, lb, &[]),
        Edit::DeleteLoadBalancer(arn) => {
            delete(doc, "load_balancer", "arn", arn);
            Ok(())
        }
        Edit::PutEndpoint(ep) => put(doc, "gateway_load_balancer_endpoint", "id", &ep.id, ep, &[]),
        Edit::DeleteEndpoint(id) => {
            delete(doc, "gateway_load_balancer_endpoint", "id", id);
            Ok(())
        }
        Edit::PutTarget(t) => put(doc, "target", "id", &t.id, t, &[]),
        Edit::DeleteTarget(id) => {
            delete(doc, "target", "id", id);
            Ok(())
        }
        Edit::PutFilter(f) => {
            let mut own = f.clone();
            own.ingress_rules.clear();
            own.egress_rules.clear();
            put(doc, "filter", "id", &f.id, &own, &["ingress_rule", "egress_rule"])
        }
        Edit::DeleteFilter(id) => {
            delete(doc, "filter", "id", id);
            Ok(())
        }
        Edit::PutRule { filter, direction, rule } => {
            let id = rule.id.as_deref().unwrap_or("");
            let new = table_of(rule)?;
            let f = filter_table(doc, filter)?;
            let key = rule_key(*direction);
            if !f.contains_key(key) {
                f.insert(key, Item::ArrayOfTables(ArrayOfTables::new()));
            }
            let rules = f[key].as_array_of_tables_mut().ok_or_else(|| format!("filter {filter:?}: {key} is not an array of tables"))?;
            put_table(rules, "id", id, new, &[]);
            Ok(())
        }
        Edit::DeleteRule { filter, id } => {
            let f = filter_table(doc, filter)?;
            for dir in Direction::ALL {
                let key = rule_key(dir);
                if let Some(rules) = f.get_mut(key).and_then(Item::as_array_of_tables_mut) {
                    rules.retain(|t| t.get("id").and_then(Item::as_str) != Some(id.as_str()));
                    if rules.is_empty() {
                        f.remove(key);
                    }
                }
            }
            Ok(())
        }
        Edit::PutSession(s) => put(doc, "session", "id", &s.id, s, &[]),
        Edit::DeleteSession(id) => {
            delete(doc, "session", "id", id);
            Ok(())
        }
    }
}

fn filter_table<'d>(doc: &'d mut DocumentMut, id: &str) -> Result<&'d mut Table, String> {
    array(doc, "filter").iter_mut().find(|t| t.get("id").and_then(Item::as_str) == Some(id)).ok_or_else(|| format!("no filter {id:?} to put a rule in"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{FilterRule, RuleAction, Session};

    const TEXT: &str = r#"# The lab.
[[port]]
name = "host"
device = "net_null0"
ipv4 = "192.0.2.1"

[[network_interface]]
id = "eni-web"      # the web server
port = "host"

[[network_interface]]
id = "eni-ids"
port = "host"
ipv4 = "192.0.2.10"
next_hop_mac = "02:00:00:00:00:20"

[[target]]
id = "tmt-ids"
network_interface_id = "eni-ids"

# Web traffic.
[[filter]]
id = "tmf-web"

[[filter.ingress_rule]]
rule_number = 100   # first
action = "accept"

# Keep this comment.
[[session]]
id = "tms-web"
source = "eni-web"
target = "tmt-ids"
filter = "tmf-web"
session_number = 1
"#;

    fn session(id: &str, number: u32, vni: u32) -> Session {
        Session {
            id: id.into(),
            source: "eni-web".into(),
            target: "tmt-ids".into(),
            filter: "tmf-web".into(),
            session_number: number,
            virtual_network_id: Some(vni),
            packet_length: None,
            enabled: true,
            description: Some("two".into()),
            tags: [("team".to_owned(), "ids".to_owned())].into(),
        }
    }

    #[test]
    fn a_fold_keeps_comments_and_reads_back_as_the_change() {
        let mut changed = session("tms-web", 1, 77);
        changed.packet_length = Some(128);
        let rule = FilterRule {
            id: Some("tmfr-new".into()),
            rule_number: 200,
            action: RuleAction::Reject,
            protocol: Some(6),
            source_cidr: None,
            destination_cidr: Some("10.0.0.0/8".parse().unwrap()),
            source_port: None,
            destination_port: Some(crate::config::PortRange { from: 22, to: 22 }),
            description: None,
            tags: Default::default(),
        };
        let edits = vec![
            Edit::PutSession(changed),
            Edit::PutSession(session("tms-two", 2, 5)),
            Edit::PutRule { filter: "tmf-web".into(), direction: Direction::Egress, rule },
        ];
        let out = rewrite(TEXT, "t.toml", &edits).unwrap();
        for kept in ["# The lab.", "# the web server", "# Web traffic.", "# first", "# Keep this comment."] {
            assert!(out.contains(kept), "{kept:?} lost:\n{out}");
        }
        assert!(out.contains("tags = { team = \"ids\" }"), "{out}");
        assert!(out.contains("destination_port = { from = 22, to = 22 }"), "{out}");
        let cfg = config::parse(&out, "t.toml").unwrap();
        assert_eq!(cfg.sessions.len(), 2);
        assert_eq!(cfg.sessions.first().unwrap().packet_length, Some(128));
        assert!(cfg.filters.first().unwrap().ingress_rules[0].id.is_some(), "assigned ids are written out");
        // Deleting puts the file back to its resources (the assigned id stays written).
        let out = rewrite(&out, "t.toml", &[Edit::DeleteSession("tms-two".into()), Edit::DeleteRule { filter: "tmf-web".into(), id: "tmfr-new".into() }]).unwrap();
        let cfg = config::parse(&out, "t.toml").unwrap();
        assert_eq!((cfg.sessions.len(), cfg.filters.first().unwrap().egress_rules.len()), (1, 0));
        assert!(out.contains("# Keep this comment."), "{out}");
    }

    #[test]
    fn ipv6_addresses_ttl_and_df_survive_the_journal_and_the_fold() {
        use crate::config::{GatewayLoadBalancerEndpoint, NetworkInterface, Target, TargetType};
        let port_v6 = TEXT.replace("ipv4 = \"192.0.2.1\"\n", "ipv4 = \"192.0.2.1\"\nipv6 = \"2001:db8::1\"\n");
        let collector = NetworkInterface { id: "eni-ids6".into(), port: "host".into(), ipv6: Some("2001:db8::10".parse().unwrap()), next_hop: Some("2001:db8::fe".parse().unwrap()), ..Default::default() };
        let endpoint = GatewayLoadBalancerEndpoint {
            id: "vpce-6".into(),
            port: "host".into(),
            ipv4: None,
            ipv6: Some("2001:db8::30".parse().unwrap()),
            next_hop_mac: Some("02:00:00:00:00:20".parse().unwrap()),
            next_hop: None,
            description: None,
            tags: Default::default(),
        };
        let mut target = Target::new("tmt-6", TargetType::NetworkInterface, "eni-ids6");
        (target.ttl, target.dont_fragment) = (64, true);
        let edits = vec![Edit::PutNetworkInterface(collector.clone()), Edit::PutEndpoint(endpoint.clone()), Edit::PutTarget(target.clone())];
        // The journal's lines are JSON: each edit reads back as written.
        let line = serde_json::to_string(&edits).unwrap();
        assert_eq!(serde_json::from_str::<Vec<Edit>>(&line).unwrap(), edits);
        let out = rewrite(&port_v6, "t.toml", &edits).unwrap();
        let cfg = config::parse(&out, "t.toml").unwrap();
        assert_eq!(cfg.network_interfaces.iter().find(|n| n.id == "eni-ids6"), Some(&collector));
        assert_eq!(cfg.gateway_load_balancer_endpoints.iter().collect::<Vec<_>>(), vec![&endpoint]);
        assert_eq!(cfg.targets.iter().find(|t| t.id == "tmt-6"), Some(&target));
        assert!(out.contains("ttl = 64") && out.contains("dont_fragment = true"), "{out}");
    }
}
