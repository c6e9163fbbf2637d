// tests/browser/dashboard.spec.js: /dashboard in real headless Chromium.
//
//   node dashboard.spec.js URL
// The server's warehouse is tests/lib/annotated.sh's fixture, so every
// chart's values are known.  Prints TAP lines; exits 1 when one failed.
// Writes $TEST_OUT/dashboard.png.
'use strict';
const fs = require('fs');
const os = require('os');
const path = require('path');
const { chromium } = require(path.join(process.env.APFLOW_TOP, 'third_party/npm/node_modules/playwright-core'));

const [url] = process.argv.slice(2);
const outDir = process.env.TEST_OUT || '.';
let failed = 0;

function check(desc, cond, detail) {
	console.log(`${cond ? 'ok' : 'not ok'} - ${desc}`);
	if (!cond) {
		failed++;
		if (detail !== undefined) console.log(`# ${String(detail).split('\n').join('\n# ')}`);
	}
}
function same(desc, want, got) {
	const w = JSON.stringify(want), g = JSON.stringify(got);
	check(desc, w === g, `expected ${w}\nactual   ${g}`);
}

async function main() {
	const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'apflow-chromium-'));
	const ctx = await chromium.launchPersistentContext(profile, {
		executablePath: '/usr/bin/chromium',
		headless: true,
		args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
			'--disable-background-networking', '--disable-component-update', '--disable-sync'],
		viewport: { width: 1280, height: 900 },
	});
	try {
		const page = ctx.pages()[0] || await ctx.newPage();
		const foreign = [];
		page.on('request', (r) => { if (!r.url().startsWith(url)) foreign.push(r.url()); });
		const errors = [];
		page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
		page.on('pageerror', (e) => errors.push(String(e)));

		await page.goto(url + '/');
		const link = await page.$('a[href="/dashboard"]');
		check('the upload page links to the dashboard', !!link);
		await link.click();
		await page.waitForSelector('body[data-ready="1"]', { timeout: 15000 });
		check('the dashboard loads with its title', (await page.title()).includes('Dashboard'));

		const panels = await page.$$eval('section.panel', (ss) => ss.map((s) => [s.dataset.panel, s.dataset.state, s.dataset.rows]));
		same('eight panels, each drawn with its rows', [
			['docs_ingested_per_day', 'drawn', '2'], ['ocr_coverage', 'drawn', '1'], ['engine_mix', 'drawn', '2'],
			['label_distribution', 'drawn', '3'], ['annotator_throughput', 'drawn', '3'],
			['suggestion_quality', 'drawn', '3'], ['agent_f1_per_export', 'drawn', '1'], ['queue_depth', 'drawn', '4'],
		], panels);

		const bars = (name) => page.$$eval(`section[data-panel="${name}"] svg rect.bar`,
			(rs) => rs.map((r) => [r.dataset.category, r.dataset.series, r.dataset.value, Number(r.getAttribute('height')) > 0 || r.dataset.value === '0']));
		same('ingestion chart: documents and pages per day', [
			['2026-01-01', 'documents', '1', true], ['2026-01-01', 'pages', '2', true],
			['2026-01-02', 'documents', '3', true], ['2026-01-02', 'pages', '1', true],
		], await bars('docs_ingested_per_day'));
		same('engine mix: pages per engine', [
			['mupdf', 'pages', '2', true], ['tesseract', 'pages', '1', true],
		], await bars('engine_mix'));
		same('labels: suggested and annotated', [
			['ORGANIZATION', 'suggested', '1', true], ['ORGANIZATION', 'annotated', '1', true],
			['PORT', 'suggested', '2', true], ['PORT', 'annotated', '1', true],
			['VESSEL_NAME', 'suggested', '1', true], ['VESSEL_NAME', 'annotated', '2', true],
		], await bars('label_distribution'));
		same('annotator throughput', [
			['2026-01-03 · alice', 'pages', '1', true], ['2026-01-03 · bob', 'pages', '1', true],
			['2026-01-04 · bob', 'pages', '1', true],
		], await bars('annotator_throughput'));
		same('queue depth per stage', [
			['awaiting_ocr', 'documents', '1', true], ['ocr_failed', 'documents', '1', true],
			['awaiting_annotation', 'documents', '0', true], ['annotated', 'documents', '2', true],
		], await bars('queue_depth'));
		const h = await page.$$eval('section[data-panel="queue_depth"] rect.bar', (rs) => rs.map((r) => Number(r.getAttribute('height'))));
		check('bar heights follow the values (2 is twice 1, 0 is flat)',
			Math.abs(h[3] - 2 * h[0]) < 0.2 && h[2] === 0 && h[0] > 0, h.join(','));
		same('the value labels are drawn in the chart',
			['1', '1', '0', '2'],
			await page.$$eval('section[data-panel="queue_depth"] svg text.value', (ts) => ts.map((t) => t.textContent)));
		same('OCR coverage: a stat', '50 %',
			await page.$eval('section[data-panel="ocr_coverage"] .stat', (s) => s.textContent));
		same('F1 per export: a point per run', [['1 · apflow-rules-v1', 'f1', '0.571']],
			await page.$$eval('section[data-panel="agent_f1_per_export"] circle.point',
				(cs) => cs.map((c) => [c.dataset.category, c.dataset.series, c.dataset.value])));
		same('precision and recall: a table', [
			['apflow-rules-v1', 'ORGANIZATION', '1', '1', '1', '1', '1'],
			['apflow-rules-v1', 'PORT', '2', '1', '1', '0.5', '1'],
			['apflow-rules-v1', 'VESSEL_NAME', '1', '1', '0', '0', '0'],
		], await page.$$eval('section[data-panel="suggestion_quality"] tbody tr',
			(rs) => rs.map((r) => Array.from(r.cells).map((c) => c.textContent))));
		check('no request leaves the server (no outside assets)', foreign.length === 0, foreign.join('\n'));
		check('no errors in the console', errors.length === 0, errors.join('\n'));

		const shot = path.join(outDir, 'dashboard.png');
		await page.screenshot({ path: shot, fullPage: true });
		const png = fs.readFileSync(shot);
		const w = png.readUInt32BE(16), hgt = png.readUInt32BE(20);
		check('screenshot saved as a PNG', png.slice(1, 4).toString() === 'PNG');
		check('screenshot is 1280 px wide and shows every panel (>= 900 px high)', w === 1280 && hgt >= 900, `${w}x${hgt}`);
		check('screenshot is 20 KB .. 1 MB (not blank)', png.length > 20000 && png.length < 1 << 20, png.length);
	} finally {
		await ctx.close();
	}
}

main().then(() => process.exit(failed ? 1 : 0), (e) => {
	console.log(`not ok - the spec ran to its end\n# ${String(e.stack || e).split('\n').join('\n# ')}`);
	process.exit(1);
});
