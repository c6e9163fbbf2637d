// tests/http/slow-client.js: hostile clients for the server's limits (t0420).
//
//   node slow-client.js idle PORT N HOLD_MS [GAP_MS]
//       opens N connections (GAP_MS apart, default 5) that send nothing,
//       prints "opened N", keeps them up to HOLD_MS, then prints
//       "closed C of N; answered: STATUS..." (what the server did to them)
//   node slow-client.js head PORT N BYTE_MS
//       N connections each trickle a request head, one byte every BYTE_MS;
//       prints for each "STATUS MS" (the server's answer, when it closed), one a line
//   node slow-client.js body PORT TOKEN BYTES_PER_S
//       sends a complete head (Content-Length: 1000000) then the body at
//       BYTES_PER_S; prints "closed MS SENT" when the server cuts it off
//   node slow-client.js get PORT PATH
//       one GET with a 5 s bound; prints "STATUS MS"
// Only 127.0.0.1.  Every mode ends within its own bound.
'use strict';
const net = require('net');

const [mode, port, a1, a2, a3] = process.argv.slice(2);

function conn() {
	const s = net.connect({ host: '127.0.0.1', port: Number(port) });
	s.setNoDelay(true);
	s.on('error', () => {});
	return s;
}

function statusOf(buf) {
	const m = /^HTTP\/1\.[01] (\d{3})/.exec(buf.toString('latin1'));
	return m ? m[1] : '-';
}

function track(s) {
	const t = { buf: Buffer.alloc(0), closed: false, t0: Date.now(), ms: 0 };
	s.on('data', (d) => { t.buf = Buffer.concat([t.buf, d]); });
	s.on('close', () => { t.closed = true; t.ms = Date.now() - t.t0; });
	return t;
}

async function sleep(ms) { return new Promise((r) => setTimeout(r, ms)); }

async function idle(n, hold, gap) {
	const socks = [];
	for (let i = 0; i < n; i++) {
		const s = conn();
		socks.push({ s, t: track(s) });
		if (gap) await sleep(gap);
	}
	await Promise.all(socks.map((x) => new Promise((r) => {
		if (x.s.connecting) x.s.once('connect', r).once('close', r); else r();
	})));
	console.log(`opened ${n}`);
	const end = Date.now() + hold;
	while (Date.now() < end && !socks.every((x) => x.t.closed)) await sleep(50);
	const closed = socks.filter((x) => x.t.closed);
	console.log(`closed ${closed.length} of ${n}; answered: ${closed.map((x) => statusOf(x.t.buf)).join(' ')}`);
	socks.forEach((x) => x.s.destroy());
}

async function head(n, byteMs) {
	const req = Buffer.from('POST /upload HTTP/1.1\r\nHost: x\r\nContent-Type: application/pdf\r\n' +
		'X-Padding: ' + 'a'.repeat(200) + '\r\nContent-Length: 10\r\n\r\n0123456789');
	const all = [];
	for (let i = 0; i < n; i++) {
		const s = conn();
		const t = track(s);
		all.push((async () => {
			for (let k = 0; k < req.length && !t.closed; k++) {
				s.write(req.subarray(k, k + 1));
				await sleep(byteMs);
			}
			const end = Date.now() + 30000;
			while (!t.closed && Date.now() < end) await sleep(20);
			s.destroy();
			return `${statusOf(t.buf)} ${t.ms}`;
		})());
	}
	for (const line of await Promise.all(all)) console.log(line);
}

async function body(token, rate) {
	const s = conn();
	const t = track(s);
	s.write(`POST /upload HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\n` +
		'Content-Type: application/pdf\r\nContent-Length: 1000000\r\n\r\n%PDF-1.4\n');
	let sent = 9;
	const step = Math.max(1, Math.round(rate / 10));
	const end = Date.now() + 30000;
	while (!t.closed && Date.now() < end && sent < 1000000) {
		await sleep(100);
		if (!t.closed) { s.write(Buffer.alloc(step, 0x20)); sent += step; }
	}
	console.log(`${t.closed ? 'closed' : 'open'} ${t.closed ? t.ms : Date.now() - t.t0} ${sent}`);
	s.destroy();
}

async function get(path) {
	const s = conn();
	const t = track(s);
	s.write(`GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
	const end = Date.now() + 5000;
	while (!t.closed && Date.now() < end) await sleep(10);
	console.log(`${statusOf(t.buf)} ${t.closed ? t.ms : 5000}`);
	s.destroy();
}

(async () => {
	if (mode === 'idle') await idle(Number(a1), Number(a2), a3 === undefined ? 5 : Number(a3));
	else if (mode === 'head') await head(Number(a1), Number(a2));
	else if (mode === 'body') await body(a1, Number(a2));
	else if (mode === 'get') await get(a1);
	else { console.error('unknown mode'); process.exit(2); }
	process.exit(0);
})();
