#!/usr/bin/env node
// s3proxy.js: a SigV4-verifying proxy in front of s3rver, for the tests.
//
// s3rver does not check signatures, so a signing mistake would pass every
// test and fail on R2 or AWS.  This proxy re-signs each request with the
// secret, using the npm aws4 package and exactly the SignedHeaders list of
// the incoming Authorization header, and answers 403 SignatureDoesNotMatch
// (S3's XML error) on a mismatch, as S3 does.  It also checks what S3
// checks around the signature: the access key id, the credential scope
// date, the clock skew, that every x-amz-* header is signed, and the
// payload: the body's SHA-256 must equal x-amz-content-sha256 (400
// XAmzContentSHA256Mismatch).  To check the payload before anything
// reaches s3rver, the body is spooled to a file while it is hashed and
// forwarded (streamed from that file) only when whole; like S3, a request
// cut short therefore never creates an object.  s3rver lacks
// AbortMultipartUpload; the proxy does it by removing the upload's parts.
//
//   node s3proxy.js --upstream-port N --port-file FILE --log FILE --s3-dir DIR
//                   --spool-dir DIR [--port N]
//   env: S3PROXY_ACCESS_KEY_ID, S3PROXY_SECRET_ACCESS_KEY (the only valid
//        credentials), S3PROXY_SESSION_TOKEN (the only valid session token,
//        when a request carries one), S3PROXY_FAULTS (optional, faults as
//        below, ';'-separated)
//
// Faults, armed with POST /__control/fault?QUERY (or S3PROXY_FAULTS):
//   type=status&status=503[&code=SlowDown][&retry_after=S]  answer that error
//   type=cut&after=BYTES      close the connection after BYTES of the body
//   type=stall&after=BYTES    stop reading the body after BYTES, never answer
//   type=delay&ms=MS          wait before handling
// each with count=N (default 1) and match=KIND (a request kind such as
// PutObject, UploadPart, CompleteMultipartUpload; default any).
// POST /__control/reset drops armed faults; GET /__control/uploads says how
// many multipart uploads are pending.  Every request is logged, one line
// "KIND METHOD URL STATUS [NOTE]", to --log (never with its headers).
'use strict';

const crypto = require('crypto');
const fs = require('fs');
const http = require('http');
const path = require('path');

const { args, npm } = require('./lib');

const aws4 = npm('aws4');

const opt = args(process.argv, { port: 0 });
const ACCESS = process.env.S3PROXY_ACCESS_KEY_ID;
const SECRET = process.env.S3PROXY_SECRET_ACCESS_KEY;
const TOKEN = process.env.S3PROXY_SESSION_TOKEN || '';
if (!opt.upstreamPort || !opt.portFile || !opt.log || !opt.s3Dir || !opt.spoolDir || !ACCESS || !SECRET) {
  console.error('usage: s3proxy.js --upstream-port N --port-file F --log F --s3-dir D --spool-dir D [--port N]');
  process.exit(2);
}
fs.mkdirSync(opt.spoolDir, { recursive: true });

let faults = [];
let spoolSeq = 0;

function log(line) {
  fs.appendFileSync(opt.log, line + '\n');
}

function addFault(params) {
  const f = {
    type: params.get('type'),
    count: Number(params.get('count') || 1),
    match: params.get('match') || '*',
    status: Number(params.get('status') || 503),
    code: params.get('code') || '',
    retryAfter: params.get('retry_after'),
    after: Number(params.get('after') || 0),
    ms: Number(params.get('ms') || 0),
  };
  if (!['status', 'cut', 'stall', 'delay'].includes(f.type)) throw new Error('unknown fault type');
  faults.push(f);
  return f;
}

for (const spec of (process.env.S3PROXY_FAULTS || '').split(';').filter(Boolean)) {
  addFault(new URLSearchParams(spec));
}

function takeFault(kind) {
  const f = faults.find(x => x.count > 0 && (x.match === '*' || x.match === kind));
  if (f) f.count--;
  return f;
}

