// The vmctx version: set by the bundler; "dev" when running from source.
declare const __VMCTX_VERSION__: string | undefined;

export const VERSION: string = typeof __VMCTX_VERSION__ === 'string' ? __VMCTX_VERSION__ : 'dev';
