//! Targets: where copies go, by the identity of what receives them.

use super::{change, describe, id_for, in_use, not_found, read, tags_for, Edit, FilterField, Host, Planned, State};
use crate::api::actions::*;
use crate::api::ec2::TrafficMirrorTarget;
use crate::api::{Action, ApiError, Reply};
use crate::config::{Kind, Tags, Target, TargetType};

impl FilterField for Target {
    fn tags(&self) -> &Tags {
        &self.tags
    }
    fn field(&self, name: &str) -> Option<Vec<String>> {
        let one = |v: &Option<String>| v.iter().cloned().collect();
        Some(match name {
            "traffic-mirror-target-id" => vec![self.id.clone()],
            "description" => one(&self.description),
            "network-interface-id" => one(&self.network_interface_id),
            "network-load-balancer-arn" => one(&self.network_load_balancer_arn),
            "gateway-load-balancer-endpoint-id" => one(&self.gateway_load_balancer_endpoint_id),
            "type" => self.kind().map(|k| k.name().to_owned()).into_iter().collect(),
            _ => return None,
        })
    }
}

impl CreateTrafficMirrorTarget {
    /// EC2's rules for a new target.
    pub fn plan(&self, s: &State) -> Result<Planned<CreateTrafficMirrorTargetResult>, ApiError> {
        let cfg = &s.cfg;
        let given = [
            (TargetType::NetworkInterface, "NetworkInterfaceId", &self.network_interface_id),
            (TargetType::NetworkLoadBalancer, "NetworkLoadBalancerArn", &self.network_load_balancer_arn),
            (TargetType::GatewayLoadBalancerEndpoint, "GatewayLoadBalancerEndpointId", &self.gateway_load_balancer_endpoint_id),
        ];
        let named: Vec<_> = given.iter().filter_map(|(k, m, v)| v.as_ref().map(|v| (*k, *m, v))).collect();
        let (kind, _, destination) = match named.as_slice() {
            [one] => *one,
            [] => return Err(ApiError::combination("A target needs one of NetworkInterfaceId, NetworkLoadBalancerArn and GatewayLoadBalancerEndpointId")),
            _ => {
                let members: Vec<&str> = named.iter().map(|(_, m, _)| *m).collect();
                return Err(ApiError::combination(format!("A target has exactly one destination, not {}", members.join(" and "))));
            }
        };
        if cfg.destination_of(kind, destination).is_none() {
            let k = match kind {
                TargetType::NetworkInterface => Kind::NetworkInterface,
                TargetType::NetworkLoadBalancer => Kind::LoadBalancer,
                TargetType::GatewayLoadBalancerEndpoint => Kind::GatewayLoadBalancerEndpoint,
            };
            return Err(not_found(k, destination));
        }
        let id = id_for(&self.traffic_mirror_target_id, "TrafficMirrorTargetId", "tmt", |id| cfg.targets.contains(id))?;
        let mut t = Target::new(&id, kind, destination);
        t.description = self.description.clone();
        t.tags = tags_for(&self.tag_specifications, "traffic-mirror-target")?;
        if let Some(mtu) = self.mtu {
            t.mtu = mtu;
        }
        t.vlan = self.vlan;
        if let Some(p) = self.udp_port {
            t.udp_port = p;
        }
        if let Some(ttl) = self.ttl {
            t.ttl = ttl;
        }
        if let Some(df) = self.dont_fragment {
            t.dont_fragment = df;
        }
        let reply = CreateTrafficMirrorTargetResult { traffic_mirror_target: TrafficMirrorTarget::of(cfg, &t), client_token: self.client_token.clone() };
        Ok(Planned { what: format!("created target {id} ({} {destination})", kind.name()), edits: vec![Edit::PutTarget(t)], reply })
    }
}

impl Action for CreateTrafficMirrorTarget {
    const NAME: &'static str = "CreateTrafficMirrorTarget";
    const ABOUT: &'static str = "Create a target: a network interface, load balancer or gateway load balancer endpoint that receives copies";
    type Reply = CreateTrafficMirrorTargetResult;
    fn start(self, host: &mut dyn Host, reply: Reply<Self::Reply>) {
        change(host, self.dry_run, self.client_token.clone(), Self::plan, self, reply);
    }
}

impl DeleteTrafficMirrorTarget {
    /// A target a session uses stays.
    pub fn plan(&self, s: &State) -> Result<Planned<DeleteTrafficMirrorTargetResult>, ApiError> {
        let id = &self.traffic_mirror_target_id;
        if !s.cfg.targets.contains(id) {
            return Err(not_found(Kind::Target, id));
        }
        if let Some(user) = s.refs().sessions_of_target(id).next() {
            return Err(in_use(Kind::Target, id, Kind::Session, user));
        }
        Ok(Planned { what: format!("deleted target {id}"), edits: vec![Edit::DeleteTarget(id.clone())], reply: DeleteTrafficMirrorTargetResult { traffic_mirror_target_id: id.clone() } })
    }
}

impl Action for DeleteTrafficMirrorTarget {
    const NAME: &'static str = "DeleteTrafficMirrorTarget";
    const ABOUT: &'static str = "Delete a target no session uses";
    type Reply = DeleteTrafficMirrorTargetResult;
    fn start(self, host: &mut dyn Host, reply: Reply<Self::Reply>) {
        change(host, self.dry_run, None, Self::plan, self, reply);
    }
}

impl DescribeTrafficMirrorTargets {
    /// The targets selected.
    pub fn answer(&self, s: &State) -> Result<DescribeTrafficMirrorTargetsResult, ApiError> {
        let (page, next_token) = describe(Kind::Target, &s.cfg.vpc.owner_id, &s.cfg.targets, &self.traffic_mirror_target_ids, &self.filters, self.max_results, self.next_token.as_deref())?;
        Ok(DescribeTrafficMirrorTargetsResult { traffic_mirror_targets: page.into_iter().map(|t| TrafficMirrorTarget::of(&s.cfg, t)).collect(), next_token })
    }
}

impl Action for DescribeTrafficMirrorTargets {
    const NAME: &'static str = "DescribeTrafficMirrorTargets";
    const ABOUT: &'static str = "Describe targets: all, those named, or those the filters select";
    type Reply = DescribeTrafficMirrorTargetsResult;
    fn run(self, host: &mut dyn Host) -> Result<Self::Reply, ApiError> {
        read(self.dry_run, || self.answer(host.state()))
    }
}
