// A wrapper for secret values: it prints, serialises and inspects as "<redacted>", so a secret
// cannot reach a log line, a report or a JSON dump by accident. Only reveal() gives the value.
import { inspect } from 'node:util';

export const REDACTED = '<redacted>';

export class Secret {
  readonly #value: string;

  constructor(value: string) {
    this.#value = value;
  }

  reveal(): string {
    return this.#value;
  }

  get length(): number {
    return this.#value.length;
  }

  toString(): string {
    return REDACTED;
  }

  toJSON(): string {
    return REDACTED;
  }

  [inspect.custom](): string {
    return REDACTED;
  }
}

/**
 * Variables whose values are secrets: passwords and hashes, tokens, API and access keys, user data
 * and start and ready scripts (they routinely carry credentials; READY_SCRIPT_PATH is only a path). A name is a secret when any of these
 * appears anywhere in it, case-insensitively (`DB_PASSWORD`, `ONEGATE_TOKEN`, `AWS_SECRET_ACCESS_KEY`,
 * `X_API_KEY`, `STRIPE_APIKEY`), or `PASS` as a whole word (`SMTP_PASS`, not `BYPASS`).
 */
const SECRET_NAME = /(PASSW(OR)?D|PASSPHRASE|TOKEN|SECRET|PRIVATE_?KEY|API_?KEY|ACCESS_?KEY|CREDENTIAL|USER_?DATA|START_SCRIPT|SCRIPT_EXEC|READY_SCRIPT(?!_PATH))|(^|_)PASS(_|$)/iu;

export function isSecretName(name: string): boolean {
  return SECRET_NAME.test(name);
}

export function redactVariables(variables: Readonly<Record<string, string>>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(variables)) out[key] = isSecretName(key) ? REDACTED : value;
  return out;
}
