// Fuzzing the documents a provider hands over besides context.sh: cloud-config (YAML) and the
// metadata JSON (OpenStack meta_data.json / network_data.json, NoCloud network-config). Random,
// malformed, hostile-shaped and oversized documents. Invariant: each parser returns (with issues
// or warnings) or throws a coded VmctxError — never another exception, never a stack overflow —
// and a normalised context comes out the other side with only what passed the checks.
import fc from 'fast-check';
import { describe, expect, it, vi } from 'vitest';
import { normaliseContext } from '../../src/agent/context/context.js';
import { mapOpenStack } from '../../src/agent/datasources/mapping.js';
import { mapNetworkDocument } from '../../src/network/fromdocument.js';
import { parseJson } from '../../src/agent/datasources/metadata.js';
import type { ContextWarning } from '../../src/agent/context/context.js';
import { parseCloudConfig } from '../../src/formats/cloudconfig.js';
import { parseUserData } from '../../src/formats/userdata.js';
import { isVmctxError } from '../../src/shared/errors.js';
import { emptyMedium } from '../helpers/context.js';

const RUNS = Number(process.env['DOC_FUZZ_RUNS'] ?? 2000);

/** Runs fn; anything thrown must be one of ours. */
function survives(fn: () => unknown): void {
  try {
    fn();
  } catch (error) {
    if (!isVmctxError(error)) throw error;
  }
}

async function survivesAsync(fn: () => Promise<unknown>): Promise<void> {
  try {
    await fn();
  } catch (error) {
    if (!isVmctxError(error)) throw error;
  }
}

/** JSON values shaped like the real documents, with wrong types and hostile strings mixed in. */
const hostile = fc.constantFrom('', '../../etc/passwd', '/etc/shadow', 'a\nb', '$(reboot)', '`id`', '\u0000', 'x'.repeat(5000), '__proto__', 'constructor', '-1', '1e309', 'ssh-ed25519 AAAA', '10.0.0.1/99', 'fe80::1%eth0');
const leaf = fc.oneof(fc.string({ maxLength: 30 }), hostile, fc.integer(), fc.double(), fc.boolean(), fc.constant(null));
const keys = fc.constantFrom('uuid', 'hostname', 'name', 'public_keys', 'keys', 'links', 'networks', 'services', 'type', 'id', 'ethernet_mac_address', 'mac_address', 'ip_address', 'netmask', 'routes', 'gateway', 'dns_nameservers', 'address', 'network', 'link', 'mtu', 'version', 'config', 'subnets', 'ethernets', 'match', 'macaddress', 'addresses', 'nameservers', 'search', 'admin_pass', 'meta', '__proto__', 'constructor');
const doc = fc.letrec((tie) => ({
  value: fc.oneof({ depthSize: 'small', withCrossShrink: true }, leaf, tie('array'), tie('object')),
  array: fc.array(tie('value'), { maxLength: 5 }),
  object: fc.dictionary(fc.oneof(keys, fc.string({ maxLength: 8 })), tie('value'), { maxKeys: 8 }),
})).value;

/** A value as JSON text (JSON.stringify gives undefined for undefined: null instead). */
const asText = (value: unknown): string => JSON.stringify(value ?? null);

