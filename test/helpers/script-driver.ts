// A tiny program that runs the agent's final stage with the real script runner on a scratch root
// (the CLI never runs scripts for --root). Bundled by the crash test and killed while it works.
import { runAgent } from '../../src/agent/run.js';
import { HostExec } from '../../src/host/exec.js';
import { DirectoryRoot } from '../../src/host/root.js';
import { HostScriptRunner } from '../../src/host/scripts.js';
import { ConsoleLines, createLogger } from '../../src/shared/logger.js';
import './crashpoints.js';

const [root, source, work, stageArg] = process.argv.slice(2);
if (root === undefined || source === undefined || work === undefined) throw new Error('usage: driver ROOT SOURCE WORK [STAGE]');
const stage = stageArg === 'all' || stageArg === 'local' ? stageArg : 'final';
const report = await runAgent({
  root: new DirectoryRoot(root), stateRoot: new DirectoryRoot(root), stateDir: '/var/lib/vmctx', source, stage, dryRun: false,
  exec: new HostExec(), logger: createLogger(undefined), console: new ConsoleLines(true), version: 'test', scripts: new HostScriptRunner(work),
});
process.stdout.write(`${JSON.stringify(report)}\n`);
