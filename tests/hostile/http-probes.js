// tests/hostile/http-probes.js: some 400 generated hostile requests against
// one `apflow serve`, as TAP (for t0100-http-probes.sh).
//
//   node http-probes.js PORT TOKEN PDF ERR_H HEADER_TIMEOUT_S
//
// Each probe is raw bytes on its own connection, bounded in time.  It
// passes when the server answers within its bound with one of the statuses
// expected and, for an error, once, as JSON {error, code} whose status is
// the one include/apflow/err.h (ERR_H) gives that code.  A few probes may
// also see the connection closed without an answer (a body cut off).
// Only 127.0.0.1.
'use strict';
const net = require('net');
const fs = require('fs');

const [port, token, pdfPath, errH, headerTimeoutS] = process.argv.slice(2);
const PDF = fs.readFileSync(pdfPath);
// Distinct PDFs from one: junk after %%EOF that holds no PDF structure.
let variants = 0;
function variant() { return Buffer.concat([PDF, Buffer.from(`\n% probe variant ${++variants}\n`)]); }
// A seeded generator, so every run sends the same bytes.
let seed = 0x2545f491;
function rnd(n) { seed ^= seed << 13; seed ^= seed >>> 17; seed ^= seed << 5; return (seed >>> 0) % n; }
const HT = Number(headerTimeoutS) * 1000;

