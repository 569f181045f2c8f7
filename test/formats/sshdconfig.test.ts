// sshd_config reading (formats/sshdconfig.ts): directives in order with Match blocks marked,
// AuthorizedKeysFile tokens, and the globs of Include lines.
import { describe, expect, it } from 'vitest';
import { expandAuthorizedKeysPath, globMatch, parseSshdConfig } from '../../src/formats/sshdconfig.js';

describe('parseSshdConfig', () => {
  it('directives in order, keywords lower-cased, comments and blank lines skipped', () => {
    const text = ['# comment', '', 'Include /etc/ssh/sshd_config.d/*.conf', 'PermitRootLogin prohibit-password', '   # indented comment', 'AuthorizedKeysFile .ssh/authorized_keys .ssh/authorized_keys2', ''].join('\n');
    expect(parseSshdConfig(text)).toEqual([
      { keyword: 'include', args: ['/etc/ssh/sshd_config.d/*.conf'], inMatch: false },
      { keyword: 'permitrootlogin', args: ['prohibit-password'], inMatch: false },
      { keyword: 'authorizedkeysfile', args: ['.ssh/authorized_keys', '.ssh/authorized_keys2'], inMatch: false },
    ]);
  });

  it('empty input', () => {
    expect(parseSshdConfig('')).toEqual([]);
    expect(parseSshdConfig('\n\n# only comments\n')).toEqual([]);
  });

  it('keyword=value and keyword = value, tabs, CRLF, leading and trailing spaces', () => {
    const text = 'AuthorizedKeysFile=.ssh/a\r\n  PasswordAuthentication = no  \r\nPort\t2222\r\n';
    expect(parseSshdConfig(text)).toEqual([
      { keyword: 'authorizedkeysfile', args: ['.ssh/a'], inMatch: false },
      { keyword: 'passwordauthentication', args: ['no'], inMatch: false },
      { keyword: 'port', args: ['2222'], inMatch: false },
    ]);
  });

  it('double-quoted arguments keep their spaces', () => {
    expect(parseSshdConfig('AuthorizedKeysFile ".ssh/my keys" .ssh/authorized_keys\n')[0]?.args).toEqual(['.ssh/my keys', '.ssh/authorized_keys']);
    expect(parseSshdConfig('Banner ""\n')[0]?.args).toEqual(['']);
  });

  it('a # starting an argument ends the line, as in sshd (OpenSSH 8.7+): the comment is not a key file', () => {
    expect(parseSshdConfig('AuthorizedKeysFile /etc/ssh/keys/%u # central key store\n')[0]?.args).toEqual(['/etc/ssh/keys/%u']);
    expect(parseSshdConfig('AuthorizedKeysFile .ssh/authorized_keys\t#default\n')[0]?.args).toEqual(['.ssh/authorized_keys']);
    // inside an argument or quotes it is an ordinary character
    expect(parseSshdConfig('AuthorizedKeysFile .ssh/keys#1 "#quoted"\n')[0]?.args).toEqual(['.ssh/keys#1', '#quoted']);
  });

  it('a keyword without arguments is skipped', () => {
    expect(parseSshdConfig('UsePAM\nPort 22\n')).toEqual([{ keyword: 'port', args: ['22'], inMatch: false }]);
  });

  it('everything from the first Match on is conditional (a Match block lasts to the end of the file or the next Match)', () => {
    const text = ['PasswordAuthentication no', 'Match User backup', '  AuthorizedKeysFile /etc/ssh/backup_keys', 'Match all', 'AuthorizedKeysFile .ssh/other'].join('\n');
    expect(parseSshdConfig(text)).toEqual([
      { keyword: 'passwordauthentication', args: ['no'], inMatch: false },
      { keyword: 'match', args: ['User', 'backup'], inMatch: true },
      { keyword: 'authorizedkeysfile', args: ['/etc/ssh/backup_keys'], inMatch: true },
      { keyword: 'match', args: ['all'], inMatch: true },
      { keyword: 'authorizedkeysfile', args: ['.ssh/other'], inMatch: true },
    ]);
    expect(parseSshdConfig('MATCH Group admins\nX y\n').every((d) => d.inMatch)).toBe(true);
  });

  it('unicode and a very long line', () => {
    const long = 'x'.repeat(100_000);
    expect(parseSshdConfig(`Banner /etc/ßanner-${long}\n`)).toEqual([{ keyword: 'banner', args: [`/etc/ßanner-${long}`], inMatch: false }]);
  });
});

