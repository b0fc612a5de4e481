// Preloaded (node --require, through NODE_OPTIONS) into the JS peers that js-clone.sh and
// js-share.sh start: every hypercore-protocol stream destroyed is logged to stderr with its
// error (if any) and the caller's stack, so a test that sees a JS peer drop a connection can
// tell why. Changes no behaviour.
'use strict'
const Module = require('module')
const load = Module._load
Module._load = function (request, parent, isMain) {
  const m = load.apply(this, arguments)
  if (request === 'hypercore-protocol' && typeof m === 'function' && m.prototype &&
      typeof m.prototype.destroy === 'function' && !m.prototype.destroy.traced) {
    const destroy = m.prototype.destroy
    m.prototype.destroy = function (err) {
      if (!this.destroyed) {
        const why = err ? (err.stack || String(err)) : 'no error'
        const at = new Error('destroyed here').stack.split('\n').slice(2, 9).join('\n')
        process.stderr.write(`[js-trace ${new Date().toISOString()}] protocol stream destroyed: ${why}\n${at}\n`)
      }
      return destroy.apply(this, arguments)
    }
    m.prototype.destroy.traced = true
  }
  return m
}
