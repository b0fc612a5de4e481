#!/usr/bin/env node
'use strict'
// The JS side of the archive interop tests, with the real hyperdrive 9.16.0 from the pinned dat@13 install.
//
//   node hyperdrive-check.js read DIR [--layout dat|sleep] [--latest]
//       Open the archive in DIR read-only (copy it first: opening rewrites headers, bitfields and, in
//       latest mode, clears superseded content) and read every file of every version 1..archive.version
//       (with --latest, of the last version only)
//       through hyperdrive itself: checkout(v), readdir/stat walk, createReadStream. One JSON line per
//       (version, file): {"event":"file","version":v,"path":p,"size":..,"offset":..,"blocks":..,
//       "byteOffset":..,"sha256":..} or, when the file's content blocks are not stored locally (older
//       versions in a latest-mode folder), "absent":true instead of sha256. Content shared by several
//       versions (same offset, blocks and size) is read once per run when it is larger than 8 MB
//       ("cached":true on the later lines). Ends with {"event":"done","version":V,"files":N}.
//       In latest mode the script first waits until hyperdrive has cleared the content that later
//       versions superseded (_trackLatest), so what JS reports absent is what JS itself would drop.
//
//   node hyperdrive-check.js write DIR --layout sleep [--big BYTES]
//       Create an archival archive in DIR with hyperdrive itself (content.data keeps every version) and
//       write a fixed history: nested folders, unicode names, empty files, a BYTES-long file written in
//       64 KiB chunks, a mkdir, a file changed three times and a deleted file. After every operation
//       prints {"event":"wrote","version":v,"op":"put|del|mkdir","path":p,"sha256":..,"size":..};
//       at the end {"event":"written","key":..,"version":V}.
//
//   node hyperdrive-check.js write DIR --layout dat [--big BYTES] [--secret-dir SDIR]
//       The same kinds of content as JS dat writes them: dat-node in latest mode (content stays in DIR's
//       working files, secret key in SDIR), importFiles after each of four folder states (the file that
//       changes three times, a file added, a file deleted). After each import prints
//       {"event":"imported","version":v,"files":{path:sha256,...}}; at the end {"event":"written",..}.
//
// Exit: 0 ok, 1 failure (with {"event":"error"}), 124 timeout.
const path = require('path')
const fs = require('fs')
const crypto = require('crypto')
const C = require('../scripts/lib/common')

C.deadline(Number(process.env.TIMEOUT || 600), 'hyperdrive-check')
const hyperdrive = C.req('hyperdrive')
const argv = C.req('minimist')(process.argv.slice(2), { string: ['layout', 'secret-dir'], boolean: ['latest'] })
const [cmd, dir] = argv._
if (!cmd || !dir) C.die('usage: hyperdrive-check.js read DIR [--layout L] | write DIR --layout L [--big N]', 2)

const BIG_CACHE_BYTES = 8 * 1024 * 1024

function blockBytes (seed, index, size) {
  // Deterministic bytes: a sha256 counter stream (as interop/js/hypercore-check.js).
  const out = Buffer.alloc(size)
  let off = 0
  let ctr = 0
  while (off < size) {
    const h = crypto.createHash('sha256').update(`${seed}:${index}:${ctr++}`).digest()
    off += h.copy(out, off)
  }
  return out
}

function sha (buf) {
  return crypto.createHash('sha256').update(buf).digest('hex')
}

function read () {
  const layout = argv.layout || C.detectLayout(dir)
  if (!layout) C.die('no archive in ' + dir)
  const st = C.makeStorage(layout, dir)
  const archive = hyperdrive(st.storage, { latest: st.latest, createIfMissing: false })
  archive.on('error', (e) => C.die('archive: ' + e.message))
  archive.ready((err) => {
    if (err) return C.die('open: ' + err.message)
    archive.metadata.setMaxListeners(0) // one checkout per version listens on it
    const version = archive.version
    withContent(() => {
      archive.content.setMaxListeners(0)
      settled(() => readVersions(archive, version))
    })
  })

  function withContent (cb) {
    if (archive.content) return cb()
    archive.once('content', cb)
  }

  // Latest mode: wait until _trackLatest has cleared what later versions superseded.
  function settled (cb) {
    if (!st.latest) return cb()
    const started = Date.now()
    const poll = () => {
      if (archive._latestVersion === archive.version) return cb()
      if (Date.now() - started > 60000) return C.die('hyperdrive never caught up with the latest version')
      setTimeout(poll, 20)
    }
    poll()
  }
}

