#!/usr/bin/env node
'use strict'
// The JS side of the feed interop tests, with the real hypercore 7.7.1 from the pinned dat@13 install.
//
//   node hypercore-check.js verify DIR
//       Open the feed in DIR (flat layout: DIR/{key,secret_key,tree,data,bitfield,signatures}) and check it
//       as hard as JS can: audit() re-hashes every block against its stored leaf, verify() checks the
//       signature of the current length against the roots, and a full replication into a fresh in-memory
//       clone verifies every block with its Merkle proof and signature. Prints one JSON line:
//       {"event":"verified","length":L,"byteLength":B,"sha256":<of all blocks in order>,"audit":{..},"writable":w}
//
//   node hypercore-check.js write DIR SPEC
//       Create a new writable feed in DIR and append batches described by SPEC, a comma-separated list of
//       COUNTxSIZE[@SEED] items, each one append(batch) call of COUNT blocks of SIZE bytes (deterministic
//       bytes from SEED, default the item's position). Prints {"event":"written","key":..,"length":..,
//       "byteLength":..,"sha256":..}.
//
// Exit: 0 ok, 1 failure (with {"event":"error"}), 124 timeout.
const path = require('path')
const crypto = require('crypto')
const C = require('../scripts/lib/common')

C.deadline(Number(process.env.TIMEOUT || 600), 'hypercore-check')
const hypercore = C.req('hypercore')
const ram = C.req('random-access-memory')

const [cmd, dir, spec] = process.argv.slice(2)
if (!cmd || !dir) C.die('usage: hypercore-check.js verify DIR | write DIR SPEC', 2)

function blockBytes (seed, index, size) {
  // Deterministic, incompressible-enough bytes: sha256 counter stream. Mirrored by the Rust tests.
  const out = Buffer.alloc(size)
  let off = 0
  let ctr = 0
  while (off < size) {
    const h = crypto.createHash('sha256').update(`${seed}:${index}:${ctr++}`).digest()
    off += h.copy(out, off)
  }
  return out
}

function readAll (feed, cb) {
  const hash = crypto.createHash('sha256')
  let i = 0
  next()
  function next () {
    if (i >= feed.length) return cb(null, hash.digest('hex'))
    feed.get(i++, { wait: false }, (err, data) => {
      if (err) return cb(err)
      hash.update(data)
      next()
    })
  }
}

function verify () {
  const feed = hypercore(path.resolve(dir), { createIfMissing: false, overwrite: false })
  feed.on('error', (e) => C.die(e.message))
  feed.ready((err) => {
    if (err) return C.die('open: ' + err.message)
    feed.audit((err, audit) => {
      if (err) return C.die('audit: ' + err.message)
      if (audit.invalid) return C.die('audit found ' + audit.invalid + ' invalid blocks')
      if (feed.length === 0) return done(audit, null)
      feed.signature((err, sig) => {
        if (err) return C.die('signature: ' + err.message)
        feed.verify(feed.length - 1, sig.signature, (err) => {
          if (err) return C.die('verify: ' + err.message)
          replicateCheck(feed, (err) => {
            if (err) return C.die('replicate: ' + err.message)
            done(audit)
          })
        })
      })
    })
  })
  function done (audit) {
    readAll(feed, (err, sha) => {
      if (err) return C.die('read: ' + err.message)
      C.emit({ event: 'verified', length: feed.length, byteLength: feed.byteLength, sha256: sha, audit, writable: feed.writable })
      feed.close(() => process.exit(0))
    })
  }
}

// Replicate into a fresh in-memory clone: every block arrives with its proof and is verified by JS.
function replicateCheck (feed, cb) {
  const clone = hypercore(ram, feed.key, { sparse: false })
  clone.ready(() => {
    const a = feed.replicate({ live: false })
    const b = clone.replicate({ live: false })
    a.pipe(b).pipe(a)
    let finished = false
    b.on('end', check)
    b.on('error', (e) => { if (!finished) { finished = true; cb(e) } })
    function check () {
      if (finished) return
      finished = true
      if (clone.length !== feed.length) return cb(new Error(`clone length ${clone.length} != ${feed.length}`))
      for (let i = 0; i < feed.length; i++) if (!clone.has(i)) return cb(new Error('clone lacks block ' + i))
      cb(null)
    }
  })
}

function write () {
  if (!spec) C.die('write needs a SPEC', 2)
  const feed = hypercore(path.resolve(dir), { overwrite: true })
  const batches = spec.split(',').map((item, pos) => {
    const m = item.match(/^(\d+)x(\d+)(?:@(\w+))?$/)
    if (!m) C.die('bad SPEC item ' + item, 2)
    return { count: Number(m[1]), size: Number(m[2]), seed: m[3] || String(pos) }
  })
  const hash = crypto.createHash('sha256')
  feed.ready((err) => {
    if (err) return C.die(err.message)
    let b = 0
    next()
    function next () {
      if (b >= batches.length) {
        return C.emit({ event: 'written', key: feed.key.toString('hex'), length: feed.length, byteLength: feed.byteLength, sha256: hash.digest('hex') }) || feed.close(() => process.exit(0))
      }
      const { count, size, seed } = batches[b++]
      const batch = []
      for (let i = 0; i < count; i++) batch.push(blockBytes(seed, i, size))
      batch.forEach((x) => hash.update(x))
      feed.append(batch, (err) => err ? C.die(err.message) : next())
    }
  })
}

if (cmd === 'verify') verify()
else if (cmd === 'write') write()
else C.die('unknown command ' + cmd, 2)
