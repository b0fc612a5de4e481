#!/usr/bin/env node
'use strict'
// Benchmark counterpart for the `bench` import workloads (W1, W2): what `dat create DIR` does with
// dat@13.13.1 — dat-node 3.5.15 in DIR (".dat" inside, file bytes left in place, latest mode), then
// `importFiles` (mirror-folder over hyperdrive 9.16, with dat's file count dry run beside it).
//
//   node hyperdrive-bench.js import DIR SECRET_DIR [MAX_FILES] [MAX_SECONDS]
//     New archive, or the existing one (a re-import). Stops early once MAX_FILES files are
//     imported or MAX_SECONDS have passed (JS slows down with many files), closing the archive.
//     Prints {"event":"bench","ms":..,"files":..,"stopped":null|"max-files"|"max-seconds",
//             "metadataLength":..,"contentLength":..,"contentBytes":..}
//     ms runs from before the archive is opened to after it is closed.
//   node hyperdrive-bench.js verify DIR SECRET_DIR
//     Reads every file back through hyperdrive; prints {"event":"file","path","size","sha256"}
//     per file, then {"event":"verified","files":N}.
const path = require('path')
const crypto = require('crypto')
const C = require('../scripts/lib/common')
C.deadline(Number(process.env.TIMEOUT || 3600), 'hyperdrive-bench')

const [mode, dir, secretDir, maxFiles, maxSeconds] = process.argv.slice(2)
if (mode === 'import') runImport()
else if (mode === 'verify') runVerify()
else C.die('usage: hyperdrive-bench.js import|verify DIR SECRET_DIR [MAX_FILES] [MAX_SECONDS]')

function runImport () {
  const Dat = C.req('dat-node')
  const MAX = Number(maxFiles) || Infinity
  const start = process.hrtime.bigint()
  let files = 0
  let stopped = null
  let finished = false
  Dat(path.resolve(dir), { secretDir: path.resolve(secretDir) }, (err, dat) => {
    if (err) C.die(err.message)
    const progress = dat.importFiles({ watch: false }, (err) => {
      if (err) C.die(err.message)
      finish(dat)
    })
    progress.on('put-end', (src) => {
      if (src.live || !src.stat.isFile()) return
      files++
      if (files >= MAX && !stopped) { stopped = 'max-files'; progress.destroy(); finish(dat) }
    })
    if (Number(maxSeconds) > 0) {
      setTimeout(() => {
        if (stopped || finished) return
        stopped = 'max-seconds'
        progress.destroy()
        finish(dat)
      }, Number(maxSeconds) * 1000).unref()
    }
  })

  function finish (dat) {
    if (finished) return
    finished = true
    const archive = dat.archive
    // Files whose import completed; a stopped import may also store the one in flight.
    const done = files
    dat.close((err) => {
      if (err) C.log('close: ' + err.message)
      const ms = Number(process.hrtime.bigint() - start) / 1e6
      C.emit({
        event: 'bench',
        ms,
        files: done,
        stopped,
        metadataLength: archive.metadata.length,
        contentLength: archive.content ? archive.content.length : 0,
        contentBytes: archive.content ? archive.content.byteLength : 0
      })
      process.exit(0)
    })
  }
}

function runVerify () {
  const hyperdrive = C.req('hyperdrive')
  const st = C.makeStorage('dat', dir, { secretDir: path.resolve(secretDir) })
  const archive = hyperdrive(st.storage, { latest: true, indexing: true, createIfMissing: false })
  archive.ready((err) => {
    if (err) C.die(err.message)
    let walked = false // C.walk may call back more than once (one per pending setImmediate)
    C.walk(archive, (err, entries) => {
      if (walked) return
      walked = true
      if (err) C.die(err.message)
      const files = entries.filter((e) => e.type === 'file')
      let i = 0
      next()
      function next () {
        if (i >= files.length) {
          C.emit({ event: 'verified', files: files.length })
          return process.exit(0)
        }
        const e = files[i++]
        const hash = crypto.createHash('sha256')
        let size = 0
        archive.createReadStream(e.path)
          .on('data', (d) => { size += d.length; hash.update(d) })
          .on('error', (err) => C.die(e.path + ': ' + err.message))
          .on('end', () => {
            C.emit({ event: 'file', path: e.path, size, sha256: hash.digest('hex') })
            next()
          })
      }
    })
  })
}
