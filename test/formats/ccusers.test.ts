// cloud-config accounts (users, groups, password, chpasswd, ssh_pwauth): each key read, each problem at its line.
import { describe, expect, it } from 'vitest';
import { checkCloudConfig } from '../../src/formats/cloudconfig.js';

const HASH = '$6$yXPOofzarzVg.NJg$n.HGmajdWu3KC.Bol2iUvZlnObMb2stnBOLnlZCNvDYCkQuAGCKD.rFPQ4C.Eqy9JocIZD94ywapdGdPBQ6mz0';
const check = (yaml: string) => {
  const { config, issues } = checkCloudConfig(`#cloud-config\n${yaml}`);
  return { config, issues: issues.map((i) => `${i.line}: ${i.message}`) };
};

describe('cloud-config users', () => {
  it('reads the deprecated hyphenated keys as their underscore form, said at their lines; with both spellings the underscore one wins', () => {
    const { config, issues } = check(`users:
  - name: old
    lock-passwd: false
    plain-text-passwd: pw-Secret
    primary-group: olds
    no-create-home: true
    no-user-group: true
    no-log-init: true
    create-groups: false
    ssh-authorized-keys: [k1]
    selinux-user: staff_u
  - name: both
    lock-passwd: false
    lock_passwd: true
    hashed-passwd: "${HASH}"
`);
    expect(config?.users[0]).toMatchObject({
      name: 'old', lockPasswd: false, primaryGroup: 'olds', noCreateHome: true, noUserGroup: true, noLogInit: true, createGroups: false, sshAuthorizedKeys: ['k1'],
    });
    expect(config?.users[0]?.password).toEqual({ kind: 'plain', value: 'pw-Secret', key: 'plain_text_passwd' });
    expect(config?.users[1]?.lockPasswd).toBe(true);
    expect(config?.users[1]?.password).toEqual({ kind: 'hash', value: HASH, key: 'hashed_passwd' });
    expect(issues).toEqual([
      '4: users[0]: lock-passwd is a deprecated spelling, read as lock_passwd',
      '5: users[0]: plain-text-passwd is a deprecated spelling, read as plain_text_passwd',
      '6: users[0]: primary-group is a deprecated spelling, read as primary_group',
      '7: users[0]: no-create-home is a deprecated spelling, read as no_create_home',
      '8: users[0]: no-user-group is a deprecated spelling, read as no_user_group',
      '9: users[0]: no-log-init is a deprecated spelling, read as no_log_init',
      '10: users[0]: create-groups is a deprecated spelling, read as create_groups',
      '11: users[0]: ssh-authorized-keys is a deprecated spelling, read as ssh_authorized_keys',
      '12: users[0]: selinux-user is a deprecated spelling, read as selinux_user',
      '12: users[0]: key "selinux-user" is not supported by vmctx (vmctx does not set SELinux users); ignored',
      '11: users[0]: ssh_authorized_keys for an account without a home (system or no_create_home); installed only if the home exists',
      '14: users[1]: lock-passwd and lock_passwd are both given: lock_passwd is used, lock-passwd ignored',
      '16: users[1]: hashed-passwd is a deprecated spelling, read as hashed_passwd',
    ]);
  });

  it('reads every applied key of a user', () => {
    const { config, issues } = check(`users:
  - name: app
    gecos: App User
    homedir: /srv/app/
    no_create_home: true
    primary_group: apps
    groups: [wheel, adm]
    no_user_group: true
    no_log_init: true
    uid: 1234
    shell: /bin/zsh
    sudo: ["ALL=(ALL) NOPASSWD:/bin/systemctl", "ALL=(ALL) ALL"]
    lock_passwd: false
    hashed_passwd: "${HASH}"
    expiredate: "2030-12-31"
    inactive: "7"
    create_groups: false
    ssh_authorized_keys: [k1]
`);
    expect(issues).toEqual([]);
    const u = config?.users[0];
    expect(u).toMatchObject({
      name: 'app', line: 3, gecos: 'App User', homedir: '/srv/app', noCreateHome: true, primaryGroup: 'apps', groups: ['wheel', 'adm'], noUserGroup: true, noLogInit: true,
      uid: 1234, shell: '/bin/zsh', sudo: ['ALL=(ALL) NOPASSWD:/bin/systemctl', 'ALL=(ALL) ALL'], lockPasswd: false, expiredate: '2030-12-31', inactive: 7, createGroups: false,
      sshAuthorizedKeys: ['k1'], system: false,
    });
    expect(u?.password).toEqual({ kind: 'hash', value: HASH, key: 'hashed_passwd' });
  });

  it('defaults as cloud-init: lock_passwd true, groups none, a home made, sudo none; groups as a comma string; system means no home', () => {
    const { config, issues } = check('users:\n  - name: a\n    groups: "users, admin"\n    sudo: null\n  - name: b\n    system: true\n    sudo: false\n  - c\n  - default\n');
    expect(issues).toEqual([]);
    expect(config?.users.map((u) => [u.name, u.lockPasswd, u.groups, u.noCreateHome, u.sudo, u.system])).toEqual([
      ['a', true, ['users', 'admin'], false, [], false],
      ['b', true, [], true, [], true],
      ['c', true, [], false, [], false],
    ]);
    expect(config?.usersDefault).toEqual({ line: 10 });
  });

  it('names each unusable value at its line', () => {
    const { config, issues } = check(`users:
  - name: x
    gecos: "a:b"
    homedir: /home/../etc
    primary_group: "Bad Group"
    groups: [ok, "no way"]
    uid: -1
    shell: "sh; reboot"
    sudo: "ALL=(ALL) ALL\\nx ALL=(ALL) NOPASSWD: ALL"
    passwd: not-a-hash
    plain_text_passwd: "two\\nlines"
    expiredate: tomorrow
    inactive: soon
    lock_passwd: maybe
    ssh_import_id: [gh:x]
    doas: [permit x]
  - name: Root
  - 42
`);
    expect(issues).toEqual([
      '16: users[0]: key "ssh_import_id" is not supported by vmctx (importing keys from Launchpad/GitHub needs a network fetch vmctx does not make); ignored',
      '17: users[0]: key "doas" is not supported by vmctx (vmctx writes sudo rules only); ignored',
      '9: users[0]: shell "sh; reboot" is not an absolute path; ignored',
      '4: users[0]: gecos with ":", a line break or a control character (or over 255 characters) would corrupt /etc/passwd; ignored',
      '5: users[0]: homedir "/home/../etc" is not a plain absolute path (no "..", ".", or unusual characters); ignored',
      '6: users[0]: primary_group "Bad Group" is not a valid group name; ignored',
      '8: users[0]: uid is not a number from 0 to 2147483646; ignored',
      '13: users[0]: expiredate is not a YYYY-MM-DD date; ignored',
      '14: users[0]: inactive is not a number of days; ignored',
      '11: users[0]: passwd is not a crypt(3) hash; ignored',
      '12: users[0]: plain_text_passwd contains a line break or NUL, which no password tool can take; ignored',
      '7: users[0]: groups: "no way" is not a valid group name; skipped',
      '10: users[0]: sudo: a rule with a line break or control character; skipped',
      '15: users[0]: lock_passwd: not true or false; true is used',
      '18: users[1]: no valid name (lower-case letters, digits, _ and -); skipped',
      '19: users[2]: not a user name or a mapping; skipped',
    ]);
    expect(config?.users.map((u) => [u.name, u.gecos, u.homedir, u.groups, u.sudo, u.password, u.lockPasswd])).toEqual([['x', undefined, undefined, ['ok'], [], undefined, true]]);
  });

  it('sudo: true is read as all commands without a password, and said to be no cloud-init form', () => {
    const { config, issues } = check('users:\n  - name: a\n    sudo: true\n');
    expect(config?.users[0]?.sudo).toEqual(['ALL=(ALL:ALL) NOPASSWD:ALL']);
    expect(issues).toEqual(['4: users[0]: sudo: true is not one of cloud-init\'s forms (a rule string or a list of them); read as "ALL=(ALL:ALL) NOPASSWD:ALL"']);
  });

  it('cloud-init\'s older forms: a comma string and a mapping of names', () => {
    expect(check('users: "default, a, b"\n').config?.users.map((u) => u.name)).toEqual(['a', 'b']);
    const { config, issues } = check('users:\n  a: true\n  b: false\n  c: {gecos: Cee}\n  d: 7\n');
    expect(config?.users.map((u) => [u.name, u.gecos])).toEqual([['a', undefined], ['c', 'Cee']]);
    expect(issues).toEqual(['6: users: "d": not true, false or a mapping; skipped']);
  });

  it('the same name twice: the later entry replaces the earlier (said)', () => {
    const { config, issues } = check('users:\n  - {name: a, gecos: One}\n  - {name: a, gecos: Two}\n');
    expect(config?.users.map((u) => [u.name, u.gecos])).toEqual([['a', 'Two']]);
    expect(issues).toEqual(['4: users[1]: a is listed twice; this entry replaces the earlier one']);
  });
});

