#!/usr/bin/env node
// fake-ollama.js: a stand-in for Ollama serving a chat model, for the tests
// of `apflow preannotate --engine ollama`.  Node only, no npm packages.
//
//   node fake-ollama.js --port-file FILE [--port N] [--script FILE] [--models a,b]
//
// It listens on 127.0.0.1 (port 0: a free one, written to --port-file once
// it accepts connections) and follows Ollama's API (ollama/ollama
// docs/api.md): GET /api/version {"version"}, GET /api/tags {"models":
// [{name, model, ...}]}, POST /api/chat {model, messages, format, options,
// stream}.  Validation as the real server: broken JSON or a missing model
// is 400 {"error":".."}, an unknown model 404 "model \"x\" not found, try
// pulling it first"; stream defaults to true (NDJSON), as in Ollama.
//
// The answer follows the text of the last user message (one chunk of a
// page), from --script, a JSON file read on every request:
//   {"entities": [{"text": "Nordic Star", "label": "VESSEL_NAME"}, ...],
//    "extra":    [{"when": "Nordic", "text": "Atlantis", "label": "PORT"}, ...],
//    "faults":   [{"when": "SLOW PAGE", "type": "slow", "ms": 1500}, ...]}
// Every "entities" item whose text occurs in the message is returned (in
// order of first occurrence, once each), then every "extra" item whose
// "when" occurs (hallucinated texts, labels outside the labelset).
// "faults" items apply to every message containing "when" (types below).
// The answer's message.content is the JSON text {"entities": [...]}, as a
// model constrained by `format` writes it.
//
// Control (not part of Ollama's API):
//   POST /_fault?type=T&count=N[&status=S][&ms=MS]
//        queues a fault for the next N chat requests:
//          status     answer HTTP S (default 500) {"error": ..}
//          slow       answer normally after MS ms
//          hang       never answer
//          reset      close the connection without an answer
//          malformed  answer 200 with broken JSON
//          length     answer 200 with done_reason "length", content cut
//          notjson    answer 200 whose content is not JSON
//   POST /_reset    drop faults and statistics
//   GET  /stats     {chat, version, tags, bad_requests, inflight,
//                    max_inflight, requests: [{model, stream, format,
//                    options, system, content, status}]}
'use strict';

const http = require('http');
const fs = require('fs');

const { args } = require('./lib');

const opt = args(process.argv, { port: '0', models: 'llama3.3:70b,qwen2.5:7b' });
if (!opt.portFile) {
  console.error('usage: fake-ollama.js --port-file FILE [--port N] [--script FILE] [--models a,b]');
  process.exit(2);
}
const MODELS = opt.models.split(',');
const MAX_BODY = 64 << 20;

let stats, faults;
function reset() {
  stats = { chat: 0, version: 0, tags: 0, bad_requests: 0, inflight: 0, max_inflight: 0, requests: [] };
  faults = [];
}
reset();

class Bad extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

function sendJson(res, status, obj) {
  const body = Buffer.from(JSON.stringify(obj));
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': body.length });
  res.end(body);
}

function script() {
  if (!opt.script) return {};
  try {
    return JSON.parse(fs.readFileSync(opt.script, 'utf8'));
  } catch (e) {
    if (e.code === 'ENOENT') return {};
    throw e;
  }
}

function checkNumber(v, name, lo, hi, int) {
  if (v === undefined) return;
  if (typeof v !== 'number' || !isFinite(v) || v < lo || v > hi || (int && !Number.isInteger(v)))
    throw new Bad(400, `option ${name} must be ${int ? 'an integer' : 'a number'}`);
}

function parseChat(req) {
  if (typeof req !== 'object' || req === null || Array.isArray(req)) throw new Bad(400, 'invalid request body');
  if (typeof req.model !== 'string' || !req.model) throw new Bad(400, 'model is required');
  if (!MODELS.includes(req.model)) throw new Bad(404, `model "${req.model}" not found, try pulling it first`);
  if (!Array.isArray(req.messages)) throw new Bad(400, 'messages is required');
  if (req.stream !== undefined && typeof req.stream !== 'boolean') throw new Bad(400, 'stream must be a boolean');
  if (req.format !== undefined && req.format !== 'json' && (typeof req.format !== 'object' || req.format === null || Array.isArray(req.format)))
    throw new Bad(400, 'invalid format: expected "json" or a JSON schema');
  if (req.options !== undefined) {
    if (typeof req.options !== 'object' || req.options === null || Array.isArray(req.options)) throw new Bad(400, 'options must be an object');
    checkNumber(req.options.temperature, 'temperature', 0, 2, false);
    checkNumber(req.options.seed, 'seed', -(2 ** 31), 2 ** 31, true);
    checkNumber(req.options.num_ctx, 'num_ctx', 1, 1 << 20, true);
    checkNumber(req.options.num_predict, 'num_predict', -2, 1 << 20, true);
  }
  let system = null, content = null;
  for (const [i, m] of req.messages.entries()) {
    if (typeof m !== 'object' || m === null || !['system', 'user', 'assistant', 'tool'].includes(m.role))
      throw new Bad(400, `messages[${i}]: invalid role`);
    if (typeof m.content !== 'string') throw new Bad(400, `messages[${i}]: content must be a string`);
    if (m.role === 'system') system = m.content;
    if (m.role === 'user') content = m.content;
  }
  if (content === null) throw new Bad(400, 'no user message');
  return { model: req.model, stream: req.stream !== false, format: req.format, options: req.options, system, content };
}

