#!/usr/bin/env node
/*
 * build-ports.js PORTS_JSON > ports.txt
 *
 * Rebuilds ports.txt from lib/ports.json of the npm package sea-ports 0.0.9
 * (MIT, https://github.com/marchah/sea-ports; the port list of US Customs
 * and Border Protection's Schedule K and D, keyed by UN/LOCODE):
 *   npm pack sea-ports@0.0.9 && tar xzf sea-ports-0.0.9.tgz
 *   node config/gazetteers/build-ports.js package/lib/ports.json > config/gazetteers/ports.txt
 * Each name and alias becomes a line: "A/B" gives two names, a comment in
 * parentheses and a region after a comma ("Davao, Mindanao") are dropped,
 * and so are the names of ports_context.txt (ports only in context).
 */
'use strict';
const fs = require('fs');
const path = require('path');
const ports = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
/* Names that need context (ports_context.txt) stay out of this list. */
const ctx = new Set(fs.readFileSync(path.join(__dirname, 'ports_context.txt'), 'utf8').split('\n')
	.map((l) => l.trim()).filter((l) => l && !l.startsWith('#')));
const names = new Set();
for (const k of Object.keys(ports)) {
	const p = ports[k];
	for (const n of [p.name, ...(p.alias || [])]) {
		if (!n) continue;
		for (let x of n.replace(/\(.*$/, '').split('/')) {
			x = x.split(',')[0].replace(/\s+/g, ' ').trim();
			if ([...x].length >= 3 && !/^\d/.test(x) && !ctx.has(x)) names.add(x);
		}
	}
}
const out = ['# World ports: names and aliases from the npm package sea-ports 0.0.9',
	'# (MIT, https://github.com/marchah/sea-ports), rebuilt by build-ports.js.',
	...[...names].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))];
process.stdout.write(out.join('\n') + '\n');
