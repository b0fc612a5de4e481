//! Writes the seed corpora of the fuzz targets from real bytes: the SLEEP files and metadata
//! of the JS-written fixtures and vectors in `interop/`, the recorded JS wire stream of the
//! dat-wire tests (decrypted), replication traffic recorded between two in-memory peers, the
//! dns-packet vectors of the discovery tests and our own discovery traffic.
//!
//! Usage: `dat-fuzz-seeder <repo root> <corpus dir>`; `fuzz/seed.sh` runs it.

use std::collections::BTreeMap;
use std::fs;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use dat_core::crypto::from_hex;
use dat_core::feed_fuzzing::FeedFiles;
use dat_core::protobuf::{Field, Fields};
use dat_core::{FeedStorage, KeyPair, MemoryFeedFiles, PublicKey};
use dat_discovery::client::{Client, ClientConfig, Op, ServerAddr};
use dat_discovery::mdns::Mdns;
use dat_discovery::server::{Server, ServerConfig};
use dat_discovery::token::Secrets;
use dat_drive::{Archive, ContentData, WriteOptions};
use dat_wire::cipher::{StreamCipher, XSalsa20Cipher};
use dat_wire::{FrameDecoder, Message, frame::Frame};

/// Largest data file packed into a feed seed (the fixtures hold 5 MiB of random bytes).
const MAX_SEED_DATA: usize = 64 * 1024;

type Seeds = BTreeMap<&'static str, Vec<(String, Vec<u8>)>>;

fn main() -> Result<(), String> {
    let args: Vec<String> = std::env::args().collect();
    let [_, root, out] = &args[..] else {
        return Err("usage: dat-fuzz-seeder <repo root> <corpus dir>".into());
    };
    let root = Path::new(root);
    let mut seeds = Seeds::new();
    feeds_and_archives(root, &mut seeds)?;
    random_trees(root, &mut seeds)?;
    wire(root, &mut seeds)?;
    discovery(&mut seeds);
    links(root, &mut seeds)?;
    let mut total = 0;
    for (target, files) in &seeds {
        let dir = Path::new(out).join(target);
        fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let mut seen = std::collections::HashSet::new();
        for (name, bytes) in files {
            if !seen.insert(bytes.clone()) {
                continue;
            }
            fs::write(dir.join(name), bytes).map_err(|e| format!("{name}: {e}"))?;
            total += bytes.len();
        }
        println!("{target}: {} seeds", seen.len());
    }
    println!("total {total} bytes");
    Ok(())
}

fn add(seeds: &mut Seeds, target: &'static str, name: impl Into<String>, bytes: Vec<u8>) {
    seeds.entry(target).or_default().push((name.into(), bytes));
}

fn read(path: &Path) -> Vec<u8> {
    fs::read(path).unwrap_or_default()
}

/// One feed's files on disk: `<dir>/<prefix><slot>` (e.g. `metadata.tree`, `content/tree`).
struct DiskFeed {
    key: Vec<u8>,
    tree: Vec<u8>,
    signatures: Vec<u8>,
    bitfield: Vec<u8>,
    data: Vec<u8>,
}

impl DiskFeed {
    fn load(dir: &Path, prefix: &str) -> Option<Self> {
        let f = |slot: &str| read(&dir.join(format!("{prefix}{slot}")));
        let mut data = f("data");
        data.truncate(MAX_SEED_DATA);
        let feed = Self {
            key: f("key"),
            tree: f("tree"),
            signatures: f("signatures"),
            bitfield: f("bitfield"),
            data,
        };
        (feed.key.len() == 32).then_some(feed)
    }

    fn files(&self) -> FeedFiles<'_> {
        FeedFiles {
            key: &self.key,
            tree: &self.tree,
            signatures: &self.signatures,
            bitfield: &self.bitfield,
            data: &self.data,
        }
    }

    /// The feed's blocks, read through dat-core from the files (bounded).
    fn blocks(&self) -> Vec<Vec<u8>> {
        let Ok(feed) = dat_core::Feed::open(self.files().storage()) else {
            return Vec::new();
        };
        (0..feed.len().min(64))
            .filter_map(|i| feed.get(i).ok())
            .collect()
    }
}

