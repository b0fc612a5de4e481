#!/usr/bin/env node
'use strict'
// Clone a Dat with dat-node (the library under the `dat` CLI: dat-storage, hyperdrive 9.16 in
// "latest" mode, files written into DIR) over one plain TCP connection to HOST:PORT, with no
// discovery. Module versions come from DAT_LAB_MODULES (default: the lab's dat13; point it at
// $DAT_LAB/dat14 for dat-node 4.0.1 of dat@14).
//
// usage: node dat-node-clone.js --connect HOST:PORT --key KEY --dir DIR [--timeout S]
//          [--until-version V]
// stdout: {"event":"sync","version":V,...} each time the latest version is fully stored;
//         exits 0 after the first sync at a version >= V (default: the first sync).
const net = require('net')
const path = require('path')
const C = require(path.join(__dirname, '..', '..', '..', '..', 'interop', 'scripts', 'lib', 'common'))

const argv = C.req('minimist')(process.argv.slice(2), {
  string: ['connect', 'key', 'dir'],
  default: { timeout: 120, 'until-version': 0 }
})
C.deadline(Number(argv.timeout), 'dat-node-clone')
const key = C.parseKey(argv.key)
const addr = C.parseHostPort(argv.connect)
C.assertLoopback(addr.host)
const Dat = C.req('dat-node')
const pump = C.req('pump')
const until = Number(argv['until-version'])

Dat(path.resolve(argv.dir), { key, sparse: false }, (err, dat) => {
  if (err) return C.die(err.message || err)
  const archive = dat.archive
  const sock = net.connect(addr.port, addr.host)
  sock.setNoDelay(true)
  const stream = archive.replicate({ live: true })
  pump(sock, stream, sock, (err) => C.log('connection closed' + (err ? ': ' + err.message : '')))
  const t0 = Date.now()
  archive.on('sync', () => {
    const v = archive.version
    C.emit({ event: 'sync', version: v, ms: Date.now() - t0, contentBlocks: archive.content.downloaded(), datNode: C.req('dat-node/package.json').version })
    if (v >= until) {
      sock.destroy()
      dat.close(() => process.exit(0))
      setTimeout(() => process.exit(0), 2000).unref()
    }
  })
})
