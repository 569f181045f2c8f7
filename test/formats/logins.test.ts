// fixedPasswordAccounts: which passwd/shadow accounts can log in with a baked-in password (pure text in, names out).
import { describe, expect, it } from 'vitest';
import { fixedPasswordAccounts } from '../../src/formats/logins.js';

const HASH = '$6$saltsalt$0123456789abcdefghijABCDEFGHIJ0123456789abcdefghij';

describe('fixedPasswordAccounts', () => {
  it('names accounts with a usable hash and a login shell, in shadow order', () => {
    const passwd = 'root:x:0:0:root:/root:/bin/bash\nalice:x:1000:1000::/home/alice:/bin/sh\n';
    const shadow = `alice:${HASH}:19000::::::\nroot:${HASH}:19000::::::\n`;
    expect(fixedPasswordAccounts(passwd, shadow)).toEqual(['alice', 'root']);
  });

  it('leaves out locked and empty-hash fields, no-login shells and accounts passwd does not know', () => {
    const passwd = [
      'locked:x:1:1::/:/bin/bash',
      'star:x:2:2::/:/bin/bash',
      'daemon:x:3:3::/:/usr/sbin/nologin',
      'f:x:4:4::/:/bin/false',
      'sync:x:5:5::/:/bin/sync',
    ].join('\n');
    const shadow = [`locked:!${HASH}:1`, 'star:*:1', `daemon:${HASH}:1`, `f:${HASH}:1`, `sync:${HASH}:1`, `ghost:${HASH}:1`, '', ':x:'].join('\n');
    expect(fixedPasswordAccounts(passwd, shadow)).toEqual([]);
  });

  it('an empty shell field is /bin/sh (login, sshd and su use it): that account can log in with the baked-in password', () => {
    const passwd = 'noshell:x:6:6::/home/noshell:\nalice:x:1000:1000::/home/alice:/bin/bash\n';
    const shadow = `noshell:${HASH}:1\nalice:!:1\n`;
    expect(fixedPasswordAccounts(passwd, shadow)).toEqual(['noshell']);
  });

  it('a passwd line with no shell field at all (six fields, glibc reads an empty shell) is an account that can log in', () => {
    const passwd = 'short:x:1001:1001::/home/short\n';
    expect(fixedPasswordAccounts(passwd, `short:${HASH}:1\n`)).toEqual(['short']);
  });

  it('is empty for empty files', () => {
    expect(fixedPasswordAccounts('', '')).toEqual([]);
  });
});
