// What systemd on the running machine says about a unit: properties read with `systemctl show`
// (argv only, with a deadline), and whether systemd is the init system at all.
import { HostExec, type Exec } from './exec.js';
import { localPathExists } from './localfiles.js';

/** Whether this machine was booted by systemd (it creates /run/systemd/system early in boot). */
export function bootedBySystemd(): Promise<boolean> {
  return localPathExists('/run/systemd/system');
}

/**
 * `systemctl show -p P… UNIT` as name → value; undefined when systemctl cannot be asked (missing,
 * failing, or no answer within the deadline).
 */
export async function unitProperties(unit: string, properties: readonly string[], exec: Exec = new HostExec(), timeoutMs = 5000): Promise<Record<string, string> | undefined> {
  const systemctl = await exec.which('systemctl');
  if (systemctl === undefined) return undefined;
  const result = await exec.run(systemctl, ['show', ...properties.flatMap((p) => ['-p', p]), unit], { timeoutMs }).catch(() => undefined);
  if (result === undefined || result.code !== 0 || result.stdout === '') return undefined;
  return Object.fromEntries(result.stdout.split('\n').filter((l) => l.includes('=')).map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
}
