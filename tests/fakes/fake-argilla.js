#!/usr/bin/env node
// fake-argilla.js: a stand-in for an Argilla 2.x server (argilla-server's
// /api/v1), for the tests of `apflow push` and `apflow pull`.  Node only, no
// npm packages.
//
//   node fake-argilla.js --port-file FILE [--port N] [--api-key KEY]
//                        [--username argilla] [--workspace argilla] [--seed N]
//
// It listens on 127.0.0.1 (port 0: a free one, written to --port-file once
// it accepts connections).  The owner (role "owner") has --api-key (default
// "argilla.apikey") and one workspace.  It implements the routes apflow
// uses, plus POST /api/v1/records/{id}/responses for tests that play
// annotators, with the real server's validation rules and error bodies
// (reference: argilla-server/src/argilla_server/{api,validators,contexts}):
//   - 401 {"detail":{"code":"argilla.api.errors::UnauthorizedError",...}}
//     without a valid X-Argilla-Api-Key; 403 for annotators on owner routes;
//   - 404/409/422 {"detail":"<message>"} with the server's messages;
//     request-shape errors (pydantic) 422 {"detail":{"code":
//     "argilla.api.errors::ValidationError","params":{"errors":[...]}}};
//   - publish rules; fields and questions only before publish; lowercase
//     names; span options and visible_options;
//   - records bulk: published dataset, 1..500 items, all-or-nothing 422
//     "Record at position i is not valid because ...", code-point span
//     bounds, labels, overlaps, score-list length, float metadata ("'3' is
//     not a float." for a JSON integer), agent pattern; PUT upserts by
//     external_id then id, fields immutable once created; record status
//     completed iff #submitted responses >= distribution.min_submitted.
//
// Control (not part of Argilla's API; no key needed):
//   POST /_users          {"username","role","api_key"} -> the new user
//   POST /_config?delay_ms=&error_rate=&retry_rate=&retry_after=&reset_rate=
//                 &commit_timeout_rate=&hang_ms=&fault_paths=REGEX
//        random faults on requests whose path matches fault_paths (default
//        "/records"): error_rate answers 500, 502 or 503 (nothing written),
//        retry_rate 429 with Retry-After, reset_rate drops the connection
//        (nothing written), commit_timeout_rate does the work and then does
//        not answer for hang_ms (default 30000) before dropping the
//        connection; delay_ms delays every API answer
//   POST /_fault?type=status|retry|reset|hang|commit_hang|reject&count=N
//        [&status=S][&retry_after=SEC][&position=I&detail=TEXT]  queues faults
//        for the next N matching requests (reject: a 422 "Record at position
//        I is not valid because TEXT", as the server's validators say)
//   POST /_reset          drops faults, delay and statistics (not data)
//   GET  /_stats          counters: requests, by_status, bulk_requests, list_requests,
//                         busy_ms (time spent answering, delays not counted),
//                         cpu_ms (the process's CPU time since it started),
//                         records_created, records_updated, faults, max_inflight
//   GET  /_records?dataset=NAME   every record of the dataset, with
//                         responses and suggestions
'use strict';

const http = require('http');
const fs = require('fs');
const crypto = require('crypto');

const { args } = require('./lib');

const opt = args(process.argv, { port: '0', apiKey: 'argilla.apikey', username: 'argilla', workspace: 'argilla' });
if (!opt.portFile) {
  console.error('usage: fake-argilla.js --port-file FILE [--port N] [--api-key KEY]');
  process.exit(2);
}

const NAME_RE = /^(?=.*[a-z0-9])[a-z0-9_-]+$/;
const AGENT_RE = /^(?=.*[a-zA-Z0-9])[a-zA-Z0-9\-_:./\s]+$/;
const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const MAX_BODY = 256 << 20;

function now() {
  return new Date().toISOString().replace('Z', '').padEnd(26, '0');
}
// Ids: version-4-shaped UUIDs, a random prefix per process and a 48-bit
// counter, put through a bijection (three Feistel rounds on its halves) so
// that they do not look sequential; unique within the process.
// crypto.randomUUID cost microseconds a call here (its entropy refills),
// and a bulk request takes two per record.
const idRand = crypto.randomBytes(16);
const idHex = idRand.toString('hex');
const idPrefix = `${idHex.slice(0, 8)}-${idHex.slice(8, 12)}-4${idHex.slice(12, 15)}-${'89ab'[idRand[8] & 3]}${idHex.slice(17, 20)}-`;
const idKeys = [idRand.readUInt32LE(10), idRand.readUInt32LE(11), idRand.readUInt32LE(12)];
let idCount = idRand.readUIntLE(13, 3) * 2 ** 24;
// written into a buffer and read back as one flat string (fewer objects
// for the garbage collector to move than a concatenation's)
const idBuf = Buffer.from(idPrefix + '000000000000', 'latin1');
const HEXC = Buffer.from('0123456789abcdef', 'latin1');
function hex6(x, at) {
  for (let k = 5; k >= 0; k--) {
    idBuf[at + k] = HEXC[x & 15];
    x >>>= 4;
  }
}
function uuid() {
  idCount = (idCount + 1) % 2 ** 48;
  let hi = Math.floor(idCount / 2 ** 24);
  let lo = idCount % 2 ** 24;
  for (let r = 0; r < 3; r++) {
    const f = (Math.imul(lo ^ idKeys[r], 0x9e3779b1) >>> 8) & 0xffffff;
    const t = lo;
    lo = hi ^ f;
    hi = t;
  }
  hex6(hi, 24);
  hex6(lo, 30);
  return idBuf.latin1Slice(0, 36);
}
// Random faults from a seeded generator (--seed N), so a test run is repeatable.
let seed = Number(opt.seed || 0) >>> 0 || ((Math.random() * 2 ** 32) >>> 0);
function rand() {
  seed = (seed + 0x6d2b79f5) >>> 0;
  let t = seed;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}

