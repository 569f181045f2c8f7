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
// only a directory no one but root (vmctx's user) owns or can write: a cache someone else could
// plant would be code run as root, and a link there would take the new cache's write elsewhere
function ownDir() {
  try {
    const st = fs.lstatSync(cacheDir);
    const me = process.geteuid ? process.geteuid() : 0;
    return st.isDirectory() && (st.uid === 0 || st.uid === me) && (st.mode & 0o022) === 0;
  } catch (error) {
    return false;
  }
}
let cached;
try {
  const fd = fs.openSync(cacheFile, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW);
  try {
    const st = fs.fstatSync(fd);
    cached = ownDir() && st.isFile() && st.nlink === 1 && st.uid === (process.geteuid ? process.geteuid() : 0) ? fs.readFileSync(fd) : undefined;
  } finally {
    fs.closeSync(fd);
  }
} catch (error) {
  cached = undefined;
}
const script = new vm.Script(Module.wrap(source), { filename: bundle, cachedData: cached });
if (cached === undefined || script.cachedDataRejected) {
  process.once('exit', () => {
    try {
      fs.mkdirSync(cacheDir, { recursive: true, mode: 0o700 });
      if (!ownDir()) return; // vmctx repairs it (chown root, chmod go-w) in its run
      const temp = `${cacheFile}.${process.pid}`;
      fs.writeFileSync(temp, script.createCachedData(), { mode: 0o600, flag: 'wx' });
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