// The S3 operation a request is, from its method and query (path-style URLs).
function kindOf(method, u) {
  const segs = u.pathname.split('/').filter(Boolean);
  const q = u.searchParams;
  const onObject = segs.length > 1;
  if (!onObject) {
    if (method === 'GET' && q.has('uploads')) return 'ListMultipartUploads';
    if (method === 'GET') return q.get('list-type') === '2' ? 'ListObjectsV2' : 'ListObjects';
    return 'Bucket' + method;
  }
  switch (method) {
    case 'PUT': return q.has('partNumber') ? 'UploadPart' : 'PutObject';
    case 'POST':
      if (q.has('uploads')) return 'CreateMultipartUpload';
      if (q.has('uploadId')) return 'CompleteMultipartUpload';
      return 'PostObject';
    case 'DELETE': return q.has('uploadId') ? 'AbortMultipartUpload' : 'DeleteObject';
    case 'HEAD': return 'HeadObject';
    case 'GET': return 'GetObject';
    default: return method;
  }
}

function escapeXml(s) {
  return String(s).replace(/[<>&"']/g, c => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' }[c]));
}

// Sends an S3-style XML error (no body for HEAD, as S3 does).
function sendError(req, res, e) {
  const id = crypto.randomBytes(8).toString('hex').toUpperCase();
  let extra = '';
  for (const [k, v] of Object.entries(e.extra || {})) extra += `<${k}>${escapeXml(v)}</${k}>`;
  const xml = '<?xml version="1.0" encoding="UTF-8"?>\n' +
    `<Error><Code>${e.code}</Code><Message>${escapeXml(e.message)}</Message>${extra}` +
    `<RequestId>${id}</RequestId></Error>`;
  const body = req.method === 'HEAD' ? '' : xml;
  const headers = {
    'content-type': 'application/xml',
    'content-length': Buffer.byteLength(body),
    'x-amz-request-id': id,
    ...(e.headers || {}),
  };
  res.note = e.note || e.code;
  res.writeHead(e.status, headers);
  res.end(body);
}

const AUTH_RE = /^AWS4-HMAC-SHA256 Credential=([^/,]+)\/(\d{8})\/([^/,]+)\/([^/,]+)\/aws4_request, ?SignedHeaders=([a-z0-9;-]+), ?Signature=([0-9a-f]{64})$/;

// Checks the request's signature as S3 would; returns null or an error.
function verify(req) {
  const auth = req.headers.authorization;
  if (!auth) return { status: 403, code: 'AccessDenied', message: 'Access Denied' };
  const m = AUTH_RE.exec(auth);
  if (!m) {
    return { status: 400, code: 'AuthorizationHeaderMalformed', message: 'The authorization header is malformed.' };
  }
  const [, accessKey, date, region, service, signedHeaders, signature] = m;
  if (accessKey !== ACCESS) {
    return {
      status: 403, code: 'InvalidAccessKeyId',
      message: 'The AWS Access Key Id you provided does not exist in our records.',
    };
  }
  if (service !== 's3') {
    return { status: 400, code: 'AuthorizationHeaderMalformed', message: `Wrong service '${service}'.` };
  }
  const amzDate = req.headers['x-amz-date'];
  if (!amzDate || !/^\d{8}T\d{6}Z$/.test(amzDate)) {
    return { status: 403, code: 'AccessDenied', message: 'AWS authentication requires a valid Date or x-amz-date header' };
  }
  if (amzDate.slice(0, 8) !== date) {
    return {
      status: 400, code: 'AuthorizationHeaderMalformed',
      message: 'Invalid credential date. Date is not the same as X-Amz-Date.',
    };
  }
  const t = Date.UTC(+amzDate.slice(0, 4), +amzDate.slice(4, 6) - 1, +amzDate.slice(6, 8),
    +amzDate.slice(9, 11), +amzDate.slice(11, 13), +amzDate.slice(13, 15));
  if (Math.abs(Date.now() - t) > 15 * 60 * 1000) {
    return {
      status: 403, code: 'RequestTimeTooSkewed',
      message: 'The difference between the request time and the current time is too large.',
    };
  }
  if (!req.headers['x-amz-content-sha256']) {
    return {
      status: 400, code: 'InvalidRequest',
      message: 'Missing required header for this request: x-amz-content-sha256',
    };
  }
  // Temporary credentials: a session token, when sent, must be the right one.
  const token = req.headers['x-amz-security-token'];
  if (token !== undefined && token !== TOKEN) {
    return { status: 403, code: 'InvalidToken', message: 'The provided token is malformed or otherwise invalid.' };
  }
  const names = signedHeaders.split(';');
  if (!names.includes('host')) {
    return { status: 403, code: 'AccessDenied', message: 'The host header must be signed.' };
  }
  const unsigned = Object.keys(req.headers).filter(h => h.startsWith('x-amz-') && !names.includes(h));
  if (unsigned.length) {
    return {
      status: 403, code: 'AccessDenied',
      message: 'There were headers present in the request which were not signed',
      extra: { HeadersNotSigned: unsigned.join(', ') },
    };
  }
  const headers = {};
  const include = {};
  for (const n of names) {
    if (req.headers[n] === undefined) {
      return { status: 403, code: 'SignatureDoesNotMatch', message: `Signed header '${n}' is missing.` };
    }
    headers[n] = req.headers[n];
    include[n] = true;
  }
  let signer;
  let expected;
  try {
    signer = new aws4.RequestSigner({
      method: req.method,
      host: req.headers.host,
      path: req.url,
      headers,
      service: 's3',
      region,
      doNotModifyHeaders: true,
      extraHeadersToInclude: include,
    }, { accessKeyId: ACCESS, secretAccessKey: SECRET });
    // With doNotModifyHeaders aws4 would take the current time: use the request's.
    signer.datetime = amzDate;
    expected = signer.signature();
  } catch (e) {
    return { status: 400, code: 'InvalidURI', message: 'Could not parse the specified URI.' };
  }
  if (signer.signedHeaders() !== signedHeaders || expected !== signature) {
    return {
      status: 403, code: 'SignatureDoesNotMatch',
      message: 'The request signature we calculated does not match the signature you provided. ' +
        'Check your key and signing method.',
      extra: { StringToSign: signer.stringToSign(), CanonicalRequest: signer.canonicalString() },
    };
  }
  return null;
}

// Reads the body into a spool file while hashing it.  Resolves to
// { file, size, hash }, or null when a fault cut or stalled it, or the
// client went away.
function receive(req, res, fault, kind) {
  return new Promise(resolve => {
    const file = path.join(opt.spoolDir, `spool-${process.pid}-${spoolSeq++}`);
    const ws = fs.createWriteStream(file);
    ws.on('error', () => fail('spool error'));
    const h = crypto.createHash('sha256');
    let size = 0;
    let done = false;
    let stalled = false;
    const fail = note => {
      if (done) return;
      done = true;
      ws.destroy();
      fs.rm(file, { force: true }, () => {});
      if (note) log(`${kind} ${req.method} ${req.url} - ${note}`);
      resolve(null);
    };
    req.on('data', chunk => {
      if (done) return;
      size += chunk.length;
      h.update(chunk);
      if (!ws.write(chunk)) {
        req.pause();
        ws.once('drain', () => { if (!stalled) req.resume(); });
      }
      if (fault && fault.type === 'cut' && size >= fault.after) {
        fail(`cut after ${size} bytes`);
        req.socket.destroy();
      } else if (fault && fault.type === 'stall' && size >= fault.after && !stalled) {
        stalled = true;
        req.pause();
        log(`${kind} ${req.method} ${req.url} - stalled after ${size} bytes`);
      }
    });
    req.on('end', () => {
      if (done) return;
      done = true;
      ws.end(() => resolve({ file, size, hash: h.digest('hex') }));
    });
    req.on('error', () => fail('client error'));
    res.on('close', () => { if (!done && !res.writableFinished) fail('client went away'); });
  });
}

function abortUpload(req, res, u) {
  const bucket = u.pathname.split('/').filter(Boolean)[0];
  const id = u.searchParams.get('uploadId') || '';
  const dir = path.join(opt.s3Dir, bucket, '._S3rver_uploads', id);
  if (!/^[0-9a-f]+$/.test(id) || !fs.existsSync(dir)) {
    return sendError(req, res, {
      status: 404, code: 'NoSuchUpload',
      message: 'The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.',
    });
  }
  fs.rmSync(dir, { recursive: true, force: true });
  res.writeHead(204);
  res.end();
}

function pendingUploads() {
  let n = 0;
  for (const b of fs.existsSync(opt.s3Dir) ? fs.readdirSync(opt.s3Dir) : []) {
    const d = path.join(opt.s3Dir, b, '._S3rver_uploads');
    if (fs.existsSync(d)) n += fs.readdirSync(d).length;
  }
  return n;
}

function forward(req, res, spool) {
  const headers = { ...req.headers };
  delete headers.authorization;
  delete headers.expect;
  headers.host = `127.0.0.1:${opt.upstreamPort}`;
  if (spool) headers['content-length'] = String(spool.size);
  const up = http.request({
    host: '127.0.0.1', port: Number(opt.upstreamPort), method: req.method, path: req.url, headers,
  }, upRes => {
    res.writeHead(upRes.statusCode, upRes.headers);
    upRes.pipe(res);
  });
  const cleanup = () => { if (spool) fs.rm(spool.file, { force: true }, () => {}); };
  up.on('error', () => {
    cleanup();
    if (!res.headersSent) {
      sendError(req, res, { status: 503, code: 'ServiceUnavailable', message: 'The upstream S3 server is unreachable.' });
    } else {
      res.destroy();
    }
  });
  up.on('close', cleanup);
  if (spool) fs.createReadStream(spool.file).pipe(up);
  else up.end();
}

function control(req, res, u) {
  const reply = (status, text) => {
    res.writeHead(status, { 'content-type': 'text/plain' });
    res.end(text + '\n');
  };
  req.resume();
  try {
    if (u.pathname === '/__control/fault' && req.method === 'POST') {
      addFault(u.searchParams);
      return reply(200, 'ok');
    }
    if (u.pathname === '/__control/reset' && req.method === 'POST') {
      faults = [];
      return reply(200, 'ok');
    }
    if (u.pathname === '/__control/uploads') return reply(200, String(pendingUploads()));
  } catch (e) {
    return reply(400, e.message);
  }
  return reply(404, 'no such control');
}

const sleep = ms => new Promise(r => setTimeout(r, ms));

async function onRequest(req, res, expectsContinue) {
  const u = new URL(req.url, 'http://127.0.0.1');
  if (u.pathname.startsWith('/__control/')) return control(req, res, u);
  const kind = kindOf(req.method, u);
  res.on('finish', () => log(`${kind} ${req.method} ${req.url} ${res.statusCode}${res.note ? ' ' + res.note : ''}`));
  const hasBody = req.method === 'PUT' || req.method === 'POST';
  // A refusal before the body: with "Expect: 100-continue" the client has
  // not sent it yet; without, it is read and dropped so that the answer
  // reaches the client instead of a reset.
  const refuse = async e => {
    if (hasBody && !expectsContinue) {
      req.resume();
      await new Promise(r => { req.on('end', r); req.on('error', r); req.on('close', r); });
    }
    if (expectsContinue) {
      res.setHeader('connection', 'close');
      e.note = (e.note || e.code) + ' (before the body)';
    }
    sendError(req, res, e);
  };

  const bad = verify(req);
  if (bad) return refuse(bad);
  const fault = takeFault(kind);
  if (fault && fault.type === 'delay') await sleep(fault.ms);
  if (fault && fault.type === 'status') {
    const code = fault.code || (fault.status === 503 ? 'SlowDown' : fault.status >= 500 ? 'InternalError' : 'InvalidRequest');
    return refuse({
      status: fault.status, code, message: 'Injected fault.', note: `${code} (injected)`,
      headers: fault.retryAfter ? { 'retry-after': fault.retryAfter } : {},
    });
  }
  if (expectsContinue) res.writeContinue();
  let spool = null;
  if (hasBody) {
    spool = await receive(req, res, fault, kind);
    if (!spool) return;
    const declared = req.headers['x-amz-content-sha256'];
    if (declared !== 'UNSIGNED-PAYLOAD' && declared !== spool.hash) {
      fs.rm(spool.file, { force: true }, () => {});
      return sendError(req, res, {
        status: 400, code: 'XAmzContentSHA256Mismatch',
        message: "The provided 'x-amz-content-sha256' header does not match what was computed.",
        extra: { ClientComputedContentSHA256: declared, S3ComputedContentSHA256: spool.hash },
      });
    }
  }
  if (kind === 'AbortMultipartUpload') return abortUpload(req, res, u);
  forward(req, res, spool);
}

const server = http.createServer((req, res) => {
  onRequest(req, res, false).catch(e => { console.error(e); res.destroy(); });
});
server.on('checkContinue', (req, res) => {
  onRequest(req, res, true).catch(e => { console.error(e); res.destroy(); });
});
server.keepAliveTimeout = 30000;
server.listen(Number(opt.port), '127.0.0.1', () => {
  const tmp = opt.portFile + '.tmp';
  fs.writeFileSync(tmp, String(server.address().port) + '\n');
  fs.renameSync(tmp, opt.portFile);
});
for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => process.exit(0));
