#!/usr/bin/env node
// fake-vlm.js: a stand-in for DeepSeek-OCR behind vLLM (OpenAI-compatible
// POST /v1/chat/completions) and behind Ollama (POST /api/chat), for the
// tests of `apflow ocr --engine deepseek`.  Node only, no npm packages.
//
//   node fake-vlm.js --port-file FILE [--port N] [--texts FILE] [--api-key KEY]
//
// It listens on 127.0.0.1 (port 0: a free one, written to --port-file once
// it accepts connections) and follows the real request and answer shapes,
// validation included: a malformed request gets 400 with the server's
// error body ({"object":"error","message":..,"type":"BadRequestError",..}
// for vLLM, {"error":".."} for Ollama), an unknown model 404, a missing or
// wrong bearer token (when --api-key is given) 401.  Ollama streams NDJSON
// unless the request says "stream": false, as the real one does.
//
// The answer is derived from the image: --texts names a JSON file
// {"<sha256 of the PNG>": "text", ...} (read on every request); an image
// not in it gets "Page image <first 12 hex of its sha256>" and a few fixed
// lines.  Each paragraph comes wrapped in DeepSeek's grounding tags
// (<|ref|>text<|/ref|><|det|>[[x1, y1, x2, y2]]<|/det|>), and with
// "skip_special_tokens": false (vLLM) the text ends with DeepSeek's
// end-of-sentence token, so clients must strip both.
//
// Control (not part of either API):
//   POST /_fault?type=T&count=N[&status=S][&retry_after=SEC][&ms=MS]
//        queues a fault for the next N model requests, in order:
//          status     answer HTTP S (default 503) with an error body
//          retry      answer 429 with Retry-After: SEC (default 1)
//          slow       answer normally after MS ms
//          hang       never answer (the client must time out)
//          reset      close the connection without an answer
//          malformed  answer 200 with broken JSON
//          runaway    answer 200 with a repeating text that stopped at
//                     max_tokens: finish_reason / done_reason "length"
//   POST /_config?delay_ms=MS   delay every answer by MS (default 0)
//   POST /_reset                drop faults, delay and statistics
//   GET  /stats   {requests, bad_requests, by_api, inflight, max_inflight,
//                  faults_left, answers: [{api, sha256, model, status,
//                  text}]}  text being the plain text (what a client
//                  should store after stripping the tags)
'use strict';

const http = require('http');
const fs = require('fs');
const crypto = require('crypto');

const { args } = require('./lib');

const opt = args(process.argv, { port: '0' });
if (!opt.portFile) {
  console.error('usage: fake-vlm.js --port-file FILE [--port N] [--texts FILE] [--api-key KEY]');
  process.exit(2);
}

const MODELS = {
  openai: ['deepseek-ai/DeepSeek-OCR'],
  ollama: ['deepseek-ocr', 'deepseek-ocr:latest', 'deepseek-ocr:3b'],
};
const END_TOKEN = '<\uff5cend\u2581of\u2581sentence\uff5c>';
const PNG_SIG = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
const MAX_BODY = 64 << 20;

let stats, faults, delayMs;
function reset() {
  stats = { requests: 0, bad_requests: 0, by_api: { openai: 0, ollama: 0 }, inflight: 0, max_inflight: 0, answers: [] };
  faults = [];
  delayMs = 0;
}
reset();

class Bad extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

function sendJson(res, status, obj, headers) {
  const body = Buffer.from(JSON.stringify(obj));
  res.writeHead(status, Object.assign({ 'Content-Type': 'application/json', 'Content-Length': body.length }, headers || {}));
  res.end(body);
}

// The error bodies of the real servers.
function errorBody(api, status, message) {
  if (api === 'ollama') return { error: message };
  const type = { 400: 'BadRequestError', 401: 'AuthenticationError', 404: 'NotFoundError', 429: 'RateLimitError' }[status] ||
    'InternalServerError';
  return { object: 'error', message, type, param: null, code: status };
}

function isB64(s) {
  return typeof s === 'string' && s.length > 0 && s.length % 4 === 0 && /^[A-Za-z0-9+/]*={0,2}$/.test(s);
}

function decodePng(b64, what) {
  if (!isB64(b64)) throw new Bad(400, `${what}: invalid base64 image data`);
  const png = Buffer.from(b64, 'base64');
  if (png.length < 8 || !png.subarray(0, 8).equals(PNG_SIG)) throw new Bad(400, `${what}: the image is not a PNG`);
  return png;
}

