// lib.js: what the fakes share: their command-line parser (--some-flag V
// becomes opt.someFlag = 'V') and the npm test tools that
// scripts/install-deps.sh installs into third_party/npm.
'use strict';

const path = require('path');

const modules = path.resolve(__dirname, '../../third_party/npm/node_modules');

function args(argv, defaults) {
  const out = Object.assign({}, defaults);
  for (let i = 2; i < argv.length; i += 2) {
    const k = argv[i].replace(/^--/, '').replace(/-([a-z])/g, (m, c) => c.toUpperCase());
    out[k] = argv[i + 1];
  }
  return out;
}

function npm(name) {
  return require(path.join(modules, name));
}

module.exports = { args, npm };