// ---- JSON with floats kept apart from integers ----
// Python's json gives 3 and 3.0 different types and the server checks
// metadata with isinstance(value, float); JSON.parse does not keep the
// difference, so number tokens with a fraction or exponent are turned into
// marker strings first ("\u0000F3.0"), and turned back on output.
// A body without any number that could be an integer written as a float
// ("1.0", "2e3") parses as is: there a non-integer is a float and an
// integer an int, so the marking (a full scan) is needed only otherwise.
// Request bodies are first scanned once as bytes (scanBody), which tells
// whether such a number occurs; a string from elsewhere is tested with
// INTEGRAL_FLOAT (which may also match inside strings: then it only marks
// needlessly).
const FLOAT_TOKEN = /"[^"\\]*(?:\\.[^"\\]*)*"|-?\d+(?:\.\d+)?[eE][+-]?\d+|-?\d+\.\d+/g;
const INTEGRAL_FLOAT = /[:,[]\s*-?\d+(?:\.0+(?![0-9])|(?:\.\d+)?[eE])/;
let markersSeen = false;
function parseJson(text, scan) {
  if (scan ? !scan.intFloat : !INTEGRAL_FLOAT.test(text)) return JSON.parse(text);
  markersSeen = true;
  const marked = text.replace(FLOAT_TOKEN, (m) => (m[0] === '"' ? m : '"\\u0000F' + m + '"'));
  return JSON.parse(marked);
}

// One pass over the bytes of a request body, string contents skipped with
// indexOf, that finds:
//  - whether any number is an integral float (parseJson marks floats then);
//  - for a body that is exactly {"items":[...]} (a bulk request), the byte
//    range of every item and of its "fields" value, and per item whether it
//    has an integral float and where its float tokens are (parseItem marks
//    those of that item only), where its "metadata" value is, and, when
//    "fields" is an object of plain ASCII keys whose values are strings or
//    null, where each of those values is.
//    Each item is then parsed on its own (small strings: a 500 KB body as
//    one string lives in V8's large-object space, and those made garbage
//    collection the fake's largest cost), and a record's fields are kept,
//    and echoed, as the bytes the client sent instead of being serialised
//    and encoded again.
// The structure between the items is checked here (JSON.parse checks each
// item), so a body is accepted or refused as JSON.parse of the whole would
// do; on anything unexpected items is null and the body is parsed whole.
// A key spelt with escapes is not recognised as "items" or "fields": the
// same fallback.
function scanBody(buf) {
  const n = buf.length;
  const out = { intFloat: false, items: null };
  let pos = 0;
  let cur = null;
  let topKeys = 0;
  let ok = true;
  const ws = () => {
    while (pos < n) {
      const c = buf[pos];
      if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) pos++;
      else break;
    }
  };
  const str = () => {
    if (buf[pos] !== 0x22) throw new Error('not a string');
    let j = pos + 1;
    for (;;) {
      j = buf.indexOf(0x22, j);
      if (j < 0) throw new Error('unterminated string');
      let k = j - 1;
      while (buf[k] === 0x5c) k--;
      if ((j - 1 - k) % 2 === 0) break;
      j++;
    }
    pos = j + 1;
  };
  const expect = (c) => {
    ws();
    if (buf[pos] !== c) throw new Error('unexpected byte');
    pos++;
  };
  // role: 0 any value, 1 the body, 2 its "items", 3 one item, 4 its "fields"
  const value = (role) => {
    ws();
    const c = buf[pos];
    if (c === 0x22) return str();
    if (c === 0x7b) {
      pos++;
      ws();
      if (buf[pos] === 0x7d) return void pos++;
      for (;;) {
        ws();
        const ks = pos;
        str();
        const key = role === 1 || role === 3 || role === 4 ? buf.latin1Slice(ks, pos) : null;
        if (key !== null && role !== 4 && key.includes('\\')) ok = false;
        expect(0x3a);
        ws();
        if (role === 1) topKeys++;
        if (role === 1 && key === '"items"' && buf[pos] === 0x5b) {
          out.items = [];
          value(2);
        } else if (role === 3 && key === '"fields"') {
          const vs = pos;
          if (buf[pos] === 0x7b) {
            cur.fieldValues = [];
            value(4);
          } else {
            cur.fieldValues = null;
            value(0);
          }
          cur.fields = [vs, pos];
        } else if (role === 3 && key === '"metadata"') {
          const vs = pos;
          value(0);
          cur.metadata = [vs, pos];
        } else if (role === 4) {
          const vs = pos;
          value(0);
          const plain = cur.fieldValues !== null && !/[^\x20-\x7e]|\\/.test(key);
          if (plain && buf[vs] === 0x22) cur.fieldValues.push(key.slice(1, -1), vs, pos, 0);
          else if (plain && pos - vs === 4 && buf.latin1Slice(vs, pos) === 'null') cur.fieldValues.push(key.slice(1, -1), -1, -1, 0);
          else cur.fieldValues = null;
        } else {
          value(0);
        }
        ws();
        const e = buf[pos++];
        if (e === 0x7d) return;
        if (e !== 0x2c) throw new Error('unexpected byte');
      }
    }
    if (c === 0x5b) {
      pos++;
      ws();
      if (buf[pos] === 0x5d) return void pos++;
      for (;;) {
        if (role === 2) {
          ws();
          cur = { start: pos, end: 0, fields: null, fieldValues: null, metadata: null, intFloat: false, floats: [] };
          out.items.push(cur);
          value(3);
          cur.end = pos;
          cur = null;
        } else {
          value(0);
        }
        ws();
        const e = buf[pos++];
        if (e === 0x5d) return;
        if (e !== 0x2c) throw new Error('unexpected byte');
      }
    }
    // a number, true, false or null (JSON.parse of the item checks it)
    const s = pos;
    let dot = -1;
    let exp = false;
    while (pos < n) {
      const d = buf[pos];
      if (d === 0x2c || d === 0x7d || d === 0x5d || d <= 0x20) break;
      if (d === 0x2e) dot = pos;
      else if (d === 0x65 || d === 0x45) exp = true;
      pos++;
    }
    if (pos === s) throw new Error('no value');
    if (c === 0x74 || c === 0x66) return; // "true", "false"
    let intFloat = exp;
    if (!exp && dot >= 0) {
      let z = dot + 1;
      while (z < pos && buf[z] === 0x30) z++;
      if (z === pos) intFloat = true;
    }
    if (intFloat) out.intFloat = true;
    if (cur !== null && (exp || dot >= 0)) {
      if (intFloat) cur.intFloat = true;
      cur.floats.push(s, pos);
    }
  };
  try {
    ws();
    if (buf[pos] !== 0x7b) ok = false;
    value(1);
    ws();
    if (pos !== n) ok = false;
  } catch (e) {
    ok = false;
    out.intFloat = true;
  }
  if (!ok || topKeys !== 1) out.items = null;
  return out;
}

// One bulk item (x, from scanBody) of the body buf, parsed.
// When the item's fields are an object of strings (or nulls) under plain
// keys (x.fieldValues: name, start, end, info for each), their strings are
// not parsed: each is checked as JSON.parse would check it (textScan: no
// control character; one with a backslash is parsed on its own, which
// checks its escapes) and the item is parsed with "" in their place
// (x.byteFields); the span checks take the text from the bytes (fieldText).
// The rest of the item is decoded as Latin-1 when it is ASCII (a copy, not
// a UTF-8 decoding), else as UTF-8.  Float tokens are marked in items that
// have an integral float (x.intFloat), from the token positions of the
// scan; a token that is not a valid JSON number is left for JSON.parse to
// refuse.
const { isUtf8 } = require('buffer');
const NUMBER_RE = /^-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?$/;
// The bytes [s, e) of a JSON string's content: -1 when one is a control
// character or a backslash, else the number of UTF-8 continuation bytes
// (10xxxxxx) among them.  Four bytes at a time through w32, a Uint32Array
// on buf's memory when buf starts at a multiple of 4 (else null).
function textScan(buf, w32, s, e) {
  let cont = 0;
  let i = s;
  const head = w32 === null ? e : Math.min(e, (s + 3) & ~3);
  for (; i < head; i++) {
    const c = buf[i];
    if (c < 0x20 || c === 0x5c) return -1;
    if ((c & 0xc0) === 0x80) cont++;
  }
  if (w32 === null) return cont;
  const we = e >> 2;
  for (let k = i >> 2; k < we; k++) {
    const w = w32[k];
    const u = w ^ 0x5c5c5c5c;
    // a byte < 0x20 or == 0x5c (the "hasless" and "haszero" bit tricks)
    if ((((w - 0x20202020) & ~w) | ((u - 0x01010101) & ~u)) & 0x80808080) return -1;
    const c = w & ~(w << 1) & 0x80808080;
    cont += Math.imul(c >>> 7, 0x01010101) >>> 24;
  }
  for (i = Math.max(i, we << 2); i < e; i++) {
    const c = buf[i];
    if (c < 0x20 || c === 0x5c) return -1;
    if ((c & 0xc0) === 0x80) cont++;
  }
  return cont;
}
// Whether the bytes [s, e) are ASCII, four at a time as textScan does
// (isAscii on a subarray made an object for every stretch).
function asciiRange(buf, w32, s, e) {
  let i = s;
  const head = w32 === null ? e : Math.min(e, (s + 3) & ~3);
  for (; i < head; i++) if (buf[i] >= 0x80) return false;
  if (w32 === null) return true;
  const we = e >> 2;
  for (let k = i >> 2; k < we; k++) if (w32[k] & 0x80808080) return false;
  for (i = Math.max(i, we << 2); i < e; i++) if (buf[i] >= 0x80) return false;
  return true;
}
const words = new WeakMap();
function parseItem(buf, x) {
  const v = x.fieldValues;
  x.byteFields = v !== null && v.length > 0;
  let w32 = words.get(buf);
  if (w32 === undefined) words.set(buf, (w32 = buf.byteOffset % 4 === 0 ? new Uint32Array(buf.buffer, buf.byteOffset, buf.length >> 2) : null));
  // the stretches to copy and what goes between them: [from, to, insert]...
  const cuts = [];
  if (x.byteFields) {
    for (let k = 0; k < v.length; k += 4) {
      if (v[k + 1] < 0) continue;
      let cont = textScan(buf, w32, v[k + 1] + 1, v[k + 2] - 1);
      if (cont < 0) {
        // a control character (JSON.parse refuses it) or escapes (checked here)
        const t = JSON.parse(buf.toString('utf8', v[k + 1], v[k + 2]));
        cont = -1 - t.length; // -1 - its length in UTF-16 units
      }
      v[k + 3] = cont;
      cuts.push(v[k + 1], v[k + 2], '""');
    }
  }
  if (x.intFloat) {
    markersSeen = true;
    const f = x.floats;
    const fc = [];
    for (let k = 0; k < f.length; k += 2) {
      const tok = buf.latin1Slice(f[k], f[k + 1]);
      if (NUMBER_RE.test(tok)) fc.push(f[k], f[k + 1], '"\\u0000F' + tok + '"');
    }
    // both in order, and no float inside a field's string: merge
    if (cuts.length === 0) cuts.push(...fc);
    else if (fc.length) {
      const all = [];
      let i = 0;
      let j = 0;
      while (i < cuts.length || j < fc.length)
        if (j >= fc.length || (i < cuts.length && cuts[i] < fc[j])) all.push(cuts[i], cuts[i + 1], cuts[(i += 3) - 1]);
        else all.push(fc[j], fc[j + 1], fc[(j += 3) - 1]);
      cuts.length = 0;
      cuts.push(...all);
    }
  }
  let latin1 = true;
  let p = x.start;
  for (let k = 0; latin1 && k <= cuts.length; k += 3) {
    const to = k < cuts.length ? cuts[k] : x.end;
    latin1 = asciiRange(buf, w32, p, to);
    p = cuts[k + 1];
  }
  const dec = (a, b) => (latin1 ? buf.latin1Slice(a, b) : buf.toString('utf8', a, b));
  if (cuts.length === 0) return JSON.parse(dec(x.start, x.end));
  let text = '';
  p = x.start;
  for (let k = 0; k < cuts.length; k += 3) {
    text += dec(p, cuts[k]) + cuts[k + 2];
    p = cuts[k + 1];
  }
  return JSON.parse(text + dec(p, x.end));
}

const isFloatTok = (v) => (typeof v === 'string' && v.startsWith('\u0000F')) || (typeof v === 'number' && !Number.isInteger(v));
const isNumber = (v) => typeof v === 'number' || isFloatTok(v);
const numVal = (v) => (typeof v === 'string' ? Number(v.slice(2)) : v);
const isInt = (v) => typeof v === 'number' && Number.isInteger(v);
function toJson(obj) {
  const s = JSON.stringify(obj);
  return markersSeen && s.includes('\\u0000F') ? s.replace(/"\\u0000F([^"]*)"/g, '$1') : s;
}
function pyRepr(v) {
  if (typeof v === 'string' && v.startsWith('\u0000F')) return v.slice(2);
  if (typeof v === 'string') return v;
  return JSON.stringify(v);
}
function pyType(v) {
  if (v === null) return 'NoneType';
  if (Array.isArray(v)) return 'list';
  if (typeof v === 'string' && v.startsWith('\u0000F')) return 'float';
  if (typeof v === 'number') return Number.isInteger(v) ? 'int' : 'float';
  if (typeof v === 'string') return 'str';
  if (typeof v === 'boolean') return 'bool';
  return 'dict';
}

// ---- state ----
const users = new Map();
const byKey = new Map();
const workspaces = [];
const datasets = new Map();

function addUser(username, role, key) {
  const u = { id: uuid(), first_name: username, last_name: null, username, role, api_key: key, inserted_at: now(), updated_at: now() };
  users.set(u.id, u);
  byKey.set(key, u);
  return u;
}
addUser(opt.username, 'owner', opt.apiKey);
workspaces.push({ id: uuid(), name: opt.workspace, inserted_at: now(), updated_at: now() });

let stats, faults, conf;
function reset() {
  stats = { busy_ms: 0, list_requests: 0, requests: 0, by_status: {}, bulk_requests: 0, records_created: 0, records_updated: 0, faults: {}, inflight: 0, max_inflight: 0 };
  faults = [];
  conf = { delayMs: 0, errorRate: 0, retryRate: 0, retryAfter: 1, resetRate: 0, commitTimeoutRate: 0, hangMs: 30000, faultPaths: /\/records/ };
}
reset();

class Fail extends Error {
  constructor(status, detail, headers) {
    super(typeof detail === 'string' ? detail : JSON.stringify(detail));
    this.status = status;
    this.detail = detail;
    this.headers = headers;
  }
}
const E = {
  unauthorized: () => new Fail(401, { code: 'argilla.api.errors::UnauthorizedError', params: { detail: 'Could not validate credentials' } }),
  forbidden: () => new Fail(403, { code: 'argilla.api.errors::ForbiddenOperationError', params: { detail: 'Operation not allowed' } }),
  notFound: (m) => new Fail(404, m),
  conflict: (m) => new Fail(409, m),
  unprocessable: (m) => new Fail(422, m),
  pydantic: (errors) => new Fail(422, { code: 'argilla.api.errors::ValidationError', params: { errors } }),
};
function pyErr(loc, msg, type) {
  return E.pydantic([{ loc, msg, type: type || 'value_error' }]);
}

function reqStr(body, key, loc, min, max) {
  const v = body[key];
  if (v === undefined) throw pyErr([...loc, key], 'field required', 'value_error.missing');
  if (typeof v !== 'string') throw pyErr([...loc, key], 'str type expected', 'type_error.str');
  if (v.length < min) throw pyErr([...loc, key], `ensure this value has at least ${min} characters`, 'value_error.any_str.min_length');
  if (v.length > max) throw pyErr([...loc, key], `ensure this value has at most ${max} characters`, 'value_error.any_str.max_length');
  return v;
}
function checkName(body, loc) {
  const n = reqStr(body, 'name', loc, 1, 200);
  if (!NAME_RE.test(n)) throw pyErr([...loc, 'name'], `string does not match regex "${NAME_RE.source}"`, 'value_error.str.regex');
  return n;
}

function dsOut(d) {
  return {
    id: d.id, name: d.name, guidelines: d.guidelines, allow_extra_metadata: d.allow_extra_metadata, status: d.status,
    distribution: d.distribution, workspace_id: d.workspace_id, last_activity_at: d.updated_at, inserted_at: d.inserted_at, updated_at: d.updated_at,
  };
}
function getDataset(id) {
  const d = datasets.get(id);
  if (!d) throw E.notFound(`Dataset with id \`${id}\` not found`);
  return d;
}
function needOwner(user) {
  if (user.role === 'annotator') throw E.forbidden();
}

// ---- span values ----
// What the span checks need of the text in field `name` of a record: null
// when it is not a string, else a lower bound of its length in code points
// (Python's len()), which settles the spans that end below it, and, on
// demand, that length (fieldLength).
// A stored record's text is parsed from its bytes (fieldsOf): a text of L
// UTF-16 units has at least L / 2 code points.  A record being created
// from a bulk item whose fields' strings were not parsed (parseItem:
// record.x.byteFields) has them in the body's bytes, with what textScan
// found: the number of continuation bytes; the other bytes each start a
// code point, a character or a replacement character (U+FFFD) when they
// are not valid UTF-8, so they are a lower bound, and the length when the
// bytes are valid UTF-8; or, for a string with escapes, its length in
// UTF-16 units (as -1 - length), decoded again when needed.
// (A record being created is {fields, x, raw}: no fsrc.)
const byteText = (record) => record.fsrc === undefined && record.x !== null && record.x.byteFields === true;
function fieldValue(record, name) {
  const v = record.x.fieldValues;
  let k = v.length - 4;
  while (v[k] !== name) k -= 4; // the last one, as JSON.parse keeps
  return k;
}
function fieldText(record, name) {
  if (byteText(record)) {
    if (typeof record.fields[name] !== 'string') return null;
    const v = record.x.fieldValues;
    const k = fieldValue(record, name);
    return v[k + 3] >= 0 ? v[k + 2] - v[k + 1] - 2 - v[k + 3] : Math.ceil((-1 - v[k + 3]) / 2);
  }
  const text = record.fsrc === undefined ? record.fields[name] : fieldsOf(record)[name];
  if (typeof text !== 'string') return null;
  return Math.ceil(text.length / 2);
}
const lengths = new WeakMap();
function fieldLength(record, name) {
  let cps = lengths.get(record);
  if (cps === undefined) lengths.set(record, (cps = new Map()));
  let n = cps.get(name);
  if (n !== undefined) return n;
  let text = null;
  if (byteText(record)) {
    const v = record.x.fieldValues;
    const k = fieldValue(record, name);
    if (v[k + 3] >= 0 && isUtf8(record.raw.subarray(v[k + 1] + 1, v[k + 2] - 1))) n = v[k + 2] - v[k + 1] - 2 - v[k + 3];
    else text = JSON.parse(record.raw.toString('utf8', v[k + 1], v[k + 2]));
  } else {
    text = record.fsrc === undefined ? record.fields[name] : fieldsOf(record)[name];
  }
  if (text !== null) {
    n = text.length;
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length) {
        const d = text.charCodeAt(i + 1);
        if (d >= 0xdc00 && d <= 0xdfff) {
          n--;
          i++;
        }
      }
    }
  }
  cps.set(name, n);
  return n;
}
const labelSets = new WeakMap();
function labelSet(settings) {
  let l = labelSets.get(settings);
  if (!l) labelSets.set(settings, (l = new Set(settings.options.map((o) => o.value))));
  return l;
}
// Whether two spans overlap: then (and only then) the pairs are searched
// in the server's order for its message.  Sorted by start, an overlapping
// pair implies an overlapping neighbour.
function anyOverlap(value) {
  if (value.length === 2) return value[0].start < value[1].end && value[0].end > value[1].start;
  const v = value.slice().sort((a, b) => a.start - b.start);
  for (let i = 1; i < v.length; i++) if (v[i].start < v[i - 1].end) return true;
  return false;
}
function spanErrors(value, record, settings) {
  if (!Array.isArray(value)) return `span question expects a list of values, found ${pyType(value)}`;
  const sure = fieldText(record, settings.field);
  if (sure === null) return `span question requires record to have field \`${settings.field}\``;
  for (const item of value) {
    if (item === null || typeof item !== 'object' || typeof item.label !== 'string' || !isInt(item.start) || !isInt(item.end))
      return 'span question response value items need an integer start and end and a string label';
    if (item.start < 0) return 'ensure this value is greater than or equal to 0';
    if (item.end < 1) return 'ensure this value is greater than or equal to 1';
    if (item.end <= item.start) return 'span question response value `end` must have a value greater than `start`';
  }
  // Spans that end within the lower bound need no count.
  let len = -1;
  for (const item of value) {
    if (item.end <= sure) continue;
    if (len < 0) len = fieldLength(record, settings.field); // code points, as Python's len()
    if (item.start > len - 1)
      return `span question response value \`start\` must have a value lower than record field \`${settings.field}\` length that is \`${len}\``;
    if (item.end > len)
      return `span question response value \`end\` must have a value lower or equal than record field \`${settings.field}\` length that is \`${len}\``;
  }
  const labels = labelSet(settings);
  for (const item of value)
    if (!labels.has(item.label))
      return `undefined label '${item.label}' for span question.\nValid labels are: [${[...labels].map((l) => `'${l}'`).join(', ')}]`;
  if (!settings.allow_overlapping && value.length > 1 && anyOverlap(value)) {
    for (let i = 0; i < value.length; i++)
      for (let j = 0; j < value.length; j++)
        if (i !== j && value[i].start < value[j].end && value[i].end > value[j].start)
          return `overlapping values found between spans at index idx=${Math.min(i, j)} and idx=${Math.max(i, j)}`;
  }
  return null;
}