function checkNumber(v, name, lo, hi, int) {
  if (v === undefined) return;
  if (typeof v !== 'number' || !isFinite(v) || v < lo || v > hi || (int && !Number.isInteger(v)))
    throw new Bad(400, `${name}: expected ${int ? 'an integer' : 'a number'} in [${lo}, ${hi}], got ${JSON.stringify(v)}`);
}

// Validates a vLLM chat request; returns {png, model, prompt, special}.
function parseOpenAI(req) {
  if (typeof req !== 'object' || req === null || Array.isArray(req)) throw new Bad(400, 'request body must be a JSON object');
  if (typeof req.model !== 'string' || !req.model) throw new Bad(400, 'model: field required');
  if (!MODELS.openai.includes(req.model)) throw new Bad(404, `The model \`${req.model}\` does not exist.`);
  if (!Array.isArray(req.messages) || req.messages.length === 0) throw new Bad(400, 'messages: field required (a non-empty list)');
  if (req.stream === true) throw new Bad(400, 'this fake answers stream=false only');
  checkNumber(req.temperature, 'temperature', 0, 2, false);
  checkNumber(req.max_tokens, 'max_tokens', 1, 1 << 20, true);
  if (req.skip_special_tokens !== undefined && typeof req.skip_special_tokens !== 'boolean')
    throw new Bad(400, 'skip_special_tokens: expected a boolean');
  if (req.vllm_xargs !== undefined && (typeof req.vllm_xargs !== 'object' || req.vllm_xargs === null || Array.isArray(req.vllm_xargs)))
    throw new Bad(400, 'vllm_xargs: expected an object');
  let png = null, prompt = null;
  for (const [i, m] of req.messages.entries()) {
    if (typeof m !== 'object' || m === null || !['system', 'user', 'assistant'].includes(m.role))
      throw new Bad(400, `messages[${i}].role: expected system, user or assistant`);
    if (typeof m.content === 'string') continue;
    if (!Array.isArray(m.content)) throw new Bad(400, `messages[${i}].content: expected a string or a list of parts`);
    for (const [j, p] of m.content.entries()) {
      const where = `messages[${i}].content[${j}]`;
      if (typeof p !== 'object' || p === null) throw new Bad(400, `${where}: expected an object`);
      if (p.type === 'text') {
        if (typeof p.text !== 'string') throw new Bad(400, `${where}.text: field required`);
        prompt = p.text;
      } else if (p.type === 'image_url') {
        const url = p.image_url && p.image_url.url;
        if (typeof url !== 'string') throw new Bad(400, `${where}.image_url.url: field required`);
        const mt = /^data:image\/png;base64,(.*)$/s.exec(url);
        if (!mt) throw new Bad(400, `${where}.image_url.url: expected a data:image/png;base64 URL`);
        if (png) throw new Bad(400, 'at most one image per request');
        png = decodePng(mt[1], `${where}.image_url.url`);
      } else {
        throw new Bad(400, `${where}.type: unknown content part type ${JSON.stringify(p.type)}`);
      }
    }
  }
  if (!png) throw new Bad(400, 'no image in the request');
  if (prompt === null) throw new Bad(400, 'no text prompt in the request');
  return { png, model: req.model, prompt, special: req.skip_special_tokens === false, stream: false };
}

