// unitProperties: the argv it runs (never a shell), its deadline, and what it makes of systemctl's
// answer — a property list, or nothing when systemctl is missing, fails or does not answer.
import { describe, expect, it } from 'vitest';
import type { Exec, ExecOptions, ExecResult } from '../../src/host/exec.js';
import { VmctxError } from '../../src/shared/errors.js';
import { unitProperties } from '../../src/host/systemd.js';

class ScriptedExec implements Exec {
  readonly calls: Array<{ file: string; args: readonly string[]; timeoutMs: number | undefined }> = [];
  constructor(private readonly answer: () => Promise<ExecResult>, private readonly installed = true) {}
  which(): Promise<string | undefined> {
    return Promise.resolve(this.installed ? '/usr/bin/systemctl' : undefined);
  }
  run(file: string, args: readonly string[], options: ExecOptions = {}): Promise<ExecResult> {
    this.calls.push({ file, args, timeoutMs: options.timeoutMs });
    return this.answer();
  }
}

const ok = (stdout: string): Promise<ExecResult> => Promise.resolve({ code: 0, signal: null, stdout, stderr: '' });

describe('unitProperties', () => {
  it('runs systemctl show with the properties as argv and a deadline, and reads NAME=VALUE lines', async () => {
    const exec = new ScriptedExec(() => ok('ActiveState=failed\nResult=exit-code\nConditionResult=yes\n'));
    expect(await unitProperties('vmctx-final.service', ['ActiveState', 'Result', 'ConditionResult'], exec, 5000)).toEqual({ ActiveState: 'failed', Result: 'exit-code', ConditionResult: 'yes' });
    expect(exec.calls).toEqual([{ file: '/usr/bin/systemctl', args: ['show', '-p', 'ActiveState', '-p', 'Result', '-p', 'ConditionResult', 'vmctx-final.service'], timeoutMs: 5000 }]);
  });

  it('nothing when systemctl is missing, exits non-zero, says nothing or does not answer in time', async () => {
    expect(await unitProperties('x.service', ['ActiveState'], new ScriptedExec(() => ok('ActiveState=active\n'), false))).toBeUndefined();
    expect(await unitProperties('x.service', ['ActiveState'], new ScriptedExec(() => Promise.resolve({ code: 1, signal: null, stdout: 'ActiveState=active\n', stderr: '' })))).toBeUndefined();
    expect(await unitProperties('x.service', ['ActiveState'], new ScriptedExec(() => ok('')))).toBeUndefined();
    expect(await unitProperties('x.service', ['ActiveState'], new ScriptedExec(() => Promise.reject(new VmctxError('ERR_EXEC_TIMEOUT', 'systemctl: no answer'))))).toBeUndefined();
  });
});
