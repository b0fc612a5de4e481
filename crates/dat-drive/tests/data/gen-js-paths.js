// usage: node gen-js-paths.js random-ops.json > random-ops-js-paths.json (DAT_LAB = JS lab)
const NM = (process.env.DAT_LAB || '/work/lab') + '/dat13/node_modules/'
const hypercore = require(NM + 'hypercore'), ram = require(NM + 'random-access-memory'), tree = require(NM + 'append-tree')
const msgs = require(NM + 'append-tree/messages')
const seqs = JSON.parse(require('fs').readFileSync(process.argv[2]))
let out = []
;(function one (k) {
  if (k === seqs.length) { console.log(JSON.stringify(out)); return }
  const ops = seqs[k]
  const feed = hypercore(ram)
  feed.append(Buffer.from('header'), () => {
    const t = tree(feed, {offset: 1, valueEncoding: 'json'})
    let i = 0
    const next = () => {
      if (i === ops.length) {
        const res = []
        let s = 1
        const get = () => { if (s >= feed.length) { out.push(res); return one(k + 1) }
          feed.get(s++, (e, b) => { res.push(msgs.Node.decode(b).paths.toString('hex')); get() }) }
        return get()
      }
      const [op, name] = ops[i++]
      if (op === 'put') t.put(name, {v: 1}, next); else t.del(name, next)
    }
    next()
  })
})(0)
