//! Filters: a filter's own fields (its network services, description, tags); its rules are
//! in [`super::rules`].

use super::{change, describe, id_for, in_use, not_found, read, tags_for, Edit, FilterField, Host, Planned, State};
use crate::api::actions::*;
use crate::api::ec2::TrafficMirrorFilter;
use crate::counters::RuleTotals;
use crate::api::{Action, ApiError, Reply};
use crate::config::{Filter, Kind, Tags};

impl FilterField for Filter {
    fn tags(&self) -> &Tags {
        &self.tags
    }
    fn field(&self, name: &str) -> Option<Vec<String>> {
        Some(match name {
            "traffic-mirror-filter-id" => vec![self.id.clone()],
            "description" => self.description.iter().cloned().collect(),
            _ => return None,
        })
    }
}

/// The filter `id`, or EC2's NotFound.
pub fn find<'s>(s: &'s State, id: &str) -> Result<&'s Filter, ApiError> {
    s.cfg.filters.get(id).ok_or_else(|| not_found(Kind::Filter, id))
}

impl CreateTrafficMirrorFilter {
    /// A new filter, without rules.
    pub fn plan(&self, s: &State) -> Result<Planned<CreateTrafficMirrorFilterResult>, ApiError> {
        let id = id_for(&self.traffic_mirror_filter_id, "TrafficMirrorFilterId", "tmf", |id| s.cfg.filters.contains(id))?;
        let mut services = self.network_services.clone();
        services.sort_unstable();
        services.dedup();
        let f = Filter {
            id: id.clone(),
            network_services: services,
            description: self.description.clone(),
            tags: tags_for(&self.tag_specifications, "traffic-mirror-filter")?,
            ingress_rules: Vec::new(),
            egress_rules: Vec::new(),
        };
        let reply = CreateTrafficMirrorFilterResult { traffic_mirror_filter: TrafficMirrorFilter::of(&f), client_token: self.client_token.clone() };
        Ok(Planned { what: format!("created filter {id}"), edits: vec![Edit::PutFilter(f)], reply })
    }
}

impl Action for CreateTrafficMirrorFilter {
    const NAME: &'static str = "CreateTrafficMirrorFilter";
    const ABOUT: &'static str = "Create a filter (it mirrors nothing until it has rules)";
    type Reply = CreateTrafficMirrorFilterResult;
    fn start(self, host: &mut dyn Host, reply: Reply<Self::Reply>) {
        change(host, self.dry_run, self.client_token.clone(), Self::plan, self, reply);
    }
}

impl DeleteTrafficMirrorFilter {
    /// A filter a session uses stays.
    pub fn plan(&self, s: &State) -> Result<Planned<DeleteTrafficMirrorFilterResult>, ApiError> {
        let id = &self.traffic_mirror_filter_id;
        find(s, id)?;
        if let Some(user) = s.refs().sessions_of_filter(id).next() {
            return Err(in_use(Kind::Filter, id, Kind::Session, user));
        }
        Ok(Planned { what: format!("deleted filter {id}"), edits: vec![Edit::DeleteFilter(id.clone())], reply: DeleteTrafficMirrorFilterResult { traffic_mirror_filter_id: id.clone() } })
    }
}

impl Action for DeleteTrafficMirrorFilter {
    const NAME: &'static str = "DeleteTrafficMirrorFilter";
    const ABOUT: &'static str = "Delete a filter no session uses, with its rules";
    type Reply = DeleteTrafficMirrorFilterResult;
    fn start(self, host: &mut dyn Host, reply: Reply<Self::Reply>) {
        change(host, self.dry_run, None, Self::plan, self, reply);
    }
}

impl DescribeTrafficMirrorFilters {
    /// The filters selected, with their rules.
    pub fn answer(&self, s: &State, hits: &RuleTotals) -> Result<DescribeTrafficMirrorFiltersResult, ApiError> {
        let (page, next_token) = describe(Kind::Filter, &s.cfg.vpc.owner_id, &s.cfg.filters, &self.traffic_mirror_filter_ids, &self.filters, self.max_results, self.next_token.as_deref())?;
        Ok(DescribeTrafficMirrorFiltersResult { traffic_mirror_filters: page.into_iter().map(|f| TrafficMirrorFilter::of(f).with_hits(hits)).collect(), next_token })
    }
}

impl Action for DescribeTrafficMirrorFilters {
    const NAME: &'static str = "DescribeTrafficMirrorFilters";
    const ABOUT: &'static str = "Describe filters and their rules";
    type Reply = DescribeTrafficMirrorFiltersResult;
    fn run(self, host: &mut dyn Host) -> Result<Self::Reply, ApiError> {
        read(self.dry_run, || self.answer(host.state(), &host.rule_hits()))
    }
}

impl ModifyTrafficMirrorFilterNetworkServices {
    /// Adds, then removes, network services.
    pub fn plan(&self, s: &State) -> Result<Planned<ModifyTrafficMirrorFilterNetworkServicesResult>, ApiError> {
        let mut f = find(s, &self.traffic_mirror_filter_id)?.clone();
        f.network_services.extend(&self.add_network_services);
        f.network_services.retain(|x| !self.remove_network_services.contains(x));
        f.network_services.sort_unstable();
        f.network_services.dedup();
        let reply = ModifyTrafficMirrorFilterNetworkServicesResult { traffic_mirror_filter: TrafficMirrorFilter::of(&f) };
        let what = format!("changed the network services of filter {}", f.id);
        f.ingress_rules.clear();
        f.egress_rules.clear();
        Ok(Planned { what, edits: vec![Edit::PutFilter(f)], reply })
    }
}

impl Action for ModifyTrafficMirrorFilterNetworkServices {
    const NAME: &'static str = "ModifyTrafficMirrorFilterNetworkServices";
    const ABOUT: &'static str = "Add or remove a filter's network services (amazon-dns)";
    type Reply = ModifyTrafficMirrorFilterNetworkServicesResult;
    fn start(self, host: &mut dyn Host, reply: Reply<Self::Reply>) {
        change(host, self.dry_run, None, Self::plan, self, reply);
    }
}
