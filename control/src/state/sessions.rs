//! Sessions: a source, a target and a filter, with a number among the source's sessions and a
//! VNI (assigned, unique, when not given, as EC2 does).

use super::{change, describe, id_for, not_found, read, tags_for, Edit, FilterField, Host, Planned, State};
use crate::api::actions::*;
use crate::api::ec2::TrafficMirrorSession;
use crate::api::{Action, ApiError, Reply};
use crate::config::{free_vni, Kind, Session, Tags};

impl FilterField for Session {
    fn tags(&self) -> &Tags {
        &self.tags
    }
    fn field(&self, name: &str) -> Option<Vec<String>> {
        let opt = |v: Option<String>| v.into_iter().collect();
        Some(match name {
            "traffic-mirror-session-id" => vec![self.id.clone()],
            "description" => opt(self.description.clone()),
            "network-interface-id" => vec![self.source.clone()],
            "traffic-mirror-target-id" => vec![self.target.clone()],
            "traffic-mirror-filter-id" => vec![self.filter.clone()],
            "packet-length" => opt(self.packet_length.map(|l| l.to_string())),
            "session-number" => vec![self.session_number.to_string()],
            "virtual-network-id" => opt(self.virtual_network_id.map(|v| v.to_string())),
            _ => return None,
        })
    }
}

/// The session `id`, or EC2's NotFound.
fn find<'s>(s: &'s State, id: &str) -> Result<&'s Session, ApiError> {
    s.cfg.sessions.get(id).ok_or_else(|| not_found(Kind::Session, id))
}

/// What a session refers to must exist (EC2's NotFound codes, before any other check).
fn references(s: &State, source: Option<&str>, target: Option<&str>, filter: Option<&str>) -> Result<(), ApiError> {
    let cfg = &s.cfg;
    if let Some(id) = source.filter(|id| !cfg.network_interfaces.contains(id)) {
        return Err(not_found(Kind::NetworkInterface, id));
    }
    if let Some(id) = target.filter(|id| !cfg.targets.contains(id)) {
        return Err(not_found(Kind::Target, id));
    }
    if let Some(id) = filter.filter(|id| !cfg.filters.contains(id)) {
        return Err(not_found(Kind::Filter, id));
    }
    Ok(())
}

/// A VNI for session `id` that no other session has.
fn assigned_vni(s: &State, id: &str) -> u32 {
    // Taken by another session: one with it, not counting `id` itself.
    let own = s.cfg.sessions.get(id).and_then(|x| x.virtual_network_id);
    free_vni(id, |vni| s.refs().sessions_with_vni(vni) > usize::from(own == Some(vni)))
}

impl CreateTrafficMirrorSession {
    /// A new session; numbers, quotas and the outer source address are the validator's.
    pub fn plan(&self, s: &State) -> Result<Planned<CreateTrafficMirrorSessionResult>, ApiError> {
        references(s, Some(&self.network_interface_id), Some(&self.traffic_mirror_target_id), Some(&self.traffic_mirror_filter_id))?;
        let id = id_for(&self.traffic_mirror_session_id, "TrafficMirrorSessionId", "tms", |id| s.cfg.sessions.contains(id))?;
        let session = Session {
            id: id.clone(),
            source: self.network_interface_id.clone(),
            target: self.traffic_mirror_target_id.clone(),
            filter: self.traffic_mirror_filter_id.clone(),
            session_number: self.session_number,
            virtual_network_id: Some(self.virtual_network_id.unwrap_or_else(|| assigned_vni(s, &id))),
            packet_length: self.packet_length,
            enabled: self.enabled.unwrap_or(true),
            description: self.description.clone(),
            tags: tags_for(&self.tag_specifications, "traffic-mirror-session")?,
        };
        let reply = CreateTrafficMirrorSessionResult { traffic_mirror_session: TrafficMirrorSession::of(&s.cfg, &session), client_token: self.client_token.clone() };
        Ok(Planned { what: format!("created session {id}"), edits: vec![Edit::PutSession(session)], reply })
    }
}

impl Action for CreateTrafficMirrorSession {
    const NAME: &'static str = "CreateTrafficMirrorSession";
    const ABOUT: &'static str = "Create a session: mirror a source's traffic that a filter accepts to a target";
    type Reply = CreateTrafficMirrorSessionResult;
    fn start(self, host: &mut dyn Host, reply: Reply<Self::Reply>) {
        change(host, self.dry_run, self.client_token.clone(), Self::plan, self, reply);
    }
}

