import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { classifyPassword, parseCryptField, parseCryptHash, shadowFieldAllowsLogin, type CryptMethod } from '../../src/formats/crypt.js';

// Real hashes of "vmctx-test", made by libxcrypt 4.4 (crypt_gensalt + crypt)
const VECTORS: Array<[CryptMethod, string]> = [
  ['yescrypt', '$y$j9T$vrBVAKEsS7TJBt6hQCDdVo0zLYQ4vlso///bwlvCCIB$51RLLjucp/88aTDI8GpkZMymGur05y/.FjDgaZHr.g3'],
  ['gost-yescrypt', '$gy$j9T$ss53WgMMTK5WyhVLdMlq.42jOxXtqTjHEqCo6oj/mp7$6tukNVV9wzZxnltEn4teIYj3oaXq2mDLtTSAu5zb7c4'],
  ['scrypt', '$7$CU..../....Z.oLgVH5WdJm2fjeZIoxmMUAZUMwpnkwCK2Tfddmo62$hWBgC8ZkEUrpscMD7tW0OzVl6RrxQZfnIblPL2Ji/Q2'],
  ['bcrypt', '$2b$04$ZnKzT9diWqYan4EYRt837esB9GnWLdbq6arVJiZexg8HkCTfSpAGW'],
  ['bcrypt', '$2a$04$ptAffMH.KYu0M8JVeyYDK.M2CdkW37LIWiRmu2TLgIoekql24HyQe'],
  ['bcrypt', '$2y$04$W9Hi3vvPcRHfRUQ8G0VDduYg8r4lPJzW5hlCg6mAgnGW41HDXcoHu'],
  ['sha512crypt', '$6$yXPOofzarzVg.NJg$n.HGmajdWu3KC.Bol2iUvZlnObMb2stnBOLnlZCNvDYCkQuAGCKD.rFPQ4C.Eqy9JocIZD94ywapdGdPBQ6mz0'],
  ['sha256crypt', '$5$vMZOi.CHeaGYYxJs$AUmacMYFcDx9Z3H6S77rKPcsPJJ.MArn5U8v2jdaCI1'],
  ['sha1crypt', '$sha1$198075$MS7oVfq6i98QOAhAWqGqZZjoYwqHsZ9EnzNb$koGZhZsl4QtplRWxPAY3ADE0JKP0'],
  ['sunmd5', '$md5,rounds=60636$7L9Kaays$$OA1jPgMvAFTJSavPIPBUP/'],
  ['md5crypt', '$1$hmIDaZO6$lABgsVdyfcsWxm4rlDejm0'],
  ['nt', '$3$$82dbaa41bc9474d8d2b184a8b704cb33'],
  ['bsdicrypt', '_J9..0oOd7rpCwnosQ2s'],
  ['descrypt', '7pXVyo5AvHeOA'],
];