function entitiesFor(content) {
  const s = script();
  const found = [];
  for (const e of s.entities || []) {
    const at = content.indexOf(e.text);
    if (at >= 0) found.push({ at, e: { text: e.text, label: e.label } });
  }
  found.sort((a, b) => a.at - b.at);
  const out = found.map((x) => x.e);
  for (const e of s.extra || []) if (content.includes(e.when)) out.push({ text: e.text, label: e.label });
  return out;
}

function answer(res, p, content, reason) {
  const now = new Date().toISOString();
  const final = {
    model: p.model, created_at: now, message: { role: 'assistant', content }, done_reason: reason, done: true,
    total_duration: 500000000, load_duration: 1000000, prompt_eval_count: 100 + Math.ceil(p.content.length / 3),
    prompt_eval_duration: 100000000, eval_count: Math.ceil(content.length / 3), eval_duration: 300000000,
  };
  if (!p.stream) {
    sendJson(res, 200, final);
    return;
  }
  res.writeHead(200, { 'Content-Type': 'application/x-ndjson' });
  res.write(JSON.stringify({ model: p.model, created_at: now, message: { role: 'assistant', content }, done: false }) + '\n');
  final.message.content = '';
  res.end(JSON.stringify(final) + '\n');
}

function handleChat(req, res, body) {
  let p;
  try {
    let json;
    try {
      json = JSON.parse(body.toString('utf8'));
    } catch (e) {
      throw new Bad(400, 'invalid character in request body');
    }
    p = parseChat(json);
  } catch (e) {
    if (!(e instanceof Bad)) throw e;
    stats.bad_requests++;
    sendJson(res, e.status, { error: e.message });
    return;
  }
  stats.chat++;
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
  const rec = { model: p.model, stream: p.stream, format: p.format, options: p.options, system: p.system, content: p.content, status: 0 };
  stats.requests.push(rec);

  let f = faults.find((x) => x.count > 0);
  if (f) f.count--;
  if (!f) f = (script().faults || []).find((x) => p.content.includes(x.when)) || null;
  const type = f ? f.type : null;
  const go = () => {
    if (type === 'status') {
      rec.status = f.status || 500;
      sendJson(res, rec.status, { error: `fake fault: HTTP ${rec.status}` });
    } else if (type === 'hang') {
      // never answers
    } else if (type === 'reset') {
      req.socket.destroy();
    } else if (type === 'malformed') {
      rec.status = 200;
      const broken = '{"model":"x","message":{"role":"assistant","content":"{\\"ent';
      res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(broken) });
      res.end(broken);
    } else if (type === 'length') {
      rec.status = 200;
      answer(res, p, '{"entities": [{"text": "Nor', 'length');
    } else if (type === 'notjson') {
      rec.status = 200;
      answer(res, p, 'Sure! Here are the entities: Nordic Star (VESSEL_NAME)', 'stop');
    } else {
      rec.status = 200;
      answer(res, p, JSON.stringify({ entities: entitiesFor(p.content) }), 'stop');
    }
  };
  const wait = type === 'slow' ? Number(f.ms || 1000) : 0;
  if (wait > 0) setTimeout(go, wait);
  else go();
}

function control(req, res, url) {
  const q = url.searchParams;
  if (req.method === 'GET' && url.pathname === '/api/version') {
    stats.version++;
    sendJson(res, 200, { version: '0.5.7' });
  } else if (req.method === 'GET' && url.pathname === '/api/tags') {
    stats.tags++;
    sendJson(res, 200, {
      models: MODELS.map((m) => ({
        name: m, model: m, modified_at: '2026-11-01T10:00:00Z', size: 42520413916, digest: 'a6eb4748fd29',
        details: { format: 'gguf', family: 'llama', parameter_size: '70.6B', quantization_level: 'Q4_K_M' },
      })),
    });
  } else if (req.method === 'GET' && url.pathname === '/stats') {
    sendJson(res, 200, stats);
  } else if (req.method === 'POST' && url.pathname === '/_fault') {
    const type = q.get('type');
    if (!['status', 'slow', 'hang', 'reset', 'malformed', 'length', 'notjson'].includes(type)) {
      sendJson(res, 400, { error: `unknown fault type ${JSON.stringify(type)}` });
      return;
    }
    faults.push({ type, count: Number(q.get('count') || 1), status: Number(q.get('status') || 500), ms: Number(q.get('ms') || 1000) });
    sendJson(res, 200, { ok: true });
  } else if (req.method === 'POST' && url.pathname === '/_reset') {
    reset();
    sendJson(res, 200, { ok: true });
  } else {
    sendJson(res, 404, { error: `no route ${req.method} ${url.pathname}` });
  }
}

const server = http.createServer((req, res) => {
  const url = new URL(req.url, 'http://127.0.0.1');
  if (url.pathname !== '/api/chat') {
    control(req, res, url);
    return;
  }
  if (req.method !== 'POST') {
    sendJson(res, 405, { error: 'method not allowed' });
    return;
  }
  const chunks = [];
  let size = 0;
  req.on('data', (c) => {
    size += c.length;
    if (size > MAX_BODY) {
      sendJson(res, 413, { error: 'request body too large' });
      req.destroy();
      return;
    }
    chunks.push(c);
  });
  req.on('end', () => {
    if (size <= MAX_BODY) handleChat(req, res, Buffer.concat(chunks));
  });
});
server.keepAliveTimeout = 5000;
server.listen(Number(opt.port), '127.0.0.1', () => {
  fs.writeFileSync(opt.portFile + '.tmp', String(server.address().port));
  fs.renameSync(opt.portFile + '.tmp', opt.portFile);
});
for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => process.exit(0));
