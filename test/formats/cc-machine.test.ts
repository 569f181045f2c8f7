import { describe, expect, it } from 'vitest';
import { checkCloudConfig, UNSUPPORTED_KEYS } from '../../src/formats/cloudconfig.js';
import { MAX_MOUNTS, SYSTEMD_MOUNT_OPTIONS, humanBytes } from '../../src/formats/cc/machine.js';

const check = (yaml: string) => {
  const r = checkCloudConfig(`#cloud-config\n${yaml}`);
  return { config: r.config, issues: r.issues.map((i) => `${i.line ?? '?'}:${i.col ?? '?'} ${i.message}`) };
};

describe('cloud-config mounts, swap, locale and ntp', () => {
  it('are applied keys, no longer "not supported"', () => {
    for (const k of ['mounts', 'mount_default_fields', 'swap', 'locale', 'locale_configfile', 'ntp']) expect(UNSUPPORTED_KEYS.top).not.toContain(k);
    expect(check('mounts: []\nswap: {}\nlocale: false\nntp: {enabled: false}\n').issues).toEqual([]);
  });

  it('mounts in the shape of cloud-init\'s documented example: defaults filled, a null mount point drops the device, nofail added', () => {
    const { config, issues } = check(`mounts:
  - [ /dev/ephemeral0, /mnt, auto, "defaults,noexec" ]
  - [ sdc, /opt/data ]
  - [ xvdh, /opt/data, auto, "defaults,nofail", "0", "0" ]
  - [ dd, /dev/zero ]
  - [ ephemeral0, null ]
mount_default_fields: [ None, None, auto, "defaults,nofail", "0", "2" ]
`);
    expect(config?.mounts?.entries.map((e) => [e.device, e.mountPoint, e.type, e.options, e.freq, e.passno, e.where])).toEqual([
      ['/dev/ephemeral0', '/mnt', 'auto', 'defaults,noexec,nofail', '0', '2', 'mounts[0] (line 3)'],
      ['sdc', '/opt/data', 'auto', 'defaults,nofail', '0', '2', 'mounts[1] (line 4)'],
      ['xvdh', '/opt/data', 'auto', 'defaults,nofail', '0', '0', 'mounts[2] (line 5)'],
    ]);
    expect(config?.mounts?.removed).toEqual(['ephemeral0']);
    expect(issues).toEqual([
      '3:36 mounts[0]: options "defaults,noexec" have no "nofail"; added, so that a missing device cannot stop the boot',
      '6:11 mounts[3]: mounting on /dev/zero (the root file system, /proc, /sys or /dev) is refused; skipped',
    ]);
  });

  it('without mount_default_fields the options are left to the module (systemd or not); a swap entry keeps "none"', () => {
    const { config, issues } = check('mounts:\n  - [ "LABEL=data", /data ]\n  - [ /dev/vdc, none, swap, sw, "0", "0" ]\n');
    expect(issues).toEqual([]);
    expect(config?.mounts?.entries.map((e) => [e.device, e.mountPoint, e.type, e.options])).toEqual([['LABEL=data', '/data', 'auto', undefined], ['/dev/vdc', 'none', 'swap', 'sw']]);
    expect(SYSTEMD_MOUNT_OPTIONS.split(',')).toContain('nofail');
  });

  it('hostile mounts: blanks, newlines, "#", relative or dotted mount points, too many fields, too many entries — each refused at its line', () => {
    const { config, issues } = check(`mounts:
  - [ "/dev/vdb /etc", /data ]
  - [ /dev/vdb, "/data\\n/dev/sda / ext4" ]
  - [ "#x", /data ]
  - [ /dev/vdb, data ]
  - [ /dev/vdb, /data/../etc ]
  - [ /dev/vdb, /data, ext4, defaults, "0", "2", extra ]
  - [ /dev/vdb, /data, ext4, defaults, x, "2" ]
  - "/dev/vdb /data"
  - [ /dev/vdb, /data, ext4, "defaults\\\\040x" ]
  - [ { a: 1 }, /data ]
`);
    expect(config?.mounts?.entries).toEqual([]);
    expect(issues.map((i) => i.replace(/:.*?(mounts\[\d+\])/u, ' $1'))).toEqual([
      expect.stringContaining('3 mounts[0]: field 1 "/dev/vdb /etc" has blanks, "#"'),
      expect.stringContaining('4 mounts[1]: field 2 "/data\\n/dev/sda / ext4" has b'),
      expect.stringContaining('5 mounts[2]: field 1 "#x" has blanks, "#", a backsla'),
      expect.stringContaining('6 mounts[3]: mount point "data" is not an absolute p'),
      expect.stringContaining('7 mounts[4]: mount point "/data/../etc" is not an ab'),
      expect.stringContaining('8 mounts[5]: 7 fields, an fstab entry has 6 (device,'),
      expect.stringContaining('9 mounts[6]: the dump and pass fields must be number'),
      expect.stringContaining('10 mounts[7]: not a list of fstab fields; skipped'),
      expect.stringContaining('11 mounts[8]: field 4 "defaults\\\\040x" has blanks, '),
      expect.stringContaining('12 mounts[9]: field 1 is not a string; the entry is '),
    ]);
    const many = check(`mounts:\n${Array.from({ length: MAX_MOUNTS + 2 }, (_, i) => `  - [ /dev/vd${i}, /m${i} ]`).join('\n')}\n`);
    expect(many.config?.mounts?.entries).toHaveLength(MAX_MOUNTS);
    expect(many.issues[0]).toBe(`${MAX_MOUNTS + 3}:5 mounts: ${MAX_MOUNTS + 2} entries, over the limit of ${MAX_MOUNTS}; the 2 after the first ${MAX_MOUNTS} are ignored`);
    expect(check('mount_default_fields: [ None, None, auto, defaults, "0", "2" ]\n').issues).toEqual(['2:1 mount_default_fields: no mounts to fill; unused']);
    expect(check('mounts: /dev/vdb\n').issues).toEqual(['2:1 mounts: not a list of fstab entries (lists of up to 6 fields); ignored']);
  });

  it('swap: cloud-init\'s example shape; sizes in bytes, 1024-based suffixes or "auto"; no size means no swap', () => {
    expect(check('swap:\n  filename: /swap.img\n  size: "auto"\n  maxsize: 10485760\n').config?.swap).toEqual({ filename: '/swap.img', size: 'auto', maxsize: 10485760, where: 'swap (line 2)' });
    expect(check('swap: {size: 1G}\n').config?.swap?.size).toBe(2 ** 30);
    expect(check('swap: {filename: /var/swap, size: 4194304}\n').config?.swap).toMatchObject({ filename: '/var/swap', size: 4194304 });
    expect(check('swap: {filename: /swap.img}\n').config?.swap).toBeUndefined();
    expect([humanBytes('512M'), humanBytes('1.5G'), humanBytes('64k'), humanBytes('100'), humanBytes('2 GB'), humanBytes('lots'), humanBytes(-1)]).toEqual([512 * 2 ** 20, 1.5 * 2 ** 30, 65536, 100, 2 * 2 ** 30, undefined, undefined]);
    const bad = check('swap:\n  filename: "swap file"\n  size: 1M\n');
    expect(bad.config?.swap).toBeUndefined();
    expect(bad.issues).toEqual(['3:3 swap: filename "swap file" is not an absolute path in plain components without blanks; no swap file']);
    expect(check('swap:\n  size: plenty\n  maxsize: 1G\n  prio: 5\n').issues).toEqual([
      '5:3 swap: unknown key "prio"; ignored',
      '3:3 swap: size "plenty" is not a size (bytes, "512M", "2G" or "auto"); no swap file',
    ]);
    expect(check('swap: {size: 1M, maxsize: 1G}\n').issues).toEqual(['2:18 swap: maxsize only bounds size "auto" (as in cloud-init); ignored']);
  });

  it('locale: a name, "false" to leave it, a config file under /etc; bad names at their line', () => {
    expect(check('locale: de_DE.UTF-8\nlocale_configfile: /etc/default/locale\n').config?.locale).toEqual({ name: 'de_DE.UTF-8', configFile: '/etc/default/locale', where: 'locale (line 2)' });
    expect(check('locale: ar_AE\n').config?.locale?.name).toBe('ar_AE');
    const shadow = check('locale: en_US.UTF-8\nlocale_configfile: /etc/shadow\n');
    expect(shadow.config?.locale?.configFile).toBeUndefined();
    expect(shadow.issues).toEqual(['3:1 locale_configfile: "/etc/shadow" is not a locale file (its name has no "locale", "i18n" or "language"); the system\'s usual file is used']);
    expect(check('locale: en_US.UTF-8\nlocale_configfile: /etc/sysconfig/i18n\n').config?.locale?.configFile).toBe('/etc/sysconfig/i18n');
    expect(check('locale: "false"\n').config?.locale).toBeUndefined();
    expect(check('locale: false\n').config?.locale).toBeUndefined();
    const bad = check('locale: "en_US.UTF-8\\nLC_ALL=C"\nlocale_configfile: ../../tmp/x\n');
    expect(bad.config?.locale).toBeUndefined();
    expect(bad.issues).toEqual([
      '3:1 locale_configfile: "../../tmp/x" is not a plain absolute path under /etc; the system\'s usual file is used',
      '2:1 locale: "en_US.UTF-8\\nLC_ALL=C" is not a locale name like en_US.UTF-8; ignored',
    ]);
  });

  it('ntp: cloud-init\'s example shape; hosts validated; config named as not supported; enabled false leaves it', () => {
    const { config, issues } = check(`ntp:
  enabled: true
  ntp_client: chrony
  servers: [ ntp.example.com, 192.0.2.1, "2001:db8::1", "evil.example.com\\nallow all", "a b" ]
  pools: [ 0.int.pool.ntp.org, 1.int.pool.ntp.org ]
  peers: [ peer.example.com ]
  allow: [ 192.0.2.0/24 ]
  config:
    confpath: /etc/chrony.conf
`);
    expect(config?.ntp).toEqual({ enabled: true, client: 'chrony', servers: ['ntp.example.com', '192.0.2.1', '2001:db8::1'], pools: ['0.int.pool.ntp.org', '1.int.pool.ntp.org'], peers: ['peer.example.com'], allow: ['192.0.2.0/24'], where: 'ntp (line 2)' });
    expect(issues).toEqual([
      '9:3 ntp: key "config" is not supported by vmctx; ignored',
      '5:57 ntp.servers[3]: "evil.example.com\\nallow all" is not a host name or an IP address; skipped',
      '5:88 ntp.servers[4]: "a b" is not a host name or an IP address; skipped',
    ]);
    expect(check('ntp: {enabled: false}\n').config?.ntp?.enabled).toBe(false);
    expect(check('ntp:\n').config?.ntp).toMatchObject({ enabled: true, client: 'auto', servers: [] });
    expect(check('ntp: {ntp_client: ntpsec}\n').issues).toEqual(['2:7 ntp: ntp_client "ntpsec" is not one of auto, chrony, systemd-timesyncd, ntp, ntpdate, openntpd; "auto" is used']);
  });
});
