//! An accepted change, as what it does to the configuration: resources put (created or
//! replaced whole) and deleted, by id. The same edits are applied to the running configuration,
//! written to the journal, and later to the file, so all three always agree.

use crate::config::{Config, Direction, Filter, FilterRule, GatewayLoadBalancerEndpoint, LoadBalancer, NetworkInterface, Session, Target};
use serde::{Deserialize, Serialize};

/// One resource put or deleted.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Edit {
    PutNetworkInterface(NetworkInterface),
    DeleteNetworkInterface(String),
    PutLoadBalancer(LoadBalancer),
    DeleteLoadBalancer(String),
    PutEndpoint(GatewayLoadBalancerEndpoint),
    DeleteEndpoint(String),
    PutTarget(Target),
    DeleteTarget(String),
    /// A filter's own fields (its rules are kept when it exists; taken when it is new).
    PutFilter(Filter),
    DeleteFilter(String),
    /// A rule of a filter in one direction, replaced by id or added.
    PutRule { filter: String, direction: Direction, rule: FilterRule },
    DeleteRule { filter: String, id: String },
    PutSession(Session),
    DeleteSession(String),
}

/// Puts `item` in place of the one whose key is the same, or at the end; returns what it
/// replaced.
fn put<T: Clone>(items: &mut Vec<T>, item: T, key: impl Fn(&T) -> &str) -> Option<(usize, T)> {
    match items.iter().position(|x| key(x) == key(&item)) {
        Some(i) => Some((i, std::mem::replace(&mut items[i], item))),
        None => {
            items.push(item);
            None
        }
    }
}

fn delete<T>(items: &mut Vec<T>, id: &str, key: impl Fn(&T) -> &str) -> Option<(usize, T)> {
    let i = items.iter().position(|x| key(x) == id)?;
    Some((i, items.remove(i)))
}

/// How to undo an edit exactly (position included, so that a refused change leaves the
/// configuration as it was, byte for byte when written).
#[derive(Debug)]
pub struct Undo(UndoStep);

#[derive(Debug)]
enum UndoStep {
    Nothing,
    NetworkInterface(String, Option<(usize, NetworkInterface)>),
    LoadBalancer(String, Option<(usize, LoadBalancer)>),
    Endpoint(String, Option<(usize, GatewayLoadBalancerEndpoint)>),
    Target(String, Option<(usize, Target)>),
    Filter(String, Option<(usize, Filter)>),
    Rule { filter: String, direction: Direction, id: String, old: Option<(usize, FilterRule)> },
    Session(String, Option<(usize, Session)>),
}

/// Restores `old` (or removes the item `id` when there was none).
fn restore<T>(items: &mut Vec<T>, id: &str, old: Option<(usize, T)>, key: impl Fn(&T) -> &str) {
    if let Some(i) = items.iter().position(|x| key(x) == id) {
        items.remove(i);
    }
    if let Some((i, item)) = old {
        items.insert(i.min(items.len()), item);
    }
}

impl Edit {
    /// Applies the edit to `cfg`; returns how to undo it.
    pub fn apply(&self, cfg: &mut Config) -> Undo {
        use UndoStep as U;
        Undo(match self.clone() {
            Edit::PutNetworkInterface(n) => U::NetworkInterface(n.id.clone(), put(&mut cfg.network_interfaces, n, |x| &x.id)),
            Edit::DeleteNetworkInterface(id) => {
                let old = delete(&mut cfg.network_interfaces, &id, |x| &x.id);
                U::NetworkInterface(id, old)
            }
            Edit::PutLoadBalancer(lb) => U::LoadBalancer(lb.arn.clone(), put(&mut cfg.load_balancers, lb, |x| &x.arn)),
            Edit::DeleteLoadBalancer(arn) => {
                let old = delete(&mut cfg.load_balancers, &arn, |x| &x.arn);
                U::LoadBalancer(arn, old)
            }
            Edit::PutEndpoint(e) => U::Endpoint(e.id.clone(), put(&mut cfg.gateway_load_balancer_endpoints, e, |x| &x.id)),
            Edit::DeleteEndpoint(id) => {
                let old = delete(&mut cfg.gateway_load_balancer_endpoints, &id, |x| &x.id);
                U::Endpoint(id, old)
            }
            Edit::PutTarget(t) => U::Target(t.id.clone(), put(&mut cfg.targets, t, |x| &x.id)),
            Edit::DeleteTarget(id) => {
                let old = delete(&mut cfg.targets, &id, |x| &x.id);
                U::Target(id, old)
            }
            Edit::PutFilter(mut f) => {
                if let Some(old) = cfg.filters.iter().find(|x| x.id == f.id) {
                    f.ingress_rules = old.ingress_rules.clone();
                    f.egress_rules = old.egress_rules.clone();
                }
                U::Filter(f.id.clone(), put(&mut cfg.filters, f, |x| &x.id))
            }
            Edit::DeleteFilter(id) => {
                let old = delete(&mut cfg.filters, &id, |x| &x.id);
                U::Filter(id, old)
            }
            Edit::PutRule { filter, direction, rule } => {
                let id = rule.id.clone().unwrap_or_default();
                match cfg.filters.iter_mut().find(|f| f.id == filter) {
                    Some(f) => {
                        let old = put(f.rules_mut(direction), rule, |r| r.id.as_deref().unwrap_or(""));
                        U::Rule { filter, direction, id, old }
                    }
                    None => U::Nothing,
                }
            }
            Edit::DeleteRule { filter, id } => {
                let Some(f) = cfg.filters.iter_mut().find(|f| f.id == filter) else { return Undo(U::Nothing) };
                let mut step = U::Nothing;
                for direction in Direction::ALL {
                    if let Some(old) = delete(f.rules_mut(direction), &id, |r| r.id.as_deref().unwrap_or("")) {
                        step = U::Rule { filter: filter.clone(), direction, id: id.clone(), old: Some(old) };
                        break;
                    }
                }
                step
            }
            Edit::PutSession(s) => U::Session(s.id.clone(), put(&mut cfg.sessions, s, |x| &x.id)),
            Edit::DeleteSession(id) => {
                let old = delete(&mut cfg.sessions, &id, |x| &x.id);
                U::Session(id, old)
            }
        })
    }
}