describe('metadata JSON and network documents (fuzzed)', () => {
  it(`${RUNS} random documents through parseJson, mapOpenStack, network_data.json and network-config v1/v2`, async () => {
    await fc.assert(
      fc.asyncProperty(doc, doc, fc.option(fc.uint8Array({ maxLength: 64 })), async (meta, network, userData) => {
        const warnings: ContextWarning[] = [];
        survives(() => mapNetworkDocument({ format: 'network_data.json', file: 'network_data.json', text: asText(network) }));
        survives(() => mapNetworkDocument({ format: 'network-config', file: 'network-config', text: asText(network) }));
        survives(() => mapNetworkDocument({ format: 'network-config', file: 'network-config', text: asText({ version: 2, ethernets: network }) }));
        survives(() => mapNetworkDocument({ format: 'network-config', file: 'network-config', text: asText({ version: 1, config: network }) }));
        survives(() => mapNetworkDocument({ format: 'ec2', file: 'macs', text: asText({ interfaces: { macs: network } }) }));
        survives(() => mapNetworkDocument({ format: 'network-config', file: 'meta-data', text: asText({ 'instance-id': 'i', 'network-config': network }), key: 'network-config' }));
        survives(() => parseJson(Buffer.from(JSON.stringify(meta).slice(0, 1 + (JSON.stringify(meta).length >> 1))), 'meta_data.json', warnings));
        let mapped;
        try {
          mapped = mapOpenStack(meta, userData === null ? undefined : Buffer.from(userData), undefined);
        } catch (error) {
          if (!isVmctxError(error)) throw error;
          return;
        }
        // whatever came through normalises into a context without crashing, and a value with a
        // newline or a slash never becomes the hostname
        let hostname: string | undefined;
        await survivesAsync(async () => {
          const ctx = await normaliseContext({ source: { kind: 'metadata', path: 'fuzz', foundBy: 'fuzz', variableFiles: [] }, variables: mapped.variables, lines: {}, warnings: mapped.warnings, medium: emptyMedium(), networkDocument: { format: 'network_data.json', file: 'network_data.json', text: asText(network) } }, { id: 'fuzz', source: 'metadata' });
          hostname = ctx.hostname;
        });
        expect(hostname ?? '').not.toMatch(/[\n/\s$`]/u);
      }),
      { numRuns: RUNS, seed: 20261122 },
    );
  });

  it('hostile shapes: 1 000 000-deep nesting, a 20 MB document, __proto__ keys, invalid UTF-8', () => {
    const warnings: ContextWarning[] = [];
    // V8's JSON.parse recurses: a deep document must be a warning, not a RangeError
    expect(parseJson(Buffer.from('['.repeat(1_000_000)), 'network_data.json', warnings)).toBeUndefined();
    expect(parseJson(Buffer.from(`${'['.repeat(100_000)}${']'.repeat(100_000)}`), 'network_data.json', warnings)).toBeDefined();
    const big = Buffer.from(JSON.stringify({ uuid: 'u', meta: { x: 'y'.repeat(20 * 1024 * 1024) } }));
    survives(() => mapOpenStack(parseJson(big, 'meta_data.json', warnings), undefined, undefined));
    const proto = parseJson(Buffer.from('{"__proto__": {"polluted": 1}, "uuid": "u", "hostname": "h"}'), 'meta_data.json', warnings);
    survives(() => mapOpenStack(proto, undefined, undefined));
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
    survives(() => parseJson(Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x3a, 0x31, 0x7d]), 'meta_data.json', warnings));
  });
});

describe('regressions found by the long run', () => {
  // test:long, 100 000 documents, case 17 827: a value String() cannot convert (an object without a
  // prototype) crashed the network_data.json mapping with a TypeError
  it('regression doc-fuzz-17827: odd values in network_data.json are described, never converted blindly', () => {
    // (documents now reach the mapper as text: the odd values are objects where a string belongs)
    const mapped = mapNetworkDocument({ format: 'network_data.json', file: 'network_data.json', text: '{"networks": [{"id": {}, "type": {}}]}' });
    expect(mapped.model.devices).toEqual([]);
    expect(mapped.notes.map((n) => `${n.path}: ${n.message}`).join(' ')).toMatch(/networks\[0\]/u);
  });

  // the same run printed the YAML library's own warnings (with bits of the document) on stderr
  it('regression yaml-warnings: the YAML library never prints to the console', () => {
    const spy = vi.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    try {
      parseCloudConfig('%FOO bar\n---\nx: !!python/object y\n', []);
      expect(spy).not.toHaveBeenCalled();
    } finally {
      spy.mockRestore();
    }
  });
});

describe('cloud-config (fuzzed)', () => {
  const yamlish = fc.array(fc.constantFrom('#cloud-config\n', 'users:\n', '  - name: ', 'x', '\n', ': ', '- ', '[', ']', '{', '}', '&a ', '*a ', '!!binary ', '!!python/object ', '"', "'", '|', '>', 'write_files:\n', '  - path: /etc/x\n', '    content: ', 'runcmd:\n', 'bootcmd:\n', 'hostname: ', 'ssh_authorized_keys:\n', 'chpasswd:\n', '  list: |\n', '    root:pw\n', '<<: *a\n', '---\n', '...\n', '\t', '%YAML 1.2\n', '? ', 'null', '~', '0x1F', '1e400'), { maxLength: 30 }).map((a) => a.join(''));

  it(`${RUNS} random YAML-ish documents and user-data blobs: issues, never a crash`, () => {
    fc.assert(
      fc.property(fc.oneof(yamlish, fc.string({ maxLength: 200 })), (text) => {
        const issues: string[] = [];
        survives(() => parseCloudConfig(text, issues));
        survives(() => parseUserData(Buffer.from(text)));
        survives(() => parseUserData(Buffer.from(`#cloud-config\n${text}`)));
      }),
      { numRuns: RUNS, seed: 20261122 },
    );
  });

  it('hostile YAML: alias bombs, deep nesting, a 20 MB scalar, binary junk — bounded and reported', () => {
    const issues: string[] = [];
    const bomb = ['#cloud-config', 'a: &a ["x","x","x","x","x","x","x","x","x"]', ...Array.from({ length: 9 }, (_, i) => `${String.fromCharCode(98 + i)}: &${String.fromCharCode(98 + i)} [${Array(9).fill(`*${String.fromCharCode(97 + i)}`).join(',')}]`)].join('\n');
    // maxAliasCount bounds the work: refused, not expanded
    expect(parseCloudConfig(bomb, issues)).toBeUndefined();
    expect(issues.join(' ')).toMatch(/alias|not YAML/iu);
    survives(() => parseCloudConfig('['.repeat(100_000), issues));
    survives(() => parseCloudConfig(`hostname: ${'x'.repeat(20 * 1024 * 1024)}`, issues));
    survives(() => parseUserData(Buffer.from(Array.from({ length: 65536 }, (_, i) => (i * 7919) & 0xff))));
  });
});
