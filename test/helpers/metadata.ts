// A real metadata server (vmctx's own) on 127.0.0.1 for tests, and keys to put in it.
import { createServer } from 'node:net';
import { MetadataServer, type Fault } from '../../src/provider/server.js';
import { treeFromDescription, type MetadataDescription } from '../../src/provider/tree.js';

export function description(overrides: Partial<MetadataDescription> = {}, keys: readonly string[] = []): MetadataDescription {
  return {
    'meta-data': {
      'instance-id': 'i-0123456789abcdef0',
      'local-hostname': 'web-1.example.org',
      'local-ipv4': '10.1.2.3',
      'public-ipv4': '203.0.113.9',
      placement: { 'availability-zone': 'zone-a' },
      'block-device-mapping': { ami: 'sda1', ephemeral0: 'sda2', root: '/dev/sda1' },
      'public-keys': keys.map((k, i) => ({ name: `key${i}`, 'openssh-key': k })),
    },
    'user-data': '#!/bin/sh\necho hello from user data\n',
    ...overrides,
  };
}

export async function startServer(d: MetadataDescription, options: { imdsv2?: 'required' | 'optional'; faults?: Fault[] } = {}): Promise<{ server: MetadataServer; url: string }> {
  const server = new MetadataServer({ tree: treeFromDescription(d), imdsv2: options.imdsv2 ?? 'required', faults: options.faults ?? [] });
  const { url } = await server.listen('127.0.0.1', 0);
  return { server, url };
}

/** A loopback port with nothing listening (bound, then closed). */
export async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((resolve) => s.close(() => { resolve(); }));
  return port;
}