impl Undo {
    /// Undoes the edit this came from; undos must run in the reverse order of their edits.
    pub fn undo(self, cfg: &mut Config) {
        use UndoStep as U;
        match self.0 {
            U::Nothing => {}
            U::NetworkInterface(id, old) => restore(&mut cfg.network_interfaces, &id, old, |x| &x.id),
            U::LoadBalancer(id, old) => restore(&mut cfg.load_balancers, &id, old, |x| &x.arn),
            U::Endpoint(id, old) => restore(&mut cfg.gateway_load_balancer_endpoints, &id, old, |x| &x.id),
            U::Target(id, old) => restore(&mut cfg.targets, &id, old, |x| &x.id),
            U::Filter(id, old) => restore(&mut cfg.filters, &id, old, |x| &x.id),
            U::Rule { filter, direction, id, old } => {
                if let Some(f) = cfg.filters.iter_mut().find(|f| f.id == filter) {
                    restore(f.rules_mut(direction), &id, old, |r| r.id.as_deref().unwrap_or(""));
                }
            }
            U::Session(id, old) => restore(&mut cfg.sessions, &id, old, |x| &x.id),
        }
    }
}

/// Applies `edits` in order; returns the undos, to run in reverse.
pub fn apply_all(cfg: &mut Config, edits: &[Edit]) -> Vec<Undo> {
    edits.iter().map(|e| e.apply(cfg)).collect()
}

/// Undoes what [`apply_all`] did.
pub fn undo_all(cfg: &mut Config, undos: Vec<Undo>) {
    for u in undos.into_iter().rev() {
        u.undo(cfg);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::RuleAction;

    fn session(id: &str, number: u32) -> Session {
        Session {
            id: id.into(),
            source: "eni-a".into(),
            target: "tmt-a".into(),
            filter: "tmf-a".into(),
            session_number: number,
            virtual_network_id: None,
            packet_length: None,
            enabled: true,
            description: None,
            tags: Default::default(),
        }
    }

    fn rule(id: &str, n: u32) -> FilterRule {
        FilterRule {
            id: Some(id.into()),
            rule_number: n,
            action: RuleAction::Accept,
            protocol: None,
            source_cidr: None,
            destination_cidr: None,
            source_port: None,
            destination_port: None,
            description: None,
            tags: Default::default(),
        }
    }

    #[test]
    fn edits_undo_to_the_same_configuration() {
        let mut cfg = Config::default();
        cfg.sessions = vec![session("tms-1", 1), session("tms-2", 2), session("tms-3", 3)];
        cfg.filters = vec![Filter { id: "tmf-a".into(), ingress_rules: vec![rule("r1", 1), rule("r2", 2)], ..Default::default() }];
        let before = cfg.clone();
        let edits = vec![
            Edit::DeleteSession("tms-2".into()),
            Edit::PutSession(session("tms-1", 9)),
            Edit::PutSession(session("tms-4", 4)),
            Edit::DeleteRule { filter: "tmf-a".into(), id: "r1".into() },
            Edit::PutRule { filter: "tmf-a".into(), direction: Direction::Egress, rule: rule("r1", 1) },
            Edit::PutFilter(Filter { id: "tmf-a".into(), description: Some("d".into()), ..Default::default() }),
        ];
        let undos = apply_all(&mut cfg, &edits);
        assert_eq!(cfg.sessions.iter().map(|s| (s.id.as_str(), s.session_number)).collect::<Vec<_>>(), [("tms-1", 9), ("tms-3", 3), ("tms-4", 4)]);
        assert_eq!(cfg.filters[0].description.as_deref(), Some("d"));
        assert_eq!(cfg.filters[0].ingress_rules, vec![rule("r2", 2)], "a filter's own fields keep its rules");
        assert_eq!(cfg.filters[0].egress_rules, vec![rule("r1", 1)]);
        undo_all(&mut cfg, undos);
        assert_eq!(cfg, before);
    }
}
