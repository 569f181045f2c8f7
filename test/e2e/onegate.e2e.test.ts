// Real guest (Debian 13 with netplan), one boot with an OpenNebula context CD made by `vmctx
// make-iso` carrying REPORT_READY=YES, ONEGATE_ENDPOINT, VMID and token.txt: the test's OneGate
// (`serve-metadata --onegate`'s server on the host's loopback, reached through slirp's guestfwd,
// restrict=on) gets exactly one PUT /vm, READY=YES, with the right token and VMID. It comes after
// the final stage: READY_SCRIPT checks that START_SCRIPT (a final-stage module) already ran, and
// the guest's journal and `vmctx status` put report-ready last. (VMCTX_READY_PORT is left to the
// unit tests: under a loaded host the port a guest could offer, sshd's, came up late or not at all.) The token is on no console line and in no vmctx file.
// (The boot with no OneGate listening is core.e2e's first boot.)
import { execFileSync } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MetadataServer } from '../../src/provider/server.js';
import { BUNDLE } from '../helpers/cli.js';
import { tempDir } from '../helpers/tmp.js';
import { boot, buildImage, guestfwdRelay, readGuestFile, type Flavour } from './guest.js';

const FLAVOUR: Flavour = 'trixie-netplan';
const ONEGATE_HOST = '10.0.2.100';
const ONEGATE_PORT = 5030;
const VMID = '7';
const TOKEN = 'e2eOneGateTok3n+/AbCdEf0123==';
// the report waits while the record is pending: under a loaded host the network may come up only
// after the final stage's 10 s, and then the daemon finishes the report (the budget is 300 s here)
const EXTRA = `#!/bin/sh
for i in $(seq 1 150); do grep -q '"status": "pending"' /var/lib/vmctx/report-ready.json 2>/dev/null || break; sleep 2; done
echo "== final-journal"
journalctl -b -u vmctx-final.service --no-pager -o cat | grep 'vmctx: ' | sed 's/^.*vmctx: //'
echo "== daemon-journal"
journalctl -b -u vmctx-daemon.service --no-pager -o cat | tail -5
echo "== ready-record"
cat /var/lib/vmctx/report-ready.json
echo "== status"
/usr/sbin/vmctx status
echo "== end"
`;

let work: string;
let image: string;
let iso: string;
let server: MetadataServer;
let relay: string;
const serverLines: string[] = [];

beforeAll(async () => {
  work = await tempDir('vmctx-e2e-onegate-');
  image = await buildImage(work, { withAgent: true, flavour: FLAVOUR, files: {
    '/usr/local/sbin/vmctx-e2e-extra': EXTRA,
    '/etc/vmctx/config': 'REPORT_READY_BUDGET_MS=300000\n',
    // on a host loaded by other guests (load 12 on 2 cores) the local stage's 90 s backstop killed it
    // before it wrote the network: that boot had no network for OneGate, which is not what this tests
    '/etc/systemd/system/vmctx-local.service.d/e2e-slow-host.conf': '[Service]\nTimeoutStartSec=900\n',
  } });
  server = new MetadataServer({ tree: new Map(), imdsv2: 'optional', onegate: { token: TOKEN, vmid: VMID }, log: (l) => serverLines.push(l) });
  const { port } = await server.listen('127.0.0.1', 0);
  relay = await guestfwdRelay(work, port);
  // the CD as OpenNebula makes it with TOKEN=YES: context.sh plus token.txt, here by vmctx make-iso --file
  const tokenFile = join(work, 'onegate-token');
  await writeFile(tokenFile, `${TOKEN}\n`);
  iso = join(work, 'ctx.iso');
  const readyScript = Buffer.from('#!/bin/sh\ntest -f /root/final-started\n').toString('base64');
  execFileSync(process.execPath, [BUNDLE, 'make-iso', '-o', iso,
    '--var', `VMID=${VMID}`, '--var', 'SET_HOSTNAME=onegate-guest', '--var', 'TOKEN=YES',
    '--var', 'ETH0_MAC=52:54:00:12:34:56', '--var', 'ETH0_IP=10.0.2.15', '--var', 'ETH0_MASK=255.255.255.0', '--var', 'ETH0_GATEWAY=10.0.2.2',
    '--var', `ONEGATE_ENDPOINT=http://${ONEGATE_HOST}:${ONEGATE_PORT}`, '--var', 'REPORT_READY=YES',
    '--var', 'START_SCRIPT=date +%s.%N > /root/final-started', '--var', `READY_SCRIPT=${readyScript}`,
    '--file', `${tokenFile}:token.txt`]);
}, 900_000);

