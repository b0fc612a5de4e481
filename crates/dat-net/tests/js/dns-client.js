#!/usr/bin/env node
'use strict'
// The dat@13 dns-discovery 6.2.3 client against a Rust server:
//   node dns-client.js SERVER_PORT ID ANNOUNCE_PORT WANT_HOST:WANT_PORT
// announces ID with ANNOUNCE_PORT, looks ID up every 300 ms, and prints one JSON
// line per peer; exits 0 once WANT is seen, 1 after 8 s.
const path = require('path')
const lab = process.env.DAT_LAB
if (!lab) { console.error('DAT_LAB not set'); process.exit(2) }
const discovery = require(path.join(lab, 'dat13', 'node_modules', 'dns-discovery'))
const [port, id, announce, want] = process.argv.slice(2)
const d = discovery({ servers: ['127.0.0.1:' + port], multicast: false, domain: 'dat.local' })
d.on('peer', (name, peer) => {
  const addr = peer.host + ':' + peer.port
  process.stdout.write(JSON.stringify({ event: 'peer', id: name, addr }) + '\n')
  if (name === id && addr === want) { d.destroy(); process.exit(0) }
})
d.announce(id, Number(announce), (err) => {
  process.stdout.write(JSON.stringify({ event: 'announced', error: err ? err.message : null }) + '\n')
})
setInterval(() => d.lookup(id), 300)
setTimeout(() => { process.stdout.write('{"event":"timeout"}\n'); process.exit(1) }, 8000)
