#!/usr/bin/env node
'use strict'
// Network counterpart of the `bench` clone and remote-read workloads (W3-W8), with dat@13.13.1
// modules (dat-node 3.5.15, hyperdrive 9.16.0, hypercore 7.7.1, hypercore-protocol 6.12.0).
// Every mode dials one peer directly over TCP (loopback or an address inside the bench's own
// network namespace); no discovery.
//
//   node net-bench.js clone KEY DEST HOST:PORT [--live]
//     What `dat clone` does, minus the UI and discovery: dat-node `Dat(DEST, {key})` (the dat
//     layout: DEST/.dat, file bytes written into DEST, latest mode), the replication stream
//     dat-node's joinNetwork makes (upload, download, live) piped to one TCP socket, and done on
//     the archive's 'sync' event (where `dat clone` exits). Run again on the same DEST, it
//     resumes as `dat clone`/`dat pull` do. Prints (one JSON object per line, ms since start):
//       {"event":"opened",contentLength,contentHave,contentHaveBytes,...}  before connecting
//       {"event":"connected",ms}
//       {"event":"metadata-complete",ms,length}  every metadata block up to the remote length
//       {"event":"complete",ms,version,downloadedBytes,downloadedBlocks,wireBytesIn,...}
//     and exits 0 after the first complete, or with --live stays connected and prints a
//     complete event on every later 'sync' (new versions) until SIGTERM or TIMEOUT.
//   node net-bench.js read KEY HOST:PORT PATH START LENGTH
//     A sparse read (hyperdrive sparse + sparseMetadata, in memory): bytes START..START+LENGTH
//     of PATH, raw to stdout as they arrive. On stderr, at the end, one JSON line
//     {"event":"fetched",metadataBlocks,metadataBytes,contentBlocks,contentBytes,wireBytesIn,ms}.
//   node net-bench.js ls DIR PATH                 (local: DIR holds an archive, dat layout)
//   node net-bench.js ls KEY HOST:PORT PATH       (remote, sparse, in memory)
//     What `dat ls` prints: PATH's stat if it is a file, else each child of the folder with its
//     stat ({name,type,size}); then {"event":"fetched",...} as above (remote) or {"event":"listed",ms}.
//
// env: TIMEOUT seconds (default 600): hard exit 124.
const net = require('net')
const path = require('path')
const C = require('../scripts/lib/common')
C.deadline(Number(process.env.TIMEOUT || 600), 'net-bench')

const t0 = process.hrtime.bigint()
const ms = () => Number(process.hrtime.bigint() - t0) / 1e6
const args = process.argv.slice(2)
const mode = args[0]
if (mode === 'clone') clone(args[1], args[2], args[3], args.includes('--live'))
else if (mode === 'read') read(args[1], args[2], args[3], Number(args[4]), Number(args[5]))
else if (mode === 'ls' && args.length === 3) lsLocal(args[1], args[2])
else if (mode === 'ls' && args.length === 4) lsRemote(args[1], args[2], args[3])
else C.die('usage: net-bench.js clone KEY DEST HOST:PORT [--live] | read KEY HOST:PORT PATH START LENGTH | ls DIR PATH | ls KEY HOST:PORT PATH', 2)

function connect (addr, archive, opts, onclose) {
  const a = C.parseHostPort(addr)
  const pump = C.req('pump')
  const sock = net.connect(a.port, a.host)
  sock.setNoDelay(true)
  const stream = archive.replicate(opts)
  // `read` writes the file's bytes to stdout: its events go to stderr
  const out = mode === 'read' ? (o) => process.stderr.write(JSON.stringify(o) + '\n') : C.emit
  sock.on('connect', () => out({ event: 'connected', ms: ms() }))
  pump(sock, stream, sock, (err) => {
    C.log('connection closed' + (err ? ': ' + err.message : ''))
    if (onclose) onclose(err)
  })
  return sock
}

// Blocks and bytes a feed received from peers in this process.
function counter (feed) {
  const c = { blocks: 0, bytes: 0 }
  feed.on('download', (i, data) => { c.blocks++; c.bytes += data.length })
  return c
}

