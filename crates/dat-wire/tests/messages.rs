//! Messages against the plaintext JS hypercore-protocol 6.12 produced (DAT-SPEC §4.11,
//! `interop/gen/gen5.js`, id = 0xaa * 32).
#![allow(clippy::unwrap_used)]

use std::borrow::Cow;

use dat_core::protobuf::DecodeError;
use dat_core::{Hash, Node, Signature};
use dat_wire::frame::{Frame, FrameDecoder};
use dat_wire::message::{self, Range};
use dat_wire::{Data, Handshake, Have, Info, Message, MessageError, Request};

/// Everything JS sent after its first Feed frame, decrypted (gen5.js "decrypted rest").
const JS_PLAINTEXT: &str = "27010a20aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa1001280007050800108080400a030800108080401a01070907080710001800200074090800120568656c6c6f1a26080212201111111111111111111111111111111111111111111111111111111111111111180522402222222222222222222222222222222222222222222222222222222222222222222222222222222222222222222222222222222222222222222222222222222205020801100000";

fn expected() -> Vec<Option<Message<'static>>> {
    vec![
        Some(Message::Handshake(Handshake {
            id: Some(Cow::Owned(vec![0xaa; 32])),
            live: true,
            user_data: None,
            extensions: vec![],
            ack: false,
        })),
        Some(Message::Want(Range {
            start: 0,
            length: Some(1048576),
        })),
        Some(Message::Have(Have {
            start: 0,
            length: Some(1048576),
            bitfield: Some(Cow::Owned(vec![0x07])),
            ack: false,
        })),
        Some(Message::Request(Request {
            index: 7,
            bytes: 0,
            hash: false,
            nodes: 0,
        })),
        Some(Message::Data(Data {
            index: 0,
            value: Some(Cow::Owned(b"hello".to_vec())),
            nodes: vec![Node {
                index: 2,
                hash: Hash([0x11; 32]),
                size: 5,
            }],
            signature: Some(Signature([0x22; 64])),
        })),
        Some(Message::Info(Info {
            uploading: true,
            downloading: false,
        })),
        None, // ping
    ]
}

#[test]
fn js_plaintext_frames_decode_and_reencode_byte_exact() {
    let wire = hex::decode(JS_PLAINTEXT).unwrap();
    let mut decoder = FrameDecoder::new();
    let mut input = &wire[..];
    let mut got = Vec::new();
    let mut reencoded = Vec::new();
    while let Some(frame) = decoder.decode(&mut input).unwrap() {
        match frame {
            Frame::Ping => {
                got.push(None);
                dat_wire::frame::encode_ping(&mut reencoded);
            }
            Frame::Message {
                channel,
                kind,
                body,
            } => {
                assert_eq!(channel, 0);
                let m = Message::decode(kind, body).unwrap();
                if let Message::Data(d) = &m {
                    // Zero-copy: the value borrows from the input.
                    assert!(matches!(d.value, Some(Cow::Borrowed(_))));
                }
                m.encode_frame(channel, &mut reencoded);
                got.push(Some(m.into_owned()));
            }
            Frame::Empty => panic!("no empty frames in the JS stream"),
        }
    }
    assert_eq!(got, expected());
    assert_eq!(hex::encode(reencoded), JS_PLAINTEXT);
}

#[test]
fn spec_frames_byte_exact() {
    let dk = dat_core::crypto::discovery_key(&dat_core::PublicKey([0x8a; 32]));
    let feed = Message::Feed(message::Feed {
        discovery_key: dk,
        nonce: Some([0x33; 24]),
    });
    let mut out = Vec::new();
    feed.encode_frame(0, &mut out);
    let expect = format!("3d000a20{}1218{}", hex::encode(dk.0), "33".repeat(24));
    assert_eq!(hex::encode(&out), expect);
    // Content feed on channel 1, no nonce.
    let mut out = Vec::new();
    Message::Feed(message::Feed {
        discovery_key: dk,
        nonce: None,
    })
    .encode_frame(1, &mut out);
    assert_eq!(&out[..4], &[0x23, 0x10, 0x0a, 0x20]);
    // Info with both false still emits both fields; eager Have has no length.
    let mut out = Vec::new();
    Message::Info(Info::default()).encode_frame(0, &mut out);
    assert_eq!(hex::encode(&out), "050208001000");
    let mut out = Vec::new();
    Message::Have(Have {
        start: 7,
        length: None,
        bitfield: None,
        ack: false,
    })
    .encode_frame(0, &mut out);
    assert_eq!(hex::encode(&out), "03030807");
}

#[test]
fn defaults_unknown_fields_and_required_fields() {
    // Info{} decodes as both false; an unknown varint field 9 and bytes field 10 are skipped.
    let m = Message::decode(2, &[0x48, 0x01, 0x52, 0x01, 0xff]).unwrap();
    assert_eq!(m, Message::Info(Info::default()));
    // Want without length: length absent (JS: 0 = everything).
    assert_eq!(
        Message::decode(5, &[0x08, 0x05]).unwrap(),
        Message::Want(Range {
            start: 5,
            length: None
        })
    );
    let missing = |kind: u8, body: &[u8]| match Message::decode(kind, body) {
        Err(MessageError::Decode(DecodeError::MissingField(f))) => f,
        other => panic!("type {kind}: expected missing field, got {other:?}"),
    };
    assert_eq!(missing(0, &[0x12, 0x00]), "Feed.discoveryKey");
    assert_eq!(missing(3, &[0x10, 0x01]), "start");
    assert_eq!(missing(4, &[]), "start");
    assert_eq!(missing(5, &[0x10, 0x01]), "start");
    assert_eq!(missing(6, &[]), "start");
    assert_eq!(missing(7, &[0x10, 0x01]), "Request.index");
    assert_eq!(missing(8, &[]), "Request.index");
    assert_eq!(missing(9, &[0x12, 0x00]), "Data.index");
    // Node inside Data missing its size.
    assert_eq!(
        missing(9, &[0x08, 0x00, 0x1a, 0x02, 0x08, 0x02]),
        "Node.hash"
    );
    // Feed with a short discovery key or nonce is invalid (JS "invalid feed").
    assert_eq!(
        Message::decode(0, &[0x0a, 0x01, 0x00]),
        Err(MessageError::Decode(DecodeError::InvalidValue(
            "Feed.discoveryKey"
        )))
    );
    assert_eq!(Message::decode(11, &[]), Err(MessageError::UnknownType(11)));
    // Truncated body.
    assert_eq!(
        Message::decode(7, &[0x08]),
        Err(MessageError::Decode(DecodeError::UnexpectedEnd))
    );
    // Cancel ignores a nodes field and re-encodes three fields.
    let c = Message::decode(8, &[0x08, 0x01, 0x20, 0x05]).unwrap();
    let mut body = Vec::new();
    c.encode_body(&mut body);
    assert_eq!(body, [0x08, 0x01, 0x10, 0x00, 0x18, 0x00]);
}

#[test]
fn extension_frame() {
    let m = Message::decode(15, &[0x02, b'h', b'i']).unwrap();
    assert_eq!(
        m,
        Message::Extension {
            id: 2,
            payload: Cow::Borrowed(b"hi")
        }
    );
    let mut out = Vec::new();
    m.encode_frame(3, &mut out);
    assert_eq!(out, [0x04, 0x3f, 0x02, b'h', b'i']);
}
