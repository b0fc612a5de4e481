//! Byte-exact vectors against dns-packet 4.2.0 (as dns-discovery 6.2.3 uses it) and
//! client ↔ server behaviour.

#![allow(clippy::unwrap_used)]

use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::Duration;

use dat_discovery::client::{Client, ClientConfig, ClientEvent, Op, ServerAddr};
use dat_discovery::packet::{self, Kind, Message, Question, Record, RecordData};
use dat_discovery::server::{Server, ServerConfig};
use dat_discovery::token::Secrets;
use dat_discovery::{DAT_DOMAIN, Topic};

const NAME: &str = "000102030405060708090a0b0c0d0e0f10111213.dat.local";
// node: dns-packet.encode({type:'query', id:4660, flags:RD, questions:[TXT NAME],
//   additionals:[TXT NAME ttl 0 ['subscribe=true','token=abc+/=','announce=3282']]})
const JS_ANNOUNCE: &str = "123401000001000000000001283030303130323033303430353036303730383039306130623063306430653066313031313132313303646174056c6f63616c0000100001283030303130323033303430353036303730383039306130623063306430653066313031313132313303646174056c6f63616c000010000100000000002a0e7375627363726962653d747275650c746f6b656e3d6162632b2f3d0d616e6e6f756e63653d33323832";
// response id 4660, question TXT NAME, answer TXT ['token=xyz','peers=fwAAAQzS']
const JS_RESPONSE: &str = "123480000001000100000000283030303130323033303430353036303730383039306130623063306430653066313031313132313303646174056c6f63616c0000100001283030303130323033303430353036303730383039306130623063306430653066313031313132313303646174056c6f63616c000010000100000000001909746f6b656e3d78797a0e70656572733d6677414141517a53";
// push: query id 7, RD, additional SRV NAME {port 3282, target '10.1.2.3'}
const JS_PUSH: &str = "000701000000000000000001283030303130323033303430353036303730383039306130623063306430653066313031313132313303646174056c6f63616c0000210001000000000010000000000cd202313001310132013300";

fn txt(strings: &[&str]) -> RecordData {
    RecordData::Txt(strings.iter().map(|s| s.as_bytes().to_vec()).collect())
}

#[test]
fn announce_query_is_byte_identical_to_dns_packet() {
    let bytes = hex::decode(JS_ANNOUNCE).unwrap();
    let msg = packet::decode(&bytes).unwrap();
    assert_eq!(msg.id, 4660);
    assert!(!msg.response);
    assert_eq!(
        msg.questions,
        vec![Question {
            name: NAME.into(),
            kind: Kind::Txt
        }]
    );
    assert_eq!(
        msg.additionals,
        vec![Record {
            name: NAME.into(),
            data: txt(&["subscribe=true", "token=abc+/=", "announce=3282"])
        }]
    );
    assert_eq!(
        hex::encode(packet::encode(&msg, false).unwrap()),
        JS_ANNOUNCE
    );
}

#[test]
fn response_and_push_are_byte_identical_to_dns_packet() {
    let msg = Message {
        id: 4660,
        response: true,
        questions: vec![Question {
            name: NAME.into(),
            kind: Kind::Txt,
        }],
        answers: vec![Record {
            name: NAME.into(),
            data: txt(&["token=xyz", "peers=fwAAAQzS"]),
        }],
        additionals: vec![],
    };
    assert_eq!(
        hex::encode(packet::encode(&msg, false).unwrap()),
        JS_RESPONSE
    );
    assert_eq!(
        packet::decode(&hex::decode(JS_RESPONSE).unwrap()).unwrap(),
        msg
    );
    let push = packet::decode(&hex::decode(JS_PUSH).unwrap()).unwrap();
    assert_eq!(
        push.additionals,
        vec![Record {
            name: NAME.into(),
            data: RecordData::Srv {
                port: 3282,
                target: "10.1.2.3".into()
            }
        }]
    );
    assert_eq!(hex::encode(packet::encode(&push, false).unwrap()), JS_PUSH);
}

fn pair() -> (Server, Client, SocketAddrV4, SocketAddrV4) {
    let server_addr = SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 1), 5300);
    let me = SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 9), 40000);
    let server = Server::new(ServerConfig::default(), Secrets::new([1; 32], [2; 32]), 1);
    let cfg = ClientConfig {
        domain: DAT_DOMAIN.into(),
        servers: vec![ServerAddr {
            addr: server_addr,
            fallback_port: None,
        }],
        retry_after: Duration::from_secs(1),
        tries: 3,
        max_pending: 64,
    };
    (server, Client::new(cfg, 100), server_addr, me)
}

