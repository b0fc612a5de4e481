//! Our server over real UDP under a hostile flood from 127.0.0.2 keeps answering an
//! honest client on 127.0.0.1.
#![allow(clippy::unwrap_used)]

use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::Duration;

use dat_discovery::packet;
use dat_net::discovery::server::{self, ServerOptions};
use tokio::net::UdpSocket;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn flood_does_not_starve_honest_clients() {
    let srv = server::spawn(ServerOptions {
        bind: SocketAddrV4::new(Ipv4Addr::LOCALHOST, 0),
        ..ServerOptions::default()
    })
    .await
    .unwrap();
    let to = srv.local_addr();
    let evil = UdpSocket::bind("127.0.0.2:0").await.unwrap();
    let honest = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let mut loop_ptr = vec![0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0];
    loop_ptr.extend_from_slice(&[0xc0, 12, 0, 16, 0, 1]);
    let flood = tokio::spawn(async move {
        for i in 0..20_000u32 {
            let name = format!("{i:040x}.dat.local");
            let ann = packet::txt_query(
                i as u16,
                &name,
                Some(vec![b"token=bogus".to_vec(), b"announce=1".to_vec()]),
            );
            let bytes = packet::encode(&ann, false).unwrap();
            let pick: &[u8] = match i % 3 {
                0 => &bytes,
                1 => &loop_ptr,
                _ => &bytes[..bytes.len() / 2],
            };
            let _ = evil.send_to(pick, to).await;
            if i % 500 == 0 {
                tokio::task::yield_now().await;
            }
        }
    });
    // An honest client retransmits as any DNS client does: a probe can be lost when the
    // kernel's receive queue is full of flood packets, which is not the server starving it.
    // Every probe must be answered within 5 tries.
    let mut answered = 0;
    let mut tries = 0;
    let mut buf = [0u8; 2048];
    for i in 0..50u16 {
        let id = 1000 + i;
        let probe = packet::encode(&packet::txt_query(id, "dat.local", None), false).unwrap();
        'probe: for _ in 0..5 {
            tries += 1;
            honest.send_to(&probe, to).await.unwrap();
            let deadline = tokio::time::Instant::now() + Duration::from_millis(400);
            while let Ok(Ok((n, _))) =
                tokio::time::timeout_at(deadline, honest.recv_from(&mut buf)).await
            {
                let m = packet::decode(&buf[..n]).unwrap();
                if m.id == id && m.response && !m.answers.is_empty() {
                    answered += 1;
                    break 'probe;
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    flood.await.unwrap();
    let st = srv.stats();
    println!("honest answers {answered}/50 in {tries} tries, server stats {st:?}");
    assert_eq!(answered, 50);
    assert!(srv_stored_bound(&st));
    assert!(st.rate_limited > 0, "{st:?}");
}

fn srv_stored_bound(st: &dat_discovery::server::ServerStats) -> bool {
    // Bogus tokens never store anything.
    st.announces == 0
}
