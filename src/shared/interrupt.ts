// SIGINT/SIGTERM while a long job runs: what the job must undo first (a child to stop, a scratch
// directory to remove), in one place for the image commands (bake --run's chroot, mkdisk).

export type InterruptSignal = 'SIGINT' | 'SIGTERM';

/**
 * Calls `handler` (once) when the process gets SIGINT or SIGTERM, until the returned function is
 * called. While it is installed, the signal no longer ends the process by itself: the handler
 * decides (see reraise).
 */
export function onInterrupt(handler: (signal: InterruptSignal) => void): () => void {
  const int = (): void => {
    dispose();
    handler('SIGINT');
  };
  const term = (): void => {
    dispose();
    handler('SIGTERM');
  };
  const dispose = (): void => {
    process.off('SIGINT', int);
    process.off('SIGTERM', term);
  };
  process.once('SIGINT', int);
  process.once('SIGTERM', term);
  return dispose;
}

/**
 * Ends the process by the signal it got, as if it had not been caught (the shell then says 130 or
 * 143) — unless something else still listens for it, which then decides.
 */
export function reraise(signal: InterruptSignal): void {
  if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
}