impl ModifyTrafficMirrorSession {
    /// The session changed member by member; RemoveFields last.
    pub fn plan(&self, s: &State) -> Result<Planned<ModifyTrafficMirrorSessionResult>, ApiError> {
        let mut x = find(s, &self.traffic_mirror_session_id)?.clone();
        references(s, None, self.traffic_mirror_target_id.as_deref(), self.traffic_mirror_filter_id.as_deref())?;
        if let Some(t) = &self.traffic_mirror_target_id {
            x.target = t.clone();
        }
        if let Some(f) = &self.traffic_mirror_filter_id {
            x.filter = f.clone();
        }
        if let Some(l) = self.packet_length {
            x.packet_length = Some(l);
        }
        if let Some(n) = self.session_number {
            x.session_number = n;
        }
        if let Some(v) = self.virtual_network_id {
            x.virtual_network_id = Some(v);
        }
        if let Some(d) = &self.description {
            x.description = Some(d.clone());
        }
        if let Some(e) = self.enabled {
            x.enabled = e;
        }
        for f in &self.remove_fields {
            match f {
                SessionField::PacketLength => x.packet_length = None,
                SessionField::Description => x.description = None,
                // As in EC2, a removed VNI is replaced by an assigned one.
                SessionField::VirtualNetworkId => x.virtual_network_id = Some(assigned_vni(s, &x.id)),
            }
        }
        let reply = ModifyTrafficMirrorSessionResult { traffic_mirror_session: TrafficMirrorSession::of(&s.cfg, &x) };
        Ok(Planned { what: format!("modified session {}", x.id), edits: vec![Edit::PutSession(x)], reply })
    }
}

impl Action for ModifyTrafficMirrorSession {
    const NAME: &'static str = "ModifyTrafficMirrorSession";
    const ABOUT: &'static str = "Change a session (RemoveFields clears a member)";
    type Reply = ModifyTrafficMirrorSessionResult;
    fn start(self, host: &mut dyn Host, reply: Reply<Self::Reply>) {
        change(host, self.dry_run, None, Self::plan, self, reply);
    }
}

impl DeleteTrafficMirrorSession {
    /// The session goes; what it referred to stays.
    pub fn plan(&self, s: &State) -> Result<Planned<DeleteTrafficMirrorSessionResult>, ApiError> {
        let id = &find(s, &self.traffic_mirror_session_id)?.id;
        Ok(Planned {
            what: format!("deleted session {id}"),
            edits: vec![Edit::DeleteSession(id.clone())],
            reply: DeleteTrafficMirrorSessionResult { traffic_mirror_session_id: id.clone() },
        })
    }
}

impl Action for DeleteTrafficMirrorSession {
    const NAME: &'static str = "DeleteTrafficMirrorSession";
    const ABOUT: &'static str = "Delete a session";
    type Reply = DeleteTrafficMirrorSessionResult;
    fn start(self, host: &mut dyn Host, reply: Reply<Self::Reply>) {
        change(host, self.dry_run, None, Self::plan, self, reply);
    }
}

impl DescribeTrafficMirrorSessions {
    /// The sessions selected.
    pub fn answer(&self, s: &State) -> Result<DescribeTrafficMirrorSessionsResult, ApiError> {
        let (page, next_token) = describe(Kind::Session, &s.cfg.vpc.owner_id, &s.cfg.sessions, &self.traffic_mirror_session_ids, &self.filters, self.max_results, self.next_token.as_deref())?;
        Ok(DescribeTrafficMirrorSessionsResult { traffic_mirror_sessions: page.into_iter().map(|x| TrafficMirrorSession::of(&s.cfg, x)).collect(), next_token })
    }
}

impl Action for DescribeTrafficMirrorSessions {
    const NAME: &'static str = "DescribeTrafficMirrorSessions";
    const ABOUT: &'static str = "Describe sessions";
    type Reply = DescribeTrafficMirrorSessionsResult;
    fn run(self, host: &mut dyn Host) -> Result<Self::Reply, ApiError> {
        read(self.dry_run, || self.answer(host.state()))
    }
}
