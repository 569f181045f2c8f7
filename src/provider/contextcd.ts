// `vmctx make-iso`: a context CD (context.sh from variables, plus files) or a seed (NoCloud, config
// drive) built from the files and values given, written as one ISO 9660 image, atomically and durably.
import { basename, dirname } from 'node:path';
import { parseContextSh, renderContextSh, renderLegacyContextSh } from '../formats/contextsh.js';
import { writeIso, type IsoFileInput } from '../formats/iso9660/writer.js';
import { writeFileAtomic } from '../host/atomicfile.js';
import { readOptionFile } from '../host/localfiles.js';
import { VmctxError, describeError, errnoCode, pathProblem } from '../shared/errors.js';
import { SEED_LABEL, configDriveFiles, noCloudFiles, seedKindForLabel } from './media.js';

export interface MakeIsoOptions {
  output: string;
  vars: string[];
  varsFile?: string;
  files: string[];
  label?: string;
  stratuslab: boolean;
  /** A NoCloud seed (label cidata) or an OpenStack config drive (label config-2) instead of a context CD. */
  nocloud?: boolean;
  configDrive?: boolean;
  userData?: string;
  metaData?: string;
  networkConfig?: string;
  instanceId?: string;
  hostname?: string;
}

export interface MadeIso {
  readonly bytes: number;
  readonly label: string;
  /** What is on it, in a few words. */
  readonly what: string;
}

const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/u;
const FILE_NAME = /^[A-Za-z0-9_][A-Za-z0-9._+-]{0,63}$/u;
/** Input files make-iso reads (context.sh, documents, files for the medium) are at most this big. */
const MAX_INPUT = 64 * 1024 * 1024;

/** The context CD's files: context.sh from the variables, plus --file entries. */
async function contextCdFiles(options: MakeIsoOptions): Promise<IsoFileInput[]> {
  const variables: Record<string, string> = {};
  if (options.varsFile !== undefined) {
    const text = await readOptionFile('--vars-file', options.varsFile, MAX_INPUT);
    try {
      Object.assign(variables, parseContextSh(text).variables);
    } catch (error) {
      throw new VmctxError('ERR_USAGE', `--vars-file ${options.varsFile}: ${describeError(error).message}`, { cause: error });
    }
  }
  for (const spec of options.vars) {
    const eq = spec.indexOf('=');
    const key = eq < 0 ? spec : spec.slice(0, eq);
    if (eq < 0 || !NAME.test(key)) throw new VmctxError('ERR_USAGE', `--var ${JSON.stringify(spec.slice(0, 40))}: expected KEY=VALUE with a shell variable name`);
    variables[key] = spec.slice(eq + 1);
  }
  const files: IsoFileInput[] = [];
  const contextText = options.stratuslab ? renderLegacyContextSh(variables) : renderContextSh(variables);
  files.push({ path: 'context.sh', data: Buffer.from(contextText, 'utf8') });
  for (const spec of options.files) {
    const colon = spec.lastIndexOf(':');
    const path = colon > 0 ? spec.slice(0, colon) : spec;
    const name = colon > 0 ? spec.slice(colon + 1) : basename(spec);
    if (!FILE_NAME.test(name) || name === 'context.sh') {
      throw new VmctxError('ERR_USAGE', `--file ${JSON.stringify(spec.slice(0, 80))}: the name on the medium must be a plain file name (letters, digits, . _ + -), not context.sh`);
    }
    if (files.some((f) => f.path === name)) throw new VmctxError('ERR_USAGE', `--file: ${name} given twice`);
    files.push({ path: name, data: await readOptionFile('--file', path, MAX_INPUT), mode: 0o644 });
  }
  return files;
}

/**
 * Writes the image in place of the output (old or new, never a part; durable once it resolves);
 * messages name the output, never the temporary file.
 */
