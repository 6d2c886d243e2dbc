//! An accepted change, as what it does to the configuration: resources put (created or
//! replaced whole) and deleted, by id. The same edits are applied to the running configuration,
//! written to the journal, and later to the file, so all three always agree.

use crate::config::{Config, Direction, Filter, FilterRule, GatewayLoadBalancerEndpoint, Kind, LoadBalancer, NetworkInterface, Place, Refs, Session, Target, Touched};
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

/// How to undo an edit exactly (place included, so that a refused change leaves the
/// configuration as it was, byte for byte when written).
#[derive(Debug)]
pub struct Undo(UndoStep);

#[derive(Debug)]
enum UndoStep {
    Nothing,
    NetworkInterface(String, Option<(Place, NetworkInterface)>),
    LoadBalancer(String, Option<(Place, LoadBalancer)>),
    Endpoint(String, Option<(Place, GatewayLoadBalancerEndpoint)>),
    Target(String, Option<(Place, Target)>),
    Filter(String, Option<(Place, Filter)>),
    Rule { filter: String, direction: Direction, id: String, old: Option<(usize, FilterRule)> },
    Session(String, Option<(Place, Session)>),
}

/// Puts `rule` in place of the one with its id, or at the end; returns what it replaced.
fn put_rule(rules: &mut Vec<FilterRule>, rule: FilterRule) -> Option<(usize, FilterRule)> {
    match rules.iter().position(|r| r.id == rule.id) {
        Some(i) => Some((i, std::mem::replace(&mut rules[i], rule))),
        None => {
            rules.push(rule);
            None
        }
    }
}

fn delete_rule(rules: &mut Vec<FilterRule>, id: &str) -> Option<(usize, FilterRule)> {
    let i = rules.iter().position(|r| r.id.as_deref() == Some(id))?;
    Some((i, rules.remove(i)))
}

impl Edit {
    /// The resource the edit changes, by kind and id (a rule's is its filter).
    pub fn resource(&self) -> (Kind, &str) {
        match self {
            Edit::PutNetworkInterface(n) => (Kind::NetworkInterface, &n.id),
            Edit::DeleteNetworkInterface(id) => (Kind::NetworkInterface, id),
            Edit::PutLoadBalancer(lb) => (Kind::LoadBalancer, &lb.arn),
            Edit::DeleteLoadBalancer(arn) => (Kind::LoadBalancer, arn),
            Edit::PutEndpoint(e) => (Kind::GatewayLoadBalancerEndpoint, &e.id),
            Edit::DeleteEndpoint(id) => (Kind::GatewayLoadBalancerEndpoint, id),
            Edit::PutTarget(t) => (Kind::Target, &t.id),
            Edit::DeleteTarget(id) => (Kind::Target, id),
            Edit::PutFilter(f) => (Kind::Filter, &f.id),
            Edit::DeleteFilter(id) => (Kind::Filter, id),
            Edit::PutRule { filter, .. } | Edit::DeleteRule { filter, .. } => (Kind::Filter, filter),
            Edit::PutSession(s) => (Kind::Session, &s.id),
            Edit::DeleteSession(id) => (Kind::Session, id),
        }
    }

