// Logging: pino JSON lines to the log file (0600), and short human lines on stderr (the boot
// console). Secrets cannot reach either: they travel as Secret objects, which serialise as
// "<redacted>", and the usual secret-bearing field names are censored as a second guard.
import { pino, type Logger } from 'pino';
import { REDACTED } from './secret.js';

export type { Logger } from 'pino';

const REDACT_PATHS = [
  'password', '*.password', 'passwd', '*.passwd', 'token', '*.token', 'secret', '*.secret',
  'variables', '*.variables', 'userData', '*.userData', 'hash', '*.hash',
];

/** A logger writing JSON lines to an open file descriptor (or nowhere when fd is undefined). */
export function createLogger(fd: number | undefined, level: string = 'info'): Logger {
  const options = {
    level,
    base: { pid: process.pid },
    redact: { paths: REDACT_PATHS, censor: REDACTED },
    timestamp: pino.stdTimeFunctions.isoTime,
  };
  if (fd === undefined) return pino({ ...options, enabled: false });
  return pino(options, pino.destination({ dest: fd, sync: true }));
}

/** The short human lines printed on stderr (and so on the boot console). */
export class ConsoleLines {
  readonly #enabled: boolean;
  readonly #write: (line: string) => void;

  constructor(enabled: boolean, write: (line: string) => void = (line) => process.stderr.write(line)) {
    this.#enabled = enabled;
    this.#write = write;
  }

  line(text: string): void {
    // one physical line each: a value can never forge extra console lines
    if (this.#enabled) this.#write(`vmctx: ${text.replace(/[\r\n\u2028\u2029]+/gu, ' ')}\n`);
  }
}
