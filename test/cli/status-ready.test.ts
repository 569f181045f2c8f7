// `vmctx status` shows OneGate's ready report from its record (reported at, pending with the last
// error and until when the daemon retries, or why not), in the text and in --json; without a
// record there is no ready line.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { ReadyRecord } from '../../src/agent/modules/reportready.js';
import { vmctx } from '../helpers/cli.js';
import { scratchRoot } from '../helpers/scratch.js';
import { tempDir } from '../helpers/tmp.js';

const base = { instanceId: 'vmid-7', bootId: 'b', key: 'k', url: 'http://10.0.2.100:5030/vm', vmid: '7', firstAttemptAt: '2026-01-01T00:00:00.000Z', deadline: '2026-01-01T00:01:00.000Z' };

describe('vmctx status: the ready report', () => {
  it('reported, pending and failed records each give one line; --json carries the record', async () => {
    const root = await scratchRoot();
    const src = await tempDir();
    await writeFile(join(src, 'context.sh'), "VMID='7'\nSET_HOSTNAME='ready-host'\n");
    expect(vmctx(['run', '--source', src, '--root', root, '-q']).code).toBe(0);
    expect(vmctx(['status', '--root', root]).stdout).not.toMatch(/^ready: /mu);
    await mkdir(join(root, 'var/lib/vmctx'), { recursive: true });
    const put = (r: ReadyRecord): Promise<void> => writeFile(join(root, 'var/lib/vmctx/report-ready.json'), JSON.stringify(r), { mode: 0o600 });

    await put({ ...base, status: 'reported', attempts: 2, reportedAt: '2026-01-01T00:00:03.000Z' });
    expect(vmctx(['status', '--root', root]).stdout).toMatch(/^ready: READY=YES reported to OneGate http:\/\/10\.0\.2\.100:5030\/vm \(VM 7\) at 2026-01-01T00:00:03\.000Z \(attempt 2\)$/mu);
    const json = JSON.parse(vmctx(['status', '--root', root, '--json']).stdout) as { ready: ReadyRecord | null };
    expect(json.ready).toMatchObject({ status: 'reported', attempts: 2 });

    await put({ ...base, deadline: '2999-01-01T00:01:00.000Z', status: 'pending', attempts: 4, error: { code: 'ERR_ONEGATE_UNREACHABLE', message: 'ECONNREFUSED: connect ECONNREFUSED' } });
    expect(vmctx(['status', '--root', root]).stdout).toMatch(/^ready: READY not reported yet to OneGate \S+ \(VM 7\): ERR_ONEGATE_UNREACHABLE: ECONNREFUSED: connect ECONNREFUSED; the daemon retries until 2999-01-01T00:01:00\.000Z$/mu);

    await put({ ...base, status: 'failed', attempts: 1, error: { code: 'ERR_ONEGATE_REFUSED', message: 'OneGate answered HTTP 401: Not authorized; not retried' } });
    expect(vmctx(['status', '--root', root]).stdout).toMatch(/^ready: READY NOT reported to OneGate \S+ \(VM 7\): ERR_ONEGATE_REFUSED: OneGate answered HTTP 401: Not authorized; not retried$/mu);
  });

  it('a record of another boot is labelled so; a pending record past its deadline is not said to be retried', async () => {
    const root = await scratchRoot();
    const src = await tempDir();
    await writeFile(join(src, 'context.sh'), "VMID='7'\n");
    expect(vmctx(['run', '--source', src, '--root', root, '-q']).code).toBe(0);
    await mkdir(join(root, 'var/lib/vmctx'), { recursive: true });
    await mkdir(join(root, 'proc/sys/kernel/random'), { recursive: true });
    const thisBoot = '3f0c8a2e-59a1-4b4e-9d0b-1c2d3e4f5a6b';
    await writeFile(join(root, 'proc/sys/kernel/random/boot_id'), `${thisBoot}\n`);
    const put = (r: ReadyRecord): Promise<void> => writeFile(join(root, 'var/lib/vmctx/report-ready.json'), JSON.stringify(r), { mode: 0o600 });
    await put({ ...base, bootId: 'an-older-boot', status: 'reported', attempts: 1, reportedAt: '2026-01-01T00:00:03.000Z' });
    expect(vmctx(['status', '--root', root]).stdout).toMatch(/^ready: READY=YES reported to .* \(attempt 1\) \(a previous boot\)$/mu);
    await put({ ...base, bootId: thisBoot, status: 'reported', attempts: 1, reportedAt: '2026-01-01T00:00:03.000Z' });
    expect(vmctx(['status', '--root', root]).stdout).toMatch(/^ready: READY=YES reported to .* \(attempt 1\)$/mu);
    // this boot, pending, its deadline (2026-01-01) long past: no daemon retries it any more
    await put({ ...base, bootId: thisBoot, status: 'pending', attempts: 4, error: { code: 'ERR_ONEGATE_UNREACHABLE', message: 'no answer within 250 ms' } });
    expect(vmctx(['status', '--root', root]).stdout).toMatch(/^ready: READY not reported to OneGate \S+ \(VM 7\): ERR_ONEGATE_UNREACHABLE: no answer within 250 ms; deadline passed \(2026-01-01T00:01:00\.000Z\), no retry$/mu);
  });
});
