// Strict base64: whitespace ignored, anything else that is not base64 refused (Node's decoder
// would silently skip it).

export function decodeStrictBase64(value: string): Buffer | undefined {
  const compact = value.replace(/\s+/gu, '');
  if (compact === '' || !/^[A-Za-z0-9+/]*={0,2}$/u.test(compact) || compact.length % 4 !== 0) return undefined;
  return Buffer.from(compact, 'base64');
}