function valueErrors(question, value, record) {
  if (question.settings.type === 'span') return spanErrors(value, record, question.settings);
  return null;
}

function responseErrors(d, resp, record) {
  const values = resp.values;
  if (resp.status === 'submitted' && (!values || Object.keys(values).length === 0)) return 'missing response values for submitted response';
  if (resp.status === 'submitted')
    for (const q of d.questions)
      if (q.required && !(values && q.name in values)) return `missing response value for required question with name='${q.name}'`;
  for (const name of Object.keys(values || {})) {
    const q = d.questions.find((x) => x.name === name);
    if (!q) return `found response value for non configured question with name='${name}'`;
    if (!values[name] || typeof values[name] !== 'object' || !('value' in values[name])) return `missing value for question with name='${name}'`;
    const e = valueErrors(q, values[name].value, record);
    if (e) return e;
  }
  return null;
}

function termError(s, x) {
  if (typeof x !== 'string') return `'${pyRepr(x)}' is not a string.`;
  if (s.values && !s.values.includes(x)) return `'${x}' is not an allowed term.`;
  return null;
}
function metadataErrors(d, metadata) {
  if (!d.mdByName || d.mdByName.size !== d.metadata_properties.length) d.mdByName = new Map(d.metadata_properties.map((m) => [m.name, m]));
  for (const k in metadata) {
    const v = metadata[k];
    const p = d.mdByName.get(k);
    if (!p) {
      if (!d.allow_extra_metadata)
        return `'${k}' metadata property does not exists for dataset '${d.id}' and extra metadata is not allowed for this dataset`;
      continue;
    }
    if (v === null) continue;
    const s = p.settings;
    let why = null;
    if (s.type === 'terms') {
      if (!Array.isArray(v)) why = termError(s, v);
      else for (let i = 0; why === null && i < v.length; i++) why = termError(s, v[i]);
    } else if (s.type === 'integer') {
      if (!isInt(v)) why = `'${pyRepr(v)}' is not an integer.`;
      else if (s.min !== null && s.min !== undefined && v < numVal(s.min)) why = `'${v}' is less than the minimum value of '${pyRepr(s.min)}'.`;
      else if (s.max !== null && s.max !== undefined && v > numVal(s.max)) why = `'${v}' is greater than the maximum value of '${pyRepr(s.max)}'.`;
    } else if (s.type === 'float') {
      if (!isFloatTok(v)) why = `'${pyRepr(v)}' is not a float.`;
      else if (s.min !== null && s.min !== undefined && numVal(v) < numVal(s.min)) why = `'${pyRepr(v)}' is less than the minimum value of '${pyRepr(s.min)}'.`;
      else if (s.max !== null && s.max !== undefined && numVal(v) > numVal(s.max)) why = `'${pyRepr(v)}' is greater than the maximum value of '${pyRepr(s.max)}'.`;
    }
    if (why !== null) return `'${k}' metadata property validation failed because ${why}`;
  }
  return null;
}