/// Feed and archive seeds from every SLEEP layout in `interop/`.
fn feeds_and_archives(root: &Path, seeds: &mut Seeds) -> Result<(), String> {
    let i = root.join("interop");
    let archives: [(&str, PathBuf, &str, &str); 5] = [
        ("drive1", i.join("vectors/drive1"), "metadata/", "content/"),
        (
            "datdir",
            i.join("vectors/datdir/.dat"),
            "metadata.",
            "content.",
        ),
        (
            "share13",
            i.join("fixtures/share13-small/archive/.dat"),
            "metadata.",
            "content.",
        ),
        (
            "sleep",
            i.join("fixtures/sleep-layout-small/archive"),
            "metadata.",
            "content.",
        ),
        ("feed1", i.join("vectors/feed1"), "", ""),
    ];
    for (name, dir, meta_prefix, content_prefix) in archives {
        let meta =
            DiskFeed::load(&dir, meta_prefix).ok_or(format!("no feed in {}", dir.display()))?;
        for (slot, bytes) in [
            ("tree", &meta.tree),
            ("signatures", &meta.signatures),
            ("bitfield", &meta.bitfield),
        ] {
            add(
                seeds,
                "core_sleep_header",
                format!("{name}-{slot}"),
                bytes[..bytes.len().min(32)].to_vec(),
            );
        }
        add(
            seeds,
            "core_feed_files",
            format!("{name}-meta"),
            meta.files().pack(),
        );
        add(
            seeds,
            "core_reader_files",
            format!("{name}-meta"),
            meta.files().pack(),
        );
        let blocks = meta.blocks();
        if blocks.is_empty() {
            return Err(format!("{name}: the feed does not open"));
        }
        if name == "feed1" {
            continue;
        }
        let content = DiskFeed::load(&dir, content_prefix).ok_or(format!("{name}: no content"))?;
        add(
            seeds,
            "core_feed_files",
            format!("{name}-content"),
            content.files().pack(),
        );
        add(
            seeds,
            "drive_archive",
            name,
            dat_drive::fuzzing::pack_archive(&meta.files(), &content.files()),
        );
        metadata_blocks(name, &blocks, seeds);
    }
    Ok(())
}

/// Seeds from one archive's metadata blocks: header, nodes, entries, Stats, indexes, tree.
fn metadata_blocks(name: &str, blocks: &[Vec<u8>], seeds: &mut Seeds) {
    if let Some(header) = blocks.first() {
        add(seeds, "drive_index_header", name, header.clone());
        add(seeds, "core_protobuf", format!("{name}-0"), header.clone());
    }
    add(
        seeds,
        "drive_tree",
        name,
        dat_drive::fuzzing::pack_blocks(blocks[1..].iter().map(Vec::as_slice)),
    );
    for (seq, block) in blocks.iter().enumerate().skip(1).take(12) {
        let tag = format!("{name}-{seq}");
        add(seeds, "drive_node", &tag, block.clone());
        add(seeds, "core_protobuf", &tag, block.clone());
        let mut at_seq = (seq as u64).to_le_bytes().to_vec();
        at_seq.extend_from_slice(block);
        add(seeds, "drive_entry", &tag, at_seq);
        for field in Fields::new(block).flatten() {
            if let Field::Bytes(n, bytes) = field {
                match n {
                    2 => add(seeds, "drive_stat", &tag, bytes.to_vec()),
                    3 => {
                        let mut p = (seq as u64).to_le_bytes().to_vec();
                        p.extend_from_slice(bytes);
                        add(seeds, "drive_paths", &tag, p);
                    }
                    _ => {}
                }
            }
        }
    }
}

/// Deeper trees: the first put/delete sequences of the dat-drive model test, written through
/// an in-memory archive.
fn random_trees(root: &Path, seeds: &mut Seeds) -> Result<(), String> {
    let text = fs::read_to_string(root.join("crates/dat-drive/tests/data/random-ops.json"))
        .map_err(|e| format!("random-ops.json: {e}"))?;
    for (n, sequence) in text.split("]], [[").take(6).enumerate() {
        let files = MemoryFeedFiles::new();
        let mut archive = Archive::create(
            FeedStorage::from_memory(&files),
            FeedStorage::memory(),
            ContentData::Stored,
            KeyPair::from_seed(&[n as u8; 32]),
        )
        .map_err(|e| e.to_string())?;
        for op in sequence.split("], [") {
            let parts: Vec<&str> = op.split('"').collect();
            let (Some(&kind), Some(&path)) = (parts.get(1), parts.get(3)) else {
                continue;
            };
            let opts = WriteOptions {
                mtime: Some(1),
                ctime: Some(1),
                ..WriteOptions::default()
            };
            let _ = match kind {
                "put" => archive.write_file(path, &b"x"[..], opts),
                _ => archive.unlink(path),
            };
        }
        let blocks: Vec<Vec<u8>> = (1..=archive.version().min(40))
            .filter_map(|s| archive.metadata().get(s).ok())
            .collect();
        add(
            seeds,
            "drive_tree",
            format!("random-ops-{n}"),
            dat_drive::fuzzing::pack_blocks(blocks.iter().map(Vec::as_slice)),
        );
    }
    Ok(())
}

