// User-data containers as cloud-init reads them, shaped like its documented examples (our own
// files): #include / #include-once, #cloud-boothook, #cloud-config-archive, MIME parts of each
// type, and the kinds vmctx names as not supported. The parser is pure: URLs are returned, not fetched.
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { includeUrlProblem, parseUserData, shownUrl } from '../../src/formats/userdata.js';
import { checkCloudConfig } from '../../src/formats/cloudconfig.js';

const mime = (parts: ReadonlyArray<readonly [string, string]>): Buffer =>
  Buffer.from(['Content-Type: multipart/mixed; boundary="==X=="', 'MIME-Version: 1.0', '', ...parts.flatMap(([type, body]) => ['--==X==', `Content-Type: ${type}`, '', body]), '--==X==--', ''].join('\n'));

describe('#include', () => {
  it('lists the URLs one a line (comments and blank lines skipped, a URL on the header line too), #include-once marked', () => {
    const parts = parseUserData(Buffer.from('#include http://a.example/one.yaml\n# a comment\n\nhttps://b.example/two?token=s3cret\n'));
    expect(parts.includes).toEqual([
      { url: 'http://a.example/one.yaml', once: false, name: 'user-data' },
      { url: 'https://b.example/two?token=s3cret', once: false, name: 'user-data' },
    ]);
    expect(parseUserData(Buffer.from('#include-once\nhttp://a.example/x\n')).includes).toEqual([{ url: 'http://a.example/x', once: true, name: 'user-data' }]);
  });

  it('refuses file://, ftp:// and URLs with a password, naming them without their query or password', () => {
    const parts = parseUserData(Buffer.from('#include\nfile:///etc/shadow\nftp://h.example/x\nhttp://user:pw@h.example/p?k=secret\nnot a url\n'));
    expect(parts.includes).toEqual([]);
    expect(parts.issues).toEqual([
      'user-data: #include file:///etc/shadow: a file: URL; only http and https are fetched; refused',
      'user-data: #include ftp://h.example/x: a ftp: URL; only http and https are fetched; refused',
      'user-data: #include http://h.example/p: a URL with a user name or password in it; not fetched; refused',
      'user-data: #include "not a url": not a URL; refused',
      'user-data: #include lists no URL; nothing to fetch',
    ]);
    expect(parts.issues.join('\n')).not.toMatch(/secret|pw@/u);
    expect(includeUrlProblem('https://x.example/')).toBeUndefined();
    expect(shownUrl('https://u:p@x.example:8080/a/b?t=1#f')).toBe('https://x.example:8080/a/b');
  });

  it('takes at most 16 URLs from one part and names the first one left out', () => {
    const urls = Array.from({ length: 18 }, (_, i) => `http://h.example/${i}`);
    const parts = parseUserData(Buffer.from(`#include\n${urls.join('\n')}\n`));
    expect(parts.includes).toHaveLength(16);
    expect(parts.issues).toEqual(['user-data: more than 16 #include URLs; http://h.example/16 and the rest are not fetched']);
  });
});

describe('#cloud-boothook', () => {
  it('is a boothook script without cloud-init\'s header line (the doc example: a #! body after it)', () => {
    const parts = parseUserData(Buffer.from('#cloud-boothook\n#!/bin/sh\necho 192.168.1.130 us.archive.ubuntu.com >> /etc/hosts\n'));
    expect(parts.issues).toEqual([]);
    expect(parts.scripts).toEqual([{ name: 'user-data', body: Buffer.from('#!/bin/sh\necho 192.168.1.130 us.archive.ubuntu.com >> /etc/hosts\n'), frequency: 'boothook' }]);
  });

  it('as a MIME part (text/cloud-boothook), next to a per-boot and a per-once script', () => {
    const parts = parseUserData(mime([['text/cloud-boothook', '#!/bin/sh\necho hook'], ['text/x-shellscript-per-boot', '#!/bin/sh\necho boot'], ['text/x-shellscript-per-once', '#!/bin/sh\necho once'], ['text/x-shellscript-per-instance', '#!/bin/sh\necho inst']]));
    expect(parts.issues).toEqual([]);
    expect(parts.scripts.map((s) => [s.name, s.frequency, s.body.toString()])).toEqual([
      ['user-data-part1', 'boothook', '#!/bin/sh\necho hook'],
      ['user-data-part2', 'per-boot', '#!/bin/sh\necho boot'],
      ['user-data-part3', 'once', '#!/bin/sh\necho once'],
      ['user-data-part4', undefined, '#!/bin/sh\necho inst'],
    ]);
  });
});