function suggestionErrors(d, suggestions, record) {
  if (suggestions.length > 1) {
    const seen = new Set();
    for (const s of suggestions) {
      if (seen.has(s.question_id)) return 'found duplicate suggestions question IDs';
      seen.add(s.question_id);
    }
  }
  for (const s of suggestions) {
    let q = null;
    for (const x of d.questions) if (q === null && x.id === s.question_id) q = x;
    if (!q) return `question id=${s.question_id} does not exists`;
    const e = valueErrors(q, s.value, record);
    if (e) return e;
    if (s.score !== null && s.score !== undefined) {
      if (Array.isArray(s.value) && !Array.isArray(s.score)) return 'a single score value is not allowed for a suggestion with a multiple items value';
      if (!Array.isArray(s.value) && Array.isArray(s.score)) return 'a list of score values is not allowed for a suggestion with a single value';
      if (Array.isArray(s.score) && s.score.length !== s.value.length) return "number of items on value and score attributes doesn't match";
    }
  }
  return null;
}

// Pydantic-level checks of one bulk item (RecordUpsert / RecordCreate).
// The error locations are made only for an error.
const RESPONSE_STATUSES = new Set(['draft', 'submitted', 'discarded']);
const itemLoc = (i, ...rest) => ['body', 'items', i, ...rest];
function checkItemShape(item, i) {
  if (item === null || typeof item !== 'object' || Array.isArray(item)) throw pyErr(itemLoc(i), 'value is not a valid dict', 'type_error.dict');
  const fields = item.fields;
  if (fields !== undefined && fields !== null) {
    if (typeof fields !== 'object' || Array.isArray(fields)) throw pyErr(itemLoc(i, 'fields'), 'value is not a valid dict', 'type_error.dict');
    for (const k in fields) {
      const v = fields[k];
      if (v !== null && typeof v !== 'string') throw pyErr(itemLoc(i, 'fields', k), 'str type expected', 'type_error.str');
    }
  }
  if (item.external_id !== undefined && item.external_id !== null && typeof item.external_id !== 'string')
    throw pyErr(itemLoc(i, 'external_id'), 'str type expected', 'type_error.str');
  if (item.id !== undefined && item.id !== null && !UUID_RE.test(String(item.id))) throw pyErr(itemLoc(i, 'id'), 'value is not a valid uuid', 'type_error.uuid');
  if (item.metadata !== undefined && item.metadata !== null && (typeof item.metadata !== 'object' || Array.isArray(item.metadata)))
    throw pyErr(itemLoc(i, 'metadata'), 'value is not a valid dict', 'type_error.dict');
  const suggestions = item.suggestions || [];
  if (!Array.isArray(suggestions)) throw pyErr(itemLoc(i, 'suggestions'), 'value is not a valid list', 'type_error.list');
  for (let j = 0; j < suggestions.length; j++) {
    const s = suggestions[j];
    if (!s || typeof s !== 'object') throw pyErr(itemLoc(i, 'suggestions', j), 'value is not a valid dict', 'type_error.dict');
    if (!UUID_RE.test(String(s.question_id))) throw pyErr(itemLoc(i, 'suggestions', j, 'question_id'), 'value is not a valid uuid', 'type_error.uuid');
    if (s.type !== undefined && s.type !== null && s.type !== 'model' && s.type !== 'human')
      throw pyErr(itemLoc(i, 'suggestions', j, 'type'), "value is not a valid enumeration member; permitted: 'model', 'human'", 'type_error.enum');
    if (s.agent !== undefined && s.agent !== null) {
      if (typeof s.agent !== 'string') throw pyErr(itemLoc(i, 'suggestions', j, 'agent'), 'str type expected', 'type_error.str');
      if (s.agent.length < 1 || s.agent.length > 200)
        throw pyErr(itemLoc(i, 'suggestions', j, 'agent'), 'ensure this value has at most 200 characters', 'value_error.any_str.max_length');
      if (!AGENT_RE.test(s.agent)) throw pyErr(itemLoc(i, 'suggestions', j, 'agent'), `string does not match regex "${AGENT_RE.source}"`, 'value_error.str.regex');
    }
    if (s.score !== undefined && s.score !== null) {
      const list = Array.isArray(s.score);
      if (list && s.score.length < 1) throw pyErr(itemLoc(i, 'suggestions', j, 'score'), 'ensure this value has at least 1 items', 'value_error.list.min_items');
      const n = list ? s.score.length : 1;
      for (let k = 0; k < n; k++) {
        const x = list ? s.score[k] : s.score;
        if (!isNumber(x)) throw pyErr(itemLoc(i, 'suggestions', j, 'score'), 'value is not a valid float', 'type_error.float');
        if (numVal(x) < 0 || numVal(x) > 1) throw pyErr(itemLoc(i, 'suggestions', j, 'score'), 'ensure this value is less than or equal to 1', 'value_error.number.not_le');
      }
    }
  }
  const responses = item.responses || [];
  if (!Array.isArray(responses)) throw pyErr(itemLoc(i, 'responses'), 'value is not a valid list', 'type_error.list');
  for (let j = 0; j < responses.length; j++) {
    const r = responses[j];
    if (!RESPONSE_STATUSES.has(r && r.status))
      throw pyErr(itemLoc(i, 'responses', j, 'status'), "value is not a valid enumeration member; permitted: 'draft', 'submitted', 'discarded'", 'type_error.enum');
    if (!UUID_RE.test(String(r.user_id))) throw pyErr(itemLoc(i, 'responses', j, 'user_id'), 'value is not a valid uuid', 'type_error.uuid');
  }
}