// The error table: code name -> HTTP status.
const table = {};
for (const m of fs.readFileSync(errH, 'utf8').matchAll(/X\((\w+),\s*"[^"]*",\s*\d+,\s*(\d+)\)/g))
	table['E' + m[1]] = Number(m[2]);

const probes = [];
// add(name, bytes|[chunks...], expect statuses, opts {close, ms, html, check(body)})
function add(name, data, expect, opts = {}) {
	probes.push({ name, data: Array.isArray(data) ? data : [data], expect, ...opts });
}
const B = (s) => Buffer.from(s, 'latin1');
const auth = `Authorization: Bearer ${token}\r\n`;
function req(method, path, headers = '', body = '') {
	const b = Buffer.isBuffer(body) ? body : B(body);
	return Buffer.concat([B(`${method} ${path} HTTP/1.1\r\nHost: x\r\n${headers}\r\n`), b]);
}
function upload(headers, body) {
	return req('POST', '/upload', auth + headers + `Content-Length: ${body.length}\r\n`, body);
}

// ---- A. Content-Length values ----
const badCL = ['-1', '+5', '0x10', '1e3', '5 5', '5,5', '5, 5', '18446744073709551616',
	'99999999999999999999999', '', ' ', '\u0663', '5;', '1'.repeat(19), 'NaN', '-0', '0.5', '5\v'];
for (const v of badCL) {
	add(`POST /upload Content-Length '${v}': 400`, B(`POST /upload HTTP/1.1\r\nHost: x\r\n${auth}` +
		`Content-Type: application/pdf\r\nContent-Length: ${v}\r\n\r\nhello`), [400]);
	add(`GET /healthz Content-Length '${v}': 400`, B(`GET /healthz HTTP/1.1\r\nHost: x\r\n` +
		`Content-Length: ${v}\r\n\r\n`), [400]);
}
for (const v of ['0', '000', '00000000000000000']) {
	add(`GET /healthz Content-Length '${v}': 200`, B(`GET /healthz HTTP/1.1\r\nHost: x\r\n` +
		`Content-Length: ${v}\r\n\r\n`), [200]);
}
// ---- B. two Content-Lengths ----
for (const [a, b, want] of [['5', '6', 400], ['0', '1', 400], ['6', '5', 400], ['5', '05', 413], ['0', '0', 200],
	['3', '3', 413]]) {
	add(`two Content-Lengths ${a} and ${b}: ${want}`, B(`GET /healthz HTTP/1.1\r\nHost: x\r\n` +
		`Content-Length: ${a}\r\nContent-Length: ${b}\r\n\r\nabcdef`), [want]);
}
// ---- C. Transfer-Encoding ----
for (const te of ['gzip, chunked', 'chunked, gzip', 'identity', 'chunked;q=1', 'x', '', 'chunked, chunked',
	'deflate', 'gzip', 'chunked\t,', 'chunke', 'chunkedx', 'chunked ', ' chunked ', 'chunked\t']) {
	add(`Transfer-Encoding '${te}': 400 at once`, B(`POST /upload HTTP/1.1\r\nHost: x\r\n${auth}` +
		`Content-Type: application/pdf\r\nTransfer-Encoding: ${te}\r\n\r\n`), [400], { ms: 2000 });
}
for (const te of ['chunked', 'CHUNKED', ' chunked', 'Chunked']) {
	add(`Transfer-Encoding '${te}' with Content-Length: 400`, B(`POST /upload HTTP/1.1\r\nHost: x\r\n${auth}` +
		`Content-Type: application/pdf\r\nTransfer-Encoding: ${te}\r\nContent-Length: 5\r\n\r\nhello`), [400]);
	add(`Transfer-Encoding '${te}' in HTTP/1.0: 400`, B(`POST /upload HTTP/1.0\r\n${auth}` +
		`Content-Type: application/pdf\r\nTransfer-Encoding: ${te}\r\n\r\n`), [400]);
	const pdf = variant();
	const chunked = Buffer.concat([B(`${pdf.length.toString(16)}\r\n`), pdf, B('\r\n0\r\n\r\n')]);
	add(`Transfer-Encoding '${te}' with a good PDF: 200/201`, Buffer.concat([B(`POST /upload HTTP/1.1\r\nHost: x\r\n` +
		`${auth}Content-Type: application/pdf\r\nTransfer-Encoding: ${te}\r\n\r\n`), chunked]), [200, 201]);
}
// ---- D. request lines ----
for (const line of ['GET', 'GET /', 'GET / HTTP/1.1 extra', 'GET / HTTP/1.2', 'GET / HTTP/0.9', 'GET / http/1.1',
	'/ GET HTTP/1.1', 'GETGETGETGETGETGET / HTTP/1.1', 'G\tET / HTTP/1.1', 'GET\t/ HTTP/1.1', 'GET  / HTTP/1.1',
	'\u00c9T / HTTP/1.1', 'GET / HTTP/2.0', 'GET / HTTP/1.10', 'GET / HTTP/11', ' GET / HTTP/1.1',
	'GET /\x7f HTTP/1.1', 'GET /a\x01b HTTP/1.1', 'PRI * HTTP/2.0', '\x16\x03\x01\x00\xa5\x01\x00']) {
	add(`request line ${JSON.stringify(line)}: 400`, B(`${line}\r\nHost: x\r\n\r\n`), [400], { ms: 2000 });
}
add('absolute-form target: 404', B('GET http://x/healthz HTTP/1.1\r\nHost: x\r\n\r\n'), [404, 400]);
add('asterisk-form OPTIONS: 404', B('OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n'), [404]);
add('lower-case method: 404/405', B('get /healthz HTTP/1.1\r\nHost: x\r\n\r\n'), [405]);
add('HTTP/1.0 without Host: 200', B('GET /healthz HTTP/1.0\r\n\r\n'), [200]);
add('empty lines before the request: 200', B('\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\n\r\n'), [200]);
add('five empty lines before the request: 400', B('\r\n\r\n\r\n\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\n\r\n'), [400]);
// ---- E. header fields ----
const badFields = ['NoColon', 'Name : v', ' Lead: v', ':v', 'N\u00e4me: v', 'X-A: a\x00b', 'X-A: a\x7fb', 'X-A: a\rb',
	'X-A: a\nb', 'X-A: \x1b[31m', 'X(A): v', 'X A: v', 'X-A:\x0b v', 'X-A: v\r\n folded', 'X-A: v\r\n\tfolded'];
for (const f of badFields)
	add(`field ${JSON.stringify(f)}: 400`, B(`GET /healthz HTTP/1.1\r\nHost: x\r\n${f}\r\n\r\n`), [400], { ms: 2000 });
add('no Host in HTTP/1.1: 400', B('GET /healthz HTTP/1.1\r\n\r\n'), [400]);
add('two Hosts: 400', B('GET /healthz HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n'), [400]);
add('bare LF line ends: 400', B('GET /healthz HTTP/1.1\nHost: x\n\n'), [400]);
add('100 fields: 200', B('GET /healthz HTTP/1.1\r\nHost: x\r\n' + Array.from({ length: 99 }, (_, i) => `X-${i}: v\r\n`).join('') + '\r\n'), [200]);
add('101 fields: 431', B('GET /healthz HTTP/1.1\r\nHost: x\r\n' + Array.from({ length: 101 }, (_, i) => `X-${i}: v\r\n`).join('') + '\r\n'), [431]);
for (const n of [16000, 16400, 17000, 64000, 200000])
	add(`a ${n}-byte field: ${n < 16300 ? 200 : 431}`, B(`GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(n)}\r\n\r\n`),
		[n < 16300 ? 200 : 431]);
add('an 8 KB path: 404', B(`GET /${'a'.repeat(8000)} HTTP/1.1\r\nHost: x\r\n\r\n`), [404]);
add('a 20 KB path: 431', B(`GET /${'a'.repeat(20000)} HTTP/1.1\r\nHost: x\r\n\r\n`), [431]);
// ---- F. paths ----
for (const p of ['/%00', '/upload%00', '/healthz%00', '/healthz%00.html', '/api/documents%00/x', '/%2500%00'])
	add(`GET ${JSON.stringify(p)}: 400 (a NUL in the path)`, B(`GET ${p} HTTP/1.1\r\nHost: x\r\n${auth}\r\n`), [400]);
const paths404 = ['/../../etc/passwd', '/%2e%2e/%2e%2e/etc/passwd', '/..%2f..%2fetc%2fpasswd', '/upload.html/../../etc/passwd',
	'//', '/healthz/', '/HEALTHZ', '/Upload', '/upload/', '/upload.html/', '/index.html', '/.git/config',
	'/etc/passwd', '/api', '/api/', '/api/documents/../../../etc/passwd', '/%2500',
	'/\u00e9', '/%ff%fe', '/api/panels/', '/web/upload.html', '/dashboard/', '/./healthz', '/healthz/.',
	'/%2fetc%2fpasswd', '/..', '/.', '/~root'];
for (const p of paths404)
	add(`GET ${JSON.stringify(p)}: 404 (never a file)`, B(`GET ${p} HTTP/1.1\r\nHost: x\r\n${auth}\r\n`), [404, 400],
		{ check: (b) => !/root:|\[core\]/.test(b) });
add('GET /healthz?x=1: 200', req('GET', '/healthz?x=1'), [200]);
add('GET /healthz#frag: 404', req('GET', '/healthz#frag'), [404]);
for (const id of ['A'.repeat(20), '0123456789abcdef012', '0123456789abcdef01234', '0123456789ABCDEF0123',
	'0123456789abcdef012g', '%30123456789abcdef012', '0123456789abcdef0123/x', '0123456789abcdef0123.pdf',
	'../0123456789abcdef01', "0123456789abcdef0'--", '0123456789abcdef01%00', ' 0123456789abcdef012'.trim() + '?'])
	add(`document id ${JSON.stringify(id)}: 400`, req('GET', `/api/documents/${id}`, auth), [400]);
add('an unknown document id: 404', req('GET', '/api/documents/0123456789abcdef0123', auth), [404]);
// ---- G. authentication ----
const badAuth = ['', 'Bearer', 'Bearer ', `Bearer ${token}x`, `Bearer ${token.slice(0, -1)}`, `Bearer x${token}`,
	`Basic ${token}`, `Token ${token}`, `${token}`, `Bearer ${token} `, `Bearer ${token.toUpperCase()}`,
	`Bearer ${'a'.repeat(10000)}`, 'Bearer \u00e9', `Bearer\t${token}`, `Bearer=${token}`, 'Bearer null',
	'Bearer undefined', 'Bearer *', `Bearer ${token}\u0000`];
for (const a of badAuth) {
	if (a.includes('\u0000')) continue;
	const h = a === '' ? '' : `Authorization: ${a}\r\n`;
	add(`GET /api/documents with Authorization ${JSON.stringify(a.slice(0, 40))}: 401`,
		B(`GET /api/documents HTTP/1.1\r\nHost: x\r\n${h}\r\n`), [401]);
	add(`POST /upload with Authorization ${JSON.stringify(a.slice(0, 40))}: 401`,
		Buffer.concat([B(`POST /upload HTTP/1.1\r\nHost: x\r\n${h}Content-Type: application/pdf\r\n` +
			`Content-Length: ${PDF.length}\r\n\r\n`), PDF]), [401]);
}
for (const a of [`Bearer ${token}`, `bearer ${token}`, `BEARER ${token}`, `Bearer   ${token}`])
	add(`GET /api/documents with ${JSON.stringify(a.replace(token, 'TOKEN'))}: 200`,
		B(`GET /api/documents HTTP/1.1\r\nHost: x\r\nAuthorization: ${a}\r\n\r\n`), [200]);
add('two Authorization fields, the first wrong: 401', B(`GET /api/documents HTTP/1.1\r\nHost: x\r\n` +
	`Authorization: Bearer wrong\r\n${auth}\r\n`), [401]);
// ---- H. methods ----
const routes = [['/', 'GET'], ['/upload.html', 'GET'], ['/upload', 'POST'], ['/api/documents', 'GET'],
	['/api/documents/0123456789abcdef0123', 'GET'], ['/healthz', 'GET']];
for (const [p, m] of routes) {
	for (const other of ['OPTIONS', 'PUT', 'PATCH', 'DELETE', 'TRACE', 'CONNECT', 'PROPFIND', 'GET', 'POST']) {
		if (other === m) continue;
		add(`${other} ${p}: 405`, B(`${other} ${p} HTTP/1.1\r\nHost: x\r\n${auth}Content-Length: 0\r\n\r\n`), [405],
			{ check: (b, head) => /\r\nAllow: /i.test(head) });
	}
	if (m === 'GET')
		add(`HEAD ${p}: ${p.includes('0123') ? 404 : 200}`, B(`HEAD ${p} HTTP/1.1\r\nHost: x\r\n${auth}\r\n`),
			[p.includes('0123') ? 404 : 200], { head: true });
}
// ---- I. Content-Type on /upload ----
for (const ct of ['application/pdf', 'APPLICATION/PDF', 'application/pdf; charset=binary', 'application/octet-stream',
	' application/pdf'])
	add(`Content-Type '${ct}' with a good PDF: 200/201`, upload(`Content-Type: ${ct}\r\n`, variant()), [200, 201]);
for (const ct of ['text/plain', 'application/pdfx', 'application/x-pdf', 'image/png', '', 'application/x-www-form-urlencoded',
	'multipart/mixed; boundary=x', 'application/json', '*/*', 'application/pdf\u00e9'])
	add(`Content-Type '${ct}': 415`, upload(ct ? `Content-Type: ${ct}\r\n` : '', PDF), [415]);
add('no Content-Type: 415', upload('', PDF), [415]);
// ---- J. multipart ----
function mp(boundary, parts, tail = `--${boundary}--\r\n`) {
	const chunks = [];
	for (const p of parts) {
		chunks.push(B(`--${boundary}\r\n${p.head}\r\n\r\n`), Buffer.isBuffer(p.body) ? p.body : B(p.body), B('\r\n'));
	}
	chunks.push(B(tail));
	return Buffer.concat(chunks);
}
const filePart = (name, body = variant()) => ({ head: `Content-Disposition: form-data; name="file"; filename="${name}"\r\nContent-Type: application/pdf`, body });
add('multipart, one good file: 200/201', upload('Content-Type: multipart/form-data; boundary=XyZ\r\n', mp('XyZ', [filePart('a.pdf')])), [200, 201]);
add('multipart, quoted boundary: 200/201', upload('Content-Type: multipart/form-data; boundary="XyZ"\r\n', mp('XyZ', [filePart('a.pdf')])), [200, 201]);
add('multipart without a boundary: 400', upload('Content-Type: multipart/form-data\r\n', mp('XyZ', [filePart('a.pdf')])), [400]);
add('multipart, empty boundary: 400', upload('Content-Type: multipart/form-data; boundary=\r\n', mp('', [filePart('a.pdf')])), [400]);
add('multipart, wrong boundary: 400', upload('Content-Type: multipart/form-data; boundary=Other\r\n', mp('XyZ', [filePart('a.pdf')])), [400]);
add('multipart without its closing boundary: 400', upload('Content-Type: multipart/form-data; boundary=XyZ\r\n', mp('XyZ', [filePart('a.pdf')], '')), [400]);
add('multipart, no file part: 400', upload('Content-Type: multipart/form-data; boundary=XyZ\r\n',
	mp('XyZ', [{ head: 'Content-Disposition: form-data; name="other"', body: 'x' }])), [400]);
add('multipart, only a preamble: 400', upload('Content-Type: multipart/form-data; boundary=XyZ\r\n', B('just text, no parts')), [400]);
add('multipart, 101 files: 400', upload('Content-Type: multipart/form-data; boundary=XyZ\r\n',
	mp('XyZ', Array.from({ length: 101 }, (_, i) => filePart(`f${i}.pdf`)))), [400]);
add('multipart, a good and a bad file: 207', upload('Content-Type: multipart/form-data; boundary=XyZ\r\n',
	mp('XyZ', [filePart('good.pdf'), filePart('bad.pdf', B('not a pdf at all'))])), [207]);
add('multipart, a non-PDF: 400 EPDF', upload('Content-Type: multipart/form-data; boundary=XyZ\r\n',
	mp('XyZ', [filePart('bad.pdf', B('%PDX-1.4 nope'))])), [400], { check: (b) => /"code":"EPDF"/.test(b) });
add('multipart, an empty file: 400', upload('Content-Type: multipart/form-data; boundary=XyZ\r\n',
	mp('XyZ', [filePart('empty.pdf', B(''))])), [400]);
const longB = 'b'.repeat(200);
add('multipart, a 200-byte boundary: 200/201/400', upload(`Content-Type: multipart/form-data; boundary=${longB}\r\n`,
	mp(longB, [filePart('a.pdf')])), [200, 201, 400]);
for (const name of ['../../../etc/passwd', '..\\..\\win.ini', '\u202egnp.pdf', 'a\u0000b.pdf', '%00.pdf', '.hidden.pdf',
	' .pdf', 'x'.repeat(1000) + '.pdf', '\u00e9t\u00e9 \u6e2f\u53e3 \ud83d\udea2.pdf', 'CON', 'a\r\nX-Injected: 1',
	'"quoted".pdf', "'single'.pdf", '<script>.pdf', '$(id).pdf', '`id`.pdf', '/absolute/path.pdf', 'C:\\x\\y.pdf'])
	add(`multipart filename ${JSON.stringify(name.slice(0, 40))}: sanitized`, upload('Content-Type: multipart/form-data; boundary=XyZ\r\n',
		mp('XyZ', [filePart(name)])), [200, 201, 400], {
		check: (b) => { try { const f = JSON.parse(b).filename || ''; return !/[\/\\\x00-\x1f\u202e]/.test(f) && Buffer.byteLength(f) <= 255; } catch (e) { return false; } },
	});
// ---- X-Filename on raw uploads ----
for (const name of ['..%2F..%2Fetc%2Fpasswd', '%00', '%0d%0aSet-Cookie:%20x', '%E2%80%AEfdp.exe', '%ff%fe.pdf', '%', '%%%', '%zz.pdf',
	'a'.repeat(3000), '%C3%A9t%C3%A9.pdf', 'nul%00byte.pdf', '..', '.', '%2e%2e', 'con.pdf', 'a/b/c.pdf'])
	add(`X-Filename ${JSON.stringify(name.slice(0, 40))}: sanitized`, upload(`Content-Type: application/pdf\r\nX-Filename: ${name}\r\n`, variant()),
		[200, 201], { check: (b) => { try { const f = JSON.parse(b).filename || ''; return f.length > 0 && !/[\/\\\x00-\x1f\u202e]/.test(f); } catch (e) { return false; } } });
// ---- K. body framing ----
add('Content-Length larger than the body, then the client waits: cut at the idle timeout or answered',
	B(`POST /upload HTTP/1.1\r\nHost: x\r\n${auth}Content-Type: application/pdf\r\nContent-Length: 1000\r\n\r\n%PDF-1.4`),
	[400], { close: true, ms: 3 * HT + 2000 });
add('Content-Length smaller than the body: the PDF is cut, 400', upload('Content-Type: application/pdf\r\n', PDF).subarray(0, 200 + 60), [400], { close: true, ms: 3 * HT + 2000 });
add('body after a GET: 413', B(`GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\nabcd`), [413]);
// Found while the body streams, by the gate's relay (libmicrohttpd would
// answer these with its own HTML page): JSON 400 EINVAL, at once.
for (const [name, body] of [['a bad chunk size', 'zz\r\nabc\r\n0\r\n\r\n'], ['a chunk without CRLF', '3\r\nabcdef0\r\n\r\n'],
	['a huge chunk size', 'ffffffffffffffff\r\nabc\r\n'], ['a negative chunk size', '-3\r\nabc\r\n0\r\n\r\n'],
	['a space before the CRLF', '3 \r\nabc\r\n0\r\n\r\n'], ['a bare LF', '3\nabc\r\n0\r\n\r\n'],
	['a 0x prefix', '0x3\r\nabc\r\n0\r\n\r\n'], ['an empty size', '\r\nabc\r\n0\r\n\r\n'],
	['a NUL in an extension', '3;a\x00b\r\nabc\r\n0\r\n\r\n'], ['an extension over 1 KiB', `3;${'x'.repeat(1100)}\r\nabc\r\n0\r\n\r\n`],
	['a trailer without a colon', '3\r\nabc\r\n0\r\nno colon\r\n\r\n'], ['a folded trailer', '3\r\nabc\r\n0\r\n x: y\r\n\r\n'],
	['data past its size', '3\r\nabcd\r\n0\r\n\r\n'], ['a bad chunk after a good one', '5\r\n%PDF-\r\nzz\r\n'],
	['a bad chunk after 200 KB of good ones', `${'1000\r\n'.concat('A'.repeat(4096), '\r\n').repeat(50)}q\r\n`]]) {
	add(`chunked body with ${name}: 400 JSON`, B(`POST /upload HTTP/1.1\r\nHost: x\r\n${auth}` +
		`Content-Type: application/pdf\r\nTransfer-Encoding: chunked\r\n\r\n${body}`), [400], { close: true, ms: 3000,
		check: (b) => /"malformed chunked body: /.test(b) });
}
// Well-formed variations pass: an extension, trailer fields, upper-case hex.
for (const [name, framing] of [['an extension', (n) => `${n.toString(16)};name=value\r\n`],
	['upper-case hex', (n) => `${n.toString(16).toUpperCase()}\r\n`], ['leading zeros', (n) => `000${n.toString(16)}\r\n`]]) {
	const pdf = variant();
	add(`chunked upload with ${name}: stored`, Buffer.concat([B(`POST /upload HTTP/1.1\r\nHost: x\r\n${auth}` +
		'Content-Type: application/pdf\r\nTransfer-Encoding: chunked\r\n\r\n'), B(framing(pdf.length)), pdf,
		B('\r\n0\r\nX-Trailer: yes\r\n\r\n')]), [200, 201]);
}
// ---- L. query parameters ----
for (const [q, want] of [['limit=0', 400], ['limit=-1', 400], ['limit=1', 200], ['limit=500', 200], ['limit=501', 400],
	['limit=x', 400], ['limit=1e2', 400], ['limit=', 400], ['limit=99999999999999999999', 400], ['after=-5', 400],
	['after=x', 400], ['after=0', 200], ['after=99999999999', 200], ['limit=5&limit=6', 200], ['limit=%31', 200],
	['limit=1;DROP TABLE x', 400], ["after=1' OR '1'='1", 400], ['x=y', 200], ['limit=0x10', 400], ['limit=+5', 200]])
	add(`GET /api/documents?${q}: ${want}`, req('GET', `/api/documents?${q.replace(/ /g, '%20')}`, auth), [want, ...(want === 200 ? [] : [])]);
// ---- M. over the limit ----
add('Content-Length over max_upload: 413 at once', B(`POST /upload HTTP/1.1\r\nHost: x\r\n${auth}` +
	'Content-Type: application/pdf\r\nContent-Length: 2097152\r\n\r\n%PDF-'), [413], { ms: 2000 });
add('Content-Length over max_upload, no token: 401 first', B('POST /upload HTTP/1.1\r\nHost: x\r\n' +
	'Content-Type: application/pdf\r\nContent-Length: 2097152\r\n\r\n%PDF-'), [401], { ms: 2000 });
{
	const c = Buffer.alloc(65536, 0x41);
	const parts = [B(`POST /upload HTTP/1.1\r\nHost: x\r\n${auth}Content-Type: application/pdf\r\nTransfer-Encoding: chunked\r\n\r\n`)];
	for (let i = 0; i < 40; i++) parts.push(Buffer.concat([B('10000\r\n'), c, B('\r\n')]));
	parts.push(B('0\r\n\r\n'));
	add('chunked body past max_upload: 413', Buffer.concat(parts), [413], { close: true });
}
// ---- O. heads that never end ----
for (const [name, data] of [['nothing at all', ''], ['half a request line', 'GET /heal'], ['a request line only', 'GET /healthz HTTP/1.1\r\n'],
	['fields without the blank line', 'GET /healthz HTTP/1.1\r\nHost: x\r\n'], ['a CR at the end', 'GET /healthz HTTP/1.1\r\nHost: x\r\n\r']])
	add(`a head that stops (${name}): 408 at the deadline`, B(data), [408], { ms: HT + 2500, minMs: HT - 500 });

// ---- P. seeded junk ----
for (let i = 0; i < 40; i++) {
	// Binary junk whose first byte no request line starts with: refused at once.
	const junk = Buffer.alloc(20 + rnd(200), 0).map(() => rnd(256));
	junk[0] = 0x80 + rnd(128);
	add(`junk #${i} (${junk.length} bytes of binary): 400 at once`, junk, [400], { ms: 2000 });
}
for (let i = 0; i < 40; i++) {
	// A good request whose extra field values are random visible bytes.
	let v = '';
	for (let k = rnd(300); k > 0; k--) v += String.fromCharCode(0x20 + rnd(0x5f));
	add(`random field value #${i}: 200`, B(`GET /healthz HTTP/1.1\r\nHost: x\r\nX-R${i}: ${v.trim()}\r\n\r\n`), [200]);
}
for (let i = 0; i < 30; i++) {
	// A good head, cut at a random byte then left: 408 at the deadline, or
	// refused at once when the cut leaves it malformed (never hangs).
	const full = `GET /api/documents HTTP/1.1\r\nHost: x\r\n${auth}\r\n`;
	const cut = 1 + rnd(full.length - 2);
	add(`a head cut at byte ${cut}: 408 at the deadline`, B(full.slice(0, cut)), [408], { ms: HT + 2500 });
}

// ---- run ----
function run(p) {
	return new Promise((resolve) => {
		const t0 = Date.now();
		const bound = p.ms || 5000;
		const s = net.connect({ host: '127.0.0.1', port: Number(port) });
		let buf = Buffer.alloc(0);
		let done = false;
		const finish = (why) => {
			if (done) return;
			done = true;
			clearTimeout(timer);
			s.destroy();
			resolve({ buf, ms: Date.now() - t0, why });
		};
		const timer = setTimeout(() => finish('timeout'), bound);
		s.setNoDelay(true);
		s.on('connect', () => { for (const d of p.data) if (d.length) s.write(d); });
		s.on('data', (d) => { buf = Buffer.concat([buf, d]); if (buf.length > 1 << 20) finish('big'); });
		s.on('close', () => finish('close'));
		s.on('error', () => {});
	});
}

function judge(p, r) {
	const text = r.buf.toString('latin1');
	const why = [];
	if (r.why === 'timeout') why.push(`no end within ${p.ms || 5000} ms`);
	if (p.minMs && r.ms < p.minMs) why.push(`ended after ${r.ms} ms, before ${p.minMs}`);
	const m = /^HTTP\/1\.[01] (\d{3}) /.exec(text);
	if (!m) {
		if (!(p.close && r.why === 'close')) why.push(`no answer (${r.why}, ${r.buf.length} bytes)`);
		return { status: '-', why };
	}
	const status = Number(m[1]);
	const headEnd = text.indexOf('\r\n\r\n');
	const head = headEnd < 0 ? text : text.slice(0, headEnd);
	const body = headEnd < 0 ? '' : text.slice(headEnd + 4);
	if (!p.expect.includes(status)) why.push(`status ${status}, expected ${p.expect.join('/')}`);
	if (/\r\nHTTP\/1\.[01] \d{3} /.test(text.slice(4))) why.push('two answers on one connection');
	if (status >= 400 && !p.html) {
		if (!/\r\nContent-Type: application\/json/i.test(head)) why.push('an error answer that is not JSON');
		else if (!p.head) {
			try {
				const j = JSON.parse(body);
				if (typeof j.error !== 'string' || typeof j.code !== 'string') why.push('no {error, code}');
				else if (table[j.code] !== status) why.push(`${j.code} is ${table[j.code]} in the table, answered ${status}`);
			} catch (e) { why.push(`a body that is not JSON: ${body.slice(0, 80)}`); }
		}
	}
	if (p.check && !p.check(body, head)) why.push(`the answer fails its check: ${body.slice(0, 120)}`);
	return { status, why };
}

(async () => {
	let n = 0, failed = 0;
	const queue = probes.slice();
	const conc = 8;
	const results = new Array(probes.length);
	await Promise.all(Array.from({ length: conc }, async () => {
		while (queue.length) {
			const p = queue.shift();
			const i = probes.indexOf(p);
			const r = await run(p);
			results[i] = { p, r, j: judge(p, r) };
		}
	}));
	for (const { p, r, j } of results) {
		n++;
		if (j.why.length) {
			failed++;
			console.log(`not ok ${n} - ${p.name} (${j.status}, ${r.ms} ms)`);
			console.log(`# ${j.why.join('; ')}`);
		} else {
			console.log(`ok ${n} - ${p.name} (${j.status}, ${r.ms} ms)`);
		}
	}
	console.log(`# ${n} probes, ${failed} failed`);
	process.exit(0);
})();
