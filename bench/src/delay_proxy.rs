//! `bench child-delay-proxy LISTEN TARGET MS`: a TCP proxy that holds every chunk it relays
//! for MS milliseconds, each way, so a connection through it has 2 × MS more round-trip time.
//! W5 uses it for its 20 ms RTT variant where `tc netem` is missing (a kernel without
//! sch_netem). Order is kept and throughput is not limited; only latency is added. Prints
//! `{"event":"proxy","port":P}` once listening, and lives until killed (at most an hour).

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::process::ExitCode;
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Run the proxy (the `child-delay-proxy` subcommand).
pub fn main(listen: Option<String>, target: Option<String>, ms: Option<String>) -> ExitCode {
    let (Some(listen), Some(target), Some(delay)) =
        (listen, target, ms.and_then(|m| m.parse::<u64>().ok()))
    else {
        eprintln!("usage: bench child-delay-proxy LISTEN_ADDR TARGET_ADDR DELAY_MS");
        return ExitCode::FAILURE;
    };
    let listener = match TcpListener::bind(&listen) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("delay proxy: bind {listen}: {e}");
            return ExitCode::FAILURE;
        }
    };
    let port = listener.local_addr().map_or(0, |a| a.port());
    println!("{{\"event\":\"proxy\",\"port\":{port},\"delayMs\":{delay}}}");
    let _ = std::io::stdout().flush();
    std::thread::spawn(|| {
        std::thread::sleep(Duration::from_secs(3600));
        std::process::exit(124);
    });
    let delay = Duration::from_millis(delay);
    for conn in listener.incoming() {
        let Ok(client) = conn else { continue };
        let target = target.clone();
        std::thread::spawn(move || {
            let Ok(server) = TcpStream::connect(&target) else {
                eprintln!("delay proxy: cannot connect to {target}");
                return;
            };
            let _ = client.set_nodelay(true);
            let _ = server.set_nodelay(true);
            let (c2, s2) = match (client.try_clone(), server.try_clone()) {
                (Ok(c), Ok(s)) => (c, s),
                _ => return,
            };
            let up = std::thread::spawn(move || relay(client, server, delay));
            relay(s2, c2, delay);
            let _ = up.join();
        });
    }
    ExitCode::SUCCESS
}

/// Copy `from` to `to`, each chunk written `delay` after it was read.
fn relay(mut from: TcpStream, mut to: TcpStream, delay: Duration) {
    let (tx, rx) = mpsc::channel::<(Instant, Vec<u8>)>();
    let writer = std::thread::spawn(move || {
        for (due, chunk) in rx {
            let now = Instant::now();
            if due > now {
                std::thread::sleep(due - now);
            }
            if to.write_all(&chunk).is_err() {
                break;
            }
        }
        let _ = to.shutdown(Shutdown::Write);
    });
    let mut buf = vec![0u8; 1 << 16];
    loop {
        match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                if tx
                    .send((Instant::now() + delay, buf[..n].to_vec()))
                    .is_err()
                {
                    break;
                }
            }
        }
    }
    drop(tx);
    let _ = writer.join();
}
