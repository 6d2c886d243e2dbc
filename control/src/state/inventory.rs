//! The inventory, as AWS keeps it outside Traffic Mirroring: network interfaces (sources and
//! collectors), load balancers, gateway load balancer endpoints. The appliance's own verbs.

use super::{change, describe, id_for, in_use, not_found, read, tags_for, Edit, FilterField, Host, Planned, State};
use crate::api::actions::*;
use crate::api::ec2;
use crate::api::{Action, ApiError, Reply};
use crate::config::{GatewayLoadBalancerEndpoint, HealthCheck, Kind, LoadBalancer, NetworkInterface, Tags, TargetType};

fn opt<T: ToString>(v: &Option<T>) -> Vec<String> {
    v.iter().map(|x| x.to_string()).collect()
}

impl FilterField for NetworkInterface {
    fn tags(&self) -> &Tags {
        &self.tags
    }
    fn field(&self, name: &str) -> Option<Vec<String>> {
        Some(match name {
            "network-interface-id" => vec![self.id.clone()],
            "port" => vec![self.port.clone()],
            "mac-address" => opt(&self.mac),
            "private-ip-address" => opt(&self.ipv4),
            "ipv6-addresses.ipv6-address" => opt(&self.ipv6),
            "description" => opt(&self.description),
            _ => return None,
        })
    }
}

impl FilterField for LoadBalancer {
    fn tags(&self) -> &Tags {
        &self.tags
    }
    fn field(&self, name: &str) -> Option<Vec<String>> {
        Some(match name {
            "load-balancer-arn" => vec![self.arn.clone()],
            "port" => vec![self.port.clone()],
            "description" => opt(&self.description),
            _ => return None,
        })
    }
}

impl FilterField for GatewayLoadBalancerEndpoint {
    fn tags(&self) -> &Tags {
        &self.tags
    }
    fn field(&self, name: &str) -> Option<Vec<String>> {
        Some(match name {
            "gateway-load-balancer-endpoint-id" => vec![self.id.clone()],
            "port" => vec![self.port.clone()],
            "ip-address" => opt(&self.ipv4).into_iter().chain(opt(&self.ipv6)).collect(),
            "description" => opt(&self.description),
            _ => return None,
        })
    }
}

/// The first target whose destination is the `kind` with id `id`.
fn target_of<'s>(s: &'s State, kind: TargetType, id: &str) -> Option<&'s str> {
    s.refs().targets_of(kind, id).next()
}

impl CreateNetworkInterface {
    /// A new inventory entry.
    pub fn plan(&self, s: &State) -> Result<Planned<CreateNetworkInterfaceResult>, ApiError> {
        let id = id_for(&self.network_interface_id, "NetworkInterfaceId", "eni", |id| s.cfg.network_interfaces.contains(id))?;
        let ipv6 = match self.ipv6_addresses.as_slice() {
            [] => None,
            [one] => Some(one.ipv6_address.ok_or_else(|| ApiError::missing("Ipv6Addresses.1.Ipv6Address"))?),
            more => {
                let all: Vec<String> = more.iter().filter_map(|a| a.ipv6_address).map(|a| a.to_string()).collect();
                return Err(ApiError::invalid("Ipv6Addresses", all.join(", "), "a network interface here has at most one IPv6 address"));
            }
        };
        let n = NetworkInterface {
            id: id.clone(),
            port: self.port.clone(),
            mac: self.mac_address,
            ipv4: self.private_ip_address,
            ipv6,
            next_hop_mac: self.next_hop_mac,
            next_hop: self.next_hop,
            description: self.description.clone(),
            tags: tags_for(&self.tag_specifications, "network-interface")?,
        };
        let reply = CreateNetworkInterfaceResult { network_interface: ec2::NetworkInterface::of(&s.cfg, &n), client_token: self.client_token.clone() };
        Ok(Planned { what: format!("created network interface {id} on port {}", n.port), edits: vec![Edit::PutNetworkInterface(n)], reply })
    }
}