    /// Applies the edit to `cfg`; returns how to undo it.
    pub fn apply(&self, cfg: &mut Config) -> Undo {
        use UndoStep as U;
        Undo(match self.clone() {
            Edit::PutNetworkInterface(n) => U::NetworkInterface(n.id.clone(), cfg.network_interfaces.put(n)),
            Edit::DeleteNetworkInterface(id) => {
                let old = cfg.network_interfaces.remove(&id);
                U::NetworkInterface(id, old)
            }
            Edit::PutLoadBalancer(lb) => U::LoadBalancer(lb.arn.clone(), cfg.load_balancers.put(lb)),
            Edit::DeleteLoadBalancer(arn) => {
                let old = cfg.load_balancers.remove(&arn);
                U::LoadBalancer(arn, old)
            }
            Edit::PutEndpoint(e) => U::Endpoint(e.id.clone(), cfg.gateway_load_balancer_endpoints.put(e)),
            Edit::DeleteEndpoint(id) => {
                let old = cfg.gateway_load_balancer_endpoints.remove(&id);
                U::Endpoint(id, old)
            }
            Edit::PutTarget(t) => U::Target(t.id.clone(), cfg.targets.put(t)),
            Edit::DeleteTarget(id) => {
                let old = cfg.targets.remove(&id);
                U::Target(id, old)
            }
            Edit::PutFilter(mut f) => {
                if let Some(old) = cfg.filters.get(&f.id) {
                    f.ingress_rules = old.ingress_rules.clone();
                    f.egress_rules = old.egress_rules.clone();
                }
                U::Filter(f.id.clone(), cfg.filters.put(f))
            }
            Edit::DeleteFilter(id) => {
                let old = cfg.filters.remove(&id);
                U::Filter(id, old)
            }
            Edit::PutRule { filter, direction, rule } => {
                let id = rule.id.clone().unwrap_or_default();
                match cfg.filters.get_mut(&filter) {
                    Some(f) => {
                        let old = put_rule(f.rules_mut(direction), rule);
                        U::Rule { filter, direction, id, old }
                    }
                    None => U::Nothing,
                }
            }
            Edit::DeleteRule { filter, id } => {
                let Some(f) = cfg.filters.get_mut(&filter) else { return Undo(U::Nothing) };
                let mut step = U::Nothing;
                for direction in Direction::ALL {
                    if let Some(old) = delete_rule(f.rules_mut(direction), &id) {
                        step = U::Rule { filter: filter.clone(), direction, id: id.clone(), old: Some(old) };
                        break;
                    }
                }
                step
            }
            Edit::PutSession(s) => U::Session(s.id.clone(), cfg.sessions.put(s)),
            Edit::DeleteSession(id) => {
                let old = cfg.sessions.remove(&id);
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
            U::NetworkInterface(id, old) => cfg.network_interfaces.restore(&id, old),
            U::LoadBalancer(id, old) => cfg.load_balancers.restore(&id, old),
            U::Endpoint(id, old) => cfg.gateway_load_balancer_endpoints.restore(&id, old),
            U::Target(id, old) => cfg.targets.restore(&id, old),
            U::Filter(id, old) => cfg.filters.restore(&id, old),
            U::Rule { filter, direction, id, old } => {
                if let Some(f) = cfg.filters.get_mut(&filter) {
                    let rules = f.rules_mut(direction);
                    if let Some(i) = rules.iter().position(|r| r.id.as_deref().unwrap_or("") == id) {
                        rules.remove(i);
                    }
                    if let Some((i, rule)) = old {
                        rules.insert(i.min(rules.len()), rule);
                    }
                }
            }
            U::Session(id, old) => cfg.sessions.restore(&id, old),
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

/// A change applied to a configuration and its references together: what it touched (for
/// validating and compiling no more than that), and how to undo it.
#[derive(Debug)]
pub struct Applied {
    pub touched: Touched,
    undos: Vec<(Kind, String, Undo)>,
}

/// Applies `edits` to `cfg`, keeping `refs` its references.
pub fn apply_tracked(cfg: &mut Config, refs: &mut Refs, edits: &[Edit]) -> Applied {
    let mut touched = Touched::default();
    let mut undos = Vec::with_capacity(edits.len());
    for e in edits {
        let (kind, id) = e.resource();
        refs.forget(cfg, kind, id, &mut touched);
        let undo = e.apply(cfg);
        refs.learn(cfg, kind, id, &mut touched);
        undos.push((kind, id.to_owned(), undo));
    }
    Applied { touched, undos }
}

impl Applied {
    /// Puts `cfg` and `refs` back as they were before [`apply_tracked`].
    pub fn undo(self, cfg: &mut Config, refs: &mut Refs) {
        let mut ignored = Touched::default();
        for (kind, id, undo) in self.undos.into_iter().rev() {
            refs.forget(cfg, kind, &id, &mut ignored);
            undo.undo(cfg);
            refs.learn(cfg, kind, &id, &mut ignored);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::RuleAction;

    fn session(id: &str, number: u32) -> Session {
        Session::new(id, number, "eni-a", "tmt-a", "tmf-a")
    }

    fn rule(id: &str, n: u32) -> FilterRule {
        FilterRule { id: Some(id.into()), ..FilterRule::new(n, RuleAction::Accept) }
    }

    #[test]
    fn edits_undo_to_the_same_configuration() {
        let mut cfg = Config {
            sessions: vec![session("tms-1", 1), session("tms-2", 2), session("tms-3", 3)].into(),
            filters: vec![Filter { id: "tmf-a".into(), ingress_rules: vec![rule("r1", 1), rule("r2", 2)], ..Default::default() }].into(),
            ..Default::default()
        };
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
        let f = cfg.filters.get("tmf-a").unwrap();
        assert_eq!(f.description.as_deref(), Some("d"));
        assert_eq!(f.ingress_rules, vec![rule("r2", 2)], "a filter's own fields keep its rules");
        assert_eq!(f.egress_rules, vec![rule("r1", 1)]);
        undo_all(&mut cfg, undos);
        assert_eq!(cfg, before);
    }
}
