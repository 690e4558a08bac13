// Bounded request loop for http_server.js: at most MAX requests, for at most DURATION_S seconds,
// at RATE requests a second over a few keep-alive connections. 127.0.0.1 only.
// Usage: node http_load.js PORT RATE DURATION_S MAX
'use strict';
const http = require('http');

const [port, rate, durationS, max] = process.argv.slice(2).map(Number);
const agent = new http.Agent({keepAlive: true, maxSockets: 4});
const start = Date.now();
let sent = 0;
let done = 0;
let errors = 0;

function tick() {
  const elapsedS = (Date.now() - start) / 1000;
  if (elapsedS >= durationS || sent >= max) {
    if (done + errors >= sent) {
      console.error(`http_load: ${done} answered, ${errors} errors`);
      agent.destroy();
      return;
    }
    setTimeout(tick, 100);
    return;
  }
  const due = Math.min(max, Math.floor(elapsedS * rate));
  while (sent < due) {
    sent++;
    http.get({host: '127.0.0.1', port, path: '/item?id=' + sent, agent}, (res) => {
      res.resume();
      res.on('end', () => done++);
    }).on('error', () => errors++);
  }
  setTimeout(tick, 20);
}
tick();