/// Wire seeds: the JS stream of feed1 (as recorded, and decrypted into plaintext frames),
/// replication traffic between two of our peers, and every frame's message and Have bitfield.
fn wire(root: &Path, seeds: &mut Seeds) -> Result<(), String> {
    let hex = fs::read_to_string(root.join("crates/dat-wire/tests/data/js-stream-feed1.hex"))
        .map_err(|e| format!("js stream: {e}"))?;
    let js = from_hex(hex.trim()).ok_or("js stream: bad hex")?;
    let key = PublicKey::from_slice(&read(&root.join("interop/vectors/feed1/key")))
        .map_err(|e| e.to_string())?;
    for chunk in [0u8, 7, 64] {
        let mut input = key.as_bytes().to_vec();
        input.push(chunk);
        input.extend_from_slice(&js);
        add(
            seeds,
            "wire_session",
            format!("js-feed1-chunk{chunk}"),
            input,
        );
    }
    let plain = decrypt_js_stream(&key, &js).ok_or("js stream: no opening Feed frame")?;
    let mut streams = vec![("js-feed1".to_string(), plain)];
    let now = Instant::now();
    for (upload, step) in [(false, 0u8), (false, 5), (true, 0), (true, 9)] {
        let seed =
            dat_wire::fuzzing::replication_seed(upload, step, now).map_err(|e| e.to_string())?;
        let role = if upload { "upload" } else { "download" };
        streams.push((format!("ours-{role}"), seed[1..].to_vec()));
        add(
            seeds,
            "wire_replication",
            format!("{role}-step{step}"),
            seed,
        );
    }
    for (name, stream) in streams {
        for chunk in [1u8, 5, 255] {
            let mut input = vec![chunk];
            input.extend_from_slice(&stream);
            add(seeds, "wire_frames", format!("{name}-chunk{chunk}"), input);
        }
        let mut decoder = FrameDecoder::new();
        let mut rest = &stream[..];
        let mut n = 0;
        while let Ok(Some(frame)) = decoder.decode(&mut rest) {
            n += 1;
            let Frame::Message { kind, body, .. } = frame else {
                continue;
            };
            let mut input = vec![kind];
            input.extend_from_slice(body);
            add(
                seeds,
                "wire_message",
                format!("{name}-{n}-kind{kind}"),
                input,
            );
            if let Ok(Message::Have(have)) = Message::decode(kind, body)
                && let Some(bits) = have.bitfield
            {
                add(seeds, "wire_rle", format!("{name}-{n}"), bits.to_vec());
            }
        }
    }
    let rle = fs::read_to_string(root.join("crates/dat-wire/tests/data/rle-js.txt"))
        .map_err(|e| format!("rle-js.txt: {e}"))?;
    for (n, line) in rle.lines().take(24).enumerate() {
        if let Some(encoded) = line.split_whitespace().nth(1).and_then(from_hex) {
            add(seeds, "wire_rle", format!("js-{n}"), encoded);
        }
    }
    Ok(())
}

/// The remote's stream in plaintext: its clear Feed frame, then the rest decrypted with the
/// feed key and the nonce that frame carries.
fn decrypt_js_stream(key: &PublicKey, stream: &[u8]) -> Option<Vec<u8>> {
    let mut decoder = FrameDecoder::new();
    let mut rest = stream;
    let Ok(Some(Frame::Message { kind: 0, body, .. })) = decoder.decode(&mut rest) else {
        return None;
    };
    let Ok(Message::Feed(feed)) = Message::decode(0, body) else {
        return None;
    };
    let opening = stream.len() - rest.len();
    let mut plain = stream.to_vec();
    XSalsa20Cipher::new(key, &feed.nonce?).apply(&mut plain[opening..]);
    Some(plain)
}

