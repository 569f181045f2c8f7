import { mkdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { listGuestNics } from '../../src/host/nics.js';
import { tempDir } from '../helpers/tmp.js';

describe('listGuestNics', () => {
  it('lists Ethernet interfaces with their MAC from sysfs, skipping loopback and others', async () => {
    const sys = await tempDir();
    const nic = async (name: string, type: string, address: string): Promise<void> => {
      await mkdir(join(sys, 'class/net', name), { recursive: true });
      await writeFile(join(sys, 'class/net', name, 'type'), `${type}\n`);
      await writeFile(join(sys, 'class/net', name, 'address'), `${address}\n`);
    };
    await nic('lo', '772', '00:00:00:00:00:00');
    await nic('ens3', '1', '52:54:00:AB:CD:EF');
    await writeFile(join(sys, 'class/net/ens3/ifindex'), '2\n');
    await writeFile(join(sys, 'class/net/ens3/flags'), '0x1003\n');
    await writeFile(join(sys, 'class/net/lo/flags'), '0x9\n');
    await mkdir(join(sys, 'class/net/ens3/device'));
    await writeFile(join(sys, 'class/net/ens3/device/uevent'), 'DRIVER=virtio_net\n');
    await nic('wg0', '65534', '');
    await nic('$(reboot)', '1', '52:54:00:00:00:01');
    expect(await listGuestNics(sys)).toEqual([
      { name: '$(reboot)', mac: '52:54:00:00:00:01', physical: false },
      { name: 'ens3', mac: '52:54:00:ab:cd:ef', ifindex: 2, physical: true, up: true },
    ]);
  });

  it('finds a bonded port by its permanent MAC (bonding_slave/perm_hwaddr) and reads its driver; the bond is not physical', async () => {
    const sys = await tempDir();
    const nic = async (name: string, address: string, device: boolean): Promise<void> => {
      await mkdir(join(sys, 'class/net', name), { recursive: true });
      await writeFile(join(sys, 'class/net', name, 'type'), '1\n');
      await writeFile(join(sys, 'class/net', name, 'address'), `${address}\n`);
      if (device) {
        await mkdir(join(sys, 'class/net', name, 'device'));
        await writeFile(join(sys, 'class/net', name, 'device/uevent'), 'DRIVER=virtio_net\n');
        await symlink('../../../bus/virtio/drivers/virtio_net', join(sys, 'class/net', name, 'device/driver'));
      }
    };
    // the bond took ens3's MAC for itself and for ens4
    await nic('bond0', '52:54:00:00:00:03', false);
    await nic('ens3', '52:54:00:00:00:03', true);
    await nic('ens4', '52:54:00:00:00:03', true);
    await mkdir(join(sys, 'class/net/ens4/bonding_slave'));
    await writeFile(join(sys, 'class/net/ens4/bonding_slave/perm_hwaddr'), '52:54:00:00:00:04\n');
    await mkdir(join(sys, 'class/net/ens3/bonding_slave'));
    await writeFile(join(sys, 'class/net/ens3/bonding_slave/perm_hwaddr'), '52:54:00:00:00:03\n');
    await writeFile(join(sys, 'class/net/ens4/flags'), '0x1802\n');
    expect(await listGuestNics(sys)).toEqual([
      { name: 'bond0', mac: '52:54:00:00:00:03', physical: false },
      { name: 'ens3', mac: '52:54:00:00:00:03', physical: true, driver: 'virtio_net' },
      { name: 'ens4', mac: '52:54:00:00:00:03', permMac: '52:54:00:00:00:04', physical: true, driver: 'virtio_net', up: false },
    ]);
  });

  it('reads the real system', async () => {
    const nics = await listGuestNics();
    for (const n of nics) expect(n.mac).toMatch(/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/u);
  });
});