// Validates an Ollama chat request.
function parseOllama(req) {
  if (typeof req !== 'object' || req === null || Array.isArray(req)) throw new Bad(400, 'invalid request body');
  if (typeof req.model !== 'string' || !req.model) throw new Bad(400, 'model is required');
  if (!MODELS.ollama.includes(req.model)) throw new Bad(404, `model "${req.model}" not found, try pulling it first`);
  if (!Array.isArray(req.messages) || req.messages.length === 0) throw new Bad(400, 'messages is required');
  if (req.stream !== undefined && typeof req.stream !== 'boolean') throw new Bad(400, 'stream must be a boolean');
  if (req.options !== undefined) {
    if (typeof req.options !== 'object' || req.options === null || Array.isArray(req.options))
      throw new Bad(400, 'options must be an object');
    checkNumber(req.options.temperature, 'options.temperature', 0, 2, false);
    checkNumber(req.options.num_ctx, 'options.num_ctx', 1, 1 << 20, true);
    checkNumber(req.options.num_predict, 'options.num_predict', -2, 1 << 20, true);
  }
  let png = null, prompt = null;
  for (const [i, m] of req.messages.entries()) {
    if (typeof m !== 'object' || m === null || !['system', 'user', 'assistant', 'tool'].includes(m.role))
      throw new Bad(400, `messages[${i}]: invalid role`);
    if (typeof m.content !== 'string') throw new Bad(400, `messages[${i}]: content must be a string`);
    if (m.role === 'user') prompt = m.content;
    if (m.images !== undefined) {
      if (!Array.isArray(m.images)) throw new Bad(400, `messages[${i}]: images must be a list`);
      for (const im of m.images) {
        if (png) throw new Bad(400, 'at most one image per request');
        png = decodePng(im, `messages[${i}].images`);
      }
    }
  }
  if (!png) throw new Bad(400, 'no image in the request');
  if (prompt === null) throw new Bad(400, 'no user message');
  return { png, model: req.model, prompt, special: false, stream: req.stream !== false };
}

function textFor(sha) {
  if (opt.texts) {
    try {
      const map = JSON.parse(fs.readFileSync(opt.texts, 'utf8'));
      if (typeof map[sha] === 'string') return map[sha];
    } catch (e) {
      if (e.code !== 'ENOENT') throw e;
    }
  }
  return `Page image ${sha.slice(0, 12)}\n\nThe container ship MV Nordic Star, IMO 9321483, left Rotterdam.\n\nSigned by the master.`;
}

// DeepSeek's grounding output: each paragraph after its layout tag and box.
function withTags(text) {
  return text.split(/\n\n/).map((para, i) =>
    `<|ref|>${i === 0 ? 'title' : 'text'}<|/ref|><|det|>[[${40 + i}, ${60 + 90 * i}, 960, ${120 + 90 * i}]]<|/det|>\n${para}`).join('\n\n');
}

function answer(res, api, p, content, reason) {
  const now = new Date();
  if (api === 'openai') {
    sendJson(res, 200, {
      id: 'chatcmpl-' + crypto.randomBytes(8).toString('hex'), object: 'chat.completion',
      created: Math.floor(now.getTime() / 1000), model: p.model,
      choices: [{ index: 0, message: { role: 'assistant', content, tool_calls: [] }, logprobs: null, finish_reason: reason, stop_reason: null }],
      usage: { prompt_tokens: 273, total_tokens: 273 + content.length, completion_tokens: content.length },
    });
    return;
  }
  const final = {
    model: p.model, created_at: now.toISOString(), message: { role: 'assistant', content }, done_reason: reason, done: true,
    total_duration: 1200000000, load_duration: 1000000, prompt_eval_count: 273, prompt_eval_duration: 100000000,
    eval_count: content.length, eval_duration: 1000000000,
  };
  if (!p.stream) {
    sendJson(res, 200, final);
    return;
  }
  // What Ollama does by default: NDJSON, one chunk per token, then the end.
  res.writeHead(200, { 'Content-Type': 'application/x-ndjson' });
  res.write(JSON.stringify({ model: p.model, created_at: now.toISOString(), message: { role: 'assistant', content }, done: false }) + '\n');
  final.message.content = '';
  res.end(JSON.stringify(final) + '\n');
}

