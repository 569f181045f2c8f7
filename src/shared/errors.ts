// One error hierarchy with stable codes; every failure vmctx reports on purpose is a VmctxError.

export type ErrorCode =
  // ISO 9660 reader
  | 'ERR_ISO_TRUNCATED'
  | 'ERR_ISO_BAD_MAGIC'
  | 'ERR_ISO_NO_PRIMARY'
  | 'ERR_ISO_RECORD_OVERFLOW'
  | 'ERR_ISO_EXTENT_OUT_OF_BOUNDS'
  | 'ERR_ISO_DIR_LOOP'
  | 'ERR_ISO_TOO_DEEP'
  | 'ERR_ISO_FILE_TOO_LARGE'
  | 'ERR_ISO_NOT_FOUND'
  | 'ERR_ISO_WRITE'
  // FAT12/16/32 reader (vfat seeds and config drives)
  | 'ERR_FAT_BAD_BOOT'
  | 'ERR_FAT_BPB'
  | 'ERR_FAT_TRUNCATED'
  | 'ERR_FAT_CHAIN'
  | 'ERR_FAT_CHAIN_LOOP'
  | 'ERR_FAT_DIR'
  | 'ERR_FAT_TOO_DEEP'
  | 'ERR_FAT_FILE_TOO_LARGE'
  | 'ERR_FAT_NOT_FOUND'
  // context.sh and the context
  | 'ERR_CONTEXT_SYNTAX'
  | 'ERR_CONTEXT_COMMAND'
  | 'ERR_CONTEXT_TOO_LARGE'
  | 'ERR_CONTEXT_INVALID'
  | 'ERR_NO_CONTEXT'
  | 'ERR_SOURCE'
  | 'ERR_MEDIUM_BUDGET'
  // HTTP metadata
  | 'ERR_METADATA_UNREACHABLE'
  | 'ERR_METADATA_TIMEOUT'
  | 'ERR_METADATA_DISABLED'
  | 'ERR_METADATA_HTTP'
  | 'ERR_METADATA_REDIRECT'
  | 'ERR_METADATA_TOO_LARGE'
  | 'ERR_METADATA_INVALID'
  // the target root
  | 'ERR_PATH_ESCAPE'
  | 'ERR_PATH_SYMLINK'
  | 'ERR_PATH_FORBIDDEN'
  | 'ERR_PATH_INVALID'
  | 'ERR_PATH_OWNER'
  | 'ERR_PATH_NOT_DIR'
  | 'ERR_PATH_LOOP'
  | 'ERR_PATH_CHANGED'
  | 'ERR_PRIVILEGE'
  | 'ERR_RUN_FAILED'
  | 'ERR_UNSAFE_FILE'
  | 'ERR_IO'
  // running programs
  | 'ERR_EXEC'
  | 'ERR_EXEC_TIMEOUT'
  // modules, state, usage
  | 'ERR_MODULE'
  | 'ERR_STATE'
  | 'ERR_BUSY'
  | 'ERR_USAGE'
  // images (bake)
  | 'ERR_IMAGE'
  // sparsecopy
  | 'ERR_SPARSECOPY_TOO_SMALL'
  | 'ERR_SPARSECOPY_SAME_FILE'
  | 'ERR_SPARSECOPY_GPT_CRC'
  | 'ERR_SPARSECOPY_GROW'
  | 'ERR_SPARSECOPY_INPUT'
  | 'ERR_SPARSECOPY_BUSY'
  // bake --console
  | 'ERR_CONSOLE_NAME'
  | 'ERR_CONSOLE_READ'
  // whole disks (mkdisk)
  | 'ERR_MKDISK_NOT_EXT'
  | 'ERR_MKDISK_NO_KERNEL'
  | 'ERR_MKDISK_SIZE'
  | 'ERR_MKDISK_MISSING'
  | 'ERR_MKDISK_GRUB'
  | 'ERR_MKDISK_TOOL';

export class VmctxError extends Error {
  readonly code: ErrorCode;
  /** Extra structured facts for logs and reports; never secrets. */
  readonly details: Readonly<Record<string, unknown>>;

