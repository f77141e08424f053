//! Where the client keeps its state: one loop-owned table (`lp.ext`) of
//! requests, connections and agent pools, reached through generational
//! keys. User callbacks are always taken out of their entry before they
//! run, so no borrow of the table is held across them.

use std::collections::HashMap;

use eventide_loop_phases::Loop;
use eventide_reactor::slab::{Key, Slab};

use super::agent::{Agent, AgentState};
use super::conn::ConnEntry;
use super::request::ReqEntry;

#[derive(Default)]
pub(crate) struct ClientState {
    pub(crate) requests: Slab<ReqEntry>,
    pub(crate) conns: Slab<ConnEntry>,
    /// Pools, by agent id; created on an agent's first use in this loop.
    pub(crate) agents: HashMap<u64, AgentState>,
    pub(crate) default_agent: Option<Agent>,
}

/// The key of this table in loop storage (an index, not a map lookup).
static CLIENT: std::sync::LazyLock<eventide_loop_phases::ExtKey<ClientState>> =
    std::sync::LazyLock::new(eventide_loop_phases::ExtKey::new);

pub(crate) fn state(lp: &mut Loop) -> &mut ClientState {
    lp.ext_by(*CLIENT)
}

pub(crate) fn req(lp: &mut Loop, key: Key) -> Option<&mut ReqEntry> {
    state(lp).requests.get_mut(key)
}

pub(crate) fn conn(lp: &mut Loop, key: Key) -> Option<&mut ConnEntry> {
    state(lp).conns.get_mut(key)
}
