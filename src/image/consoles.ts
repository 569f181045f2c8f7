// The consoles of an image: /etc/securetty and a login on the serial console, as `bake --check`
// reports them and `bake --console ttyS0,hvc0` makes them true (through the Root: into an image
// without mounting it, or into a directory).
//
// - /etc/securetty only matters where PAM's login stack uses pam_securetty. Debian dropped it from
//   /etc/pam.d/login (and stopped shipping the file) in bullseye, RHEL in 8; without the file,
//   pam_securetty lets root in on every terminal. So a missing file is fine, and --console never
//   creates one (a new file listing only the serial consoles would shut root out of tty1).
// - A login on the serial console: sysvinit needs an inittab getty line; systemd starts
//   serial-getty@X.service where it is enabled (a link in getty.target.wants, as `systemctl
//   enable` makes) and, through systemd-getty-generator, on the console= the kernel was given and
//   on the hypervisor consoles (hvc0, xvc0, hvsi0) whenever the device exists at boot. So on systemd
//   --console enables serial-getty@ only for the others (ttyS0 …): hvc0 already gets its login.
import type { Root } from '../host/root.js';
import { VmctxError, describeError, errnoCode } from '../shared/errors.js';

/** The consoles the platform logs in on (Tycoon's list). */
export const PLATFORM_CONSOLES = ['ttyS0', 'hvc0', 'xvc0', 'tty1'] as const;
/** The consoles systemd-getty-generator gives a getty whenever the device exists. */
const GENERATED = new Set(['hvc0', 'xvc0', 'hvsi0', 'sclp_line0', 'ttysclp0']);
const NAME = /^[a-zA-Z0-9]+$/u;
const SECURETTY = '/etc/securetty';
const INITTAB = '/etc/inittab';
const UPSTART = '/etc/init';
const WANTS = '/etc/systemd/system/getty.target.wants';
const TEMPLATES = ['/usr/lib/systemd/system/serial-getty@.service', '/lib/systemd/system/serial-getty@.service'];
const BOOT_CONFIGS = ['/etc/default/grub', '/boot/grub/grub.cfg', '/boot/grub2/grub.cfg', '/boot/extlinux/extlinux.conf', '/etc/kernel/cmdline'];

export interface Status {
  readonly status: 'ok' | 'warn' | 'FAIL';
  readonly detail: string;
}

/** --console NAME,NAME: names of /dev entries, nothing else (ERR_CONSOLE_NAME). */
export function parseConsoles(spec: string): string[] {
  const names = spec.split(',').map((n) => n.trim()).filter((n) => n !== '');
  if (names.length === 0) throw new VmctxError('ERR_CONSOLE_NAME', '--console: give console names, e.g. ttyS0,hvc0');
  for (const n of names) if (!NAME.test(n)) throw new VmctxError('ERR_CONSOLE_NAME', `--console: "${n.slice(0, 40)}" is not a console name (letters and digits only, e.g. ttyS0, hvc0)`);
  return [...new Set(names)];
}

/** A file of the image's console setup: undefined only when it is not there; anything else that stops the read is ERR_CONSOLE_READ. */
async function read(root: Root, path: string): Promise<string | undefined> {
  try {
    return await root.readText(path, { maxBytes: 1024 * 1024 });
  } catch (error) {
    if (errnoCode(error) === 'ENOENT') return undefined;
    throw new VmctxError('ERR_CONSOLE_READ', `${path} cannot be read: ${describeError(error).message}`, { cause: error });
  }
}

/** A check row from a read that failed (other errors go on). */
function unreadable(error: unknown, status: Status['status']): Status {
  if (error instanceof VmctxError && error.code === 'ERR_CONSOLE_READ') return { status, detail: error.message };
  throw error;
}

/** The names a securetty-style file lists (comments and blanks left out). */
function listed(text: string): string[] {
  return text.split('\n').map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#'));
}

/** Whether PAM's login stack uses pam_securetty (undefined: no /etc/pam.d/login to tell). */
async function pamSecuretty(root: Root): Promise<boolean | undefined> {
  const login = await read(root, '/etc/pam.d/login');
  if (login === undefined) return undefined;
  const active = (t: string): boolean => t.split('\n').some((l) => !l.trim().startsWith('#') && l.includes('pam_securetty'));
  return active(login) || active((await read(root, '/etc/pam.d/remote')) ?? '');
}

/**
 * /etc/securetty must list tty1 and every console the image has a login on (a serial getty, an
 * inittab line, a console= of the boot configuration): where one is missing, root cannot log in
 * on a console that offers a login. The platform's other consoles are named when not listed, as
 * information: without a login there, an entry would change nothing.
 */
