// Which accounts of a passwd/shadow pair can log in with a password baked into the image (pure: text in, names out).
import { shadowFieldAllowsLogin } from './crypt.js';
import { parsePasswd } from './passwd.js';

/** Shells that mean "no login" (nologin, false, and the sync/halt/shutdown accounts). */
const NO_LOGIN = /(nologin|\/false|\/sync|\/halt|\/shutdown)$/u;

/** Accounts that can log in and carry a usable password hash, in /etc/shadow's order. */
export function fixedPasswordAccounts(passwd: string, shadow: string): string[] {
  const shells = new Map(parsePasswd(passwd).map((e) => [e.name, e.shell]));
  const out: string[] = [];
  for (const line of shadow.split('\n')) {
    const [name, hash] = line.split(':');
    if (name === undefined || hash === undefined || name === '') continue;
    const shell = shells.get(name);
    // an empty shell field is /bin/sh to login(1), sshd and su: such an account logs in
    if (shell === undefined || NO_LOGIN.test(shell)) continue;
    if (shadowFieldAllowsLogin(hash)) out.push(name);
  }
  return out;
}
