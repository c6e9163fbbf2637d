#!/usr/bin/env node
// s3server.js: runs s3rver (npm, pinned in scripts/npm) on 127.0.0.1 for the
// tests, with one bucket created through its configureBuckets option.
//
//   node s3server.js --dir DIR --bucket NAME [--port N] --port-file FILE
//
// --port 0 (the default) takes a free port; the port actually bound is
// written to --port-file once the server accepts connections, which is how
// tests/lib/s3.sh knows it is ready.  The data in DIR outlives the process,
// so a test can kill the server and start it again on the same port.
'use strict';

const fs = require('fs');

const crypto = require('crypto');

// s3rver 3.7.1 encrypts ListObjectsV2 continuation tokens with single DES,
// which OpenSSL 3 keeps in its legacy provider only: every truncated listing
// would fail with HTTP 500.  The tokens only have to round-trip through this
// same server, so DES (8-byte key and IV) is replaced by AES-128-CTR with
// keys derived from them.  Nothing else in s3rver uses DES.
for (const name of ['createCipheriv', 'createDecipheriv']) {
  const real = crypto[name];
  crypto[name] = function (alg, key, iv, ...rest) {
    if (String(alg).toLowerCase() !== 'des') return real.call(crypto, alg, key, iv, ...rest);
    const k = crypto.createHash('sha256').update(key).digest().subarray(0, 16);
    return real.call(crypto, 'aes-128-ctr', k, Buffer.concat([iv, iv]), ...rest);
  };
}

const { args, npm } = require('./lib');

const S3rver = npm('s3rver');

const opt = args(process.argv, { port: 0 });
if (!opt.dir || !opt.bucket || !opt.portFile) {
  console.error('usage: s3server.js --dir DIR --bucket NAME [--port N] --port-file FILE');
  process.exit(2);
}
fs.mkdirSync(opt.dir, { recursive: true });

const server = new S3rver({
  address: '127.0.0.1',
  port: Number(opt.port),
  directory: opt.dir,
  silent: true,
  configureBuckets: [{ name: opt.bucket }],
});

server.run((err, addr) => {
  if (err) {
    console.error('s3server: cannot start:', err.message);
    process.exit(1);
  }
  const tmp = opt.portFile + '.tmp';
  fs.writeFileSync(tmp, String(addr.port) + '\n');
  fs.renameSync(tmp, opt.portFile);
});

for (const sig of ['SIGTERM', 'SIGINT']) {
  process.on(sig, () => server.close(() => process.exit(0)));
}
