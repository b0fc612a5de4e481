//! `dat discovery-server [--port P] [--host IP]`: a dns-discovery server anyone can run.
//!
//! What discovery1.datprotocol.com runs for dat 13: peers announce `(discovery key, port)`
//! over UDP and look each other up. A lab or an archive without internet runs one and points
//! its peers at it with `--dns-server HOST:PORT` (or `dns-server =` in the config file).
//! Memory is bounded by the store's limits and each source is rate-limited, so one noisy
//! client cannot starve the others.

use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::Duration;

use anyhow::Context;
use dat_net::discovery::server::{ServerOptions, spawn};

use crate::output::Output;

/// Flags of `dat discovery-server`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// UDP port to listen on (dns-discovery uses 5300 and 53; 0 picks a free one).
    #[arg(long, default_value_t = 5300)]
    port: u16,
    /// Address to listen on.
    #[arg(long, default_value_t = Ipv4Addr::UNSPECIFIED)]
    host: Ipv4Addr,
    /// Print the server's counters this often (seconds; 0: never).
    #[arg(long, default_value_t = 60)]
    stats_every: u64,
}

/// Run the server until interrupted.
pub fn run(args: Args, out: &Output) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let opts = ServerOptions {
            bind: SocketAddrV4::new(args.host, args.port),
            ..ServerOptions::default()
        };
        let server = spawn(opts)
            .await
            .with_context(|| format!("cannot listen on udp {}:{}", args.host, args.port))?;
        let addr = server.local_addr();
        out.line(format!("discovery server listening on udp {addr}"));
        out.record(&[
            ("event", "\"listening\"".into()),
            ("address", format!("\"{addr}\"")),
        ]);
        let every = Duration::from_secs(args.stats_every.max(1));
        let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        loop {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => break,
                _ = ticks.tick(), if args.stats_every > 0 => {
                    let s = server.stats();
                    out.line(format!(
                        "received {} answered {} announces {} malformed {} rate-limited {} bad tokens {}",
                        s.received, s.answered, s.announces, s.malformed, s.rate_limited, s.bad_tokens
                    ));
                    out.record(&[
                        ("event", "\"stats\"".into()),
                        ("received", s.received.to_string()),
                        ("answered", s.answered.to_string()),
                        ("announces", s.announces.to_string()),
                        ("malformed", s.malformed.to_string()),
                        ("rateLimited", s.rate_limited.to_string()),
                        ("badTokens", s.bad_tokens.to_string()),
                    ]);
                }
            }
        }
        Ok(())
    })
}
