//! `dat doctor [LINK]`: which discovery backends answer, what they find, how long it takes.
//!
//! When `dat clone` finds nobody, the question is always "which part failed": the DNS
//! discovery server unreachable, multicast blocked on this network, the DHT without
//! bootstrap nodes, or peers found but not reachable over TCP. The doctor runs discovery
//! for one topic (the link's discovery key, or a fresh random one to test the backends
//! alone), optionally announcing a port, and then tries a TCP connection to every
//! address found.

use std::collections::BTreeSet;
use std::net::SocketAddrV4;
use std::time::{Duration, Instant};

use anyhow::Context;
use dat_core::link::DatLink;
use dat_net::discovery::{Discovery, Topic, topic_of};

use super::discovery_flags::DiscoveryFlags;
use crate::output::{Output, json_string};

/// Flags of `dat doctor`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The archive to look for (`dat://KEY` or hex). Without it a random topic tests the
    /// backends themselves.
    link: Option<String>,
    /// How long to run discovery (seconds).
    #[arg(long, default_value_t = 10)]
    timeout: u64,
    /// Also announce this port for the topic (as `dat share` would).
    #[arg(long, value_name = "PORT")]
    announce: Option<u16>,
    #[command(flatten)]
    discovery: DiscoveryFlags,
}

/// Run discovery for a while and report per backend.
pub fn run(args: Args, out: &Output) -> anyhow::Result<()> {
    let topic = match &args.link {
        Some(link) => {
            let link: DatLink = link
                .parse()
                .with_context(|| format!("not a dat link: {link}"))?;
            topic_of(&link.key.discovery_key())
        }
        None => {
            let mut bytes = [0u8; 32];
            getrandom::fill(&mut bytes).context("no randomness for a test topic")?;
            Topic(bytes)
        }
    };
    let cfg = args.discovery.config()?;
    let wait = Duration::from_secs(args.timeout);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let report = runtime.block_on(async {
        let (discovery, mut found) = Discovery::start(cfg).await;
        discovery.join(topic, args.announce).await;
        let deadline = tokio::time::Instant::now() + wait;
        let mut addrs = BTreeSet::new();
        loop {
            tokio::select! {
                _ = tokio::time::sleep_until(deadline) => break,
                _ = tokio::signal::ctrl_c() => break,
                f = found.recv() => match f {
                    Some(f) if f.topic == topic => { addrs.insert(f.addr); }
                    Some(_) => {}
                    None => break,
                },
            }
        }
        let report = discovery.report();
        let mut reachable = Vec::new();
        for addr in addrs {
            reachable.push((addr, connect_time(addr).await));
        }
        (report, reachable)
    });
    print_report(out, &topic, &report.0, &report.1);
    Ok(())
}

/// How long a TCP connection to `addr` took, or why it failed (2 s limit).
async fn connect_time(addr: SocketAddrV4) -> Result<Duration, String> {
    let start = Instant::now();
    match tokio::time::timeout(Duration::from_secs(2), tokio::net::TcpStream::connect(addr)).await {
        Ok(Ok(_)) => Ok(start.elapsed()),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err("timed out".into()),
    }
}

fn ms(d: Duration) -> String {
    format!("{}", d.as_millis())
}

fn print_report(
    out: &Output,
    topic: &Topic,
    report: &dat_net::discovery::Report,
    reachable: &[(SocketAddrV4, Result<Duration, String>)],
) {
    let topic_hex = dat_core::crypto::to_hex(&topic.0);
    out.line(format!(
        "discovery for {topic_hex} ({} s)",
        report.uptime.as_secs()
    ));
    for b in &report.backends {
        let name = b.backend.as_str();
        if !b.enabled {
            out.line(format!("  {name:<5} off"));
        } else {
            let first = b.first_answer.map_or("no answer".to_string(), |d| {
                format!("first answer {} ms", ms(d))
            });
            let rtt = b
                .last_rtt
                .map_or(String::new(), |d| format!(", rtt {} ms", ms(d)));
            out.line(format!(
                "  {name:<5} {} queries, {} answers, {first}{rtt}, {} peers found",
                b.queries,
                b.answers,
                b.found.len()
            ));
            for f in b.found.iter().filter(|f| f.topic == *topic) {
                out.line(format!("        {} after {} ms", f.addr, ms(f.after)));
            }
            for e in &b.errors {
                out.line(format!("        error: {e}"));
            }
        }
        out.record(&[
            ("backend", json_string(name)),
            ("enabled", b.enabled.to_string()),
            ("queries", b.queries.to_string()),
            ("answers", b.answers.to_string()),
            ("firstAnswerMs", b.first_answer.map_or("null".into(), ms)),
            ("rttMs", b.last_rtt.map_or("null".into(), ms)),
            (
                "found",
                format!(
                    "[{}]",
                    b.found
                        .iter()
                        .filter(|f| f.topic == *topic)
                        .map(|f| format!(
                            "{{\"address\":\"{}\",\"afterMs\":{}}}",
                            f.addr,
                            ms(f.after)
                        ))
                        .collect::<Vec<_>>()
                        .join(",")
                ),
            ),
            (
                "errors",
                format!(
                    "[{}]",
                    b.errors
                        .iter()
                        .map(|e| json_string(e))
                        .collect::<Vec<_>>()
                        .join(",")
                ),
            ),
        ]);
    }
    if reachable.is_empty() {
        out.line("  no peers found");
    }
    for (addr, r) in reachable {
        match r {
            Ok(d) => out.line(format!("  tcp {addr}: connected in {} ms", ms(*d))),
            Err(e) => out.line(format!("  tcp {addr}: {e}")),
        }
        out.record(&[
            ("peer", format!("\"{addr}\"")),
            ("connected", r.is_ok().to_string()),
            ("connectMs", r.as_ref().map_or("null".into(), |d| ms(*d))),
        ]);
    }
}
