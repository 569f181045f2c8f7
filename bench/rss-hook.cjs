// Preloaded by the benchmark (node --require): reports this process's peak RSS (KiB) on fd 3.
const { writeSync } = require('node:fs');
process.on('exit', () => {
  try {
    writeSync(3, `${process.resourceUsage().maxRSS}\n`);
  } catch {
    // no fd 3: not under the benchmark
  }
});
