#!/usr/bin/env node
'use strict'
// Benchmark counterpart for `bench feed-append`: JS hypercore 7.7.1 appends COUNT blocks of SIZE bytes
// in batches of BATCH into a new feed at DIR (files on disk), and reports the time from the first append
// to the feed closed (all writes done). Blocks are slices of a random pool made before the clock starts.
//   node hypercore-bench.js DIR COUNT SIZE BATCH
// Prints {"event":"bench","ms":..,"length":..,"byteLength":..}
const path = require('path')
const crypto = require('crypto')
const C = require('../scripts/lib/common')
C.deadline(Number(process.env.TIMEOUT || 1800), 'hypercore-bench')
const hypercore = C.req('hypercore')

const [dir, count, size, batch] = process.argv.slice(2)
const COUNT = Number(count); const SIZE = Number(size); const BATCH = Number(batch)
const pool = crypto.randomBytes(Math.max(SIZE, 64 << 20))
const feed = hypercore(path.resolve(dir), { overwrite: true })
feed.ready((err) => {
  if (err) C.die(err.message)
  const start = process.hrtime.bigint()
  let done = 0; let off = 0
  next()
  function next () {
    if (done >= COUNT) {
      return feed.close((err) => {
        if (err) C.die(err.message)
        const ms = Number(process.hrtime.bigint() - start) / 1e6
        C.emit({ event: 'bench', ms, length: feed.length, byteLength: feed.byteLength })
        process.exit(0)
      })
    }
    const n = Math.min(BATCH, COUNT - done)
    const blocks = []
    for (let i = 0; i < n; i++) {
      if (off + SIZE > pool.length) off = 0
      blocks.push(pool.subarray(off, off + SIZE))
      off += SIZE
    }
    done += n
    feed.append(blocks, (err) => err ? C.die(err.message) : next())
  }
})
