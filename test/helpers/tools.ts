// Runs the real system tools tests rely on (genisoimage, xorriso, dash, …). A missing tool is a
// failure, never a skip: scripts/test.sh installs them.
import { execFileSync } from 'node:child_process';

export function run(cmd: string, args: readonly string[], options: { cwd?: string; input?: Buffer | string } = {}): Buffer {
  return execFileSync(cmd, args, { cwd: options.cwd, input: options.input, stdio: ['pipe', 'pipe', 'pipe'], maxBuffer: 256 * 1024 * 1024 });
}
