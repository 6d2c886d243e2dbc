//! Filter rules: created in a filter's direction, changed (direction included), deleted, and
//! described across filters.

use super::filters::find;
use super::{change, describe, new_id, not_found, read, tags_for, Edit, FilterField, Host, Planned, Sorted, State};
use crate::api::actions::*;
use crate::api::ec2::{PortRangeRequest, TrafficMirrorFilterRule};
use crate::counters::RuleTotals;
use crate::api::{Action, ApiError, Reply};
use crate::config::{Direction, FilterRule, Kind, PortRange, Resource, Tags};

/// A rule with the filter and direction it belongs to.
pub struct Located<'s> {
    pub filter: &'s str,
    pub direction: Direction,
    pub rule: &'s FilterRule,
}

impl Resource for Located<'_> {
    fn id(&self) -> &str {
        self.rule.id.as_deref().unwrap_or("")
    }
}

impl FilterField for Located<'_> {
    fn tags(&self) -> &Tags {
        &self.rule.tags
    }
    fn field(&self, name: &str) -> Option<Vec<String>> {
        let r = self.rule;
        let opt = |v: Option<String>| v.into_iter().collect();
        Some(match name {
            "traffic-mirror-filter-rule-id" => vec![self.id().to_owned()],
            "traffic-mirror-filter-id" => vec![self.filter.to_owned()],
            "rule-number" => vec![r.rule_number.to_string()],
            "rule-action" => vec![if r.action == crate::config::RuleAction::Accept { "accept" } else { "reject" }.to_owned()],
            "traffic-direction" => vec![self.direction.name().to_owned()],
            "protocol" => opt(r.protocol.map(|p| p.to_string())),
            "source-cidr-block" => opt(r.source_cidr.map(|c| c.to_string())),
            "destination-cidr-block" => opt(r.destination_cidr.map(|c| c.to_string())),
            "description" => opt(r.description.clone()),
            _ => return None,
        })
    }
}

/// Every rule of every filter.
pub fn all(s: &State) -> impl Iterator<Item = Located<'_>> {
    s.cfg.filters.iter().flat_map(|f| Direction::ALL.into_iter().flat_map(move |d| f.rules(d).iter().map(move |r| Located { filter: &f.id, direction: d, rule: r })))
}

/// The rule `id`, or EC2's NotFound.
pub fn locate<'s>(s: &'s State, id: &str) -> Result<Located<'s>, ApiError> {
    all(s).find(|l| l.rule.id.as_deref() == Some(id)).ok_or_else(|| not_found(Kind::FilterRule, id))
}

/// A requested port range, both ends given.
fn range(member: &str, p: &PortRangeRequest) -> Result<PortRange, ApiError> {
    match (p.from_port, p.to_port) {
        (Some(from), Some(to)) => Ok(PortRange { from, to }),
        (None, _) => Err(ApiError::missing(&format!("{member}.FromPort"))),
        (_, None) => Err(ApiError::missing(&format!("{member}.ToPort"))),
    }
}

/// EC2's code for a rule number its direction already has.
fn number_taken(s: &State, filter: &str, direction: Direction, number: u32, except: Option<&str>) -> Result<(), ApiError> {
    let f = find(s, filter)?;
    match f.rules(direction).iter().find(|r| r.rule_number == number && r.id.as_deref() != except) {
        Some(other) => Err(ApiError::new(
            "TrafficMirrorFilterRuleAlreadyExists",
            format!("Filter {filter} already has {} rule {number} ({})", direction.name(), other.id.as_deref().unwrap_or("?")),
        )),
        None => Ok(()),
    }
}

impl CreateTrafficMirrorFilterRule {
    /// A new rule in the filter's direction.
    pub fn plan(&self, s: &State) -> Result<Planned<CreateTrafficMirrorFilterRuleResult>, ApiError> {
        let fid = &self.traffic_mirror_filter_id;
        find(s, fid)?;
        number_taken(s, fid, self.traffic_direction, self.rule_number, None)?;
        let rule = FilterRule {
            id: Some(new_id("tmfr", |id| s.refs().rules_with_id(id) > 0)),
            rule_number: self.rule_number,
            action: self.rule_action,
            protocol: self.protocol,
            source_cidr: Some(self.source_cidr_block),
            destination_cidr: Some(self.destination_cidr_block),
            source_port: self.source_port_range.as_ref().map(|p| range("SourcePortRange", p)).transpose()?,
            destination_port: self.destination_port_range.as_ref().map(|p| range("DestinationPortRange", p)).transpose()?,
            description: self.description.clone(),
            tags: tags_for(&self.tag_specifications, "traffic-mirror-filter-rule")?,
        };
        let reply = CreateTrafficMirrorFilterRuleResult {
            traffic_mirror_filter_rule: TrafficMirrorFilterRule::of(fid, self.traffic_direction, &rule),
            client_token: self.client_token.clone(),
        };
        let what = format!("created {} rule {} in filter {fid}", self.traffic_direction.name(), self.rule_number);
        Ok(Planned { what, edits: vec![Edit::PutRule { filter: fid.clone(), direction: self.traffic_direction, rule }], reply })
    }
}

impl Action for CreateTrafficMirrorFilterRule {
    const NAME: &'static str = "CreateTrafficMirrorFilterRule";
    const ABOUT: &'static str = "Add a rule to a filter";
    type Reply = CreateTrafficMirrorFilterRuleResult;
    fn start(self, host: &mut dyn Host, reply: Reply<Self::Reply>) {
        change(host, self.dry_run, self.client_token.clone(), Self::plan, self, reply);
    }
}

