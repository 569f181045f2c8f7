// User data as a container: gzip (of any of these), MIME multipart, a #! script or a #cloud-config
// document, told apart by their first bytes and unpacked within one decode budget. The
// cloud-config documents found are checked by cloudconfig.ts. Pure.
import { checkCloudConfig, type CloudConfig, type CloudConfigIssue } from './cloudconfig.js';
import { DecodeBudget, MAX_USER_DATA_FILE as MAX_FILE, boundedGunzip, mib } from './decodebudget.js';

export interface UserDataParts {
  readonly cloudConfigs: readonly CloudConfig[];
  /** #! scripts from the user data (a plain body, or MIME parts). */
  readonly scripts: ReadonlyArray<{ readonly name: string; readonly body: Buffer }>;
  readonly issues: readonly string[];
  /** The same issues with their severity, and line and column where the document gives them. */
  readonly located: readonly CloudConfigIssue[];
}

const MAX_PARTS = 64;

/** Splits a MIME multipart body; each part's headers (lower-case) and decoded body. */
function mimeParts(raw: Buffer, issues: { push(message: string): void }, budget: DecodeBudget): Array<{ type: string; filename: string | undefined; body: Buffer; line: number | undefined }> | undefined {
  const text = raw.toString('latin1');
  const headerEnd = text.search(/\r?\n\r?\n/u);
  const head = headerEnd < 0 ? text : text.slice(0, headerEnd);
  const boundary = /boundary="?([^";\r\n]+)"?/iu.exec(head)?.[1];
  if (boundary === undefined) {
    issues.push('MIME user data without a boundary; ignored');
    return undefined;
  }
  const chunks = text.split(`--${boundary}`).slice(1);
  const out: Array<{ type: string; filename: string | undefined; body: Buffer; line: number | undefined }> = [];
  // where each chunk starts in the text, for the line numbers of the parts' documents
  let at = text.indexOf(`--${boundary}`) + boundary.length + 2;
  for (const chunk of chunks) {
    const chunkStart = at;
    at += chunk.length + boundary.length + 2;
    if (chunk.startsWith('--')) break;
    if (out.length >= MAX_PARTS) {
      issues.push(`more than ${MAX_PARTS} MIME parts; the rest ignored`);
      break;
    }
    const part = chunk.replace(/^\r?\n/u, '');
    const end = part.search(/\r?\n\r?\n/u);
    if (end < 0) continue;
    const headers = part.slice(0, end).toLowerCase();
    const bodyText = part.slice(end).replace(/^\r?\n\r?\n/u, '').replace(/\r?\n$/u, '');
    const bodyStart = chunkStart + (chunk.length - part.length) + end + (/^\r?\n\r?\n/u.exec(part.slice(end))?.[0].length ?? 0);
    const line = text.slice(0, bodyStart).split('\n').length - 1;
    const type = /content-type:\s*([^;\s]+)/u.exec(headers)?.[1] ?? 'text/plain';
    const filename = /filename="?([^";\r\n]+)"?/u.exec(part.slice(0, end))?.[1];
    const encoded = /content-transfer-encoding:\s*base64/u.test(headers);
    const body = encoded ? Buffer.from(bodyText, 'base64') : Buffer.from(bodyText, 'latin1');
    if (encoded && !budget.take(body.length)) {
      issues.push(`MIME part ${out.length + 1}: its ${mib(body.length)} would pass what is left of the ${mib(budget.total)} decompressed-bytes budget of this user data (${mib(budget.left)}); ignored`);
      continue;
    }
    // a base64 part's lines are not the file's: its issues name the part instead
    out.push({ type, filename, body, line: encoded ? undefined : line });
  }
  return out;
}

/** Classifies user data: #! script, #cloud-config, MIME multipart (of those), gzip of any of them. */
export function parseUserData(raw: Buffer, budget: DecodeBudget = new DecodeBudget()): UserDataParts {
  const located: CloudConfigIssue[] = [];
  const issues = { push: (message: string): void => void located.push({ severity: 'warning', message }) };
  const cloudConfig = (text: string, lineOffset: number | undefined, name: string): CloudConfig | undefined => {
    const checked = checkCloudConfig(text, lineOffset ?? 0, budget);
    if (lineOffset !== undefined) for (const i of checked.issues) located.push(i);
    else for (const i of checked.issues) located.push({ severity: i.severity, message: `${name}${i.line === undefined ? '' : ` line ${i.line}`}: ${i.message}` });
    return checked.config;
  };
  const cloudConfigs: CloudConfig[] = [];
  const scripts: Array<{ name: string; body: Buffer }> = [];
  const visit = (data: Buffer, name: string, depth: number): void => {
    if (depth > 2) {
      issues.push(`${name}: nested too deeply; ignored`);
      return;
    }
    if (data[0] === 0x1f && data[1] === 0x8b) {
      const inflated = boundedGunzip(data, MAX_FILE, budget);
      if ('reason' in inflated) issues.push(`${name}: gzip data ignored: ${inflated.reason}`);
      else visit(inflated.data, name, depth + 1);
      return;
    }
    const head = data.subarray(0, 256).toString('latin1');
    if (head.startsWith('#!')) scripts.push({ name, body: data });
    else if (/^#cloud-config\s/u.test(head)) {
      // lines count in the document as given (a gzipped body's are its uncompressed lines)
      const config = cloudConfig(data.toString('utf8'), 0, name);
      if (config !== undefined) cloudConfigs.push(config);
    } else if (/^content-type:\s*multipart\//imu.test(head) || /^mime-version:/imu.test(head)) {
      const parts = mimeParts(data, issues, budget) ?? [];
      parts.forEach((p, i) => {
        const partName = `${name}-part${i + 1}`;
        if (p.type === 'text/x-shellscript' || p.body.subarray(0, 2).toString('latin1') === '#!') scripts.push({ name: partName, body: p.body });
        else if (p.type === 'text/cloud-config') {
          const config = cloudConfig(p.body.toString('utf8'), p.line, partName);
          if (config !== undefined) cloudConfigs.push(config);
        } else issues.push(`${partName}: MIME type ${p.type} is not supported; ignored`);
      });
    } else {
      // cloud-init's other user-data kinds: named, so the user learns vmctx does not take them
      const other = /^(#include-once|#include|#cloud-boothook|#part-handler|#cloud-config-archive|#cloud-config-jsonp|## template: jinja)\b/u.exec(head)?.[1];
      issues.push(other !== undefined ? `${name}: ${other} user data is not supported by vmctx; ignored` : `${name}: neither a #! script, #cloud-config nor MIME multipart; ignored`);
    }
  };
  visit(raw, 'user-data', 0);
  return { cloudConfigs, scripts, issues: located.map((i) => i.message), located };
}
