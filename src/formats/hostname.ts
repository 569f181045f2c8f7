// Hostname sanitising: [-a-zA-Z0-9.] only, labels 1–63 characters, at most 253 in all.

export interface SanitisedHostname {
  readonly name: string | undefined;
  readonly changed: boolean;
}

export function sanitiseHostname(raw: string): SanitisedHostname {
  const labels = raw
    .trim()
    .replace(/[^-a-zA-Z0-9.]+/gu, '-')
    .split('.')
    .map((label) => label.replace(/^-+|-+$/gu, '').slice(0, 63).replace(/-+$/u, ''))
    .filter((label) => label !== '');
  let name = labels.join('.');
  while (name.length > 253) name = name.slice(0, name.lastIndexOf('.') > 0 ? name.lastIndexOf('.') : 253);
  if (name === '') return { name: undefined, changed: raw !== '' };
  return { name, changed: name !== raw };
}

export function isValidHostname(name: string): boolean {
  return sanitiseHostname(name).name === name;
}
