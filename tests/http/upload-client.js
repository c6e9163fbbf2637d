// tests/http/upload-client.js: the requests curl cannot make, for t0400.
//
//   node upload-client.js bigcl PORT TOKEN
//       claims Content-Length: 105906176, sends 4 KiB, prints "STATUS MS"
//       (MS: time from the headers to the answer)
//   node upload-client.js chunked PORT TOKEN MIB
//       sends MIB MiB of a chunked application/pdf body, prints "STATUS"
//   node upload-client.js trickle PORT TOKEN FILE MS
//       sends FILE raw, spread over about MS milliseconds, prints "STATUS JSON"
//   node upload-client.js disconnect PORT TOKEN FILE
//       sends headers and half of FILE, then resets the connection
//   node upload-client.js many PORT TOKEN MS FILE...
//       uploads every FILE at once, the i-th (from 1) trickled over i*MS ms;
//       prints "I STATUS" as each ends (STATUS 0: no answer)
// Only 127.0.0.1.
'use strict';
const net = require('net');
const fs = require('fs');

const [cmd, port, token, arg1, arg2] = process.argv.slice(2);
const auth = token ? `Authorization: Bearer ${token}\r\n` : '';

function connect() {
	const s = net.connect({ host: '127.0.0.1', port: Number(port) });
	s.setNoDelay(true);
	s.setMaxListeners(0);
	return s;
}

// Collects the raw answer; resolves with {status, body} when the server closes
// or a whole Content-Length body has come.
function answer(s) {
	return new Promise((resolve) => {
		let buf = Buffer.alloc(0);
		let done = false;
		const finish = () => {
			if (done) return;
			const text = buf.toString('utf8');
			const m = /^HTTP\/1\.[01] (\d{3})/.exec(text);
			if (!m) return; // wait for more
			const head = text.indexOf('\r\n\r\n');
			if (head < 0) return;
			const cl = /\r\ncontent-length: *(\d+)/i.exec(text.slice(0, head));
			const body = text.slice(head + 4);
			if (cl && Buffer.byteLength(body) < Number(cl[1])) return;
			done = true;
			resolve({ status: Number(m[1]), body });
		};
		s.on('data', (d) => { buf = Buffer.concat([buf, d]); finish(); });
		s.on('end', finish);
		s.on('close', () => { finish(); if (!done) { done = true; resolve({ status: 0, body: '' }); } });
		s.on('error', () => {});
	});
}

async function bigcl() {
	const s = connect();
	const t0 = Date.now();
	s.write(`POST /upload HTTP/1.1\r\nHost: 127.0.0.1\r\n${auth}Content-Type: application/pdf\r\n` +
		`Content-Length: 105906176\r\n\r\n`);
	s.write(Buffer.alloc(4096, 0x25));
	const r = await answer(s);
	console.log(`${r.status} ${Date.now() - t0}`);
	s.destroy();
}

async function chunked() {
	const s = connect();
	s.write(`POST /upload HTTP/1.1\r\nHost: 127.0.0.1\r\n${auth}Content-Type: application/pdf\r\n` +
		`Transfer-Encoding: chunked\r\n\r\n`);
	const p = answer(s);
	const chunk = Buffer.alloc(1 << 20, 0x41);
	chunk.write('%PDF-1.4\n');
	let gotAnswer = false;
	p.then(() => { gotAnswer = true; });
	for (let i = 0; i < Number(arg1) && !gotAnswer && !s.destroyed; i++) {
		s.write(`${chunk.length.toString(16)}\r\n`);
		s.write(chunk);
		if (!s.write('\r\n')) await new Promise((r) => s.once('drain', r).once('close', r));
	}
	if (!s.destroyed) s.write('0\r\n\r\n');
	const r = await p;
	console.log(`${r.status}`);
	s.destroy();
}

async function trickle() {
	const data = fs.readFileSync(arg1);
	const ms = Number(arg2);
	const s = connect();
	s.write(`POST /upload HTTP/1.1\r\nHost: 127.0.0.1\r\n${auth}Content-Type: application/pdf\r\n` +
		`X-Filename: slow.pdf\r\nContent-Length: ${data.length}\r\n\r\n`);
	const p = answer(s);
	const steps = 20;
	const step = Math.ceil(data.length / steps);
	for (let off = 0; off < data.length; off += step) {
		s.write(data.subarray(off, off + step));
		await new Promise((r) => setTimeout(r, ms / steps));
		// TRICKLE_STARTED=FILE: created once the head and a first part of
		// the body are out, so a test can act while the upload is in flight.
		if (off === 0 && process.env.TRICKLE_STARTED)
			fs.writeFileSync(process.env.TRICKLE_STARTED, '');
	}
	const r = await p;
	console.log(`${r.status} ${r.body.trim()}`);
	s.destroy();
}

async function one(file, ms) {
	const data = fs.readFileSync(file);
	const s = connect();
	s.write(`POST /upload HTTP/1.1\r\nHost: 127.0.0.1\r\n${auth}Content-Type: application/pdf\r\n` +
		`Content-Length: ${data.length}\r\n\r\n`);
	const p = answer(s);
	const steps = 20;
	const step = Math.ceil(data.length / steps);
	for (let off = 0; off < data.length && !s.destroyed; off += step) {
		s.write(data.subarray(off, off + step));
		await new Promise((r) => setTimeout(r, ms / steps));
	}
	const r = await p;
	s.destroy();
	return r.status;
}

async function many() {
	const files = process.argv.slice(6);
	await Promise.all(files.map((f, i) => one(f, (i + 1) * Number(arg1)).then((st) => {
		console.log(`${i + 1} ${st}`);
	})));
}

async function disconnect() {
	const data = fs.readFileSync(arg1);
	const s = connect();
	s.write(`POST /upload HTTP/1.1\r\nHost: 127.0.0.1\r\n${auth}Content-Type: application/pdf\r\n` +
		`X-Filename: gone.pdf\r\nContent-Length: ${data.length}\r\n\r\n`);
	s.write(data.subarray(0, data.length >> 1));
	await new Promise((r) => setTimeout(r, 300));
	s.resetAndDestroy ? s.resetAndDestroy() : s.destroy();
	await new Promise((r) => setTimeout(r, 100));
	console.log('sent half');
}

({ bigcl, chunked, trickle, disconnect, many })[cmd]().catch((e) => { console.error(e); process.exit(1); });