function readVersions (archive, version) {
  const cache = new Map()
  let files = 0
  let v = argv.latest ? Math.max(version - 1, 0) : 0
  nextVersion()

  function nextVersion () {
    v++
    if (v > version) {
      C.emit({ event: 'done', version, files })
      process.exit(0)
    }
    const co = archive.checkout(v)
    let walked = false
    C.walk(co, (err, entries) => {
      if (walked) return // C.walk may call back more than once when its last two tasks end together
      walked = true
      if (err) return C.die(`walk of version ${v}: ${err.message}`)
      const list = entries.filter((e) => e.type === 'file')
      let i = 0
      nextFile()
      function nextFile () {
        if (i >= list.length) return nextVersion()
        const e = list[i++]
        files++
        const line = { event: 'file', version: v, path: e.path, size: e.size, offset: e.offset, blocks: e.blocks, byteOffset: e.byteOffset }
        const key = `${e.offset}:${e.blocks}:${e.byteOffset}:${e.size}`
        if (e.blocks > 0 && !archive.content.has(e.offset, e.offset + e.blocks)) {
          line.absent = true
          C.emit(line)
          return setImmediate(nextFile)
        }
        if (cache.has(key)) {
          line.sha256 = cache.get(key)
          line.cached = true
          C.emit(line)
          return setImmediate(nextFile)
        }
        const hash = crypto.createHash('sha256')
        let n = 0
        co.createReadStream(e.path)
          .on('data', (d) => { hash.update(d); n += d.length })
          .on('error', (err) => C.die(`read ${e.path} at version ${v}: ${err.message}`))
          .on('end', () => {
            if (n !== e.size) return C.die(`read ${e.path} at version ${v}: ${n} of ${e.size} bytes`)
            line.sha256 = hash.digest('hex')
            if (e.size > BIG_CACHE_BYTES) cache.set(key, line.sha256)
            C.emit(line)
            setImmediate(nextFile)
          })
      }
    })
  }
}

const text = (s) => Buffer.from(s, 'utf-8')

function bigBytes (size) {
  const chunks = []
  for (let off = 0; off < size; off += 65536) chunks.push(blockBytes('big', off / 65536, Math.min(65536, size - off)))
  return Buffer.concat(chunks)
}

function writeDat () {
  const big = Number(argv.big || 16 * 1024 * 1024)
  const secretDir = path.resolve(argv['secret-dir'] || path.join(dir, '..', 'secrets'))
  const states = [
    {
      'changing.txt': text('version one\n'),
      'nested/deeper/deepest/leaf.bin': blockBytes('leaf', 0, 300000),
      'ünïcødé/ñame — 😀.txt': text('unicode name, unicode body: ü😀\n'),
      'empty.txt': Buffer.alloc(0),
      'nested/empty-too': Buffer.alloc(0),
      'doomed.txt': text('this file will be deleted\n'),
      'big.bin': bigBytes(big)
    },
    { 'changing.txt': text('version two, a little longer\n'), 'nested/new.txt': text('added later\n') },
    { 'changing.txt': text('version three\n'), 'doomed.txt': null },
    { 'changing.txt': text('version four: the third change\n') }
  ]
  fs.mkdirSync(dir, { recursive: true })
  const Dat = C.req('dat-node')
  Dat(path.resolve(dir), { secretDir }, (err, dat) => {
    if (err) return C.die('dat-node: ' + err.message)
    const files = {}
    let i = 0
    next()
    function next () {
      if (i >= states.length) {
        C.emit({ event: 'written', key: dat.key.toString('hex'), version: dat.archive.version })
        return dat.close(() => process.exit(0))
      }
      for (const [name, bytes] of Object.entries(states[i++])) {
        const p = path.join(dir, name)
        if (bytes === null) {
          fs.unlinkSync(p)
          delete files['/' + name]
        } else {
          fs.mkdirSync(path.dirname(p), { recursive: true })
          fs.writeFileSync(p, bytes)
          files['/' + name] = sha(bytes)
        }
      }
      dat.importFiles({ watch: false }, (err) => {
        if (err) return C.die('importFiles: ' + err.message)
        C.emit({ event: 'imported', version: dat.archive.version, files: Object.assign({}, files) })
        setImmediate(next)
      })
    }
  })
}