describe('cloud-config groups', () => {
  it('names, {name: [members]}, {name: member}; bad names and members at their lines', () => {
    const { config, issues } = check('groups:\n  - admins: [root, sys]\n  - cloud-users\n  - solo: alice\n  - "Bad Name"\n  - odd: ["-x"]\n  - 7\n');
    expect(config?.groups.map((g) => [g.name, g.members, g.line])).toEqual([['admins', ['root', 'sys'], 3], ['cloud-users', [], 4], ['solo', ['alice'], 5], ['odd', [], 7]]);
    expect(issues).toEqual([
      '6: groups: "Bad Name" is not a valid group name; skipped',
      '7: groups: member "-x" of odd is not a valid user name; skipped',
      '8: groups: an entry is not a group name or a {name: [members]} mapping; skipped',
    ]);
  });
});

describe('cloud-config password, chpasswd, ssh_pwauth', () => {
  it('chpasswd.users: type hash (the default), text; RANDOM and a missing password not supported; a text hash is refused; expire read', () => {
    const { config, issues } = check(`chpasswd:
  expire: false
  users:
    - {name: a, password: "${HASH}"}
    - {name: b, password: pw-b, type: text}
    - {name: c, type: RANDOM}
    - {name: d}
    - {name: e, password: not-a-hash}
    - {name: f, password: x, type: magic}
    - {name: g, password: x, type: text, extra: 1}
`);
    expect(config?.chpasswd.map((p) => [p.user, p.kind, p.line])).toEqual([['a', 'hash', 5], ['b', 'plain', 6], ['g', 'plain', 11]]);
    expect(config?.chpasswdExpire).toBe(false);
    expect(issues).toEqual([
      '7: chpasswd.users[2]: a RANDOM password for c is not supported (cloud-init prints it on the console; vmctx never shows a secret); skipped',
      '8: chpasswd.users[3]: a RANDOM password for d is not supported (cloud-init prints it on the console; vmctx never shows a secret); skipped',
      '9: chpasswd.users[4]: type is hash but the password is not a crypt(3) hash; skipped',
      '10: chpasswd.users[5]: type must be hash, text or RANDOM; skipped',
      '11: chpasswd.users[6]: unknown key "extra"; ignored',
    ]);
  });

  it('chpasswd.expire defaults to unset (true when applied); list still read', () => {
    const { config } = check('chpasswd:\n  list: |\n    a:pw-a\n');
    expect(config?.chpasswdExpire).toBeUndefined();
    expect(config?.chpasswd.map((p) => [p.user, p.kind])).toEqual([['a', 'plain']]);
  });

  it('password: plain or a hash; ignored (said) when chpasswd gives passwords; RANDOM not supported', () => {
    expect(check('password: hello-World\n').config?.password).toEqual({ kind: 'plain', value: 'hello-World', line: 2 });
    expect(check(`password: "${HASH}"\n`).config?.password?.kind).toBe('hash');
    const both = check('password: hello\nchpasswd:\n  users: [{name: a, password: x, type: text}]\n');
    expect(both.config?.password).toBeUndefined();
    expect(both.issues).toEqual(['2: password: ignored because chpasswd gives passwords (as cloud-init does)']);
    expect(check('password: RANDOM\n').issues).toEqual(['2: password: a RANDOM password is not supported (cloud-init prints it on the console; vmctx never shows a secret); ignored']);
  });

  it('ssh_pwauth: true, false, "yes"/"no", unchanged; anything else said', () => {
    expect(check('ssh_pwauth: true\n').config?.sshPwauth).toBe(true);
    expect(check('ssh_pwauth: false\n').config?.sshPwauth).toBe(false);
    expect(check('ssh_pwauth: "no"\n').config?.sshPwauth).toBe(false);
    expect(check('ssh_pwauth: unchanged\n').config?.sshPwauth).toBeUndefined();
    const odd = check('ssh_pwauth: sometimes\n');
    expect(odd.config?.sshPwauth).toBeUndefined();
    expect(odd.issues).toEqual(['2: ssh_pwauth: not true, false or "unchanged"; sshd\'s PasswordAuthentication is left unchanged']);
  });
});