describe('crypt codec: every crypt(5) method', () => {
  for (const [method, hash] of VECTORS) {
    it(`${method}: ${hash.slice(0, 12)}… is a hash, "!" before it a locked one`, () => {
      expect(parseCryptHash(hash)).toBe(method);
      expect(parseCryptField(hash)).toEqual({ kind: 'hash', method, locked: false });
      expect(parseCryptField(`!${hash}`)).toEqual({ kind: 'hash', method, locked: true });
      expect(parseCryptHash(`!${hash}`)).toBeUndefined();
      expect(shadowFieldAllowsLogin(hash)).toBe(true);
      expect(shadowFieldAllowsLogin(`!${hash}`)).toBe(false);
    });
  }

  it('sha512crypt and sha256crypt with rounds=, made by libxcrypt on this machine, match', () => {
    const script = 'import crypt, sys; print(crypt.crypt("vmctx-test", sys.argv[1]))';
    const make = (setting: string): string => execFileSync('/usr/bin/python3', ['-W', 'ignore', '-c', script, setting], { encoding: 'utf8' }).trim();
    expect(parseCryptHash(make('$6$rounds=10000$abcdefgh'))).toBe('sha512crypt');
    expect(parseCryptHash(make('$5$rounds=5001$abc'))).toBe('sha256crypt');
    expect(parseCryptHash(make('$6$a%"(~b$'))).toBe('sha512crypt');
    // libxcrypt refuses these salts ("*0"): so does the codec
    for (const salt of ['a b', 'a!b', 'a;b', 'a*b', 'a\\b', 'aéb']) {
      expect(make(`$6$${salt}$`)).toBe('*0');
      expect(parseCryptHash(`$6$${salt}$n.HGmajdWu3KC.Bol2iUvZlnObMb2stnBOLnlZCNvDYCkQuAGCKD.rFPQ4C.Eqy9JocIZD94ywapdGdPBQ6mz0`)).toBeUndefined();
    }
  });

  const notHashes: Array<[string, string]> = [
    ['', 'empty'],
    ['$6$x', 'sha512crypt without a checksum'],
    ['$6$saltsalt$0123456789abcdefghijABCDEFGHIJ0123456789abcdefghijABCDEFGHIJ0123456789abcdefghij', 'sha512crypt checksum of 80 characters, not 86'],
    ['$6$salt:colon$n.HGmajdWu3KC.Bol2iUvZlnObMb2stnBOLnlZCNvDYCkQuAGCKD.rFPQ4C.Eqy9JocIZD94ywapdGdPBQ6mz0', 'a colon in the salt'],
    ['$6$saltsaltsaltsalts$n.HGmajdWu3KC.Bol2iUvZlnObMb2stnBOLnlZCNvDYCkQuAGCKD.rFPQ4C.Eqy9JocIZD94ywapdGdPBQ6mz0', 'a salt of 17'],
    ['$5$rounds=0$abc$AUmacMYFcDx9Z3H6S77rKPcsPJJ.MArn5U8v2jdaCI1', 'rounds=0'],
    ['$2b$4$ZnKzT9diWqYan4EYRt837esB9GnWLdbq6arVJiZexg8HkCTfSpAGW', 'bcrypt cost of one digit'],
    ['$2c$04$ZnKzT9diWqYan4EYRt837esB9GnWLdbq6arVJiZexg8HkCTfSpAGW', 'bcrypt $2c$'],
    ['$1$hmIDaZO6$lABgsVdyfcsWxm4rlDejm', 'md5crypt checksum of 21'],
    ['$3$$82DBAA41BC9474D8D2B184A8B704CB33', 'NT in upper case'],
    ['$9$abc$def', 'an unknown method'],
    ['7pXVyo5AvHeO', '12 characters'],
    ['7pXVyo5AvHeOA\n', 'a newline after a DES hash'],
    ['$y$j9T$vrBVAKEsS7TJBt6hQCDdVo0zLYQ4vlso///bwlvCCIB$51RLLjucp/88aTDI8GpkZMymGur05y/.FjDgaZHr.g3:x', 'a colon after yescrypt'],
  ];
  for (const [value, why] of notHashes) {
    it(`not a hash: ${why}`, () => {
      expect(parseCryptHash(value)).toBeUndefined();
      expect(parseCryptField(value)).toBeUndefined();
    });
  }

  it('bare lock markers are fields, not hashes', () => {
    for (const marker of ['!', '!!', '*', '!*']) {
      expect(parseCryptField(marker)).toEqual({ kind: 'locked' });
      expect(parseCryptHash(marker)).toBeUndefined();
      expect(shadowFieldAllowsLogin(marker)).toBe(false);
    }
    expect(parseCryptField('!!!')).toBeUndefined();
    expect(parseCryptField('*secret')).toBeUndefined();
    expect(shadowFieldAllowsLogin('')).toBe(false);
  });
});

describe('crypt codec: a value that may be a password or a hash (chpasswd lists)', () => {
  const table: Array<[string, 'hash' | 'plain' | 'invalid']> = [
    ...VECTORS.filter(([m]) => m !== 'descrypt' && m !== 'bsdicrypt').map(([, h]): [string, 'hash'] => [h, 'hash']),
    ...VECTORS.filter(([m]) => m !== 'descrypt' && m !== 'bsdicrypt').map(([, h]): [string, 'hash'] => [`!${h}`, 'hash']),
    ['!', 'hash'],
    ['*', 'hash'],
    // no "$" tag: indistinguishable from a password, read as one (as cloud-init and chpasswd do)
    ['7pXVyo5AvHeOA', 'plain'],
    ['_J9..0oOd7rpCwnosQ2s', 'plain'],
    ['Passw0rd', 'plain'],
    ['!Passw0rd', 'plain'],
    ['$ecret$word', 'plain'],
    ['$6', 'plain'],
    // a "$id$" tag of a method: meant as a hash; malformed ones are refused, never set as the password
    ['$6$x', 'invalid'],
    ['$sha1$1$abc$short', 'invalid'],
    ['$md5$abc$$short', 'invalid'],
    ['$2y$10$tooshort', 'invalid'],
    ['!$y$j9T$abc$def', 'invalid'],
  ];
  for (const [value, kind] of table) {
    it(`${JSON.stringify(value.slice(0, 24))} → ${kind}`, () => {
      expect(classifyPassword(value).kind).toBe(kind);
    });
  }
  it('says why a malformed hash is refused, naming the method', () => {
    expect(classifyPassword('$sha1$1$abc$short')).toEqual({ kind: 'invalid', reason: 'looks like a sha1crypt hash ($sha1$…) but is not a well-formed one' });
  });
});
