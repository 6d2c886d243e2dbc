//! EC2's semantics for every action, as pure functions of the running state: each change
//! action *plans* (checks the request against the state and says which [`Edit`]s it makes and
//! what it answers), and the control thread commits the plan (validate, compile, persist,
//! publish) or refuses it whole. ClientToken idempotency and DryRun are handled here once for
//! every action.

pub mod appliance;
mod describe;
pub mod edit;
mod filters;
mod inventory;
mod rules;
mod sessions;
mod targets;
mod tokens;

pub use describe::{describe, ById, FilterField, Sorted};
pub use edit::{apply_all, Applied, Edit};
pub use tokens::{Token, Tokens};

use crate::api::actions::DescribeNeighborsResult;
use crate::api::ec2::TagSpecification;
use crate::api::{Action, ApiError, Reply};
use crate::config::{Config, Kind, Refs, Tags, Touched};
use crate::counters::RuleTotals;
use crate::report::Report;

/// What the API reads and changes: the running configuration (with its references, kept as
/// it changes) and the client tokens seen.
#[derive(Clone, Debug, Default)]
pub struct State {
    /// Read here; changed only through [`State::apply`] and [`State::replace`], which keep
    /// the references.
    pub cfg: Config,
    refs: Refs,
    pub tokens: Tokens,
}

impl State {
    /// The state of `cfg`, with the client tokens seen.
    pub fn new(cfg: Config, tokens: Tokens) -> State {
        State { refs: Refs::of(&cfg), cfg, tokens }
    }

    /// Who refers to whom in the configuration.
    pub fn refs(&self) -> &Refs {
        &self.refs
    }

    /// Applies a change's edits; says what they touched, and how to undo them.
    pub fn apply(&mut self, edits: &[Edit]) -> Applied {
        edit::apply_tracked(&mut self.cfg, &mut self.refs, edits)
    }

    /// Undoes what [`apply`](Self::apply) did.
    pub fn undo(&mut self, applied: Applied) {
        applied.undo(&mut self.cfg, &mut self.refs);
    }

    /// The configuration becomes `cfg` whole (a reload).
    pub fn replace(&mut self, cfg: Config) {
        self.refs = Refs::of(&cfg);
        self.cfg = cfg;
    }

    /// Checks the change just applied, which `touched` describes (the configuration was valid
    /// before it), and says why not in the API's terms; returns how many resources it checked.
    pub fn validate(&self, touched: &Touched) -> Result<usize, ApiError> {
        self.cfg.validate_change(&self.refs, touched).map_err(|problems| {
            let (code, _) = problems[0].in_api_terms();
            let message = problems.iter().map(|p| p.in_api_terms().1).collect::<Vec<_>>().join("; ");
            ApiError::new(code, message)
        })
    }
}

/// Where actions run: the control thread, which owns the state and the dataplane's tables.
pub trait Host {
    /// The running state.
    fn state(&self) -> &State;
    /// Runs `job` with the host once no change is being written down (at once when none is),
    /// so that a change is planned against a state every earlier change is in; or refuses it
    /// (`job` gets the error) when the write in progress is stuck.
    fn after_writes(&mut self, job: Job);
    /// Validates, compiles, writes down and publishes `change`, or refuses it whole, and
    /// answers through `done`: once the change is on disk, which the control thread does not
    /// wait for. With `dry_run` it stops before writing and answers `DryRunOperation`.
    fn commit(&mut self, change: Change, done: Reply<()>);
    /// The counters now.
    fn report(&self) -> Report;
    /// The neighbour table.
    fn neighbours(&self) -> DescribeNeighborsResult;
    /// Re-reads the configuration file, keeping the changes made through the API, and answers
    /// the table then in force through `reply`: once the file is read, which the control
    /// thread never waits for.
    fn reload(&mut self, reply: crate::api::Reply<u64>);
    /// The health of the load balancers' collectors (none where nothing checks them).
    fn health(&self) -> Vec<crate::health::CollectorHealth> {
        Vec::new()
    }
    /// Every filter rule's hits so far.
    fn rule_hits(&self) -> RuleTotals;
    /// What the table in force does with `frames`, arriving on port `port`.
    fn explain(&self, port: &str, frames: &[Vec<u8>]) -> Result<Vec<crate::explain::FrameExplanation>, ApiError>;
}

/// Work for [`Host::after_writes`]: given the host, or why it cannot run.
pub type Job = Box<dyn FnOnce(Result<&mut dyn Host, ApiError>)>;

/// A planned change, for [`Host::commit`].
#[derive(Debug)]
pub struct Change {
    /// What it does, for the log ("created session tms-...").
    pub what: String,
    pub edits: Vec<Edit>,
    pub dry_run: bool,
    /// The client token to remember with the reply, when the request had one.
    pub token: Option<Token>,
}

/// What a change action plans: its edits, its reply and a line for the log.
#[derive(Debug)]
pub struct Planned<R> {
    pub what: String,
    pub edits: Vec<Edit>,
    pub reply: R,
}

/// How a change action plans: its `plan` method.
pub type Plan<A> = fn(&A, &State) -> Result<Planned<<A as Action>::Reply>, ApiError>;