impl ModifyTrafficMirrorFilterRule {
    /// The rule changed member by member; RemoveFields last, as EC2 applies it.
    pub fn plan(&self, s: &State) -> Result<Planned<ModifyTrafficMirrorFilterRuleResult>, ApiError> {
        let rid = &self.traffic_mirror_filter_rule_id;
        let at = locate(s, rid)?;
        let (fid, old_dir) = (at.filter.to_owned(), at.direction);
        let mut r = at.rule.clone();
        let dir = self.traffic_direction.unwrap_or(old_dir);
        if let Some(n) = self.rule_number {
            r.rule_number = n;
        }
        if let Some(a) = self.rule_action {
            r.action = a;
        }
        if let Some(p) = self.protocol {
            r.protocol = Some(p);
        }
        if let Some(p) = &self.destination_port_range {
            r.destination_port = Some(range("DestinationPortRange", p)?);
        }
        if let Some(p) = &self.source_port_range {
            r.source_port = Some(range("SourcePortRange", p)?);
        }
        if let Some(c) = self.destination_cidr_block {
            r.destination_cidr = Some(c);
        }
        if let Some(c) = self.source_cidr_block {
            r.source_cidr = Some(c);
        }
        if let Some(d) = &self.description {
            r.description = Some(d.clone());
        }
        for f in &self.remove_fields {
            match f {
                RuleField::DestinationPortRange => r.destination_port = None,
                RuleField::SourcePortRange => r.source_port = None,
                RuleField::Protocol => r.protocol = None,
                RuleField::Description => r.description = None,
            }
        }
        number_taken(s, &fid, dir, r.rule_number, Some(rid))?;
        let reply = ModifyTrafficMirrorFilterRuleResult { traffic_mirror_filter_rule: TrafficMirrorFilterRule::of(&fid, dir, &r) };
        let mut edits = Vec::new();
        if dir != old_dir {
            edits.push(Edit::DeleteRule { filter: fid.clone(), id: rid.clone() });
        }
        edits.push(Edit::PutRule { filter: fid.clone(), direction: dir, rule: r });
        Ok(Planned { what: format!("modified rule {rid} of filter {fid}"), edits, reply })
    }
}

impl Action for ModifyTrafficMirrorFilterRule {
    const NAME: &'static str = "ModifyTrafficMirrorFilterRule";
    const ABOUT: &'static str = "Change a filter rule (RemoveFields clears a member)";
    type Reply = ModifyTrafficMirrorFilterRuleResult;
    fn start(self, host: &mut dyn Host, reply: Reply<Self::Reply>) {
        change(host, self.dry_run, None, Self::plan, self, reply);
    }
}

impl DeleteTrafficMirrorFilterRule {
    /// The rule goes from its filter.
    pub fn plan(&self, s: &State) -> Result<Planned<DeleteTrafficMirrorFilterRuleResult>, ApiError> {
        let rid = &self.traffic_mirror_filter_rule_id;
        let fid = locate(s, rid)?.filter.to_owned();
        Ok(Planned {
            what: format!("deleted rule {rid} of filter {fid}"),
            edits: vec![Edit::DeleteRule { filter: fid, id: rid.clone() }],
            reply: DeleteTrafficMirrorFilterRuleResult { traffic_mirror_filter_rule_id: rid.clone() },
        })
    }
}

impl Action for DeleteTrafficMirrorFilterRule {
    const NAME: &'static str = "DeleteTrafficMirrorFilterRule";
    const ABOUT: &'static str = "Delete a filter rule";
    type Reply = DeleteTrafficMirrorFilterRuleResult;
    fn start(self, host: &mut dyn Host, reply: Reply<Self::Reply>) {
        change(host, self.dry_run, None, Self::plan, self, reply);
    }
}

impl DescribeTrafficMirrorFilterRules {
    /// The rules selected, of every filter or of one.
    pub fn answer(&self, s: &State, hits: &RuleTotals) -> Result<DescribeTrafficMirrorFilterRulesResult, ApiError> {
        if let Some(fid) = &self.traffic_mirror_filter_id {
            find(s, fid)?;
        }
        let rules = Sorted::new(all(s).filter(|l| self.traffic_mirror_filter_id.as_deref().is_none_or(|f| f == l.filter)).collect());
        let (page, next_token) = describe(Kind::FilterRule, &s.cfg.vpc.owner_id, &rules, &self.traffic_mirror_filter_rule_ids, &self.filters, self.max_results, self.next_token.as_deref())?;
        Ok(DescribeTrafficMirrorFilterRulesResult {
            traffic_mirror_filter_rules: page.into_iter().map(|l| TrafficMirrorFilterRule::of(l.filter, l.direction, l.rule).with_hits(hits)).collect(),
            next_token,
        })
    }
}

impl Action for DescribeTrafficMirrorFilterRules {
    const NAME: &'static str = "DescribeTrafficMirrorFilterRules";
    const ABOUT: &'static str = "Describe filter rules, of one filter or of all";
    type Reply = DescribeTrafficMirrorFilterRulesResult;
    fn run(self, host: &mut dyn Host) -> Result<Self::Reply, ApiError> {
        read(self.dry_run, || self.answer(host.state(), &host.rule_hits()))
    }
}
