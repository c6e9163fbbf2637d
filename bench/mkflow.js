// bench/mkflow.js: pages JSONL (tests/data/gen-gold.js --bench) to mutool
// page files, PER pages a document: writes DIR/dNNNNN.pK.txt and prints one
// line per document, "dNNNNN p1.txt p2.txt ...", for bench/flow.sh.
// Text is folded at 90 characters, Helvetica 9 pt, WinAnsi (characters
// outside Latin-1 become '?').
'use strict';
const fs = require('fs');
const readline = require('readline');
const [, , jsonl, dir, perArg] = process.argv;
const per = Number(perArg) || 20;
const rl = readline.createInterface({ input: fs.createReadStream(jsonl) });
let n = 0, docs = 0, doc = [], out = [];
function esc(s) {
	return s.replace(/[^\x00-\xff]/g, '?').replace(/[\\()]/g, '\\$&');
}
function fold(line) {
	const parts = [];
	while (line.length > 90) {
		let cut = line.lastIndexOf(' ', 90);
		if (cut <= 0) cut = 90;
		parts.push(line.slice(0, cut));
		line = line.slice(cut).replace(/^ /, '');
	}
	parts.push(line);
	return parts;
}
function flush() {
	if (!doc.length) return;
	out.push(`d${String(docs++).padStart(6, '0')} ` + doc.join(' '));
	doc = [];
}
rl.on('line', (l) => {
	const p = JSON.parse(l);
	const d = Math.floor(n / per), k = (n % per) + 1;
	const name = `${dir}/d${String(d).padStart(6, '0')}.p${k}.txt`;
	let body = '%%MediaBox 0 0 595 842\n%%Font F1 Helvetica\nBT /F1 9 Tf 11 TL 50 800 Td\n';
	for (const line of p.text.split('\n')) for (const part of fold(line)) body += `(${esc(part)}) Tj T*\n`;
	body += 'ET\n';
	fs.writeFileSync(name, body, 'latin1');
	doc.push(name);
	n++;
	if (n % per === 0) flush();
});
rl.on('close', () => {
	flush();
	process.stdout.write(out.join('\n') + '\n');
});
