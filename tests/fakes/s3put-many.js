#!/usr/bin/env node
// s3put-many.js: puts many small objects through the verifying proxy, fast,
// so that listing tests need not start apflow a thousand times under
// AddressSanitizer.  Requests are signed by aws4, independently of apflow.
//
//   node s3put-many.js BUCKET FORMAT COUNT
//
// FORMAT is a key with one %d, zero-padded to 4 digits ("many/k%d" gives
// many/k0000 ... many/k0999); each object's body is its key.  Endpoint and
// credentials come from AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID,
// AWS_SECRET_ACCESS_KEY and AWS_REGION.
'use strict';

const http = require('http');

const { npm } = require('./lib');

const aws4 = npm('aws4');

const [bucket, format, countArg] = process.argv.slice(2);
const count = Number(countArg);
const endpoint = new URL(process.env.AWS_ENDPOINT_URL);
const creds = {
  accessKeyId: process.env.AWS_ACCESS_KEY_ID,
  secretAccessKey: process.env.AWS_SECRET_ACCESS_KEY,
};
const agent = new http.Agent({ keepAlive: true, maxSockets: 16 });

function put(key) {
  return new Promise((resolve, reject) => {
    const opts = aws4.sign({
      host: endpoint.host,
      path: `/${bucket}/${key.split('/').map(encodeURIComponent).join('/')}`,
      method: 'PUT',
      body: key,
      service: 's3',
      region: process.env.AWS_REGION || 'us-east-1',
      headers: { 'content-type': 'text/plain' },
    }, creds);
    const req = http.request({
      host: endpoint.hostname, port: endpoint.port, method: 'PUT', path: opts.path, headers: opts.headers, agent,
    }, res => {
      res.resume();
      res.on('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(`${key}: HTTP ${res.statusCode}`))));
    });
    req.on('error', reject);
    req.end(key);
  });
}

async function main() {
  const keys = [];
  for (let i = 0; i < count; i++) keys.push(format.replace('%d', String(i).padStart(4, '0')));
  let next = 0;
  const worker = async () => {
    while (next < keys.length) await put(keys[next++]);
  };
  await Promise.all(Array.from({ length: 16 }, worker));
  agent.destroy();
}

main().catch(e => {
  console.error('s3put-many:', e.message);
  process.exit(1);
});
