// Where vmctx's own files sit in a guest: the paths and names the agent reads and the image builder writes.

/** The agent's settings file (KEY=VALUE lines, context.sh syntax, never executed). */
export const CONFIG_PATH = '/etc/vmctx/config';

/** What bake puts at CONFIG_PATH when the image has none: every setting, commented out, at its default. */
export const CONFIG_TEMPLATE = `# vmctx settings (KEY=VALUE, shell syntax, never executed). Defaults shown.
# DATASOURCES="medium seeds nocloud-net metadata"
# METADATA_URL=http://169.254.169.254
# METADATA_CONNECT_TIMEOUT_MS=1000
# METADATA_REQUEST_TIMEOUT_MS=3000
# METADATA_BUDGET_FIRST_BOOT_MS=10000
# METADATA_BUDGET_MS=3000
# METADATA_IMDSV1=allow
# MEDIUM_WAIT_MS=3000
# MEDIUM_MAX_BYTES=64M
# INIT_SCRIPTS_FREQUENCY=per-instance
`;

/** Image authors' boot hooks: HOOKS_DIR/<frequency>/<name>. */
export const HOOKS_DIR = '/etc/vmctx/scripts.d';
export const HOOK_FREQUENCIES = ['per-boot', 'per-instance', 'once'] as const;
export type HookFrequency = (typeof HOOK_FREQUENCIES)[number];
/** The names a hook may have (anything else is reported and not run). */
export const HOOK_NAME = /^[A-Za-z0-9_][A-Za-z0-9._+-]{0,127}$/u;

/** Templated files: TEMPLATE_DIR/<guest path>.tmpl renders into <guest path>. */
export const TEMPLATE_DIR = '/etc/vmctx/templates';