function handleModel(api, req, res, body) {
  let parsed;
  try {
    if (opt.apiKey && req.headers.authorization !== `Bearer ${opt.apiKey}`)
      throw new Bad(401, api === 'ollama' ? 'unauthorized' : 'Unauthorized');
    let json;
    try {
      json = JSON.parse(body.toString('utf8'));
    } catch (e) {
      throw new Bad(400, api === 'ollama' ? 'invalid character in request body' : `JSON decode error: ${e.message}`);
    }
    parsed = api === 'openai' ? parseOpenAI(json) : parseOllama(json);
  } catch (e) {
    if (!(e instanceof Bad)) throw e;
    stats.bad_requests++;
    sendJson(res, e.status, errorBody(api, e.status, e.message));
    return;
  }

  stats.requests++;
  stats.by_api[api]++;
  stats.inflight++;
  if (stats.inflight > stats.max_inflight) stats.max_inflight = stats.inflight;
  let done = false;
  const finish = () => {
    if (!done) {
      done = true;
      stats.inflight--;
    }
  };
  res.on('close', finish);
  res.on('finish', finish);

  const sha = crypto.createHash('sha256').update(parsed.png).digest('hex');
  const f = faults.find((x) => x.count > 0);
  if (f) f.count--;
  const type = f ? f.type : null;
  const record = (status, text) => stats.answers.push({ api, sha256: sha, model: parsed.model, status, text });

  const go = () => {
    if (type === 'status') {
      record(f.status, null);
      sendJson(res, f.status, errorBody(api, f.status, `fake fault: HTTP ${f.status}`));
    } else if (type === 'retry') {
      record(429, null);
      sendJson(res, 429, errorBody(api, 429, 'too many requests'), { 'Retry-After': String(f.retry_after) });
    } else if (type === 'hang') {
      record(0, null); // the client gives up; the socket closes then
    } else if (type === 'reset') {
      record(0, null);
      req.socket.destroy();
    } else if (type === 'malformed') {
      record(200, null);
      const broken = api === 'openai' ? '{"id":"chatcmpl-x","object":"chat.completion","choices":[{"index":0,"message":{"role":"assis'
        : '{"model":"deepseek-ocr","message":{"role":"assistant","content":"Page';
      res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(broken) });
      res.end(broken);
    } else if (type === 'runaway') {
      record(200, null);
      const text = withTags(textFor(sha)) + '\n' + 'Item 1: inspection of hold 1 found no damage.\n'.repeat(400);
      answer(res, api, parsed, text, 'length');
    } else {
      const text = textFor(sha);
      record(200, text);
      answer(res, api, parsed, withTags(text) + (parsed.special ? END_TOKEN : ''), 'stop');
    }
  };
  const wait = (type === 'slow' ? f.ms : 0) + delayMs;
  if (wait > 0) setTimeout(go, wait);
  else go();
}

function control(req, res, url) {
  const q = url.searchParams;
  if (req.method === 'GET' && url.pathname === '/stats') {
    sendJson(res, 200, Object.assign({}, stats, { faults_left: faults.reduce((n, f) => n + f.count, 0) }));
  } else if (req.method === 'POST' && url.pathname === '/_fault') {
    const type = q.get('type');
    if (!['status', 'retry', 'slow', 'hang', 'reset', 'malformed', 'runaway'].includes(type)) {
      sendJson(res, 400, { error: `unknown fault type ${JSON.stringify(type)}` });
      return;
    }
    faults.push({
      type, count: Number(q.get('count') || 1), status: Number(q.get('status') || 503),
      retry_after: Number(q.get('retry_after') || 1), ms: Number(q.get('ms') || 1000),
    });
    sendJson(res, 200, { ok: true });
  } else if (req.method === 'POST' && url.pathname === '/_config') {
    if (q.has('delay_ms')) delayMs = Number(q.get('delay_ms'));
    sendJson(res, 200, { ok: true, delay_ms: delayMs });
  } else if (req.method === 'POST' && url.pathname === '/_reset') {
    reset();
    sendJson(res, 200, { ok: true });
  } else {
    sendJson(res, 404, { error: `no route ${req.method} ${url.pathname}` });
  }
}

const server = http.createServer((req, res) => {
  const url = new URL(req.url, 'http://127.0.0.1');
  const api = url.pathname === '/v1/chat/completions' ? 'openai' : url.pathname === '/api/chat' ? 'ollama' : null;
  if (!api) {
    control(req, res, url);
    return;
  }
  if (req.method !== 'POST') {
    sendJson(res, 405, errorBody(api, 405, 'method not allowed'));
    return;
  }
  const chunks = [];
  let size = 0;
  req.on('data', (c) => {
    size += c.length;
    if (size > MAX_BODY) {
      sendJson(res, 413, errorBody(api, 413, 'request body too large'));
      req.destroy();
      return;
    }
    chunks.push(c);
  });
  req.on('end', () => {
    if (size <= MAX_BODY) handleModel(api, req, res, Buffer.concat(chunks));
  });
});
server.keepAliveTimeout = 5000;
server.listen(Number(opt.port), '127.0.0.1', () => {
  fs.writeFileSync(opt.portFile + '.tmp', String(server.address().port));
  fs.renameSync(opt.portFile + '.tmp', opt.portFile);
});
for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => process.exit(0));
