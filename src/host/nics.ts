// The running system's network interfaces (name and MAC), from systeminformation.
import type { GuestNic } from '../network/resolve.js';

export async function listGuestNics(): Promise<GuestNic[]> {
  const si = await import('systeminformation');
  const list = await si.networkInterfaces();
  const all = Array.isArray(list) ? list : [list];
  return all.filter((n) => !n.internal && /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/iu.test(n.mac)).map((n) => ({ name: n.iface, mac: n.mac.toLowerCase() }));
}