describe('expandAuthorizedKeysPath', () => {
  it('%h, %u and %% are expanded', () => {
    expect(expandAuthorizedKeysPath('%h/.ssh/authorized_keys', 'alice', '/home/alice')).toBe('/home/alice/.ssh/authorized_keys');
    expect(expandAuthorizedKeysPath('/etc/ssh/keys/%u', 'alice', '/home/alice')).toBe('/etc/ssh/keys/alice');
    expect(expandAuthorizedKeysPath('/etc/ssh/%u/%u.keys', 'bob', '/home/bob')).toBe('/etc/ssh/bob/bob.keys');
    expect(expandAuthorizedKeysPath('/etc/ssh/100%%/%u', 'bob', '/home/bob')).toBe('/etc/ssh/100%/bob');
  });

  it('%% is a literal percent even before a letter that is not a token', () => {
    expect(expandAuthorizedKeysPath('/etc/ssh/%%U/%u', 'bob', '/home/bob')).toBe('/etc/ssh/%U/bob');
    expect(expandAuthorizedKeysPath('/etc/ssh/%%%u', 'bob', '/home/bob')).toBe('/etc/ssh/%bob');
  });

  it('a relative entry is relative to the home directory (one slash, also for a home with a trailing slash)', () => {
    expect(expandAuthorizedKeysPath('.ssh/authorized_keys', 'alice', '/home/alice')).toBe('/home/alice/.ssh/authorized_keys');
    expect(expandAuthorizedKeysPath('.ssh/authorized_keys', 'alice', '/home/alice/')).toBe('/home/alice/.ssh/authorized_keys');
    expect(expandAuthorizedKeysPath('.ssh/authorized_keys', 'root', '/')).toBe('/.ssh/authorized_keys');
  });

  it('tokens it cannot expand (%U the uid, %i, %k…) or a lone % at the end: undefined (the caller skips the entry)', () => {
    expect(expandAuthorizedKeysPath('/etc/ssh/keys/%U', 'alice', '/home/alice')).toBeUndefined();
    expect(expandAuthorizedKeysPath('%h/%i', 'alice', '/home/alice')).toBeUndefined();
    expect(expandAuthorizedKeysPath('/etc/ssh/keys%', 'alice', '/home/alice')).toBeUndefined();
  });

  it('a user name with unusual characters is put in as it is (the caller refuses .. and *)', () => {
    expect(expandAuthorizedKeysPath('/etc/ssh/keys/%u', 'zoë.m', '/home/zoë.m')).toBe('/etc/ssh/keys/zoë.m');
  });
});

describe('globMatch', () => {
  it('* and ? within one name', () => {
    expect(globMatch('*.conf', '50-cloud-init.conf')).toBe(true);
    expect(globMatch('*.conf', 'x.conf.bak')).toBe(false);
    expect(globMatch('?0-*.conf', '50-vmctx.conf')).toBe(true);
    expect(globMatch('?0-*.conf', '500-vmctx.conf')).toBe(false);
    expect(globMatch('*', 'anything')).toBe(true);
    expect(globMatch('exact.conf', 'exact.conf')).toBe(true);
    expect(globMatch('exact.conf', 'exactXconf')).toBe(false);
  });

  it('regular-expression characters in the pattern are literal', () => {
    expect(globMatch('a+b(1).conf', 'a+b(1).conf')).toBe(true);
    expect(globMatch('a+b(1).conf', 'aab1.conf')).toBe(false);
    expect(globMatch('$x^.conf', '$x^.conf')).toBe(true);
    expect(globMatch('a|b', 'a')).toBe(false);
  });

  it('* never crosses a slash', () => {
    expect(globMatch('*.conf', 'sub/x.conf')).toBe(false);
  });

  it('a wildcard does not match a leading dot, as glob(3) does for sshd\'s Include (editor and backup files stay out)', () => {
    expect(globMatch('*.conf', '.hidden.conf')).toBe(false);
    expect(globMatch('?x.conf', '.x.conf')).toBe(false);
    expect(globMatch('.*.conf', '.hidden.conf')).toBe(true);
  });

  it('unicode names', () => {
    expect(globMatch('*.conf', 'ünïcødé.conf')).toBe(true);
    expect(globMatch('?.conf', 'ü.conf')).toBe(true);
  });
});
