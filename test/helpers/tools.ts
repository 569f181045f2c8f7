// Runs the real system tools tests rely on (genisoimage, xorriso, dash, …). A missing tool is a
// failure, never a skip: scripts/test.sh installs them.
import { execFileSync } from 'node:child_process';

export function run(cmd: string, args: readonly string[], options: { cwd?: string; input?: Buffer | string } = {}): Buffer {
  return execFileSync(cmd, args, { cwd: options.cwd, input: options.input, stdio: ['pipe', 'pipe', 'pipe'], maxBuffer: 256 * 1024 * 1024 });
}

/** Whether `password` matches a crypt(3) hash of any kind ($6$, $y$ …), via the system's libcrypt. */
export function cryptMatches(hash: string, password: string): boolean {
  const script = 'import crypt, sys; h = sys.argv[1]; sys.exit(0 if crypt.crypt(sys.stdin.read(), h[:h.rindex("$")]) == h else 1)';
  try {
    execFileSync('/usr/bin/python3', ['-W', 'ignore', '-c', script, hash], { input: password, stdio: ['pipe', 'ignore', 'ignore'] });
    return true;
  } catch {
    return false;
  }
}
