// Questions about other processes of the machine (is this pid alive?), for the run lock.

/** Whether a process with this pid exists (EPERM: it does, owned by someone else). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** This process's pid. */
export function ownPid(): number {
  return process.pid;
}