describe('#cloud-config-archive', () => {
  // the shape of cloud-init's doc/examples/cloud-config-archive.txt: typed parts and a bare string
  const archive = [
    '#cloud-config-archive',
    '- type: "text/cloud-config"',
    '  content: |',
    '    runcmd:',
    '      - [echo, from-archive]',
    '- type: "text/x-shellscript"',
    '  filename: hello.sh',
    '  content: |',
    '    #!/bin/sh',
    '    echo hello',
    '- |',
    '  #cloud-boothook',
    '  #!/bin/sh',
    '  echo hook',
    '- content: "#include\\nhttp://h.example/inc.yaml\\n"',
    '- type: text/part-handler',
    '  content: "def list_types(): return []"',
    '',
  ].join('\n');

  it('each part is handled like a MIME part: typed, or told by its first line; a part handler is named', () => {
    const parts = parseUserData(Buffer.from(archive));
    expect(parts.cloudConfigs.map((c) => c.runcmd)).toEqual([[['echo', 'from-archive']]]);
    expect(parts.scripts.map((s) => [s.name, s.frequency, s.body.toString()])).toEqual([
      ['user-data-part2(hello.sh)', undefined, '#!/bin/sh\necho hello\n'],
      ['user-data-part3', 'boothook', '#!/bin/sh\necho hook\n'],
    ]);
    expect(parts.includes).toEqual([{ url: 'http://h.example/inc.yaml', once: false, name: 'user-data-part4' }]);
    expect(parts.issues).toEqual(['user-data-part5: #part-handler (Python code run by cloud-init) is not supported by vmctx; ignored']);
  });

  it('an untyped part without a known first line is cloud-config, as in cloud-init (a string or a mapping)', () => {
    const parts = parseUserData(Buffer.from('#cloud-config-archive\n- content: |\n    runcmd:\n      - [echo, untyped]\n- |\n  hostname: plain\n- content: "#!/bin/sh\\necho s\\n"\n'));
    expect(parts.issues).toEqual([]);
    expect(parts.cloudConfigs.map((c) => [c.runcmd, c.hostname])).toEqual([[[['echo', 'untyped']], undefined], [[], 'plain']]);
    expect(parts.scripts.map((s) => s.body.toString())).toEqual(['#!/bin/sh\necho s\n']);
    // outside an archive an unknown body is still named
    expect(parseUserData(Buffer.from('hostname: plain\n')).cloudConfigs).toEqual([]);
  });

  it('an archive that is not a list, or parts without content, are named', () => {
    expect(parseUserData(Buffer.from('#cloud-config-archive\nkey: value\n')).issues).toEqual(['user-data: #cloud-config-archive is not a list of parts; ignored']);
    expect(parseUserData(Buffer.from('#cloud-config-archive\n- type: text/x-shellscript\n- 42\n- {content: "#!/bin/sh", colour: red}\n')).issues).toEqual([
      'user-data-part1: archive part without string content; ignored',
      'user-data-part2: an archive part is a string or a mapping (content, type, filename); ignored',
      'user-data-part3: unknown archive key "colour"; ignored',
    ]);
  });
});

describe('the kinds vmctx names as not supported, in a body or a MIME part', () => {
  it('jinja templates, part handlers, cloud-config-jsonp, upstart jobs and unknown MIME types', () => {
    expect(parseUserData(Buffer.from('## template: jinja\n#cloud-config\nhostname: {{ v1.local_hostname }}\n')).issues).toEqual(['user-data: a jinja template (## template: jinja) is not supported by vmctx; ignored']);
    expect(parseUserData(mime([['text/jinja2', '#cloud-config\n'], ['text/part-handler', '#part-handler\n'], ['text/cloud-config-jsonp', '#cloud-config-jsonp\n[]'], ['text/upstart-job', 'x'], ['image/png', 'x']])).issues).toEqual([
      'user-data-part1: a jinja template (## template: jinja) is not supported by vmctx; ignored',
      'user-data-part2: #part-handler (Python code run by cloud-init) is not supported by vmctx; ignored',
      'user-data-part3: #cloud-config-jsonp (JSON patch) is not supported by vmctx; ignored',
      'user-data-part4: #upstart-job is not supported by vmctx; ignored',
      'user-data-part5: MIME type image/png is not supported; ignored',
    ]);
  });

  it('a text/plain or text/x-not-multipart part is told by its first line; MIME text/x-include-url parts list URLs', () => {
    const parts = parseUserData(mime([['text/plain', '#cloud-config\nbootcmd: [[echo, b]]'], ['text/x-include-url', 'http://h.example/a'], ['text/x-not-multipart', 'just text']]));
    expect(parts.cloudConfigs.map((c) => c.bootcmd)).toEqual([[['echo', 'b']]]);
    expect(parts.includes).toEqual([{ url: 'http://h.example/a', once: false, name: 'user-data-part2' }]);
    expect(parts.issues).toEqual(['user-data-part3: a text/x-not-multipart part without a known header (#!, #cloud-config, #include, …); ignored']);
  });

  it('gzip of an #include and of a boothook are unpacked like the rest', () => {
    expect(parseUserData(gzipSync('#include\nhttp://h.example/z\n')).includes).toEqual([{ url: 'http://h.example/z', once: false, name: 'user-data' }]);
    expect(parseUserData(gzipSync('#cloud-boothook\necho x\n')).scripts).toEqual([{ name: 'user-data', body: Buffer.from('echo x\n'), frequency: 'boothook' }]);
  });
});

