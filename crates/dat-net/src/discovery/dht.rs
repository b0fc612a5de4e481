//! The Mainline DHT (BEP 5) through the `mainline` crate: `get_peers` then
//! `announce_peer` for `dk[0..20]` (DAT-SPEC §6.2.5).

use std::io;
use std::time::Instant;

use dat_discovery::schedule::Backend;
use futures_lite::StreamExt;
use mainline::{Dht, Id, async_dht::AsyncDht};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::{BackendCmd, DiscoveryConfig, Shared};

pub(crate) fn spawn(
    cfg: &DiscoveryConfig,
    shared: Shared,
) -> io::Result<(mpsc::Sender<BackendCmd>, JoinHandle<()>)> {
    let mut builder = Dht::builder();
    if cfg.dht_bootstrap.is_empty() {
        builder.no_bootstrap();
    } else {
        builder.bootstrap(&cfg.dht_bootstrap);
    }
    builder
        .bind_address(cfg.dht_bind)
        .request_timeout(cfg.dht_request_timeout);
    if let Some(p) = cfg.dht_port {
        builder.port(p);
    }
    let dht = builder.build()?.as_async();
    let (tx, rx) = mpsc::channel(256);
    let settings = Settings {
        implied_port: cfg.dht_implied_port,
        query_timeout: cfg.dht_query_timeout,
    };
    Ok((tx, tokio::spawn(run(dht, rx, shared, settings))))
}

#[derive(Clone, Copy)]
struct Settings {
    implied_port: bool,
    query_timeout: std::time::Duration,
}

async fn run(
    dht: AsyncDht,
    mut rx: mpsc::Receiver<BackendCmd>,
    shared: Shared,
    settings: Settings,
) {
    let mut running = tokio::task::JoinSet::new();
    while let Some(cmd) = rx.recv().await {
        while running.try_join_next().is_some() {}
        let BackendCmd::Query { topic, announce } = cmd else {
            continue;
        };
        let (dht, shared) = (dht.clone(), shared.clone());
        running.spawn(async move {
            let q = tokio::time::timeout(
                settings.query_timeout,
                query(&dht, &shared, topic, announce, settings),
            );
            if q.await.is_err() {
                shared
                    .recorder
                    .error(Backend::Dht, "lookup timed out".into());
            }
        });
    }
}

async fn query(
    dht: &AsyncDht,
    shared: &Shared,
    topic: dat_discovery::Topic,
    announce: Option<u16>,
    settings: Settings,
) {
    let Ok(id) = Id::from_bytes(topic.id20()) else {
        return;
    };
    let started = Instant::now();
    // get_peers first: mainline reuses its tokens for the announce (see research §4).
    let mut stream = dht.get_peers(id);
    while let Some(batch) = stream.next().await {
        for peer in batch {
            shared.emit(Backend::Dht, topic, peer);
        }
    }
    shared
        .recorder
        .answer(Backend::Dht, Some(started.elapsed()));
    if let Some(port) = announce {
        let port = if settings.implied_port {
            None
        } else {
            Some(port)
        };
        if let Err(e) = dht.announce_peer(id, port).await {
            shared
                .recorder
                .error(Backend::Dht, format!("announce: {e}"));
        }
    }
}