export async function securettyStatus(root: Root): Promise<Status> {
  try {
    const text = await read(root, SECURETTY);
    const pam = await pamSecuretty(root);
    if (text === undefined) {
      if (pam === true) return { status: 'warn', detail: 'missing, while /etc/pam.d/login uses pam_securetty: pam_securetty lets root in on every terminal then (a file would restrict it)' };
      return { status: 'ok', detail: 'absent, and PAM does not use pam_securetty (as on Debian 11+ and RHEL 8+): root may log in on any console' };
    }
    const have = new Set(listed(text));
    const logins = await loginConsoles(root);
    const needed = ['tty1', ...[...logins.keys()].filter((c) => c !== 'tty1')];
    const missing = needed.filter((c) => !have.has(c));
    if (missing.length === 0) {
      const others = PLATFORM_CONSOLES.filter((c) => !have.has(c));
      return { status: 'ok', detail: `lists ${needed.join(', ')} (tty1 and every console with a login here)${others.length === 0 ? '' : `; not ${others.join(', ')}, which have no login set up in this image (bake --console NAME adds both)`}` };
    }
    const where = missing.map((c) => (logins.has(c) ? `${c} (login: ${logins.get(c) ?? ''})` : c));
    const what = `lacks ${where.join(', ')}: root cannot log in there${missing.every((c) => c === 'tty1') ? '' : ' (bake --console adds them)'}`;
    if (pam === false) return { status: 'warn', detail: `${what} — but PAM does not use pam_securetty here, so it has no effect` };
    return { status: 'FAIL', detail: what };
  } catch (error) {
    return unreadable(error, 'FAIL');
  }
}

/** The consoles (not virtual terminals but tty1's) the image gives a login on, each with where that is set up. */
async function loginConsoles(root: Root): Promise<Map<string, string>> {
  const found = new Map<string, string>();
  const init = await initKind(root);
  if (init === 'sysvinit') for (const c of inittabGetties((await read(root, INITTAB)) ?? '').keys()) found.set(c, INITTAB);
  if (init === 'systemd') for (const c of await enabledSerialGetties(root)) found.set(c, `serial-getty@${c} enabled`);
  if (init === 'upstart') {
    for (const n of (await root.readdir(UPSTART)) ?? []) {
      const c = /^(?:vmctx-)?((?:ttyS|hvc|xvc|hvsi)\d+)\.conf$/u.exec(n)?.[1];
      if (c !== undefined) found.set(c, `${UPSTART}/${n}`);
    }
  }
  for (const [c, where] of await bootConsoles(root)) if (!/^tty\d+$/u.test(c) && !found.has(c)) found.set(c, `console=${c} in ${where}`);
  return found;
}

/** serial-getty@NAME linked in getty.target.wants and not masked. */
async function enabledSerialGetties(root: Root): Promise<string[]> {
  const wants = (await root.readdir(WANTS)) ?? [];
  const named = wants.map((n) => /^serial-getty@(.+)\.service$/u.exec(n)?.[1]).filter((n): n is string => n !== undefined);
  const enabled: string[] = [];
  for (const n of named) if (!(await masked(root, n))) enabled.push(n);
  return enabled;
}

/**
 * 'systemd' when the image boots systemd; 'upstart' with /etc/init and an inittab that runs no
 * getty (RHEL 6, Ubuntu ≤14.04: inittab holds only the runlevel); 'sysvinit' with an inittab;
 * undefined otherwise.
 */
export async function initKind(root: Root): Promise<'systemd' | 'sysvinit' | 'upstart' | undefined> {
  const systemd = (await Promise.all(['/usr/lib/systemd/systemd', '/lib/systemd/systemd'].map((p) => root.lstat(p)))).some((s) => s !== undefined);
  const init = await root.lstat('/sbin/init');
  const inittab = await read(root, INITTAB);
  // /sbin/init a link to systemd, or no sysvinit inittab beside an installed systemd
  if (systemd && (init?.linkTarget?.includes('systemd') === true || inittab === undefined)) return 'systemd';
  if ((await root.lstat(UPSTART))?.type === 'directory' && inittabGetties(inittab ?? '').size === 0) return 'upstart';
  if (inittab !== undefined) return 'sysvinit';
  return systemd ? 'systemd' : undefined;
}

