// /etc/passwd parsing (formats/passwd.ts): fields as glibc reads them (missing trailing ones empty), numeric ids; malformed lines are skipped.
import { describe, expect, it } from 'vitest';
import { parsePasswd } from '../../src/formats/passwd.js';

const DEBIAN = [
  'root:x:0:0:root:/root:/bin/bash',
  'daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin',
  'nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin',
  'alice:x:1000:1000:Alice Example,,,:/home/alice:/bin/bash',
  '',
].join('\n');

describe('parsePasswd', () => {
  it('reads every entry of a normal file: name, ids, home and shell', () => {
    expect(parsePasswd(DEBIAN)).toEqual([
      { name: 'root', uid: 0, gid: 0, home: '/root', shell: '/bin/bash' },
      { name: 'daemon', uid: 1, gid: 1, home: '/usr/sbin', shell: '/usr/sbin/nologin' },
      { name: 'nobody', uid: 65534, gid: 65534, home: '/nonexistent', shell: '/usr/sbin/nologin' },
      { name: 'alice', uid: 1000, gid: 1000, home: '/home/alice', shell: '/bin/bash' },
    ]);
  });

  it('empty input, blank lines, comments and a missing final newline', () => {
    expect(parsePasswd('')).toEqual([]);
    expect(parsePasswd('\n\n')).toEqual([]);
    expect(parsePasswd('# a comment\n\nbob:x:1001:1001::/home/bob:/bin/sh')).toEqual([{ name: 'bob', uid: 1001, gid: 1001, home: '/home/bob', shell: '/bin/sh' }]);
  });

  it('empty GECOS, home and shell fields are kept as empty strings (login uses / and /bin/sh)', () => {
    expect(parsePasswd('svc:x:999:999:::\n')).toEqual([{ name: 'svc', uid: 999, gid: 999, home: '', shell: '' }]);
  });

  it('missing trailing fields are empty, as glibc reads them (a line without a shell logs in with /bin/sh); without both ids a line is skipped', () => {
    const text = ['alice:x:1000:1000:Alice:/home/alice', 'erin:x:1003:1003', 'bob:x:1001', 'carol', ':', 'dave:x:1002:1002::/home/dave:/bin/sh'].join('\n');
    expect(parsePasswd(text)).toEqual([
      { name: 'alice', uid: 1000, gid: 1000, home: '/home/alice', shell: '' },
      { name: 'erin', uid: 1003, gid: 1003, home: '', shell: '' },
      { name: 'dave', uid: 1002, gid: 1002, home: '/home/dave', shell: '/bin/sh' },
    ]);
  });

  it('ids that are not non-negative integers are skipped', () => {
    const text = ['neg:x:-1:0::/x:/bin/sh', 'frac:x:1.5:0::/x:/bin/sh', 'word:x:abc:0::/x:/bin/sh', 'gid:x:0:abc::/x:/bin/sh', 'ok:x:7:7::/x:/bin/sh'].join('\n');
    expect(parsePasswd(text).map((e) => e.name)).toEqual(['ok']);
  });

  it('an empty, spaced or non-decimal id is not read as a number: the line is skipped, never taken for root', () => {
    // Number('') is 0: an empty uid field must not make the account root's
    const text = [
      'empty:x::1000::/home/empty:/bin/sh',
      'emptygid:x:1000:::/home/emptygid:/bin/sh',
      'spaced:x: 1000 :1000::/home/spaced:/bin/sh',
      'hex:x:0x10:0::/x:/bin/sh',
      'exp:x:1e3:0::/x:/bin/sh',
      'plus:x:+5:0::/x:/bin/sh',
      'huge:x:99999999999999999999:0::/x:/bin/sh',
    ].join('\n');
    expect(parsePasswd(text)).toEqual([]);
  });

  it('NIS compat lines (+, +@group, -user) are not accounts', () => {
    expect(parsePasswd('+::::::\n+@admins::::::\n-mallory::::::\nalice:x:1000:1000::/home/alice:/bin/bash\n').map((e) => e.name)).toEqual(['alice']);
  });

  it('the largest 32-bit id is an id; one past it is not', () => {
    expect(parsePasswd('big:x:4294967294:4294967294::/x:/bin/sh\n')).toEqual([{ name: 'big', uid: 4294967294, gid: 4294967294, home: '/x', shell: '/bin/sh' }]);
    expect(parsePasswd('over:x:4294967296:0::/x:/bin/sh\n')).toEqual([]);
  });

  it('a CRLF file: name, ids and home are still read', () => {
    const [entry] = parsePasswd('alice:x:1000:1000::/home/alice:/bin/bash\r\n');
    expect(entry).toMatchObject({ name: 'alice', uid: 1000, gid: 1000, home: '/home/alice' });
  });

  it('unicode GECOS and a very long line', () => {
    const gecos = `Zoë Ünïcødé ${'x'.repeat(100_000)}`;
    expect(parsePasswd(`zoe:x:1003:1003:${gecos}:/home/zoe:/bin/zsh\n`)).toEqual([{ name: 'zoe', uid: 1003, gid: 1003, home: '/home/zoe', shell: '/bin/zsh' }]);
  });

  it('duplicate names are all returned, in file order (the first one is the one the system uses)', () => {
    const entries = parsePasswd('alice:x:1000:1000::/home/alice:/bin/bash\nalice:x:2000:2000::/srv/alice:/bin/sh\n');
    expect(entries.map((e) => e.uid)).toEqual([1000, 2000]);
    expect(entries.find((e) => e.name === 'alice')?.home).toBe('/home/alice');
  });
});