export async function writeIsoOutput(output: string, image: Uint8Array): Promise<void> {
  try {
    // 0600: a context CD can hold passwords
    await writeFileAtomic(output, image, { mode: 0o600 });
  } catch (error) {
    const code = errnoCode(error) ?? '';
    const input = ['ENOENT', 'ENOTDIR', 'EACCES', 'EPERM', 'EISDIR', 'EROFS', 'ELOOP', 'ENAMETOOLONG', 'ENOSPC', 'EDQUOT'].includes(code);
    const problem = code === 'ENOENT' ? `the directory ${dirname(output)} does not exist` : code === 'ENOSPC' || code === 'EDQUOT' ? `no space left on the disk holding ${dirname(output)}; nothing was written` : pathProblem(error);
    throw new VmctxError(input ? 'ERR_USAGE' : 'ERR_IO', `-o ${output}: cannot write it: ${problem}`, { cause: error });
  }
}

/** Builds the medium the options describe and writes it to `options.output`. */
export async function makeIso(options: MakeIsoOptions): Promise<MadeIso> {
  if (options.nocloud === true && options.configDrive === true) throw new VmctxError('ERR_USAGE', '--nocloud and --config-drive: one medium is one kind');
  const asked = options.nocloud === true ? 'nocloud' : options.configDrive === true ? 'config-drive' : undefined;
  const byLabel = options.label === undefined ? undefined : seedKindForLabel(options.label);
  if (asked !== undefined && options.label !== undefined && byLabel !== asked) {
    throw new VmctxError('ERR_USAGE', `--label ${options.label}: ${asked === 'nocloud' ? 'a NoCloud seed is found by the label cidata' : 'a config drive is found by the label config-2'}; leave --label out`);
  }
  // a cidata or config-2 label is a seed: cloud-init and vmctx read seeds there, never a context.sh
  const kind = asked ?? byLabel;
  const seedOptions = (
    [
      ['--user-data', options.userData],
      ['--meta-data', options.metaData],
      ['--network-config', options.networkConfig],
      ['--instance-id', options.instanceId],
      ['--hostname', options.hostname],
    ] as const
  ).filter(([, v]) => v !== undefined).map(([name]) => name);
  let files: IsoFileInput[];
  let label: string;
  let what: string;
  if (kind === undefined) {
    if (seedOptions.length > 0) throw new VmctxError('ERR_USAGE', `${seedOptions.join(', ')}: options of a seed medium; add --nocloud or --config-drive`);
    files = await contextCdFiles(options);
    label = options.label ?? (options.stratuslab ? '_STRATUSLAB' : 'CONTEXT');
    what = `${files.length} file(s)`;
  } else {
    const contextOptions = [...(options.vars.length > 0 ? ['--var'] : []), ...(options.varsFile === undefined ? [] : ['--vars-file']), ...(options.files.length > 0 ? ['--file'] : []), ...(options.stratuslab ? ['--stratuslab'] : [])];
    if (contextOptions.length > 0) {
      throw new VmctxError('ERR_USAGE', `${contextOptions.join(', ')}: these make a context.sh, which a ${kind === 'nocloud' ? 'NoCloud seed (label cidata)' : 'config drive (label config-2)'} does not have; give --user-data, --meta-data (or --instance-id, --hostname) and --network-config`);
    }
    const doc = async (option: string, path: string | undefined): Promise<{ data: Buffer; from: string } | undefined> => (path === undefined ? undefined : { data: await readOptionFile(option, path, MAX_INPUT), from: path });
    const input = {
      userData: await doc('--user-data', options.userData),
      metaData: await doc('--meta-data', options.metaData),
      networkConfig: await doc('--network-config', options.networkConfig),
      instanceId: options.instanceId,
      hostname: options.hostname,
    };
    const seed = kind === 'nocloud' ? noCloudFiles(input) : configDriveFiles(input);
    files = seed.files;
    label = options.label ?? SEED_LABEL[kind];
    what = `${kind === 'nocloud' ? 'NoCloud seed' : 'config drive'}, instance ${seed.instanceId}: ${files.map((f) => f.path).join(', ')}`;
  }
  const image = writeIso(files, { volumeId: label });
  await writeIsoOutput(options.output, image);
  return { bytes: image.length, label, what };
}
