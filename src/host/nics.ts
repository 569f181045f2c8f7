// The running system's network interfaces (name and MAC), read from /sys/class/net.
//
// Not systeminformation here: its networkInterfaces() starts ~40 processes per call (cat, nmcli,
// sh -c with interface names in the command line), which cost 2.3 s of boot under emulation and
// would hand a hostile interface name to a shell. sysfs gives the same facts with no process.
import { readFile, readdir } from 'node:fs/promises';
import type { GuestNic } from '../network/resolve.js';

const ARPHRD_ETHER = '1';

export async function listGuestNics(sysDir = '/sys'): Promise<GuestNic[]> {
  const names = await readdir(`${sysDir}/class/net`).catch(() => [] as string[]);
  const out: GuestNic[] = [];
  for (const name of names.sort()) {
    const read = (attr: string): Promise<string> => readFile(`${sysDir}/class/net/${name}/${attr}`, 'utf8').then((s) => s.trim(), () => '');
    if ((await read('type')) !== ARPHRD_ETHER) continue;
    const mac = (await read('address')).toLowerCase();
    if (!/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/u.test(mac) || mac === '00:00:00:00:00:00') continue;
    const ifindex = Number(await read('ifindex'));
    const physical = await readFile(`${sysDir}/class/net/${name}/device/uevent`).then(() => true, () => false);
    out.push({ name, mac, ...(Number.isInteger(ifindex) && ifindex > 0 ? { ifindex } : {}), physical });
  }
  return out;
}