describe('write_files with !!binary (cloud-init doc/examples/cloud-config-write-files.txt shape)', () => {
  const hello = '#!/bin/sh\necho hello world\n';
  const doc = [
    '#cloud-config',
    'write_files:',
    '- encoding: gzip',
    '  content: !!binary |',
    `    ${gzipSync(hello).toString('base64')}`,
    '  path: /usr/bin/hello',
    "  permissions: '0755'",
    '- content: !!binary |',
    `    ${Buffer.from([0, 1, 2, 255]).toString('base64')}`,
    '  path: /var/bytes',
    '- encoding: b64',
    '  content: !!binary |',
    `    ${Buffer.from(Buffer.from('via base64 text\n').toString('base64')).toString('base64')}`,
    '  path: /var/b64',
    '- content: later\n  path: /home/alice/later\n  owner: alice:alice\n  defer: true',
    '- content: 42\n  path: /var/num',
    '- content: {a: 1}\n  path: /var/map',
    '',
  ].join('\n');

  it('bytes are written as they are, gzip of bytes inflated, base64 bytes decoded; defer is kept', () => {
    const { config, issues } = checkCloudConfig(doc);
    // a number or a mapping is not content (cloud-init's schema wants a string or bytes)
    expect(issues.map((i) => `${i.line}: ${i.message}`)).toEqual(['19: write_files[4]: content is not a string or !!binary; skipped', '21: write_files[5]: content is not a string or !!binary; skipped']);
    const files = config?.writeFiles ?? [];
    expect(files.map((f) => [f.path, f.content.toString('latin1'), f.mode.toString(8), f.defer])).toEqual([
      ['/usr/bin/hello', hello, '755', false],
      ['/var/bytes', '\u0000\u0001\u0002\u00ff', '644', false],
      ['/var/b64', 'via base64 text\n', '644', false],
      ['/home/alice/later', 'later', '644', true],
    ]);
  });

  it('"source" with content: the content is written and the key named; without content: skipped and named', () => {
    const withContent = checkCloudConfig('#cloud-config\nwrite_files:\n- path: /a\n  content: fallback\n  source: {uri: "https://h.example/x?t=1"}\n');
    expect(withContent.config?.writeFiles.map((f) => f.content.toString())).toEqual(['fallback']);
    expect(withContent.issues.map((i) => `${i.line}: ${i.message}`)).toEqual(['5: write_files[0]: content from "source" (a URL) is not supported by vmctx; the entry\'s "content" is written instead (cloud-init\'s fallback when the source cannot be read)']);
    const without = checkCloudConfig('#cloud-config\nwrite_files:\n- path: /a\n  source: {uri: "https://h.example/x"}\n');
    expect(without.config?.writeFiles).toEqual([]);
    expect(without.issues.map((i) => i.message)).toEqual(['write_files[0]: content from "source" (a URL) is not supported by vmctx and the entry has no "content" to fall back on; skipped rather than writing an empty /a']);
  });

  it('a gzip !!binary that inflates past 16 MiB is skipped and said', () => {
    const big = gzipSync(Buffer.alloc(17 * 1024 * 1024));
    const { config, issues } = checkCloudConfig(`#cloud-config\nwrite_files:\n- encoding: gz\n  path: /big\n  content: !!binary ${big.toString('base64')}\n`);
    expect(config?.writeFiles).toEqual([]);
    expect(issues.map((i) => i.message).join('\n')).toMatch(/^write_files\[0\]: gz content skipped: /u);
  });
});
