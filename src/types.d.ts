// Text assets embedded at build time (vitest and the esbuild plugin in scripts/build.mjs).
declare module '*?raw' {
  const text: string;
  export default text;
}
declare module 'ext2fs';