afterAll(async () => {
  await server.close();
});

describe('OneGate report-ready in a real guest', () => {
  it('one PUT /vm READY=YES with the token and VMID, after the final stage\'s other modules; status says when', async () => {
    const result = await boot(image, work, { flavour: FLAVOUR, cdrom: iso, nicExtra: `guestfwd=tcp:${ONEGATE_HOST}:${ONEGATE_PORT}-${relay}`, timeoutMs: 1_200_000 });
    process.stdout.write(`onegate e2e: boot to power-off ${result.wallMs} ms\nserver:\n${serverLines.join('\n')}\n${result.report}\n`);
    const part = (name: string): string => new RegExp(`== ${name}\\r?\\n([\\s\\S]*?)\\r?\\n== `, 'u').exec(result.report)?.[1]?.replace(/\r/gu, '') ?? '';
    // exactly one request, the right one
    expect(server.onegateRequests.map((r) => ({ method: r.method, path: r.path, vmid: r.vmid, token: r.token, body: r.body, status: r.status })), result.console.slice(-4000)).toEqual([
      { method: 'PUT', path: '/vm', vmid: VMID, token: 'ok', body: 'READY=YES', status: 200 },
    ]);
    expect(server.onegateTemplate.get('READY')).toBe('YES');
    // after the final stage's other modules: START_SCRIPT's marker was there for READY_SCRIPT, and report-ready is the stage's last line
    expect(await readGuestFile(image, '/root/final-started')).toMatch(/^\d+\.\d+\n$/u);
    const final = part('final-journal').split('\n').filter((l) => /^[a-z-]+: /u.test(l) && !l.startsWith('result: '));
    expect(final.at(-1), part('final-journal')).toMatch(/^report-ready: applied \(/u);
    expect(final.findIndex((l) => l.startsWith('scripts: applied'))).toBeGreaterThanOrEqual(0);
    expect(final.findIndex((l) => l.startsWith('scripts: applied'))).toBeLessThan(final.length - 1);
    const record = JSON.parse(part('ready-record')) as { status: string; vmid: string; attempts: number; gatePassed?: boolean; firstAttemptAt: string; updatedAt: string };
    process.stdout.write(`onegate e2e: reported ${record.updatedAt}, ${record.attempts} attempt(s) from ${record.firstAttemptAt} (${part('final-journal').includes('READY not reported yet') ? 'finished by the daemon' : 'in the final stage'})\n`);
    expect(record).toMatchObject({ status: 'reported', vmid: VMID, gatePassed: true });
    expect(part('status')).toMatch(/^ready: READY=YES reported to OneGate http:\/\/10\.0\.2\.100:5030\/vm \(VM 7\) at \S+ \(attempt \d+\)$/mu);
    expect(await readGuestFile(image, '/var/log/vmctx/scripts/ready-script.log')).toMatch(/^# vmctx: ready-script \(READY_SCRIPT\) run by \/bin\/sh for instance vmid-7: exit 0/u);
    // the token: on no console line, in no vmctx file the guest kept
    expect(result.console.includes(TOKEN)).toBe(false);
    expect(serverLines.join('\n').includes(TOKEN)).toBe(false);
    for (const path of ['/var/log/vmctx.log', '/var/lib/vmctx/state.json', '/var/lib/vmctx/report-ready.json', '/var/log/vmctx/scripts/ready-script.log', '/var/log/vmctx/scripts/START_SCRIPT.log']) {
      expect((await readGuestFile(image, path))?.includes(TOKEN), path).toBe(false);
    }
  }, 1_300_000);
});