impl Action for CreateNetworkInterface {
    const NAME: &'static str = "CreateNetworkInterface";
    const ABOUT: &'static str = "Add a network interface to the inventory: a host to monitor or a collector";
    type Reply = CreateNetworkInterfaceResult;
    fn start(self, host: &mut dyn Host, reply: Reply<Self::Reply>) {
        change(host, self.dry_run, self.client_token.clone(), Self::plan, self, reply);
    }
}

impl DeleteNetworkInterface {
    /// A network interface a session or target uses stays.
    pub fn plan(&self, s: &State) -> Result<Planned<DeleteNetworkInterfaceResult>, ApiError> {
        let id = &self.network_interface_id;
        if !s.cfg.network_interfaces.contains(id) {
            return Err(not_found(Kind::NetworkInterface, id));
        }
        if let Some(user) = s.refs().sessions_of_source(id).next() {
            return Err(in_use(Kind::NetworkInterface, id, Kind::Session, user));
        }
        if let Some(t) = target_of(s, TargetType::NetworkInterface, id) {
            return Err(in_use(Kind::NetworkInterface, id, Kind::Target, t));
        }
        Ok(Planned {
            what: format!("deleted network interface {id}"),
            edits: vec![Edit::DeleteNetworkInterface(id.clone())],
            reply: DeleteNetworkInterfaceResult { network_interface_id: id.clone() },
        })
    }
}

impl Action for DeleteNetworkInterface {
    const NAME: &'static str = "DeleteNetworkInterface";
    const ABOUT: &'static str = "Remove a network interface no session or target uses";
    type Reply = DeleteNetworkInterfaceResult;
    fn start(self, host: &mut dyn Host, reply: Reply<Self::Reply>) {
        change(host, self.dry_run, None, Self::plan, self, reply);
    }
}

impl DescribeNetworkInterfaces {
    /// The inventory's network interfaces selected.
    pub fn answer(&self, s: &State) -> Result<DescribeNetworkInterfacesResult, ApiError> {
        let (page, next_token) = describe(Kind::NetworkInterface, &s.cfg.vpc.owner_id, &s.cfg.network_interfaces, &self.network_interface_ids, &self.filters, self.max_results, self.next_token.as_deref())?;
        Ok(DescribeNetworkInterfacesResult { network_interfaces: page.into_iter().map(|n| ec2::NetworkInterface::of(&s.cfg, n)).collect(), next_token })
    }
}

impl Action for DescribeNetworkInterfaces {
    const NAME: &'static str = "DescribeNetworkInterfaces";
    const ABOUT: &'static str = "Describe the inventory's network interfaces";
    type Reply = DescribeNetworkInterfacesResult;
    fn run(self, host: &mut dyn Host) -> Result<Self::Reply, ApiError> {
        read(self.dry_run, || self.answer(host.state()))
    }
}

impl CreateLoadBalancer {
    /// A new load balancer, its ARN made in the appliance's account when not given.
    pub fn plan(&self, s: &State) -> Result<Planned<CreateLoadBalancerResult>, ApiError> {
        let taken = |arn: &str| s.cfg.load_balancers.contains(arn);
        let arn = match &self.load_balancer_arn {
            Some(_) => id_for(&self.load_balancer_arn, "LoadBalancerArn", "", taken)?,
            None => {
                let name = super::new_id("lb", |_| false);
                format!("arn:aws:elasticloadbalancing:local:{}:loadbalancer/net/{name}/{}", s.cfg.vpc.owner_id, &name[3..])
            }
        };
        let lb = LoadBalancer {
            arn: arn.clone(),
            port: self.port.clone(),
            addresses: self.addresses.clone(),
            next_hop_mac: self.next_hop_mac,
            next_hop: self.next_hop,
            health_check: self.health_check(),
            description: self.description.clone(),
            tags: tags_for(&self.tag_specifications, "load-balancer")?,
        };
        let reply = CreateLoadBalancerResult { load_balancer: ec2::LoadBalancer::of(&lb, &[]), client_token: self.client_token.clone() };
        Ok(Planned { what: format!("created load balancer {arn}"), edits: vec![Edit::PutLoadBalancer(lb)], reply })
    }
}