// A dataset's records: d.list in insertion order (a listing page is a
// slice), d.byExt external_id -> record, and d.byIdMap id -> record, made
// on first use (upserts by id, responses, deletes; a push needs none).
const recordList = (d) => d.list;
function byId(d) {
  if (d.byIdMap === null) {
    d.byIdMap = new Map();
    for (const r of d.list) d.byIdMap.set(r.id, r);
  }
  return d.byIdMap;
}

function recordStatus(d, r) {
  let n = 0;
  if (r.responses !== null) for (const resp of r.responses.values()) if (resp.status === 'submitted') n++;
  return n >= d.distribution.min_submitted ? 'completed' : 'pending';
}

// A stored record is small on the JS heap: the fake holds every record in
// memory, and kilobytes of text per record as strings, or a dozen objects
// per record, made garbage collection its largest cost.  It keeps
//  - its fields as the bytes of their JSON: a range (fs, fe) of a buffer
//    (fsrc), the body of the request that created it (the bytes the client
//    sent, echoed as they are) or their serialisation; parsed again when a
//    check or an answer needs the object (fieldsOf);
//  - its metadata likewise as the bytes the client sent (msrc, ms, me), or,
//    msrc null, as JSON text (meta), serialised once when it is set;
//  - its suggestions as null, a JSON text or an array of them, one per question,
//    each the whole suggestion as the server answers it ({"id":"<uuid>",
//    "question_id":"<uuid>",...,"inserted_at":"<time>","updated_at":...}),
//    serialised once when it is set; an update takes the suggestion's id
//    and inserted_at from there (suggestionOld);
//  - its responses as null or a Map user_id -> response.
function fieldsOf(r) {
  return JSON.parse(r.fsrc.toString('utf8', r.fs, r.fe));
}
const metaText = (r) => (r.msrc === null ? r.meta : r.msrc.toString('utf8', r.ms, r.me));
// (one suggestion is kept as its string, more as an array of them)
const suggestionTexts = (r) => (r.suggestions === null ? [] : typeof r.suggestions === 'string' ? [r.suggestions] : r.suggestions);
const suggestionsOf = (r) => suggestionTexts(r).map((j) => parseJson(j));
const responsesOf = (r) => (r.responses === null ? [] : [...r.responses.values()]);
// question_id, id and inserted_at of a stored suggestion (see above; both
// ids are UUIDs, 36 characters)
const suggestionQuestion = (json) => json.slice(60, 96);
function suggestionOld(json) {
  const k = json.lastIndexOf('"inserted_at":"');
  return { id: json.slice(7, 43), inserted_at: json.slice(k + 15, json.indexOf('"', k + 15)) };
}
function recOut(r, include) {
  const o = {
    id: r.id, status: r.status, fields: fieldsOf(r), metadata: parseJson(metaText(r)), external_id: r.external_id,
    dataset_id: r.dataset_id, inserted_at: r.inserted_at, updated_at: r.updated_at,
  };
  if (include.has('responses')) o.responses = responsesOf(r);
  if (include.has('suggestions')) o.suggestions = suggestionsOf(r);
  if (include.has('vectors')) o.vectors = {};
  return o;
}
// The same as bytes, for answers with many records: one buffer where the
// text between the byte ranges (a record's fields, its metadata) is
// written, one string for each stretch, and the ranges copied, in turn.
// The buffers are reused once an answer is written out (send): a new one
// for each answer was new memory, and the page faults of filling it were a
// tenth of the fake's time.
class Raw {
  constructor(buf, len) {
    this.buf = buf;
    this.len = len;
  }
}
const answerBuffers = [];
function answerBuffer(size) {
  for (let i = 0; i < answerBuffers.length; i++)
    if (answerBuffers[i].length >= size) return answerBuffers.splice(i, 1)[0];
  let cap = 1 << 16;
  while (cap < size) cap *= 2;
  return Buffer.allocUnsafeSlow(cap);
}
function answerBufferDone(buf) {
  if (answerBuffers.length < 4 && buf.length <= 1 << 22) answerBuffers.push(buf); // at most 16 MB kept
}
function itemsRaw(records, include, tail) {
  // parts: strings, and ranges as three entries (buffer, start, end)
  const parts = [];
  let size = 0;
  let str = '{"items":[';
  const range = (b, s, e) => {
    parts.push(str, b, s, e);
    size += Buffer.byteLength(str) + (e - s);
  };
  for (let i = 0; i < records.length; i++) {
    const r = records[i];
    str += `${i ? ',' : ''}{"id":"${r.id}","status":"${r.status}","fields":`;
    range(r.fsrc, r.fs, r.fe);
    str = ',"metadata":';
    if (r.msrc !== null) {
      range(r.msrc, r.ms, r.me);
      str = '';
    } else {
      str += r.meta;
    }
    str += `,"external_id":${r.external_id === null ? 'null' : JSON.stringify(r.external_id)},"dataset_id":"${r.dataset_id}","inserted_at":"${r.inserted_at}","updated_at":"${r.updated_at}"`;
    if (include.has('responses')) str += ',"responses":' + (r.responses === null ? '[]' : toJson(responsesOf(r)));
    if (include.has('suggestions')) str += ',"suggestions":[' + (r.suggestions === null ? '' : typeof r.suggestions === 'string' ? r.suggestions : r.suggestions.join(',')) + ']';
    if (include.has('vectors')) str += ',"vectors":{}';
    str += '}';
  }
  str += ']' + (tail || '') + '}';
  parts.push(str);
  size += Buffer.byteLength(str);
  const buf = answerBuffer(size);
  let off = 0;
  for (let k = 0; k < parts.length; k += 4) {
    off += buf.utf8Write(parts[k], off);
    if (k + 1 < parts.length) off += parts[k + 1].copy(buf, off, parts[k + 2], parts[k + 3]);
  }
  return new Raw(buf, size);
}
const ALL = new Set(['responses', 'suggestions', 'vectors']);