/// Deliver client datagrams to the server and back until quiet; collect events.
fn exchange(
    now: Duration,
    server: &mut Server,
    client: &mut Client,
    me: SocketAddrV4,
    mut to_server: Vec<dat_discovery::server::Datagram>,
) -> Vec<ClientEvent> {
    let mut events = Vec::new();
    for _ in 0..10 {
        let mut back = Vec::new();
        for d in to_server.drain(..) {
            back.extend(server.handle(now, me, &d.bytes));
        }
        for d in back {
            if d.to == me {
                let out = client.handle(
                    now,
                    SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 1), 5300),
                    &d.bytes,
                );
                events.extend(out.events);
                to_server.extend(out.send);
            }
        }
        if to_server.is_empty() {
            break;
        }
    }
    events
}

#[test]
fn client_probes_announces_and_finds_through_server() {
    let (mut server, mut client, _, me) = pair();
    let id = Topic([5; 32]).name();
    let t = Duration::from_secs(1);
    let first = client.request(t, &id, Op::Announce(3282));
    assert_eq!(first.len(), 1, "a probe first");
    let ev = exchange(t, &mut server, &mut client, me, first);
    assert!(
        ev.iter()
            .filter(|e| matches!(e, ClientEvent::Answered { .. }))
            .count()
            >= 2
    );
    assert_eq!(server.stored(), 1);
    assert_eq!(client.whoami(), Some((*me.ip(), None)));
    // A second lookup (token cached: one datagram, no probe) returns our own announce.
    let again = client.request(t, &id, Op::Lookup);
    assert_eq!(again.len(), 1);
    let ev = exchange(t, &mut server, &mut client, me, again);
    let peers: Vec<_> = ev
        .iter()
        .filter_map(|e| match e {
            ClientEvent::Peer { id: i, peer, .. } if *i == id => Some(*peer),
            _ => None,
        })
        .collect();
    assert_eq!(peers, vec![SocketAddrV4::new(*me.ip(), 3282)]);
    // Unannounce removes it.
    let un = client.request(t, &id, Op::Unannounce(3282));
    exchange(t, &mut server, &mut client, me, un);
    assert_eq!(server.stored(), 0);
}

#[test]
fn announce_with_wrong_token_is_refused_but_answered() {
    let (mut server, _, _, me) = pair();
    let q = packet::txt_query(
        9,
        NAME,
        Some(vec![b"token=forged".to_vec(), b"announce=1".to_vec()]),
    );
    let out = server.handle(Duration::ZERO, me, &packet::encode(&q, false).unwrap());
    assert_eq!(out.len(), 1);
    assert_eq!(server.stored(), 0);
    assert_eq!(server.stats().bad_tokens, 1);
    let reply = packet::decode(&out[0].bytes).unwrap();
    assert!(reply.response);
    assert_eq!(reply.id, 9);
}

#[test]
fn client_retries_then_times_out() {
    let (_, mut client, server_addr, _) = pair();
    let s = Duration::from_secs;
    assert_eq!(client.request(s(0), "ab", Op::Lookup).len(), 1);
    assert_eq!(client.next_deadline(), Some(s(1)));
    assert_eq!(client.poll(s(1)).send.len(), 1);
    assert_eq!(client.poll(s(2)).send.len(), 0);
    assert_eq!(client.poll(s(3)).send.len(), 1);
    let out = client.poll(s(100));
    assert_eq!(
        out.events,
        vec![ClientEvent::TimedOut {
            server: server_addr
        }]
    );
    assert_eq!(client.next_deadline(), None);
}

#[test]
fn subscriber_gets_push_of_new_announcement() {
    let (mut server, mut a, server_addr, me) = pair();
    let t = Duration::from_secs(1);
    let id = Topic([6; 32]).name();
    let look = a.request(t, &id, Op::Lookup);
    exchange(t, &mut server, &mut a, me, look);
    // Another host announces (we forge its token properly via a probe).
    let other = SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 7), 4000);
    let probe = packet::txt_query(1, DAT_DOMAIN, None);
    let ans = server.handle(t, other, &packet::encode(&probe, false).unwrap());
    let RecordData::Txt(strings) = &packet::decode(&ans[0].bytes).unwrap().answers[0].data else {
        panic!()
    };
    let token = dat_discovery::txt::TxtData::decode(strings).token.unwrap();
    let ann = packet::txt_query(
        2,
        &format!("{id}.dat.local"),
        Some(vec![
            format!("token={token}").into_bytes(),
            b"announce=4000".to_vec(),
        ]),
    );
    let out = server.handle(t, other, &packet::encode(&ann, false).unwrap());
    let push = out.iter().find(|d| d.to == me).expect("push to subscriber");
    let ev = a.handle(t, server_addr, &push.bytes);
    assert_eq!(
        ev.events,
        vec![ClientEvent::Peer {
            id,
            peer: other,
            via: server_addr
        }]
    );
    assert_eq!(ev.send.len(), 1, "push acknowledged with an empty response");
}
