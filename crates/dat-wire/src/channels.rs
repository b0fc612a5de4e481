//! The channel table of one connection (JS `_feeds`, `_localFeeds`, `_remoteFeeds`): feeds by
//! discovery key, with the local and remote channel numbers each side gave them.
//!
//! Bounded: at most 256 local and 256 remote ids, and a channel leaves the table when closed,
//! so a peer re-opening channel ids cannot grow it.

use std::collections::HashMap;

use dat_core::DiscoveryKey;

use crate::event::Channel;
use crate::frame::MAX_FEEDS;
use crate::message::Message;

/// One feed shared (or about to be shared) over the connection.
#[derive(Debug)]
pub(crate) struct ChannelState {
    pub dk: DiscoveryKey,
    pub local: Option<Channel>,
    pub remote: Option<u16>,
    /// Messages the remote sent before we opened the feed.
    pub buffer: Vec<Message<'static>>,
    pub buffered_bytes: usize,
}

#[derive(Debug, Default)]
pub(crate) struct Channels {
    by_dk: HashMap<DiscoveryKey, ChannelState>,
    /// Local channel id → discovery key; ids are never reused (as JS).
    local: Vec<Option<DiscoveryKey>>,
    /// Remote channel id → discovery key.
    remote: Vec<Option<DiscoveryKey>>,
}

impl Channels {
    pub fn get_or_insert(&mut self, dk: DiscoveryKey) -> &mut ChannelState {
        self.by_dk.entry(dk).or_insert_with(|| ChannelState {
            dk,
            local: None,
            remote: None,
            buffer: Vec::new(),
            buffered_bytes: 0,
        })
    }

    pub fn local_of(&self, dk: &DiscoveryKey) -> Option<Channel> {
        self.by_dk.get(dk)?.local
    }

    pub fn by_remote(&mut self, remote: u16) -> Option<&mut ChannelState> {
        let dk = (*self.remote.get(usize::from(remote))?)?;
        self.by_dk.get_mut(&dk)
    }

    pub fn by_local(&self, local: Channel) -> Option<&ChannelState> {
        let dk = (*self.local.get(usize::from(local))?)?;
        self.by_dk.get(&dk)
    }

    pub fn local_ids_used(&self) -> usize {
        self.local.len()
    }

    /// Give `dk` the next local id; `None` after 256 opens.
    pub fn assign_local(&mut self, dk: DiscoveryKey) -> Option<Channel> {
        if self.local.len() as u64 >= MAX_FEEDS {
            return None;
        }
        let id = self.local.len() as Channel;
        self.local.push(Some(dk));
        self.get_or_insert(dk).local = Some(id);
        Some(id)
    }

    pub fn assign_remote(&mut self, remote: u16, dk: DiscoveryKey) {
        let slot = usize::from(remote);
        if self.remote.len() <= slot {
            self.remote.resize(slot + 1, None);
        }
        self.remote[slot] = Some(dk);
        self.get_or_insert(dk).remote = Some(remote);
    }

    /// Close the channel the remote id points at (JS `Feed._onclose`); returns it.
    pub fn close_remote(&mut self, remote: u16) -> Option<ChannelState> {
        let dk = self.remote.get_mut(usize::from(remote))?.take()?;
        let state = self.by_dk.remove(&dk)?;
        if let Some(local) = state.local {
            self.local[usize::from(local)] = None;
        }
        if let Some(slot) = state
            .remote
            .and_then(|r| self.remote.get_mut(usize::from(r)))
        {
            *slot = None;
        }
        Some(state)
    }
}