/// Discovery seeds: the dns-packet vectors of the discovery tests, and a lookup, an announce
/// and mDNS traffic between our own client, server and participants.
fn discovery(seeds: &mut Seeds) {
    // dns-packet 4.2.0 encodings, from crates/dat-discovery/tests/wire.rs.
    let js = [
        (
            "js-announce",
            "123401000001000000000001283030303130323033303430353036303730383039306130623063306430653066313031313132313303646174056c6f63616c0000100001283030303130323033303430353036303730383039306130623063306430653066313031313132313303646174056c6f63616c000010000100000000002a0e7375627363726962653d747275650c746f6b656e3d6162632b2f3d0d616e6e6f756e63653d33323832",
        ),
        (
            "js-response",
            "123480000001000100000000283030303130323033303430353036303730383039306130623063306430653066313031313132313303646174056c6f63616c0000100001283030303130323033303430353036303730383039306130623063306430653066313031313132313303646174056c6f63616c000010000100000000001909746f6b656e3d78797a0e70656572733d6677414141517a53",
        ),
        (
            "js-push",
            "000701000000000000000001283030303130323033303430353036303730383039306130623063306430653066313031313132313303646174056c6f63616c0000210001000000000010000000000cd202313001310132013300",
        ),
    ];
    let mut packets: Vec<(String, Vec<u8>)> = js
        .iter()
        .filter_map(|(n, h)| Some((n.to_string(), from_hex(h)?)))
        .collect();
    // Our client (configured as the disc_client target's) against our server.
    let server_addr = SocketAddrV4::new(Ipv4Addr::LOCALHOST, 5300);
    let me = SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 9), 3282);
    let mut server = Server::new(ServerConfig::default(), Secrets::new([1; 32], [2; 32]), 3);
    server.seed(
        Duration::ZERO,
        "ab",
        SocketAddrV4::new(Ipv4Addr::new(10, 1, 2, 3), 3282),
    );
    let cfg = ClientConfig {
        domain: dat_discovery::DAT_DOMAIN.into(),
        servers: vec![ServerAddr {
            addr: server_addr,
            fallback_port: None,
        }],
        retry_after: Duration::from_secs(1),
        tries: 2,
        max_pending: 8,
    };
    let mut client = Client::new(cfg, 1);
    let ops = [
        ("lookup", Op::Lookup),
        ("announce", Op::Announce(3282)),
        ("unannounce", Op::Unannounce(3282)),
    ];
    for (name, op) in ops {
        for (k, d) in client
            .request(Duration::ZERO, "ab", op)
            .into_iter()
            .enumerate()
        {
            packets.push((format!("client-{name}-{k}"), d.bytes.clone()));
            for (r, reply) in server
                .handle(Duration::from_millis(5), me, &d.bytes)
                .into_iter()
                .enumerate()
            {
                add(
                    seeds,
                    "disc_client",
                    format!("reply-{name}-{k}-{r}"),
                    reply.bytes.clone(),
                );
                packets.push((format!("server-{name}-{k}-{r}"), reply.bytes));
            }
        }
    }
    // mDNS: a query for an announced id and the answer to it.
    let id = "000102030405060708090a0b0c0d0e0f10111213";
    let mut a = Mdns::new(dat_discovery::DAT_DOMAIN, Secrets::new([5; 32], [6; 32]));
    a.announce(id, 3282);
    let query = a.query(id);
    let mut b = Mdns::new(dat_discovery::DAT_DOMAIN, Secrets::new([7; 32], [8; 32]));
    b.announce(id, 4000);
    let answer = b.handle(
        SocketAddrV4::new(Ipv4Addr::new(192, 168, 1, 3), 5353),
        &query,
    );
    add(seeds, "disc_mdns", "query", query.clone());
    packets.push(("mdns-query".into(), query));
    if let Some(reply) = answer.reply {
        add(seeds, "disc_mdns", "answer", reply.clone());
        packets.push(("mdns-answer".into(), reply));
    }
    for (name, p) in &packets {
        add(seeds, "disc_packet", name.clone(), p.clone());
        add(seeds, "disc_server", name.clone(), p.clone());
        if let Ok(msg) = dat_discovery::packet::decode(p) {
            for record in msg.answers.iter().chain(&msg.additionals) {
                if let dat_discovery::packet::RecordData::Txt(strings) = &record.data {
                    add(seeds, "disc_txt", name.clone(), strings.join(&0u8));
                }
            }
        }
    }
}

/// `dat://` link seeds: each archive key in every accepted form.
fn links(root: &Path, seeds: &mut Seeds) -> Result<(), String> {
    let key = read(&root.join("interop/vectors/drive1/metadata/key"));
    let hex = dat_core::crypto::to_hex(&key);
    let forms = [
        hex.clone(),
        format!("dat://{hex}"),
        format!("dat://{hex}+12"),
        format!("dat://{hex}+3/nested/deeper/b64.txt"),
        format!("{hex}/a.txt"),
        format!("https://datbase.org/{hex}/x"),
        format!("dat://{}", hex.to_uppercase()),
    ];
    for (n, link) in forms.into_iter().enumerate() {
        add(seeds, "core_link", format!("form-{n}"), link.into_bytes());
    }
    Ok(())
}
