// Templated files: /etc/vmctx/templates/<guest path>.tmpl is rendered into <guest path> with the
// context's values, and again whenever a template or a value changes (on-change; the daemon too).
// The image author's version of "ServerName ${SET_HOSTNAME}" in httpd.conf.
//
// The syntax, and nothing more (no code runs, ever):
//   ${NAME}            the value of NAME; a name that is not set is an error
//   ${NAME:-default}   the value, or the default when NAME is unset or empty (no "}" in it)
//   $$                 a literal "$"; any other "$" is itself
// Names: the context's variables, plus VMCTX_HOSTNAME (the hostname vmctx set) and
// VMCTX_INSTANCE_ID. Secrets (PASSWORD, …) are never rendered into files; a value holding a
// newline or a control character is refused (it could add lines to a configuration file). A
// template with any error leaves its target untouched; the others are still rendered.
import { createHash } from 'node:crypto';
import { VmctxError } from '../../shared/errors.js';
import { isSecretName } from '../../shared/secret.js';
import type { Root } from '../../host/root.js';
import type { Context } from '../context/context.js';
import { OutcomeBuilder, type Module } from './module.js';
import { rootOnlyProblem } from './live.js';
import { TEMPLATE_DIR } from '../../shared/layout.js';

const MAX_TEMPLATES = 1000;
const MAX_DEPTH = 16;
const MAX_TEMPLATE = 4 * 1024 * 1024;
const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/u;

export interface TemplateError {
  readonly line: number;
  readonly message: string;
}

/** The values a template may use. */
export function templateValues(ctx: Context): Record<string, string> {
  return { ...ctx.variables, VMCTX_INSTANCE_ID: ctx.instanceId, ...(ctx.hostname === undefined ? {} : { VMCTX_HOSTNAME: ctx.hostname }) };
}

/** Renders a template; errors (with line numbers) instead of output when anything is wrong. */
export function renderTemplate(text: string, values: Readonly<Record<string, string>>): { output: string; errors: [] } | { output?: undefined; errors: TemplateError[] } {
  const errors: TemplateError[] = [];
  let out = '';
  let line = 1;
  for (let i = 0; i < text.length; ) {
    const c = text.charAt(i);
    if (c === '\n') line++;
    if (c !== '$') {
      out += c;
      i++;
      continue;
    }
    if (text[i + 1] === '$') {
      out += '$';
      i += 2;
      continue;
    }
    if (text[i + 1] !== '{') {
      out += '$';
      i++;
      continue;
    }
    const end = text.indexOf('}', i + 2);
    const newline = text.indexOf('\n', i + 2);
    if (end < 0 || (newline >= 0 && newline < end)) {
      errors.push({ line, message: '"${" without a closing "}" on the same line' });
      i += 2;
      continue;
    }
    const body = text.slice(i + 2, end);
    const sep = body.indexOf(':-');
    const name = sep < 0 ? body : body.slice(0, sep);
    const fallback = sep < 0 ? undefined : body.slice(sep + 2);
    i = end + 1;
    if (!NAME.test(name)) {
      errors.push({ line, message: `\${${body.slice(0, 40)}} is not a variable reference (\${NAME} or \${NAME:-default})` });
      continue;
    }
    if (isSecretName(name)) {
      errors.push({ line, message: `${name} is a secret; vmctx does not write secrets into files from templates` });
      continue;
    }
    const value = values[name];
    const chosen = value === undefined || (value === '' && fallback !== undefined) ? fallback : value;
    if (chosen === undefined) {
      errors.push({ line, message: `${name} is not set in the context (give a default: \${${name}:-…})` });
      continue;
    }
    // eslint-disable-next-line no-control-regex
    if (/[\u0000-\u0008\u000a-\u001f\u007f]/u.test(chosen)) {
      errors.push({ line, message: `${name} holds a newline or a control character; not rendered into a file` });
      continue;
    }
    out += chosen;
  }
  return errors.length === 0 ? { output: out, errors: [] } : { errors };
}

interface Found {
  readonly template: string;
  readonly target: string;
}

/** Every *.tmpl under the template directory (bounded), with the guest path it renders to. */
async function findTemplates(root: Root, warnings: string[]): Promise<Found[]> {
  const found: Found[] = [];
  const walk = async (dir: string, depth: number): Promise<void> => {
    if (depth > MAX_DEPTH || found.length >= MAX_TEMPLATES) return;
    for (const name of ((await root.readdir(dir)) ?? []).sort()) {
      const path = `${dir}/${name}`;
      const st = await root.lstat(path);
      if (st?.type === 'directory') await walk(path, depth + 1);
      else if (st?.type === 'file' && name.endsWith('.tmpl') && name !== '.tmpl') found.push({ template: path, target: path.slice(TEMPLATE_DIR.length, -'.tmpl'.length) });
      else if (name.endsWith('.tmpl')) warnings.push(`${path}: not used (not a regular file)`);
      if (found.length >= MAX_TEMPLATES) {
        warnings.push(`more than ${MAX_TEMPLATES} templates; the rest are not rendered`);
        return;
      }
    }
  };
  await walk(TEMPLATE_DIR, 0);
  return found;
}

export const templatesModule: Module = {
  id: 'templates',
  stage: 'local',
  frequency: 'on-change',
  onInterrupted: 'rerun',
  description: `files rendered from ${TEMPLATE_DIR}/<path>.tmpl with the context's values`,
  isRelevant: () => true,
  hasWork: async (_ctx, target) => (await target.root.lstat(TEMPLATE_DIR)) !== undefined,
  inputs: (ctx) => templateValues(ctx),
  // the templates themselves are inputs too: a changed template is rendered again
  async liveInputs(_ctx, target) {
    const hash = createHash('sha256');
    for (const t of await findTemplates(target.root, [])) {
      hash.update(`${t.template}\0`);
      hash.update((await target.root.readFile(t.template, { maxBytes: MAX_TEMPLATE }).catch(() => undefined)) ?? '');
      hash.update('\0');
    }
    return hash.digest('hex');
  },
  async apply(ctx: Context, target) {
    const out = new OutcomeBuilder();
    const { root } = target;
    const values = templateValues(ctx);
    const failures: string[] = [];
    for (const t of await findTemplates(root, out.warnings)) {
      const st = await root.lstat(t.template);
      if (st === undefined) continue;
      const owner = rootOnlyProblem(st);
      if (owner !== undefined) {
        failures.push(`${t.template}: ${owner}; a template must be root's and writable only by root`);
        continue;
      }
      const data = await root.readFile(t.template, { maxBytes: MAX_TEMPLATE });
      if (data === undefined) continue;
      const rendered = renderTemplate(data.toString('utf8'), values);
      if (rendered.output === undefined) {
        failures.push(...rendered.errors.map((e) => `${t.template}:${e.line}: ${e.message}`));
        continue;
      }
      const existing = await root.lstat(t.target);
      const mode = existing?.type === 'file' ? existing.mode & 0o7777 : 0o644;
      try {
        out.changedIf(t.target, (await root.writeFile(t.target, rendered.output, { mode })).changed);
      } catch (error) {
        failures.push(`${t.template} → ${t.target}: ${(error as Error).message}`);
      }
    }
    if (failures.length > 0) {
      throw new VmctxError('ERR_MODULE', `${failures.length} template problem(s), those targets left untouched: ${failures.join('; ')}`, { details: { changed: out.changed } });
    }
    return out.build();
  },
};
