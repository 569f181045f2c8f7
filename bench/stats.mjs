// What every benchmark reports: the median of its runs; and the command runners the disk benches share.
import { spawnSync } from 'node:child_process';

export const median = (a) => {
  const s = [...a].sort((x, y) => x - y);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

/** Runs a command to its end; its stdout, or an error with the tail of what it said. */
export function sh(cmd, args) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}: ${(r.stderr || r.stdout).slice(-800)}`);
  return r.stdout;
}

/** A command's wall time in milliseconds. */
export function timed(cmd, args) {
  const t0 = process.hrtime.bigint();
  sh(cmd, args);
  return Number(process.hrtime.bigint() - t0) / 1e6;
}
