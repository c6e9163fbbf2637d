#!/usr/bin/env bash
# Chunked request bodies go through the gate's relay (src/server/gate.c),
# which checks their framing as they stream: at most 64 relays at once (the
# 65th chunked request gets 503 EUNAVAIL in JSON, a Content-Length one
# still goes through), a relay is freed when its client goes, a chunked
# upload through it is stored byte for byte, and a malformed body is a
# JSON 400 with nothing stored.
. "$(dirname "$0")/../lib.sh"
. "$APFLOW_TOP/tests/lib/serve.sh"
. "$APFLOW_TOP/tests/lib/mkpdf.sh"
TOKEN=t0422-token-5b1e

export APFLOW_DATA_DIR=$T_DIR/data
t_ok "apflow init" "$APFLOW" init
mkpdf up.pdf 2 "chunked relay"
mkpdf cl.pdf 1 "content length"

"$APFLOW" serve --listen 127.0.0.1:0 --upload-token "$TOKEN" --max-per-address 100 --max-connections 200 \
	--idle-timeout 20 2>serve.log &
SRV_PID=$!
T_CLEANUP+=("kill -9 $SRV_PID")
serve_listening

cat >relay.js <<'JS'
const net = require('net'), fs = require('fs');
const [port, token, pdfPath, clPath] = process.argv.slice(2);
const head = `POST /upload HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\n` +
	'Content-Type: application/pdf\r\nTransfer-Encoding: chunked\r\n\r\n';
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
// Sends data on a new connection; resolves with what came back when the
// server closes it (or after ms).
function exchange(data, ms = 5000) {
	return new Promise((resolve) => {
		const s = net.connect(Number(port), '127.0.0.1');
		let buf = '';
		const t = setTimeout(() => { s.destroy(); resolve(buf || 'timeout'); }, ms);
		s.on('connect', () => s.write(data));
		s.on('data', (d) => { buf += d.toString('latin1'); });
		s.on('close', () => { clearTimeout(t); resolve(buf); });
		s.on('error', () => {});
	});
}
const show = (r) => { const m = /^HTTP\/1\.1 (\d+)/.exec(r); const b = r.slice(r.indexOf('\r\n\r\n') + 4); return `${m ? m[1] : '-'} ${b}`; };
(async () => {
	// 64 chunked requests that stop mid-chunk: each holds a relay.
	const held = [];
	for (let i = 0; i < 64; i++) {
		const s = net.connect(Number(port), '127.0.0.1');
		s.on('error', () => {});
		s.on('connect', () => s.write(head + '10\r\n%PDF-'));
		held.push(s);
	}
	await sleep(1500);
	console.log(`65th: ${show(await exchange(head + '5\r\n%PDF-\r\n0\r\n\r\n'))}`);
	const pdf = fs.readFileSync(pdfPath), cl = fs.readFileSync(clPath);
	console.log(`content-length: ${show(await exchange(Buffer.concat([Buffer.from(
		`POST /upload HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\nContent-Type: application/pdf\r\n` +
		`X-Filename: cl.pdf\r\nContent-Length: ${cl.length}\r\n\r\n`), cl])))}`);
	for (const s of held) s.destroy();
	await sleep(1500);
	const body = Buffer.concat([Buffer.from(head.replace('\r\n\r\n', '\r\nX-Filename: relayed.pdf\r\n\r\n')),
		Buffer.from(`${(100).toString(16)}\r\n`), pdf.subarray(0, 100), Buffer.from('\r\n'),
		Buffer.from(`${(pdf.length - 100).toString(16)};x=y\r\n`), pdf.subarray(100), Buffer.from('\r\n0\r\nX-T: 1\r\n\r\n')]);
	console.log(`after: ${show(await exchange(body))}`);
	console.log(`bad: ${show(await exchange(head + '5\r\n%PDF-\r\nzz\r\n'))}`);
})();
JS
node relay.js "$PORT" "$TOKEN" up.pdf cl.pdf >relay.out 2>relay.err
sed 's/^/# /' relay.out
t_eq "the 65th chunked request at once: 503 EUNAVAIL" \
	'65th: 503 {"error":"cannot take a chunked body now (too many at once): send a Content-Length","code":"EUNAVAIL"}' \
	"$(grep '^65th:' relay.out)"
t_match "a Content-Length upload meanwhile: 201" '^content-length: 201 \{"doc_id":' "$(grep '^content-length:' relay.out)"
t_match "once those clients went, a chunked upload (extension, trailer) is stored: 201" '^after: 201 \{"doc_id":' \
	"$(grep '^after:' relay.out)"
t_ok "... byte for byte" cmp up.pdf "data/lake/raw/$(sha256sum up.pdf | cut -c1-20).pdf"
t_eq "a malformed chunk: 400 in JSON" \
	"bad: 400 {\"error\":\"malformed chunked body: a chunk size must start with a hex digit (got 'z')\",\"code\":\"EINVAL\"}" \
	"$(grep '^bad:' relay.out)"
echo "SELECT string_agg(filename, ',' ORDER BY filename) FROM md_raw_ocr.main.uploads" >up.sql
kill -TERM "$SRV_PID"
wait "$SRV_PID"
t_eq "the server stops cleanly" 0 "$?"
t_eq "... the uploads recorded: the Content-Length one and the relayed one" "cl.pdf,relayed.pdf" \
	"$("$APFLOW" sql --csv up.sql | tail -1 | tr -d '"')"
t_eq "no temp or spool file is left" "" "$(find data -path '*tmp*' -type f)"
t_done