function bulk(d, c, upsert) {
  const items = c.body.items;
  stats.bulk_requests++;
  if (!Array.isArray(items)) throw pyErr(['body', 'items'], 'value is not a valid list', 'type_error.list');
  if (items.length < 1) throw E.pydantic([{ loc: ['body', 'items'], msg: 'ensure this value has at least 1 items', type: 'value_error.list.min_items', ctx: { limit_value: 1 } }]);
  if (items.length > 500) throw E.pydantic([{ loc: ['body', 'items'], msg: 'ensure this value has at most 500 items', type: 'value_error.list.max_items', ctx: { limit_value: 500 } }]);
  for (let i = 0; i < items.length; i++) checkItemShape(items[i], i);
  if (d.status !== 'ready') throw E.unprocessable('records cannot be created for a non published dataset');
  const exts = [];
  for (const it of items) if (it.external_id !== undefined && it.external_id !== null) exts.push(it.external_id);
  if (new Set(exts).size !== exts.length) throw E.unprocessable('External IDs must be unique');
  if (!upsert) {
    const dup = exts.filter((x) => d.byExt.has(x));
    if (dup.length) throw E.unprocessable(`found records with same external ids: ${dup.join(', ')}`);
  }
  // the scan of each item (parseItem), when the body was parsed item by item
  const xs = c.scan && c.scan.items && c.scan.items.length === items.length ? c.scan.items : null;
  // Validate everything first: all or nothing.
  const plan = new Array(items.length);
  for (let i = 0; i < items.length; i++) {
    const it = items[i];
    const bad = (why) => E.unprocessable(`Record at position ${i} is not valid because ${why}`);
    let existing = null;
    if (upsert) {
      if (it.external_id !== undefined && it.external_id !== null) existing = d.byExt.get(it.external_id) || null;
      if (existing === null && it.id) existing = byId(d).get(it.id) || null;
    }
    let record;
    if (existing) {
      record = existing; // fields are immutable once created
    } else {
      const fields = it.fields || {};
      let nkeys = 0;
      let unknown = false;
      for (const k in fields) {
        nkeys++;
        if (!unknown && !d.fields.some((f) => f.name === k)) unknown = true;
      }
      if (nkeys === 0) throw bad('fields cannot be empty');
      for (const f of d.fields) if (f.required && (fields[f.name] === undefined || fields[f.name] === null)) throw bad(`missing required value for field: '${f.name}'`);
      if (unknown) {
        const names = Object.keys(fields).filter((k) => !d.fields.some((f) => f.name === k));
        throw bad(`found fields values for non configured fields: [${names.map((k) => `'${k}'`).join(', ')}]`);
      }
      // the record as the checks see it (fieldText)
      record = { fields, x: xs === null ? null : xs[i], raw: c.raw };
    }
    if (it.metadata) {
      const e = metadataErrors(d, it.metadata);
      if (e) throw bad(`metadata is not valid: ${e}`);
    }
    if (it.suggestions) {
      const e = suggestionErrors(d, it.suggestions, record);
      if (e) throw bad(`record does not have valid suggestions: ${e}`);
    }
    if (it.responses)
      for (const r of it.responses) {
        if (!users.has(r.user_id)) throw bad(`record does not have valid responses: user with id ${r.user_id} not found`);
        const e = responseErrors(d, r, record);
        if (e) throw bad(`record does not have valid responses: ${e}`);
      }
    plan[i] = existing;
  }
  // New records keep their fields and metadata in the request's body,
  // unless their fields are less than half of it (updates, mostly): then a
  // copy of the fields' bytes, so that a body is not held for a few records.
  let fieldBytes = 0;
  if (xs !== null) for (let i = 0; i < items.length; i++) if (plan[i] === null) fieldBytes += xs[i].fields[1] - xs[i].fields[0];
  const keepBody = fieldBytes * 2 >= c.raw.length;
  const out = new Array(items.length);
  const t = now();
  for (let i = 0; i < items.length; i++) {
    const it = items[i];
    let r = plan[i];
    if (r === null) {
      let fsrc, fs, fe;
      if (xs !== null && keepBody) {
        fsrc = c.raw;
        [fs, fe] = xs[i].fields;
      } else {
        fsrc = xs !== null ? Buffer.from(c.raw.subarray(xs[i].fields[0], xs[i].fields[1])) : Buffer.from(JSON.stringify(it.fields));
        fs = 0;
        fe = fsrc.length;
      }
      const mr = fsrc === c.raw ? xs[i].metadata : null;
      r = { id: uuid(), status: 'pending', fsrc, fs, fe, msrc: mr ? c.raw : null, ms: mr ? mr[0] : 0, me: mr ? mr[1] : 0,
        meta: mr ? null : it.metadata ? toJson(it.metadata) : 'null', external_id: it.external_id ?? null,
        dataset_id: d.id, inserted_at: t, updated_at: t, suggestions: null, responses: null };
      d.list.push(r);
      if (d.byIdMap !== null) d.byIdMap.set(r.id, r);
      if (r.external_id !== null) d.byExt.set(r.external_id, r);
      stats.records_created++;
    } else {
      if ('metadata' in it) {
        r.msrc = null;
        r.meta = it.metadata ? toJson(it.metadata) : 'null';
      }
      r.updated_at = t;
      stats.records_updated++;
    }
    if (it.suggestions)
      for (const s of it.suggestions) {
        const list = suggestionTexts(r);
        let k = 0;
        while (k < list.length && suggestionQuestion(list[k]) !== s.question_id) k++;
        const old = k < list.length ? suggestionOld(list[k]) : { id: uuid(), inserted_at: t };
        const json = toJson({ id: old.id, question_id: s.question_id, type: s.type ?? null, value: s.value, agent: s.agent ?? null,
          score: s.score ?? null, inserted_at: old.inserted_at, updated_at: t });
        if (list.length === 0 || (list.length === 1 && k === 0)) r.suggestions = json;
        else {
          if (typeof r.suggestions === 'string') r.suggestions = [r.suggestions];
          r.suggestions[k] = json;
        }
      }
    if (it.responses)
      for (const rs of it.responses) {
        if (r.responses === null) r.responses = new Map();
        const old = r.responses.get(rs.user_id);
        r.responses.set(rs.user_id, { id: old ? old.id : uuid(), values: rs.values ?? null, status: rs.status, record_id: r.id,
          user_id: rs.user_id, inserted_at: old ? old.inserted_at : t, updated_at: t });
      }
    r.status = recordStatus(d, r);
    out[i] = r;
  }
  d.updated_at = t;
  return itemsRaw(out, ALL);
}

// ---- routing ----
function parseInclude(q) {
  const inc = new Set();
  for (const v of q.getAll('include')) {
    if (!/^(?:(?:[^,:]+(?:,[^,:]+)*)|(?:[^,:]+:[^,:]+(?:,[^,:]+)*))$/.test(v))
      throw new Fail(422, "'include' query parameter must be of the form 'key1,key2,key3' or 'key:value1,value2,value3'");
    for (const k of v.split(':')[0].split(',')) {
      if (!ALL.has(k)) throw pyErr(['query', 'include'], "value is not a valid enumeration member; permitted: 'responses', 'suggestions', 'vectors'", 'type_error.enum');
      inc.add(k);
    }
  }
  return inc;
}

function intParam(q, name, dflt, min, max) {
  if (!q.has(name)) return dflt;
  const v = Number(q.get(name));
  if (!Number.isInteger(v)) throw pyErr(['query', name], 'value is not a valid integer', 'type_error.integer');
  if (v < min) throw pyErr(['query', name], `ensure this value is greater than or equal to ${min}`, 'value_error.number.not_ge');
  if (max !== undefined && v > max) throw pyErr(['query', name], `ensure this value is less than or equal to ${max}`, 'value_error.number.not_le');
  return v;
}

const routes = [];
function route(method, pattern, fn) {
  routes.push({ method, re: new RegExp('^' + pattern.replace(/:(\w+)/g, '(?<$1>[^/]+)') + '$'), fn });
}