  constructor(code: ErrorCode, message: string, options: { cause?: unknown; details?: Record<string, unknown> } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'VmctxError';
    this.code = code;
    this.details = options.details ?? {};
  }
}

export function isVmctxError(error: unknown, code?: ErrorCode): error is VmctxError {
  return error instanceof VmctxError && (code === undefined || error.code === code);
}

/** A one-line description of any thrown value, for logs and reports. */
export function describeError(error: unknown): { code: string; message: string } {
  if (error instanceof VmctxError) return { code: error.code, message: error.message };
  if (error instanceof Error) {
    const unnamed = unnamedErrno(error);
    // "Unknown system error -123: Unknown system error -123, open '/dev/sr0'" → "no medium found, open '/dev/sr0'"
    if (unnamed !== undefined) return { code: unnamed.code, message: error.message.replace(/^(?:Unknown system error -?\d+: )?Unknown system error -?\d+/u, unnamed.words) };
    const code = errnoCode(error);
    return { code: code ?? 'ERR_INTERNAL', message: code === undefined ? error.message : withoutCode(error.message, code) };
  }
  return { code: 'ERR_INTERNAL', message: String(error) };
}

/**
 * A Node system error's message without its code, which the description carries already
 * ("ENOENT: no such file or directory, open 'x'" → "no such file or directory, open 'x'";
 * "listen EADDRINUSE: address already in use ::1:80" → "address already in use ::1:80 (listen)").
 */
function withoutCode(message: string, code: string): string {
  if (message.startsWith(`${code}: `)) return message.slice(code.length + 2);
  const call = /^([A-Za-z_][\w]*) /u.exec(message);
  if (call !== null && message.startsWith(`${code}: `, call[0].length)) return `${message.slice(call[0].length + code.length + 2)} (${call[1] ?? ''})`;
  return message;
}

/** What went wrong with a path, in words (the errno text without its code and call). */
export function pathProblem(error: unknown): string {
  const words: Record<string, string> = {
    ENOENT: 'no such file or directory',
    EACCES: 'permission denied',
    EPERM: 'not permitted',
    EISDIR: 'is a directory',
    ENOTDIR: 'a component of the path is not a directory',
    EROFS: 'read-only file system',
    ENOSPC: 'no space left on the device',
    EDQUOT: 'disk quota exceeded',
    ELOOP: 'too many symbolic links',
    ENAMETOOLONG: 'name too long',
  };
  return words[errnoCode(error) ?? ''] ?? describeError(error).message;
}

/** The errno code of a Node system error, or undefined. */
/** Linux errnos libuv has no name for (Node says "Unknown system error -123"): an empty CD drive's. */
const UNNAMED_ERRNOS: Readonly<Record<string, { code: string; words: string }>> = {
  '-123': { code: 'ENOMEDIUM', words: 'no medium found' },
  '-124': { code: 'EMEDIUMTYPE', words: 'wrong medium type' },
};

function unnamedErrno(error: object): { code: string; words: string } | undefined {
  const errno = 'errno' in error && typeof error.errno === 'number' ? error.errno : undefined;
  const code = 'code' in error && typeof error.code === 'string' ? error.code : undefined;
  if (errno === undefined || code === undefined || !code.startsWith('Unknown system error')) return undefined;
  return UNNAMED_ERRNOS[String(errno)];
}

export function errnoCode(error: unknown): string | undefined {
  if (typeof error === 'object' && error !== null && 'code' in error) {
    const code = error.code;
    if (typeof code !== 'string') return undefined;
    return unnamedErrno(error)?.code ?? code;
  }
  return undefined;
}

/** A short, printable account of a value from a document (never throws, whatever the value is). */
export function shown(value: unknown, max = 40): string {
  if (typeof value === 'string') return value.slice(0, max);
  try {
    // undefined for undefined, functions and symbols
    const json = JSON.stringify(value) as string | undefined;
    return (json ?? typeof value).slice(0, max);
  } catch {
    return typeof value;
  }
}
