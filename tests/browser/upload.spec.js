// tests/browser/upload.spec.js: the upload page in real headless Chromium.
//
//   node upload.spec.js URL TOKEN DIR
// DIR holds one.pdf, two.pdf, three.pdf (real PDFs) and fake.pdf (text).
// Prints TAP lines ("ok - ...", "not ok - ..."); exits 1 when one failed.
// Writes $TEST_OUT/upload-page.png (laptop) and upload-page-phone.png.
'use strict';
const fs = require('fs');
const os = require('os');
const path = require('path');
const crypto = require('crypto');
const { chromium } = require(path.join(process.env.APFLOW_TOP, 'third_party/npm/node_modules/playwright-core'));

const [url, token, dir] = process.argv.slice(2);
const outDir = process.env.TEST_OUT || '.';
let failed = 0;

function check(desc, cond, detail) {
	console.log(`${cond ? 'ok' : 'not ok'} - ${desc}`);
	if (!cond) {
		failed++;
		if (detail !== undefined) console.log(`# ${String(detail).split('\n').join('\n# ')}`);
	}
}

const sha20 = (f) => crypto.createHash('sha256').update(fs.readFileSync(f)).digest('hex').slice(0, 20);

async function main() {
	const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'apflow-chromium-'));
	const ctx = await chromium.launchPersistentContext(profile, {
		executablePath: '/usr/bin/chromium',
		headless: true,
		args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
			'--disable-background-networking', '--disable-component-update', '--disable-sync'],
		viewport: { width: 1280, height: 860 },
	});
	try {
		const page = ctx.pages()[0] || await ctx.newPage();
		const foreign = [];
		page.on('request', (r) => { if (!r.url().startsWith(url)) foreign.push(r.url()); });
		const consoleErrors = [];
		// Chromium logs every 4xx answer as a console error; those are expected here.
		page.on('console', (m) => {
			if (m.type() === 'error' && !/Failed to load resource/.test(m.text())) consoleErrors.push(m.text());
		});
		page.on('pageerror', (e) => consoleErrors.push(String(e)));

		// Listening from the start turns file-chooser interception on
		// before any key is pressed (enabling it later races the press).
		let choosers = 0;
		page.on('filechooser', () => { choosers++; });
		await page.waitForTimeout(200);

		await page.goto(url + '/');
		check('the page loads with its title', (await page.title()).includes('Upload PDFs'));
		check('the file picker takes several PDFs',
			await page.$eval('#file', (i) => i.multiple && i.accept.includes('application/pdf')));
		check('the token field has a label', await page.$eval('#token', (i) => !!(i.labels && i.labels.length)));
		check('results are announced (aria-live)', (await page.getAttribute('#results', 'aria-live')) === 'polite');

		// Keyboard: Tab reaches the "Choose files" control and Enter opens the picker.
		await page.keyboard.press('Tab');
		check('Tab focuses "Choose files" first', await page.evaluate(() => document.activeElement.id === 'pick'));
		await page.keyboard.press('Enter');
		for (let i = 0; i < 50 && !choosers; i++) await page.waitForTimeout(100);
		check('Enter on "Choose files" opens the file picker', choosers > 0);

		// The token, kept in sessionStorage for the tab.
		await page.click('#token-box summary');
		await page.fill('#token', token);
		check('the token is kept in sessionStorage',
			await page.evaluate(() => sessionStorage.getItem('apflow-upload-token')) === token);

		// Two files through the picker.
		await page.setInputFiles('#file', [path.join(dir, 'one.pdf'), path.join(dir, 'two.pdf')]);

		// One by drag and drop: a synthetic drop with a DataTransfer built in the page.
		const bytes = fs.readFileSync(path.join(dir, 'three.pdf')).toString('base64');
		await page.evaluate((b64) => {
			const raw = atob(b64);
			const buf = new Uint8Array(raw.length);
			for (let i = 0; i < raw.length; i++) buf[i] = raw.charCodeAt(i);
			const dt = new DataTransfer();
			dt.items.add(new File([buf], 'three.pdf', { type: 'application/pdf' }));
			const zone = document.getElementById('drop');
			for (const type of ['dragenter', 'dragover', 'drop'])
				zone.dispatchEvent(new DragEvent(type, { dataTransfer: dt, bubbles: true, cancelable: true }));
		}, bytes);

		await page.waitForFunction(() => document.querySelectorAll('#results li.ok').length === 3, null,
			{ timeout: 30000 }).catch(() => {});
		const got = await page.$$eval('#results li.ok', (lis) => lis.map((li) => ({
			name: li.querySelector('.name').textContent,
			id: li.querySelector('code.doc-id').textContent,
			pages: li.querySelector('.pages').textContent,
			badge: li.querySelector('.badge').textContent,
		})));
		check('three uploads succeeded', got.length === 3, JSON.stringify(got));
		for (const f of ['one.pdf', 'two.pdf', 'three.pdf']) {
			const row = got.find((g) => g.name === f);
			check(`${f}: doc_id shown = sha256 prefix`, row && row.id === sha20(path.join(dir, f)),
				JSON.stringify(row));
		}
		const two = got.find((g) => g.name === 'two.pdf');
		check('page count shown', two && /^3 pages/.test(two.pages), two && two.pages);
		check('new files carry the "new" badge', got.every((g) => g.badge === 'new'));
		check('each result has a copy button',
			await page.$$eval('#results li.ok button.copy', (b) => b.length) === 3);
		check('progress bars reached 100%',
			await page.$$eval('#results li.ok progress', (p) => p.every((x) => x.value === 100)));

		// The same file again: the duplicate badge.
		await page.setInputFiles('#file', [path.join(dir, 'one.pdf')]);
		await page.waitForFunction(() => document.querySelectorAll('#results li.ok').length === 4, null,
			{ timeout: 20000 }).catch(() => {});
		const dupBadge = await page.$eval('#results li:first-child .badge', (b) => b.textContent).catch(() => '');
		check('uploading a file again shows the duplicate badge', dupBadge === 'duplicate', dupBadge);

		// A text file named .pdf: a clear error in plain words.
		await page.setInputFiles('#file', [path.join(dir, 'fake.pdf')]);
		await page.waitForSelector('#results li.bad', { timeout: 20000 }).catch(() => {});
		const err = await page.$eval('#results li.bad .error', (e) => e.textContent).catch(() => '');
		check('a .txt renamed .pdf gets a clear error', /not a PDF file/.test(err), err);
		check('the error row names the file',
			await page.$eval('#results li.bad .name', (e) => e.textContent).catch(() => '') === 'fake.pdf');

		check('nothing was requested from another origin', foreign.length === 0, foreign.join('\n'));
		check('no script errors', consoleErrors.length === 0, consoleErrors.join('\n'));
		await page.screenshot({ path: path.join(outDir, 'upload-page.png'), fullPage: true });

		// A phone: nothing wider than the screen.
		await page.setViewportSize({ width: 375, height: 740 });
		const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
		check('on a phone-sized screen nothing overflows sideways', overflow <= 0, `overflow ${overflow}px`);
		await page.screenshot({ path: path.join(outDir, 'upload-page-phone.png'), fullPage: true });
		// The screenshots: PNGs of the viewport's width, tall enough to
		// hold the page, and not blank (a blank page compresses to a few KB).
		for (const [file, width] of [['upload-page.png', 1280], ['upload-page-phone.png', 375]]) {
			const png = fs.readFileSync(path.join(outDir, file));
			const w = png.readUInt32BE(16), hgt = png.readUInt32BE(20);
			check(`${file} is a PNG`, png.slice(1, 4).toString() === 'PNG');
			check(`${file} is ${width} px wide and at least 400 px high`, w === width && hgt >= 400, `${w}x${hgt}`);
			check(`${file} is 30 KB .. 1 MB (not blank)`, png.length > 30000 && png.length < 1 << 20, png.length);
		}
	} finally {
		await ctx.close();
		fs.rmSync(profile, { recursive: true, force: true });
	}
}

main().then(() => process.exit(failed ? 1 : 0), (e) => {
	console.log(`not ok - the browser test crashed: ${String(e && e.stack || e).split('\n').join('\n# ')}`);
	process.exit(1);
});