/** inittab lines (not comments) running a getty, by the tty they name. */
function inittabGetties(text: string): Map<string, string> {
  const found = new Map<string, string>();
  for (const line of text.split('\n')) {
    const t = line.trim();
    if (t.startsWith('#') || !/getty/u.test(t)) continue;
    const fields = t.split(':');
    if (fields.length < 4 || !/respawn/u.test(fields[2] ?? '')) continue;
    for (const word of fields.slice(3).join(':').split(/\s+/u)) if (NAME.test(word) && /^(tty|hvc|xvc|hvsi)/u.test(word)) found.set(word, t);
  }
  return found;
}

/** The console= arguments in the image's boot configuration (grub defaults, grub.cfg, extlinux, kernel cmdline). */
async function bootConsoles(root: Root): Promise<Map<string, string>> {
  const found = new Map<string, string>();
  for (const p of BOOT_CONFIGS) {
    const text = await read(root, p);
    if (text === undefined) continue;
    for (const line of text.split('\n')) {
      if (line.trim().startsWith('#')) continue;
      for (const m of line.matchAll(/\bconsole=([a-zA-Z0-9]+)/gu)) if (m[1] !== undefined && !found.has(m[1])) found.set(m[1], p);
    }
  }
  return found;
}

/** serial-getty@NAME masked: /etc/systemd/system/serial-getty@NAME.service a link to /dev/null. */
async function masked(root: Root, name: string): Promise<boolean> {
  const st = await root.lstat(`/etc/systemd/system/serial-getty@${name}.service`);
  return st?.type === 'symlink' && st.linkTarget === '/dev/null';
}

export async function serialLoginStatus(root: Root): Promise<Status> {
  try {
    return await serialLogin(root);
  } catch (error) {
    return unreadable(error, 'warn');
  }
}

async function serialLogin(root: Root): Promise<Status> {
  const init = await initKind(root);
  const serial = ['ttyS0', 'hvc0', 'xvc0'];
  if (init === 'sysvinit') {
    const getties = inittabGetties((await read(root, INITTAB)) ?? '');
    const on = serial.filter((c) => getties.has(c));
    if (on.length > 0) return { status: 'ok', detail: `/etc/inittab runs a getty on ${on.join(', ')}` };
    return { status: 'FAIL', detail: '/etc/inittab has no getty line for ttyS0 or hvc0: no login on the serial console (bake --console ttyS0,hvc0 adds them)' };
  }
  if (init === 'systemd') {
    const enabled = await enabledSerialGetties(root);
    if (enabled.length > 0) return { status: 'ok', detail: `serial-getty@${enabled.join(', serial-getty@')} enabled (getty.target.wants)` };
    const consoles = await bootConsoles(root);
    const viaCmdline = [...consoles.keys()].filter((c) => (c.startsWith('tty') && !/^tty\d+$/u.test(c)) || GENERATED.has(c));
    if (viaCmdline.length > 0) return { status: 'ok', detail: `console=${viaCmdline.join(', console=')} in ${consoles.get(viaCmdline[0] ?? '') ?? ''}: systemd-getty-generator starts serial-getty@ there` };
    return { status: 'warn', detail: 'no serial-getty@ enabled and no serial console= in the boot config: systemd-getty-generator gives hvc0/xvc0 a login when they exist, ttyS0 gets none (bake --console ttyS0 enables it)' };
  }
  if (init === 'upstart') {
    const jobs = ((await root.readdir(UPSTART)) ?? []).filter((n) => /^(serial|(vmctx-)?(ttyS\d+|hvc\d+|xvc\d+))\.conf$/u.test(n));
    if (jobs.length > 0) return { status: 'ok', detail: `upstart: /etc/init/${jobs.join(', /etc/init/')} runs a serial getty` };
    return { status: 'FAIL', detail: 'upstart: no serial getty job in /etc/init (bake --console ttyS0 adds one)' };
  }
  return { status: 'warn', detail: 'cannot tell the init system (no systemd, no /etc/inittab): the serial console login is unknown' };
}

export interface ConsoleResult {
  readonly changed: string[];
  /** What was left as it was, and why. */
  readonly notes: string[];
}

/** What --console reads of the image: /etc/securetty, the init system and its inittab. */
export interface ConsoleSetup {
  readonly secure: string | undefined;
  readonly init: Awaited<ReturnType<typeof initKind>>;
  readonly inittab: string;
}

/** Reads what --console changes; a file that cannot be read is ERR_CONSOLE_READ (bake reads it before it writes anything). */
export async function readConsoleSetup(root: Root): Promise<ConsoleSetup> {
  const secure = await read(root, SECURETTY);
  const init = await initKind(root);
  return { secure, init, inittab: init === 'sysvinit' ? ((await read(root, INITTAB)) ?? '') : '' };
}

