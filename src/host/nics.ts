// The running system's network interfaces (name and MAC), read from /sys/class/net.
//
// Not systeminformation here: its networkInterfaces() starts ~40 processes per call (cat, nmcli,
// sh -c with interface names in the command line), which cost 2.3 s of boot under emulation and
// would hand a hostile interface name to a shell. sysfs gives the same facts with no process.
import { readFile, readdir, readlink } from 'node:fs/promises';
import type { GuestNic } from '../network/resolvenet.js';

const ARPHRD_ETHER = '1';
const MAC = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/u;

export async function listGuestNics(sysDir = '/sys'): Promise<GuestNic[]> {
  const names = await readdir(`${sysDir}/class/net`).catch(() => [] as string[]);
  const out: GuestNic[] = [];
  for (const name of names.sort()) {
    const read = (attr: string): Promise<string> => readFile(`${sysDir}/class/net/${name}/${attr}`, 'utf8').then((s) => s.trim(), () => '');
    if ((await read('type')) !== ARPHRD_ETHER) continue;
    const mac = (await read('address')).toLowerCase();
    if (!MAC.test(mac) || mac === '00:00:00:00:00:00') continue;
    const ifindex = Number(await read('ifindex'));
    const physical = await readFile(`${sysDir}/class/net/${name}/device/uevent`).then(() => true, () => false);
    // a bond's port carries the bond's MAC once enslaved; its own stays in bonding_slave/perm_hwaddr
    const perm = (await read('bonding_slave/perm_hwaddr')).toLowerCase();
    const permMac = MAC.test(perm) && perm !== mac ? perm : undefined;
    const driver = (await readlink(`${sysDir}/class/net/${name}/device/driver`).catch(() => '')).split('/').at(-1) ?? '';
    // flags: hex, IFF_UP is 0x1 (a NIC must be down to be renamed)
    const flags = await read('flags');
    const up = /^0x[0-9a-f]+$/iu.test(flags) ? (Number.parseInt(flags, 16) & 0x1) !== 0 : undefined;
    out.push({ name, mac, ...(permMac === undefined ? {} : { permMac }), ...(Number.isInteger(ifindex) && ifindex > 0 ? { ifindex } : {}), physical, ...(/^[A-Za-z0-9_.-]{1,64}$/u.test(driver) ? { driver } : {}), ...(up === undefined ? {} : { up }) });
  }
  return out;
}