impl CreateLoadBalancer {
    /// The health check its members ask for; none when they name nothing (AWS's defaults).
    fn health_check(&self) -> Option<HealthCheck> {
        let hc = HealthCheck {
            protocol: self.health_check_protocol,
            port: self.health_check_port,
            interval: self.health_check_interval_seconds,
            healthy_threshold: self.healthy_threshold_count,
            unhealthy_threshold: self.unhealthy_threshold_count,
        };
        (hc != HealthCheck::default()).then_some(hc)
    }
}

impl Action for CreateLoadBalancer {
    const NAME: &'static str = "CreateLoadBalancer";
    const ABOUT: &'static str = "Add a load balancer (collectors behind one ARN) to the inventory";
    type Reply = CreateLoadBalancerResult;
    fn start(self, host: &mut dyn Host, reply: Reply<Self::Reply>) {
        change(host, self.dry_run, self.client_token.clone(), Self::plan, self, reply);
    }
}

impl DeleteLoadBalancer {
    /// A load balancer a target uses stays.
    pub fn plan(&self, s: &State) -> Result<Planned<DeleteLoadBalancerResult>, ApiError> {
        let arn = &self.load_balancer_arn;
        if !s.cfg.load_balancers.contains(arn) {
            return Err(not_found(Kind::LoadBalancer, arn));
        }
        if let Some(t) = target_of(s, TargetType::NetworkLoadBalancer, arn) {
            return Err(in_use(Kind::LoadBalancer, arn, Kind::Target, t));
        }
        Ok(Planned { what: format!("deleted load balancer {arn}"), edits: vec![Edit::DeleteLoadBalancer(arn.clone())], reply: DeleteLoadBalancerResult { load_balancer_arn: arn.clone() } })
    }
}

impl Action for DeleteLoadBalancer {
    const NAME: &'static str = "DeleteLoadBalancer";
    const ABOUT: &'static str = "Remove a load balancer no target uses";
    type Reply = DeleteLoadBalancerResult;
    fn start(self, host: &mut dyn Host, reply: Reply<Self::Reply>) {
        change(host, self.dry_run, None, Self::plan, self, reply);
    }
}

impl DescribeLoadBalancers {
    /// The inventory's load balancers selected, with their collectors' health.
    pub fn answer(&self, host: &dyn Host) -> Result<DescribeLoadBalancersResult, ApiError> {
        let s = host.state();
        let (page, next_token) = describe(Kind::LoadBalancer, &s.cfg.vpc.owner_id, &s.cfg.load_balancers, &self.load_balancer_arns, &self.filters, self.max_results, self.next_token.as_deref())?;
        let health = host.health();
        Ok(DescribeLoadBalancersResult { load_balancers: page.into_iter().map(|lb| ec2::LoadBalancer::of(lb, &health)).collect(), next_token })
    }
}

impl Action for DescribeLoadBalancers {
    const NAME: &'static str = "DescribeLoadBalancers";
    const ABOUT: &'static str = "Describe the inventory's load balancers, with each collector's health";
    type Reply = DescribeLoadBalancersResult;
    fn run(self, host: &mut dyn Host) -> Result<Self::Reply, ApiError> {
        read(self.dry_run, || self.answer(host))
    }
}

