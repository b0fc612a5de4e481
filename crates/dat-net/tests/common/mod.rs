//! Shared test helpers.
#![allow(dead_code, clippy::unwrap_used)]

use std::net::SocketAddrV4;
use std::time::{Duration, Instant};

use dat_net::discovery::{Found, Interval, ScheduleConfig, Source, Topic};
use tokio::sync::mpsc;

/// Short intervals so a peer that joined later is found within a second or two.
pub fn fast_schedule() -> ScheduleConfig {
    let iv = Interval {
        base: Duration::from_millis(700),
        jitter: Duration::from_millis(200),
    };
    ScheduleConfig {
        dns: iv,
        mdns: iv,
        dht: iv,
    }
}

/// Wait for a find of `want` for `topic` from `source`; returns the time it took.
pub async fn wait_for(
    rx: &mut mpsc::Receiver<Found>,
    topic: Topic,
    want: SocketAddrV4,
    source: Source,
    limit: Duration,
) -> Option<Duration> {
    let start = Instant::now();
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        let f = tokio::time::timeout_at(deadline, rx.recv()).await.ok()??;
        if f.topic == topic && f.addr == want && f.source == source {
            return Some(start.elapsed());
        }
    }
}

/// A topic from a byte.
pub fn topic(b: u8) -> Topic {
    Topic([b; 32])
}