route('GET', '/api/v1/me', (c) => c.user);
route('GET', '/api/v1/me/workspaces', () => ({ items: workspaces }));
route('POST', '/api/v1/workspaces', (c) => {
  needOwner(c.user);
  const n = reqStr(c.body, 'name', ['body'], 1, 200);
  if (!/^(?!-|_)[a-z0-9-_]+$/.test(n)) throw pyErr(['body', 'name'], 'string does not match regex', 'value_error.str.regex');
  if (workspaces.some((w) => w.name === n)) throw E.conflict(`Workspace with name \`${n}\` already exists`);
  const w = { id: uuid(), name: n, inserted_at: now(), updated_at: now() };
  workspaces.push(w);
  return [201, w];
});
route('GET', '/api/v1/users', (c) => {
  needOwner(c.user);
  return { items: [...users.values()].map(({ api_key, ...u }) => u) };
});
route('GET', '/api/v1/users/:id', (c) => {
  needOwner(c.user);
  const u = users.get(c.p.id);
  if (!u) throw E.notFound(`User with id \`${c.p.id}\` not found`);
  const { api_key, ...rest } = u;
  return rest;
});
route('GET', '/api/v1/me/datasets', (c) => {
  let items = [...datasets.values()];
  for (const k of ['workspace_id', 'name', 'status']) if (c.q.has(k)) items = items.filter((d) => d[k] === c.q.get(k));
  return { items: items.map(dsOut) };
});
route('GET', '/api/v1/datasets/:id', (c) => dsOut(getDataset(c.p.id)));
route('POST', '/api/v1/datasets', (c) => {
  needOwner(c.user);
  const b = c.body;
  const name = reqStr(b, 'name', ['body'], 1, 200);
  if (b.workspace_id === undefined) throw pyErr(['body', 'workspace_id'], 'field required', 'value_error.missing');
  const dist = b.distribution || { strategy: 'overlap', min_submitted: 1 };
  if (!isInt(dist.min_submitted) || dist.min_submitted < 1)
    throw pyErr(['body', 'distribution', 'min_submitted'], 'ensure this value is greater than or equal to 1', 'value_error.number.not_ge');
  if (!workspaces.some((w) => w.id === b.workspace_id)) throw E.unprocessable(`Workspace with id \`${b.workspace_id}\` not found`);
  for (const d of datasets.values())
    if (d.name === name && d.workspace_id === b.workspace_id)
      throw E.conflict(`Dataset with name \`${name}\` already exists for workspace with id \`${b.workspace_id}\``);
  const t = now();
  const d = { id: uuid(), name, guidelines: b.guidelines ?? null, allow_extra_metadata: b.allow_extra_metadata ?? true, status: 'draft',
    distribution: { strategy: 'overlap', min_submitted: dist.min_submitted }, workspace_id: b.workspace_id, inserted_at: t, updated_at: t,
    fields: [], questions: [], metadata_properties: [], list: [], byIdMap: null, byExt: new Map() };
  datasets.set(d.id, d);
  return [201, dsOut(d)];
});
route('GET', '/api/v1/datasets/:id/fields', (c) => ({ items: getDataset(c.p.id).fields }));
route('POST', '/api/v1/datasets/:id/fields', (c) => {
  needOwner(c.user);
  const d = getDataset(c.p.id);
  const name = checkName(c.body, ['body']);
  const title = reqStr(c.body, 'title', ['body'], 1, 500);
  const s = c.body.settings;
  if (!s || !['text', 'image', 'chat', 'custom'].includes(s.type)) throw pyErr(['body', 'settings'], 'discriminator type not found', 'value_error.discriminated_union');
  if (d.status === 'ready') throw E.unprocessable('Field cannot be created for a published dataset');
  if (d.fields.some((f) => f.name === name)) throw E.conflict(`Field with name \`${name}\` already exists for dataset with id \`${d.id}\``);
  const f = { id: uuid(), name, title, required: c.body.required ?? true, settings: s.type === 'text' ? { type: 'text', use_markdown: s.use_markdown ?? false } : s,
    dataset_id: d.id, inserted_at: now(), updated_at: now() };
  d.fields.push(f);
  return [201, f];
});
route('GET', '/api/v1/datasets/:id/questions', (c) => ({ items: getDataset(c.p.id).questions }));
route('POST', '/api/v1/datasets/:id/questions', (c) => {
  needOwner(c.user);
  const d = getDataset(c.p.id);
  const name = checkName(c.body, ['body']);
  const title = reqStr(c.body, 'title', ['body'], 1, 500);
  const s = c.body.settings || {};
  let settings;
  if (s.type === 'span') {
    const opts = s.options;
    if (!Array.isArray(opts) || opts.length < 1) throw pyErr(['body', 'settings', 'options'], 'ensure this value has at least 1 items', 'value_error.list.min_items');
    if (opts.length > 500) throw pyErr(['body', 'settings', 'options'], 'ensure this value has at most 500 items', 'value_error.list.max_items');
    opts.forEach((o, i) => {
      reqStr(o, 'value', ['body', 'settings', 'options', i], 1, 200);
      reqStr(o, 'text', ['body', 'settings', 'options', i], 1, 500);
    });
    const vals = opts.map((o) => o.value);
    const dups = vals.filter((v, i) => vals.indexOf(v) !== i);
    if (dups.length) throw pyErr(['body', 'settings', 'options'], `Option values must be unique, found duplicates: {${[...new Set(dups)].map((x) => `'${x}'`).join(', ')}}`);
    const vis = s.visible_options ?? null;
    if (vis !== null && (!isInt(vis) || vis < 3)) throw pyErr(['body', 'settings', 'visible_options'], 'ensure this value is greater than or equal to 3', 'value_error.number.not_ge');
    if (vis !== null && vis > opts.length)
      throw pyErr(['body', 'settings'], `the value for 'visible_options' must be less or equal to the number of items in 'options' (${opts.length})`);
    settings = { type: 'span', field: s.field, options: opts.map((o) => ({ value: o.value, text: o.text, description: o.description ?? null })),
      visible_options: vis, allow_overlapping: s.allow_overlapping ?? false, allow_character_annotation: true };
  } else if (['text', 'rating', 'label_selection', 'multi_label_selection', 'ranking'].includes(s.type)) {
    settings = s;
  } else {
    throw pyErr(['body', 'settings'], 'discriminator type not found', 'value_error.discriminated_union');
  }
  if (d.questions.some((q) => q.name === name)) throw E.conflict(`Question with name \`${name}\` already exists for dataset with id \`${d.id}\``);
  if (d.status === 'ready') throw E.unprocessable('questions cannot be created for a published dataset');
  if (settings.type === 'span') {
    if (!d.fields.some((f) => f.name === settings.field))
      throw E.unprocessable(`'${settings.field}' is not a valid field name.\nValid field names are [${d.fields.map((f) => `'${f.name}'`).join(', ')}]`);
    const used = d.questions.find((q) => q.settings.type === 'span' && q.settings.field === settings.field);
    if (used) throw E.unprocessable(`'${settings.field}' is already used by span question with id '${used.id}'`);
  }
  const q = { id: uuid(), name, title, description: c.body.description ?? null, required: c.body.required ?? true, settings, dataset_id: d.id,
    inserted_at: now(), updated_at: now() };
  d.questions.push(q);
  return [201, q];
});
route('GET', '/api/v1/me/datasets/:id/metadata-properties', (c) => ({ items: getDataset(c.p.id).metadata_properties }));
route('POST', '/api/v1/datasets/:id/metadata-properties', (c) => {
  needOwner(c.user);
  const d = getDataset(c.p.id);
  const name = checkName(c.body, ['body']);
  const title = reqStr(c.body, 'title', ['body'], 1, 500);
  const s = c.body.settings || {};
  if (!['terms', 'integer', 'float'].includes(s.type)) throw pyErr(['body', 'settings'], 'discriminator type not found', 'value_error.discriminated_union');
  if (s.type !== 'terms' && s.min !== undefined && s.min !== null && s.max !== undefined && s.max !== null && numVal(s.min) >= numVal(s.max))
    throw pyErr(['body', 'settings'], `'min' (${pyRepr(s.min)}) must be lower than 'max' (${pyRepr(s.max)})`);
  if (d.metadata_properties.some((m) => m.name === name))
    throw E.conflict(`Metadata property with name \`${name}\` already exists for dataset with id \`${d.id}\``);
  const settings = s.type === 'terms' ? { type: 'terms', values: s.values ?? null } : { type: s.type, min: s.min ?? null, max: s.max ?? null };
  const m = { id: uuid(), name, title, settings, visible_for_annotators: c.body.visible_for_annotators ?? true, dataset_id: d.id, inserted_at: now(), updated_at: now() };
  d.metadata_properties.push(m);
  return [201, m];
});
route('PUT', '/api/v1/datasets/:id/publish', (c) => {
  needOwner(c.user);
  const d = getDataset(c.p.id);
  if (d.status === 'ready') throw E.unprocessable('Dataset has already been published');
  if (d.fields.length === 0) throw E.unprocessable('Dataset cannot be published without fields');
  if (!d.questions.some((q) => q.required)) throw E.unprocessable('Dataset cannot be published without required questions');
  d.status = 'ready';
  d.updated_at = now();
  return dsOut(d);
});
route('POST', '/api/v1/datasets/:id/records/bulk', (c) => {
  needOwner(c.user);
  return [201, bulk(getDataset(c.p.id), c, false)];
});
route('PUT', '/api/v1/datasets/:id/records/bulk', (c) => {
  needOwner(c.user);
  return bulk(getDataset(c.p.id), c, true);
});
route('GET', '/api/v1/datasets/:id/records', (c) => {
  stats.list_requests++;
  const d = getDataset(c.p.id);
  const inc = parseInclude(c.q);
  const offset = intParam(c.q, 'offset', 0, 0);
  const limit = intParam(c.q, 'limit', 50, 1, 1000);
  const all = recordList(d);
  return itemsRaw(all.slice(offset, offset + limit), inc, `,"total":${all.length}`);
});
route('DELETE', '/api/v1/datasets/:id/records', (c) => {
  needOwner(c.user);
  const d = getDataset(c.p.id);
  const ids = (c.q.get('ids') || '').split(',').filter(Boolean);
  if (ids.length < 1) throw pyErr(['query', 'ids'], 'field required', 'value_error.missing');
  if (ids.length > 100) throw E.unprocessable('Cannot delete more than 100 records at once');
  for (const id of ids) if (!UUID_RE.test(id)) throw new Fail(422, 'Invalid UUID format');
  const gone = new Set();
  for (const id of ids) {
    const r = byId(d).get(id);
    if (!r) continue;
    gone.add(r);
    d.byIdMap.delete(id);
    if (r.external_id !== null) d.byExt.delete(r.external_id);
  }
  if (gone.size) d.list = d.list.filter((r) => !gone.has(r));
  return [204, null];
});
route('POST', '/api/v1/records/:id/responses', (c) => {
  let d = null;
  let r = null;
  for (const x of datasets.values()) if (byId(x).has(c.p.id)) { d = x; r = byId(x).get(c.p.id); }
  if (!r) throw E.notFound(`Record with id \`${c.p.id}\` not found`);
  const b = c.body;
  if (!['draft', 'submitted', 'discarded'].includes(b.status))
    throw pyErr(['body', 'status'], "value is not a valid enumeration member; permitted: 'draft', 'submitted', 'discarded'", 'type_error.enum');
  if (r.responses !== null && r.responses.has(c.user.id)) throw E.conflict(`Response already exists for record with id \`${r.id}\` and by user with id \`${c.user.id}\``);
  const e = responseErrors(d, b, r);
  if (e) throw E.unprocessable(e);
  const t = now();
  const resp = { id: uuid(), values: b.values ?? null, status: b.status, record_id: r.id, user_id: c.user.id, inserted_at: t, updated_at: t };
  if (r.responses === null) r.responses = new Map();
  r.responses.set(c.user.id, resp);
  r.status = recordStatus(d, r);
  return [201, resp];
});