function clone (key, dest, addr, live) {
  if (!key || !dest || !addr) C.die('clone KEY DEST HOST:PORT', 2)
  const Dat = C.req('dat-node')
  const fs = require('fs')
  fs.mkdirSync(dest, { recursive: true })
  Dat(path.resolve(dest), { key: C.parseKey(key).toString('hex') }, (err, dat) => {
    if (err) C.die(err.message || String(err))
    const archive = dat.archive
    if (archive.writable) C.die('the archive in ' + dest + ' is writable: not a clone')
    const meta = counter(archive.metadata)
    let content = null
    const onContent = (cb) => archive.content ? cb() : archive.once('content', cb)
    const opened = {
      event: 'opened',
      resumed: archive.resumed,
      metadataLength: archive.metadata.length,
      metadataHave: archive.metadata.downloaded(),
      contentLength: archive.content ? archive.content.length : 0,
      contentHave: archive.content ? archive.content.downloaded() : 0,
      contentHaveBytes: 0
    }
    // Bytes of the content blocks already stored (resume): the sum of their sizes.
    haveBytes(archive.content, (n) => {
      opened.contentHaveBytes = n
      C.emit(opened)
      onContent(() => { content = counter(archive.content) })
      // As discovery-swarm does for `dat clone`: a dropped connection is dialled again (after
      // 1 s), until complete.
      let sock = null
      let finished = false
      let reconnects = 0
      let wireBefore = 0
      const dial = () => {
        sock = connect(addr, archive, { upload: true, download: true, live: true }, () => {
          wireBefore += sock.bytesRead
          if (finished && !live) return
          reconnects++
          setTimeout(dial, 1000)
        })
      }
      dial()
      process.on('beforeExit', () => { if (!finished) C.die('the event loop ran dry before the clone completed') })
      let metaDone = false
      const checkMeta = () => {
        const m = archive.metadata
        if (metaDone || m.length === 0 || m.downloaded() < m.length) return
        metaDone = true
        C.emit({ event: 'metadata-complete', ms: ms(), length: m.length })
      }
      archive.metadata.on('download', checkMeta)
      archive.metadata.on('append', checkMeta)
      archive.metadata.update(checkMeta)
      archive.on('sync', () => {
        checkMeta()
        C.emit({
          event: 'complete',
          ms: ms(),
          version: archive.version,
          metadataLength: archive.metadata.length,
          contentLength: archive.content ? archive.content.length : 0,
          contentHave: archive.content ? archive.content.downloaded() : 0,
          contentBytes: archive.content ? archive.content.byteLength : 0,
          downloadedBlocks: content ? content.blocks : 0,
          downloadedBytes: content ? content.bytes : 0,
          metadataDownloadedBlocks: meta.blocks,
          metadataDownloadedBytes: meta.bytes,
          wireBytesIn: wireBefore + sock.bytesRead,
          reconnects
        })
        finished = true
        // `dat clone` exits here (process.exit after the stats caught up).
        if (!live) process.exit(0)
      })
      const stop = () => { sock.destroy(); archive.close(() => process.exit(0)); setTimeout(() => process.exit(0), 2000).unref() }
      process.on('SIGTERM', stop)
      process.on('SIGINT', stop)
    })
  })
}

function haveBytes (feed, cb) {
  if (!feed || feed.length === 0) return cb(0)
  let n = 0
  let i = 0
  const next = () => {
    while (i < feed.length && !feed.has(i)) i++
    if (i >= feed.length) return cb(n)
    feed.get(i++, { wait: false }, (err, data) => {
      if (!err) n += data.length
      next()
    })
  }
  next()
}

function remoteArchive (key, addr, cb) {
  const hyperdrive = C.req('hyperdrive')
  const ram = C.req('random-access-memory')
  const archive = hyperdrive(ram, C.parseKey(key), { sparse: true, sparseMetadata: true })
  archive.on('error', (e) => C.die('archive: ' + e.message))
  const meta = counter(archive.metadata)
  let content = { blocks: 0, bytes: 0 }
  archive.ready((err) => {
    if (err) C.die(err.message)
    const sock = connect(addr, archive, { live: true })
    archive.metadata.update(() => {
      const go = () => {
        content = counter(archive.content)
        cb(archive, () => ({
          event: 'fetched',
          metadataBlocks: meta.blocks,
          metadataBytes: meta.bytes,
          contentBlocks: content.blocks,
          contentBytes: content.bytes,
          wireBytesIn: sock.bytesRead,
          ms: ms()
        }), () => { sock.destroy(); process.exit(0) })
      }
      if (archive.content) go()
      else archive.once('content', go)
    })
  })
}

function read (key, addr, file, start, length) {
  if (!key || !addr || !file || !(length > 0)) C.die('read KEY HOST:PORT PATH START LENGTH', 2)
  remoteArchive(key, addr, (archive, stats, done) => {
    let got = 0
    const rs = archive.createReadStream(file, { start, length })
    rs.on('data', (d) => { got += d.length; process.stdout.write(d) })
    rs.on('error', (e) => C.die(file + ': ' + e.message))
    rs.on('end', () => {
      if (got !== length) C.die('read ' + got + ' of ' + length + ' bytes')
      process.stdout.write('', () => {
        process.stderr.write(JSON.stringify(stats()) + '\n')
        done()
      })
    })
  })
}

// `dat ls`: the stat of PATH if it is a file, else each child with its stat.
function list (archive, p, cb) {
  archive.stat(p, (err, st) => {
    if (err) return cb(err)
    if (!st.isDirectory()) {
      C.emit({ name: path.posix.basename(p), path: p, type: 'file', size: st.size, blocks: st.blocks })
      return cb(null)
    }
    archive.readdir(p, (err, names) => {
      if (err) return cb(err)
      names.sort()
      const out = new Array(names.length)
      let i = 0
      let active = 0
      let failed = false
      const pump = () => {
        if (failed) return
        if (i >= names.length && active === 0) {
          for (const e of out) C.emit(e)
          return cb(null)
        }
        while (active < 8 && i < names.length) {
          const k = i++
          const child = path.posix.join(p, names[k])
          active++
          archive.stat(child, (err, st) => {
            active--
            if (err) { failed = true; return cb(err) }
            out[k] = st.isDirectory()
              ? { name: names[k], path: child, type: 'directory' }
              : { name: names[k], path: child, type: 'file', size: st.size, blocks: st.blocks }
            pump()
          })
        }
      }
      pump()
    })
  })
}

function lsLocal (dir, p) {
  const hyperdrive = C.req('hyperdrive')
  const st = C.makeStorage('dat', dir)
  const archive = hyperdrive(st.storage, { latest: true, createIfMissing: false })
  archive.on('error', (e) => C.die('archive: ' + e.message))
  archive.ready((err) => {
    if (err) C.die(err.message)
    list(archive, p, (err) => {
      if (err) C.die(p + ': ' + err.message)
      C.emit({ event: 'listed', ms: ms(), version: archive.version })
      process.exit(0)
    })
  })
}

function lsRemote (key, addr, p) {
  remoteArchive(key, addr, (archive, stats, done) => {
    list(archive, p, (err) => {
      if (err) C.die(p + ': ' + err.message)
      C.emit(stats())
      done()
    })
  })
}
