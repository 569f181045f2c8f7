// Builds a Context for module tests straight from variables (the datasource is tested elsewhere).
import { normaliseContext, type Context, type MediumFiles } from '../../src/agent/context/context.js';

export function emptyMedium(files: Record<string, string> = {}): MediumFiles {
  return {
    names: Object.keys(files),
    read: (name) => Promise.resolve(files[name] === undefined ? undefined : Buffer.from(files[name])),
  };
}

export function contextOf(variables: Record<string, string>, files: Record<string, string> = {}): Promise<Context> {
  return normaliseContext(
    {
      source: { kind: 'directory', path: '/test', foundBy: 'test', variableFiles: ['context.sh'] },
      variables,
      lines: {},
      warnings: [],
      medium: emptyMedium(files),
    },
    { id: 'test-instance', source: 'context-hash' },
  );
}
