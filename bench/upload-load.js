// bench/upload-load.js: a small HTTP load client for bench/upload.sh.
//
//   node upload-load.js apflow URL CONCURRENCY FILE...   POST URL/upload (raw application/pdf)
//   node upload-load.js s3 URL/BUCKET CONCURRENCY FILE... PUT URL/BUCKET/raw/<sha20>.pdf
// Files are read into memory first, so only the server is measured.
// Prints one JSON line: {n, ok, errors, seconds, rate, p50_ms, p99_ms, max_ms}.
'use strict';
const http = require('http');
const fs = require('fs');
const crypto = require('crypto');
const path = require('path');

const [mode, base, conc, ...files] = process.argv.slice(2);
const concurrency = Number(conc);
const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
const bodies = files.map((f) => {
	const data = fs.readFileSync(f);
	return { name: path.basename(f), data, id: crypto.createHash('sha256').update(data).digest('hex').slice(0, 20) };
});

function send(b) {
	return new Promise((resolve) => {
		const u = new URL(mode === 'apflow' ? `${base}/upload` : `${base}/raw/${b.id}.pdf`);
		const headers = { 'Content-Type': 'application/pdf', 'Content-Length': b.data.length };
		if (mode === 'apflow') headers['X-Filename'] = encodeURIComponent(b.name);
		const t0 = process.hrtime.bigint();
		const req = http.request({ host: u.hostname, port: u.port, path: u.pathname, agent,
			method: mode === 'apflow' ? 'POST' : 'PUT', headers }, (res) => {
			let text = '';
			res.setEncoding('utf8');
			res.on('data', (d) => { text += d; });
			res.on('end', () => {
				const ms = Number(process.hrtime.bigint() - t0) / 1e6;
				let ok = res.statusCode === (mode === 'apflow' ? 201 : 200);
				if (ok && mode === 'apflow') {
					try { ok = JSON.parse(text).doc_id === b.id; } catch (e) { ok = false; }
				}
				if (!ok) console.error(`${b.name}: HTTP ${res.statusCode} ${text.slice(0, 200)}`);
				resolve({ ok, ms });
			});
		});
		req.on('error', (e) => {
			console.error(`${b.name}: ${e.message}`);
			resolve({ ok: false, ms: Number(process.hrtime.bigint() - t0) / 1e6 });
		});
		req.end(b.data);
	});
}

async function main() {
	const lat = [];
	let next = 0, ok = 0;
	const t0 = process.hrtime.bigint();
	async function worker() {
		while (next < bodies.length) {
			const r = await send(bodies[next++]);
			lat.push(r.ms);
			if (r.ok) ok++;
		}
	}
	await Promise.all(Array.from({ length: concurrency }, worker));
	const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
	lat.sort((a, b) => a - b);
	const pct = (p) => lat[Math.min(lat.length - 1, Math.floor(p * lat.length))];
	console.log(JSON.stringify({ n: bodies.length, ok, errors: bodies.length - ok, seconds: +seconds.toFixed(3),
		rate: +(bodies.length / seconds).toFixed(1), p50_ms: +pct(0.5).toFixed(1), p99_ms: +pct(0.99).toFixed(1),
		max_ms: +lat[lat.length - 1].toFixed(1) }));
	agent.destroy();
}
main();