function write () {
  const layout = argv.layout
  if (layout === 'dat') return writeDat()
  if (layout !== 'sleep') C.die('write needs --layout dat or --layout sleep', 2)
  fs.mkdirSync(dir, { recursive: true })
  const st = C.makeStorage(layout, dir)
  const archive = hyperdrive(st.storage, { latest: st.latest })
  archive.on('error', (e) => C.die('archive: ' + e.message))
  const big = Number(argv.big || 16 * 1024 * 1024)

  const ops = [
    ['put', '/changing.txt', text('version one\n')],
    ['put', '/nested/deeper/deepest/leaf.bin', blockBytes('leaf', 0, 300000)],
    ['put', '/ünïcødé/ñame — 😀.txt', text('unicode name, unicode body: ü😀\n')],
    ['put', '/empty.txt', Buffer.alloc(0)],
    ['put', '/nested/empty-too', Buffer.alloc(0)],
    ['put', '/doomed.txt', text('this file will be deleted\n')],
    ['big', '/big.bin', big],
    ['mkdir', '/made-by-mkdir'],
    ['put', '/changing.txt', text('version two, a little longer\n')],
    ['put', '/nested/new.txt', text('added later\n')],
    ['del', '/doomed.txt'],
    ['put', '/changing.txt', text('version three\n')],
    ['put', '/changing.txt', text('version four: the third change\n')],
    ['put', '/made-by-mkdir/inside.txt', text('in a mkdir folder\n')]
  ]

  archive.ready((err) => {
    if (err) return C.die('create: ' + err.message)
    let i = 0
    next()
    function next () {
      if (i >= ops.length) {
        C.emit({ event: 'written', key: archive.key.toString('hex'), version: archive.version })
        return archive.close(() => process.exit(0))
      }
      const [op, name, arg] = ops[i++]
      const done = (extra) => (err) => {
        if (err) return C.die(`${op} ${name}: ${err.message}`)
        C.emit(Object.assign({ event: 'wrote', version: archive.version, op, path: name }, extra))
        setImmediate(next)
      }
      if (op === 'put') return archive.writeFile(name, arg, done({ op: 'put', sha256: sha(arg), size: arg.length }))
      if (op === 'del') return archive.unlink(name, done({}))
      if (op === 'mkdir') return archive.mkdir(name, done({}))
      // A big file, streamed in 64 KiB chunks as dat's importer writes them.
      const hash = crypto.createHash('sha256')
      const ws = archive.createWriteStream(name)
      const chunk = 65536
      let off = 0
      ws.on('error', (err) => C.die(`write ${name}: ${err.message}`))
      ws.on('finish', () => done({ op: 'put', sha256: hash.digest('hex'), size: arg })(null))
      pump()
      function pump () {
        while (off < arg) {
          const n = Math.min(chunk, arg - off)
          const b = blockBytes('big', off / chunk, n)
          hash.update(b)
          off += n
          if (!ws.write(b)) return ws.once('drain', pump)
        }
        ws.end()
      }
    }
  })
}

if (cmd === 'read') read()
else if (cmd === 'write') write()
else C.die('unknown command ' + cmd, 2)