impl CreateGatewayLoadBalancerEndpoint {
    /// A new endpoint.
    pub fn plan(&self, s: &State) -> Result<Planned<CreateGatewayLoadBalancerEndpointResult>, ApiError> {
        let id = id_for(&self.gateway_load_balancer_endpoint_id, "GatewayLoadBalancerEndpointId", "vpce", |id| s.cfg.gateway_load_balancer_endpoints.contains(id))?;
        let address = self.ip_address.ok_or_else(|| ApiError::missing("IpAddress"))?;
        let e = GatewayLoadBalancerEndpoint {
            id: id.clone(),
            port: self.port.clone(),
            ipv4: match address {
                std::net::IpAddr::V4(a) => Some(a),
                std::net::IpAddr::V6(_) => None,
            },
            ipv6: match address {
                std::net::IpAddr::V6(a) => Some(a),
                std::net::IpAddr::V4(_) => None,
            },
            next_hop_mac: self.next_hop_mac,
            next_hop: self.next_hop,
            description: self.description.clone(),
            tags: tags_for(&self.tag_specifications, "vpc-endpoint")?,
        };
        let reply = CreateGatewayLoadBalancerEndpointResult { gateway_load_balancer_endpoint: ec2::GatewayLoadBalancerEndpoint::of(&e), client_token: self.client_token.clone() };
        Ok(Planned { what: format!("created gateway load balancer endpoint {id}"), edits: vec![Edit::PutEndpoint(e)], reply })
    }
}

impl Action for CreateGatewayLoadBalancerEndpoint {
    const NAME: &'static str = "CreateGatewayLoadBalancerEndpoint";
    const ABOUT: &'static str = "Add a gateway load balancer endpoint to the inventory";
    type Reply = CreateGatewayLoadBalancerEndpointResult;
    fn start(self, host: &mut dyn Host, reply: Reply<Self::Reply>) {
        change(host, self.dry_run, self.client_token.clone(), Self::plan, self, reply);
    }
}

impl DeleteGatewayLoadBalancerEndpoint {
    /// An endpoint a target uses stays.
    pub fn plan(&self, s: &State) -> Result<Planned<DeleteGatewayLoadBalancerEndpointResult>, ApiError> {
        let id = &self.gateway_load_balancer_endpoint_id;
        if !s.cfg.gateway_load_balancer_endpoints.contains(id) {
            return Err(not_found(Kind::GatewayLoadBalancerEndpoint, id));
        }
        if let Some(t) = target_of(s, TargetType::GatewayLoadBalancerEndpoint, id) {
            return Err(in_use(Kind::GatewayLoadBalancerEndpoint, id, Kind::Target, t));
        }
        Ok(Planned {
            what: format!("deleted gateway load balancer endpoint {id}"),
            edits: vec![Edit::DeleteEndpoint(id.clone())],
            reply: DeleteGatewayLoadBalancerEndpointResult { gateway_load_balancer_endpoint_id: id.clone() },
        })
    }
}

impl Action for DeleteGatewayLoadBalancerEndpoint {
    const NAME: &'static str = "DeleteGatewayLoadBalancerEndpoint";
    const ABOUT: &'static str = "Remove a gateway load balancer endpoint no target uses";
    type Reply = DeleteGatewayLoadBalancerEndpointResult;
    fn start(self, host: &mut dyn Host, reply: Reply<Self::Reply>) {
        change(host, self.dry_run, None, Self::plan, self, reply);
    }
}

impl DescribeGatewayLoadBalancerEndpoints {
    /// The inventory's endpoints selected.
    pub fn answer(&self, s: &State) -> Result<DescribeGatewayLoadBalancerEndpointsResult, ApiError> {
        let (page, next_token) = describe(
            Kind::GatewayLoadBalancerEndpoint,
            &s.cfg.vpc.owner_id,
            &s.cfg.gateway_load_balancer_endpoints,
            &self.gateway_load_balancer_endpoint_ids,
            &self.filters,
            self.max_results,
            self.next_token.as_deref(),
        )?;
        Ok(DescribeGatewayLoadBalancerEndpointsResult { gateway_load_balancer_endpoints: page.into_iter().map(ec2::GatewayLoadBalancerEndpoint::of).collect(), next_token })
    }
}

impl Action for DescribeGatewayLoadBalancerEndpoints {
    const NAME: &'static str = "DescribeGatewayLoadBalancerEndpoints";
    const ABOUT: &'static str = "Describe the inventory's gateway load balancer endpoints";
    type Reply = DescribeGatewayLoadBalancerEndpointsResult;
    fn run(self, host: &mut dyn Host) -> Result<Self::Reply, ApiError> {
        read(self.dry_run, || self.answer(host.state()))
    }
}