/// Runs change action `a`, answering through `reply`: once the changes before it are written
/// down, a retry with a known client token gets the first reply (or
/// `IdempotentParameterMismatch` when its parameters differ), otherwise `plan` decides and the
/// host commits.
pub fn change<A: Action>(
    host: &mut dyn Host,
    dry_run: bool,
    client_token: Option<String>,
    plan: Plan<A>,
    a: A,
    reply: Reply<A::Reply>,
) {
    host.after_writes(Box::new(move |host| {
        let decided = host.and_then(|host| decide(&a, host, dry_run, client_token.as_ref(), plan).map(|d| (host, d)));
        match decided {
            Err(e) => reply(Err(e)),
            Ok((_, Decided::Replayed(r))) => reply(Ok(r)),
            Ok((host, Decided::Commit(change, r))) => host.commit(change, Box::new(move |done| reply(done.map(|()| r)))),
        }
    }));
}

/// What a change action comes to: the reply remembered for its client token, or a change to
/// commit and the reply once it is.
enum Decided<R> {
    Replayed(R),
    Commit(Change, R),
}

fn decide<A: Action>(a: &A, host: &mut dyn Host, dry_run: bool, client_token: Option<&String>, plan: Plan<A>) -> Result<Decided<A::Reply>, ApiError> {
    let token = match client_token {
        // EC2's limit: a token is remembered with its reply, so its size is memory.
        Some(t) if t.is_empty() || t.chars().count() > MAX_CLIENT_TOKEN || !t.is_ascii() => {
            return Err(ApiError::invalid("ClientToken", t, format!("a client token has 1-{MAX_CLIENT_TOKEN} ASCII characters")));
        }
        Some(t) => {
            let fingerprint = tokens::fingerprint(a);
            if let Some(reply) = host.state().tokens.replay(t, A::NAME, fingerprint)? {
                if dry_run {
                    return Err(ApiError::dry_run());
                }
                return serde_json::from_value(reply).map(Decided::Replayed).map_err(|e| ApiError::new("InternalError", format!("the remembered reply does not read back: {e}")));
            }
            Some((t.clone(), fingerprint))
        }
        None => None,
    };
    let planned = plan(a, host.state())?;
    let token = token.map(|(token, fingerprint)| Token {
        token,
        action: A::NAME.to_owned(),
        fingerprint,
        reply: serde_json::to_value(&planned.reply).expect("API replies always serialise"),
    });
    Ok(Decided::Commit(Change { what: planned.what, edits: planned.edits, dry_run, token }, planned.reply))
}

/// The longest `ClientToken`, as EC2 documents it.
pub const MAX_CLIENT_TOKEN: usize = 64;

/// Answers a read-only action: `DryRunOperation` when asked for a dry run, else `reply`.
pub fn read<R>(dry_run: bool, reply: impl FnOnce() -> Result<R, ApiError>) -> Result<R, ApiError> {
    if dry_run { Err(ApiError::dry_run()) } else { reply() }
}

/// A fresh AWS-shaped id, `prefix-` and 17 hex digits, that `taken` says is free.
pub fn new_id(prefix: &str, taken: impl Fn(&str) -> bool) -> String {
    use std::hash::{BuildHasher, Hasher};
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    loop {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
        h.write_u128(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos());
        let id = format!("{prefix}-{:017x}", u128::from(h.finish()) & 0x1_ffff_ffff_ffff_ffff);
        if !taken(&id) {
            return id;
        }
    }
}

/// The id a Create gives its resource: the one asked for (which must be free), or a new one.
pub fn id_for(given: &Option<String>, member: &str, prefix: &str, taken: impl Fn(&str) -> bool) -> Result<String, ApiError> {
    match given {
        Some(id) if id.is_empty() => Err(ApiError::invalid(member, "\"\"", "an id must not be empty")),
        Some(id) if taken(id) => Err(ApiError::invalid(member, id, "is already used")),
        Some(id) => Ok(id.clone()),
        None => Ok(new_id(prefix, taken)),
    }
}

/// The tags `specs` give a resource of `resource_type`, checked as EC2 checks them.
pub fn tags_for(specs: &[TagSpecification], resource_type: &str) -> Result<Tags, ApiError> {
    let mut tags = Tags::new();
    for (i, spec) in specs.iter().enumerate() {
        let at = format!("TagSpecifications.{}", i + 1);
        if spec.resource_type != resource_type {
            return Err(ApiError::invalid(&format!("{at}.ResourceType"), &spec.resource_type, format!("this action tags a {resource_type}")));
        }
        for (j, t) in spec.tags.iter().enumerate() {
            let member = format!("{at}.Tags.{}.Key", j + 1);
            if t.key.is_empty() || t.key.chars().count() > 128 {
                return Err(ApiError::invalid(&member, &t.key, "a tag key has 1-128 characters"));
            }
            if t.key.to_ascii_lowercase().starts_with("aws:") {
                return Err(ApiError::invalid(&member, &t.key, "tag keys starting with aws: are reserved"));
            }
            if t.value.chars().count() > 256 {
                return Err(ApiError::invalid(&format!("{at}.Tags.{}.Value", j + 1), &t.value, "a tag value has at most 256 characters"));
            }
            tags.insert(t.key.clone(), t.value.clone());
        }
    }
    if tags.len() > 50 {
        return Err(ApiError::new("TagLimitExceeded", format!("{} tags: a resource has at most 50", tags.len())));
    }
    Ok(tags)
}

/// EC2's error for an id of `kind` that does not exist.
pub fn not_found(kind: Kind, id: &str) -> ApiError {
    ApiError::new(kind.not_found_code(), format!("The {} ID '{id}' does not exist", kind.noun()))
}

/// EC2's error for deleting what another resource still uses.
pub fn in_use(kind: Kind, id: &str, by: Kind, user: &str) -> ApiError {
    ApiError::new("DependencyViolation", format!("The {} '{id}' is in use by {} '{user}'", kind.noun(), by.noun()))
}

#[cfg(test)]
pub mod testing;
#[cfg(test)]
mod tests;
