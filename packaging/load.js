// vmctx loader: runs /usr/lib/vmctx/vmctx.js with a V8 code cache, so every boot after the first
// skips compiling the bundle (Node 20 has no built-in compile cache). V8 rejects a cache that does
// not match the bundle or the runtime, and a fresh one is written. The cache directory is root's.
'use strict';
const fs = require('fs');
const path = require('path');
const vm = require('vm');
const Module = require('module');

const bundle = path.join(__dirname, 'vmctx.js');
const cacheDir = process.env.VMCTX_CACHE_DIR || '/var/cache/vmctx';
const cacheFile = path.join(cacheDir, 'vmctx.js.v8cache');
const source = fs.readFileSync(bundle, 'utf8').replace(/^#!.*/, '');
let cached;
try {
  cached = fs.readFileSync(cacheFile);
} catch (error) {
  cached = undefined;
}
const script = new vm.Script(Module.wrap(source), { filename: bundle, cachedData: cached });
if (cached === undefined || script.cachedDataRejected) {
  process.once('exit', () => {
    try {
      fs.mkdirSync(cacheDir, { recursive: true, mode: 0o700 });
      const temp = `${cacheFile}.${process.pid}`;
      fs.writeFileSync(temp, script.createCachedData(), { mode: 0o600 });
      fs.renameSync(temp, cacheFile);
    } catch (error) {
      // a read-only or full disk: run without a cache next time too
    }
  });
}
const mod = new Module(bundle, null);
mod.filename = bundle;
mod.paths = Module._nodeModulePaths(path.dirname(bundle));
script.runInThisContext().call(mod.exports, mod.exports, (id) => mod.require(id), mod, bundle, path.dirname(bundle));
