//! ClientToken idempotency: the replies of the Creates that carried a token, so that a retry
//! (the AWS SDKs send a token with every Create, and retry on a lost reply) gets the first
//! reply rather than a second resource. Kept with the changes on disk, so a retry after a
//! restart is recognised too; the oldest are forgotten past [`KEPT`].

use crate::api::{Action, ApiError};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::{HashMap, VecDeque};

/// How many tokens are remembered (the newest): each with its reply, up to some 20 KB with 50
/// tags, so the most this holds is some 200 MB; an SDK retries within minutes.
pub const KEPT: usize = 10_000;

/// One remembered request.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Token {
    pub token: String,
    pub action: String,
    /// Of the request's members but ClientToken and DryRun.
    pub fingerprint: u64,
    pub reply: Value,
}

/// The remembered tokens, oldest first.
#[derive(Clone, Debug, Default)]
pub struct Tokens {
    by_token: HashMap<String, Token>,
    order: VecDeque<String>,
}

impl Tokens {
    /// The first reply to a request with `token`, when there was one with the same action and
    /// parameters; `IdempotentParameterMismatch` when they differ.
    pub fn replay(&self, token: &str, action: &str, fingerprint: u64) -> Result<Option<Value>, ApiError> {
        match self.by_token.get(token) {
            None => Ok(None),
            Some(t) if t.action == action && t.fingerprint == fingerprint => Ok(Some(t.reply.clone())),
            Some(t) => Err(ApiError::new(
                "IdempotentParameterMismatch",
                format!("The client token '{token}' was used with {} and other parameters; a token is for one request only", t.action),
            )),
        }
    }

    /// Remembers `t`, forgetting the oldest beyond [`KEPT`].
    pub fn remember(&mut self, t: Token) {
        if self.by_token.insert(t.token.clone(), t.clone()).is_none() {
            self.order.push_back(t.token);
        }
        while self.order.len() > KEPT {
            if let Some(old) = self.order.pop_front() {
                self.by_token.remove(&old);
            }
        }
    }

    /// Every remembered token, oldest first (for writing them down).
    pub fn iter(&self) -> impl Iterator<Item = &Token> {
        self.order.iter().filter_map(|t| self.by_token.get(t))
    }

    pub fn len(&self) -> usize {
        self.order.len()
    }

    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }
}

/// FNV-1a over the request's JSON without ClientToken and DryRun (serde_json's maps are
/// ordered, so equal requests give equal text).
pub fn fingerprint<A: Action>(a: &A) -> u64 {
    let mut v = serde_json::to_value(a).expect("requests always serialise");
    if let Some(o) = v.as_object_mut() {
        o.remove("ClientToken");
        o.remove("DryRun");
    }
    v.to_string().bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}
