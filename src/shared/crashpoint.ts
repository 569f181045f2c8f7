// Crash points: named places in the write paths where the crash test makes the agent die. Inert
// unless a test program arms them (nothing in src/ does): production passes one undefined check.

/** Called at each crash point with its name and what it is about (a guest path); may end the process. */
export type CrashHook = (name: string, detail: string) => void;

let hook: CrashHook | undefined;

/** A place where a crash must leave every file old or new; does nothing unless a test armed a hook. */
export function crashPoint(name: string, detail = ''): void {
  if (hook !== undefined) hook(name, detail);
}

/** Installs (or, with undefined, removes) the hook. Only test programs call this. */
export function armCrashPoints(next: CrashHook | undefined): void {
  hook = next;
}
