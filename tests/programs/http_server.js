// A Node.js HTTP server for the real-program corpus. GET /item?id=N answers a small JSON body.
// With --leak, every request's answer is also kept in a cache keyed by a request counter that is
// never trimmed (the classic per-request cache leak). Prints "listening on 127.0.0.1:PORT".
// GET /heap answers V8's heap figures (process.memoryUsage(): heap_used_bytes, heap_total_bytes)
// for soak's json probe; /health and /heap are not counted as requests and never cached.
'use strict';
const http = require('http');

const leak = process.argv.includes('--leak');
const cache = new Map();
let served = 0;

const server = http.createServer((req, res) => {
  if (req.url === '/health') {
    res.end('ok');
    return;
  }
  if (req.url === '/heap') {
    const m = process.memoryUsage();
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({heap_used_bytes: m.heapUsed, heap_total_bytes: m.heapTotal}));
    return;
  }
  served++;
  const body = JSON.stringify({
    id: served,
    items: Array.from({length: 20}, (_, i) => ({n: i, name: 'item-' + i + '-' + served})),
  });
  if (leak) cache.set('req-' + served, body + ' '.repeat(1024));
  res.setHeader('content-type', 'application/json');
  res.end(body);
});

server.listen(0, '127.0.0.1', () => {
  console.log('listening on 127.0.0.1:' + server.address().port);
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
