// Templated files: the syntax (defaults, $$, errors with line numbers), and the module on a scratch
// root — rendered, re-rendered when a value or the template changes, never a secret, never a
// newline smuggled into a config file, never outside the root or into /proc, and a broken
// template leaves its target untouched while the others render.
import { chmod, mkdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { renderTemplate } from '../../../src/agent/modules/templates.js';
import { runAgent } from '../../../src/agent/run.js';
import { type RunReport } from '../../../src/agent/report.js';
import { renderContextSh } from '../../../src/formats/contextsh.js';
import { HostExec } from '../../../src/host/exec.js';
import { DirectoryRoot } from '../../../src/host/root.js';
import { ConsoleLines, createLogger } from '../../../src/shared/logger.js';
import { scratchRoot } from '../../helpers/scratch.js';
import { tempDir } from '../../helpers/tmp.js';

describe('template syntax', () => {
  const values = { SET_HOSTNAME: 'web-1', ETH0_IP: '10.0.0.5', EMPTY: '', MULTI: 'a\nb', PASSWORD: 'pw' };
  it('substitutes, defaults, escapes', () => {
    expect(renderTemplate('ServerName ${SET_HOSTNAME}\nListen ${ETH0_IP}:80\n', values)).toEqual({ output: 'ServerName web-1\nListen 10.0.0.5:80\n', errors: [] });
    expect(renderTemplate('${NOPE:-fallback} ${EMPTY:-was-empty} ${EMPTY}|', values).output).toBe('fallback was-empty |');
    expect(renderTemplate('cost: $$5, $HOME stays, a lone $ too', values).output).toBe('cost: $5, $HOME stays, a lone $ too');
  });
  it('errors name the line: unknown names, secrets, newlines, bad references, unclosed', () => {
    const r = renderTemplate('ok\n${NOPE}\n${PASSWORD}\n${MULTI}\n${1BAD}\n${OPEN\n', values);
    expect(r.output).toBeUndefined();
    expect(r.errors.map((e) => e.line)).toEqual([2, 3, 4, 5, 6]);
    expect(r.errors.map((e) => e.message).join('\n')).toMatch(/NOPE is not set[\s\S]*PASSWORD is a secret[\s\S]*MULTI holds a newline[\s\S]*not a variable reference[\s\S]*without a closing/u);
  });
});

async function setup(): Promise<{ root: string; run(vars: Record<string, string>): Promise<RunReport>; template(path: string, text: string): Promise<void> }> {
  const root = await scratchRoot();
  const src = await tempDir();
  return {
    root,
    async template(path, text) {
      const file = join(root, 'etc/vmctx/templates', `${path}.tmpl`);
      await mkdir(join(file, '..'), { recursive: true });
      await writeFile(file, text);
    },
    async run(vars) {
      await writeFile(join(src, 'context.sh'), renderContextSh(vars));
      return runAgent({
        root: new DirectoryRoot(root), stateRoot: new DirectoryRoot(root), stateDir: '/var/lib/vmctx', source: src, stage: 'local', dryRun: false,
        exec: new HostExec(), logger: createLogger(undefined), console: new ConsoleLines(false), version: 'test',
      });
    },
  };
}

const mod = (r: RunReport) => r.modules.find((m) => m.id === 'templates');

describe('templates module', () => {
  it('renders each template to its path, keeps an existing mode, and re-renders when a value or the template changes', async () => {
    const s = await setup();
    await mkdir(join(s.root, 'etc/httpd/conf'), { recursive: true });
    await writeFile(join(s.root, 'etc/httpd/conf/httpd.conf'), 'old\n', { mode: 0o640 });
    await chmod(join(s.root, 'etc/httpd/conf/httpd.conf'), 0o640);
    await s.template('etc/httpd/conf/httpd.conf', 'ServerName ${VMCTX_HOSTNAME}\nListen ${ETH0_IP:-0.0.0.0}:80\n');
    await s.template('opt/app/app.env', 'INSTANCE=${VMCTX_INSTANCE_ID}\n');
    let r = await s.run({ VMID: '5', SET_HOSTNAME: 'web-1.example.org' });
    expect(mod(r)?.status).toBe('applied');
    expect(await readFile(join(s.root, 'etc/httpd/conf/httpd.conf'), 'utf8')).toBe('ServerName web-1.example.org\nListen 0.0.0.0:80\n');
    expect(await readFile(join(s.root, 'opt/app/app.env'), 'utf8')).toBe('INSTANCE=vmid-5\n');
    const { stat } = await import('node:fs/promises');
    expect((await stat(join(s.root, 'etc/httpd/conf/httpd.conf'))).mode & 0o777).toBe(0o640);
    r = await s.run({ VMID: '5', SET_HOSTNAME: 'web-1.example.org' });
    expect(mod(r)?.status).toBe('skipped');
    r = await s.run({ VMID: '5', SET_HOSTNAME: 'web-2.example.org', ETH0_IP: '10.0.0.9' });
    expect(mod(r)?.reason).toBe('inputs changed');
    expect(await readFile(join(s.root, 'etc/httpd/conf/httpd.conf'), 'utf8')).toBe('ServerName web-2.example.org\nListen 10.0.0.9:80\n');
    await s.template('opt/app/app.env', 'INSTANCE=${VMCTX_INSTANCE_ID}\nHOST=${VMCTX_HOSTNAME}\n');
    r = await s.run({ VMID: '5', SET_HOSTNAME: 'web-2.example.org', ETH0_IP: '10.0.0.9' });
    expect(mod(r)?.reason).toBe('inputs changed');
    expect(await readFile(join(s.root, 'opt/app/app.env'), 'utf8')).toBe('INSTANCE=vmid-5\nHOST=web-2.example.org\n');
  });

  it('a broken template (unknown name, a secret, a newline value) leaves its target untouched and fails the module; the others render', async () => {
    const s = await setup();
    await mkdir(join(s.root, 'etc/app'), { recursive: true });
    await writeFile(join(s.root, 'etc/app/broken.conf'), 'keep me\n');
    await s.template('etc/app/broken.conf', 'a=${NOT_IN_CONTEXT}\nb=${PASSWORD}\nc=${NOTE}\n');
    await s.template('etc/app/good.conf', 'host=${SET_HOSTNAME}\n');
    const r = await s.run({ VMID: '6', SET_HOSTNAME: 'h6', PASSWORD: 'never-in-a-file', NOTE: 'line1\nInclude /etc/evil.conf' });
    expect(mod(r)?.status).toBe('failed');
    expect(mod(r)?.error?.message).toMatch(/broken\.conf\.tmpl:1: NOT_IN_CONTEXT is not set.*broken\.conf\.tmpl:2: PASSWORD is a secret.*broken\.conf\.tmpl:3: NOTE holds a newline/u);
    expect(await readFile(join(s.root, 'etc/app/broken.conf'), 'utf8')).toBe('keep me\n');
    expect(await readFile(join(s.root, 'etc/app/good.conf'), 'utf8')).toBe('host=h6\n');
    expect(JSON.stringify(r)).not.toContain('never-in-a-file');
  });

  it('a template aimed at /proc, or through a symlink out of the root, or writable by others, is refused', async () => {
    const s = await setup();
    const outside = await tempDir();
    await s.template('proc/sys/kernel/hostname', 'x\n');
    await symlink(outside, join(s.root, 'escape'));
    await s.template('escape/owned', 'x\n');
    await s.template('etc/loose.conf', 'x\n');
    await chmod(join(s.root, 'etc/vmctx/templates/etc/loose.conf.tmpl'), 0o666);
    const r = await s.run({ VMID: '7' });
    expect(mod(r)?.status).toBe('failed');
    const message = mod(r)?.error?.message ?? '';
    expect(message).toMatch(/proc\/sys\/kernel\/hostname/u);
    expect(message).toMatch(/loose\.conf\.tmpl: owned by uid 0 with mode 666/u);
    const { readdir } = await import('node:fs/promises');
    expect(await readdir(outside)).toEqual([]);
    await expect(readFile(join(s.root, 'etc/loose.conf'))).rejects.toThrow();
  });
});
