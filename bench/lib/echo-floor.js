// bench/lib/echo-floor.js: the least a Node server can spend on a bulk
// request of bench/push.sh's size: it reads the body and answers a copy of
// it (as Argilla answers the records it stored), nothing else.
//   node echo-floor.js http|net PORTFILE
// http: Node's http module, as tests/fakes/fake-argilla.js uses it;
// net: a bare socket that only finds Content-Length.  On SIGTERM it prints
// its process's CPU time in ms.
'use strict';
const fs = require('fs');
const [kind, portFile] = process.argv.slice(2);
let server;
if (kind === 'http') {
  server = require('http').createServer((req, res) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const b = Buffer.concat(chunks);
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': b.length });
      res.end(b);
    });
  });
  server.keepAliveTimeout = 60000;
} else {
  server = require('net').createServer((sock) => {
    let buf = null;
    let need = -1;
    let head = -1;
    sock.on('data', (c) => {
      buf = buf ? Buffer.concat([buf, c]) : c;
      for (;;) {
        if (need < 0) {
          head = buf.indexOf('\r\n\r\n');
          if (head < 0) return;
          const m = /content-length:\s*(\d+)/i.exec(buf.latin1Slice(0, head));
          need = m ? Number(m[1]) : 0;
        }
        if (buf.length < head + 4 + need) return;
        const body = buf.subarray(head + 4, head + 4 + need);
        sock.write(`HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\n\r\n`);
        sock.write(body);
        buf = buf.subarray(head + 4 + need);
        need = -1;
        if (buf.length === 0) {
          buf = null;
          return;
        }
      }
    });
  });
}
server.listen(0, '127.0.0.1', () => {
  fs.writeFileSync(portFile + '.tmp', String(server.address().port));
  fs.renameSync(portFile + '.tmp', portFile);
});
process.on('SIGTERM', () => {
  const u = process.cpuUsage();
  console.log(((u.user + u.system) / 1000).toFixed(1));
  process.exit(0);
});
