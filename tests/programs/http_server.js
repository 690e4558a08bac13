// A Node.js HTTP server for the real-program corpus. GET /item?id=N answers a small JSON body.
// With --leak, every request's answer is also kept in a cache keyed by a request counter that is
// never trimmed (the classic per-request cache leak). Prints "listening on 127.0.0.1:PORT".
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