// ---- control ----
function control(req, res, url, body) {
  const q = url.searchParams;
  if (req.method === 'POST' && url.pathname === '/_users') {
    const b = parseJson(body || '{}');
    return send(res, 201, addUser(b.username, b.role || 'annotator', b.api_key));
  }
  if (req.method === 'POST' && url.pathname === '/_config') {
    const num = (k, d) => (q.has(k) ? Number(q.get(k)) : d);
    conf.delayMs = num('delay_ms', conf.delayMs);
    conf.errorRate = num('error_rate', conf.errorRate);
    conf.retryRate = num('retry_rate', conf.retryRate);
    conf.retryAfter = num('retry_after', conf.retryAfter);
    conf.resetRate = num('reset_rate', conf.resetRate);
    conf.commitTimeoutRate = num('commit_timeout_rate', conf.commitTimeoutRate);
    conf.hangMs = num('hang_ms', conf.hangMs);
    if (q.has('fault_paths')) conf.faultPaths = new RegExp(q.get('fault_paths'));
    return send(res, 200, { ok: true });
  }
  if (req.method === 'POST' && url.pathname === '/_fault') {
    const n = Number(q.get('count') || 1);
    for (let i = 0; i < n; i++)
      faults.push({ type: q.get('type') || 'status', status: Number(q.get('status') || 503), retryAfter: q.get('retry_after') || '1',
        position: Number(q.get('position') || 0), detail: q.get('detail') || 'metadata is not valid' });
    return send(res, 200, { queued: faults.length });
  }
  if (req.method === 'POST' && url.pathname === '/_reset') {
    reset();
    return send(res, 200, { ok: true });
  }
  if (req.method === 'GET' && url.pathname === '/_stats') {
    const cpu = process.cpuUsage();
    return send(res, 200, Object.assign({ faults_left: faults.length, cpu_ms: (cpu.user + cpu.system) / 1000 }, stats));
  }
  if (req.method === 'GET' && url.pathname === '/_records') {
    const d = [...datasets.values()].find((x) => x.name === q.get('dataset'));
    if (!d) return send(res, 404, { detail: 'no such dataset' });
    return send(res, 200, { dataset: dsOut(d), count: d.list.length, items: d.list.map((r) => recOut(r, ALL)) });
  }
  return send(res, 404, { detail: 'Not Found' });
}

function send(res, status, obj, headers) {
  stats.by_status[status] = (stats.by_status[status] || 0) + 1;
  if (status === 204 || obj === null) {
    res.writeHead(status, headers || {});
    return res.end();
  }
  const body = obj instanceof Raw ? obj.buf.subarray(0, obj.len) : Buffer.from(toJson(obj));
  res.writeHead(status, Object.assign({ 'Content-Type': 'application/json', 'Content-Length': body.length }, headers || {}));
  if (obj instanceof Raw) res.once('finish', () => answerBufferDone(obj.buf));
  res.end(body);
}

function pickFault(path) {
  if (!conf.faultPaths.test(path)) return null;
  if (faults.length) return faults.shift();
  const x = rand();
  let acc = conf.errorRate;
  if (x < acc) return { type: 'status', status: [500, 502, 503][Math.floor(rand() * 3)] };
  if (x < (acc += conf.retryRate)) return { type: 'retry', retryAfter: String(conf.retryAfter) };
  if (x < (acc += conf.resetRate)) return { type: 'reset' };
  if (x < (acc += conf.commitTimeoutRate)) return { type: 'commit_hang' };
  return null;
}

function handle(req, res, raw) {
  let body = raw.length ? null : '';
  const text = () => (body === null ? (body = raw.toString('utf8')) : body);
  const url = new URL(req.url, 'http://127.0.0.1');
  if (url.pathname.startsWith('/_')) return control(req, res, url, text());
  stats.requests++;
  const fault = pickFault(url.pathname);
  if (fault) stats.faults[fault.type] = (stats.faults[fault.type] || 0) + 1;
  if (fault && fault.type === 'reset') return req.socket.destroy();
  if (fault && fault.type === 'hang') return setTimeout(() => req.socket.destroy(), conf.hangMs);
  if (fault && fault.type === 'status')
    return send(res, fault.status, { detail: { code: 'argilla.api.errors::GenericServerError', params: { type: 'sqlalchemy.exc.OperationalError', message: '(sqlite3.OperationalError) database is locked', args: [] } } });
  if (fault && fault.type === 'reject')
    return send(res, 422, { detail: `Record at position ${fault.position} is not valid because ${fault.detail}` });
  if (fault && fault.type === 'retry') return send(res, 429, { detail: 'Too Many Requests' }, { 'Retry-After': fault.retryAfter });

  let status = 200;
  let out;
  try {
    const key = req.headers['x-argilla-api-key'];
    const user = key !== undefined ? byKey.get(key) : undefined;
    if (!user) throw E.unauthorized();
    let parsed = {};
    let scan = null;
    if (raw.length) {
      try {
        scan = scanBody(raw);
        if (scan.items) parsed = { items: scan.items.map((x) => parseItem(raw, x)) };
        else parsed = parseJson(text(), scan);
      } catch (e) {
        throw E.pydantic([{ loc: ['body', 0], msg: 'Expecting value', type: 'value_error.jsondecode' }]);
      }
    }
    let found = null;
    let methodOk = false;
    for (const r of routes) {
      const m = r.re.exec(url.pathname);
      if (!m) continue;
      methodOk = true;
      if (r.method === req.method) {
        found = { r, p: m.groups || {} };
        break;
      }
    }
    if (!found) throw new Fail(methodOk ? 405 : 404, methodOk ? 'Method Not Allowed' : 'Not Found');
    const ret = found.r.fn({ user, body: parsed, q: url.searchParams, p: found.p, raw, scan });
    if (Array.isArray(ret) && ret.length === 2 && typeof ret[0] === 'number') [status, out] = ret;
    else out = ret;
  } catch (e) {
    if (!(e instanceof Fail)) {
      console.error(e);
      status = 500;
      out = { detail: { code: 'argilla.api.errors::GenericServerError', params: { type: e.name, message: e.message, args: [] } } };
    } else {
      status = e.status;
      out = { detail: e.detail };
    }
  }
  if (fault && fault.type === 'commit_hang') return setTimeout(() => req.socket.destroy(), conf.hangMs);
  const finish = () => send(res, status, out, { 'Server-Timing': 'total;dur=1' });
  if (conf.delayMs > 0) setTimeout(finish, conf.delayMs);
  else finish();
}

const server = http.createServer((req, res) => {
  const chunks = [];
  let size = 0;
  stats.inflight++;
  stats.max_inflight = Math.max(stats.max_inflight, stats.inflight);
  res.on('close', () => stats.inflight--);
  req.on('data', (c) => {
    size += c.length;
    if (size > MAX_BODY) req.socket.destroy();
    else chunks.push(c);
  });
  req.on('end', () => {
    const t0 = process.hrtime.bigint();
    handle(req, res, Buffer.concat(chunks));
    stats.busy_ms += Number(process.hrtime.bigint() - t0) / 1e6;
  });
});
server.requestTimeout = 0;
server.keepAliveTimeout = 60000;
server.listen(Number(opt.port), '127.0.0.1', () => {
  const tmp = opt.portFile + '.tmp';
  fs.writeFileSync(tmp, String(server.address().port));
  fs.renameSync(tmp, opt.portFile);
});
process.on('SIGTERM', () => process.exit(0));