/** `bake --console NAMES`: securetty entries and a getty on each console, for the image's init. */
export async function applyConsoles(root: Root, names: readonly string[], setup?: ConsoleSetup): Promise<ConsoleResult> {
  const changed: string[] = [];
  const notes: string[] = [];
  // everything read before anything is written: a file that cannot be read (ERR_CONSOLE_READ) changes nothing
  const { secure, init, inittab } = setup ?? (await readConsoleSetup(root));
  // securetty: appended to, never created (see the top of this file)
  if (secure === undefined) notes.push(`${SECURETTY} absent: root may log in on any terminal already; not created`);
  else {
    const have = new Set(listed(secure));
    const add = names.filter((n) => !have.has(n));
    if (add.length > 0) {
      const st = await root.lstat(SECURETTY);
      const body = `${secure}${secure === '' || secure.endsWith('\n') ? '' : '\n'}${add.join('\n')}\n`;
      if ((await root.writeFile(SECURETTY, body, { mode: (st?.mode ?? 0o600) & 0o7777 })).changed) changed.push(SECURETTY);
    }
  }
  if (init === 'systemd') {
    let template: string | undefined;
    for (const t of TEMPLATES) if ((await root.lstat(t)) !== undefined) template ??= t;
    for (const n of names) {
      if (GENERATED.has(n)) {
        notes.push(`${n}: systemd-getty-generator starts serial-getty@${n} whenever /dev/${n} exists; not enabled`);
        continue;
      }
      if (/^tty\d+$/u.test(n)) {
        notes.push(`${n}: a virtual terminal, getty@${n} is systemd's own (logind); not a serial getty`);
        continue;
      }
      if (template === undefined) {
        notes.push(`${n}: no serial-getty@.service in the image; not enabled`);
        continue;
      }
      if (await masked(root, n)) {
        // what `systemctl unmask` does: the mask goes, the unit is the template again
        await root.remove(`/etc/systemd/system/serial-getty@${n}.service`);
        changed.push(`/etc/systemd/system/serial-getty@${n}.service (unmasked)`);
      }
      const link = `${WANTS}/serial-getty@${n}.service`;
      if ((await root.lstat(link)) !== undefined) continue;
      await root.ensureDir('/etc/systemd/system', { mode: 0o755 });
      await root.ensureDir(WANTS, { mode: 0o755 });
      if (await root.symlink(template, link)) changed.push(link);
    }
  } else if (init === 'sysvinit') {
    const text = inittab;
    const getties = inittabGetties(text);
    const ids = new Set(text.split('\n').filter((l) => !l.trim().startsWith('#')).map((l) => l.split(':')[0]?.trim() ?? ''));
    const getty = (await root.lstat('/sbin/getty')) !== undefined ? '/sbin/getty' : (await root.lstat('/sbin/agetty')) !== undefined ? '/sbin/agetty' : '/sbin/getty';
    const lines: string[] = [];
    for (const n of names) {
      if (getties.has(n)) continue;
      let i = 0;
      while (ids.has(`T${i}`)) i++;
      ids.add(`T${i}`);
      lines.push(`T${i}:23:respawn:${getty} -L ${n} 115200 vt100`);
    }
    if (lines.length > 0) {
      const st = await root.lstat(INITTAB);
      await root.writeFile(INITTAB, `${text}${text === '' || text.endsWith('\n') ? '' : '\n'}# vmctx bake --console\n${lines.join('\n')}\n`, { mode: (st?.mode ?? 0o644) & 0o7777 });
      changed.push(INITTAB);
    }
  } else if (init === 'upstart') {
    const getty = (await root.lstat('/sbin/agetty')) !== undefined ? '/sbin/agetty' : '/sbin/getty';
    for (const n of names) {
      const job = `${UPSTART}/vmctx-${n}.conf`;
      if ((await root.lstat(`${UPSTART}/${n}.conf`)) !== undefined || (await root.lstat(job)) !== undefined) continue;
      const text = `# vmctx bake --console: a login on ${n}\nstart on stopped rc RUNLEVEL=[2345]\nstop on runlevel [!2345]\nrespawn\nexec ${getty} -L ${n} 115200 vt100\n`;
      if ((await root.writeFile(job, text, { mode: 0o644 })).changed) changed.push(job);
    }
  } else notes.push('cannot tell the init system (no systemd, no /etc/inittab): no getty added');
  return { changed, notes };
}
