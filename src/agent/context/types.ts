// The Context's types and the types its parts share (warnings, the medium, the user, the scripts),
// in a file of their own so context.ts, users.ts, scripts.ts and checks.ts import them without a cycle.
import type { CloudConfig } from '../../formats/cloudconfig.js';
import type { NetworkNote } from '../../network/docreader.js';
import type { NetworkDocument, NetworkPlan } from '../../network/plan.js';
import type { Secret } from '../../shared/secret.js';

export type SourceKind = 'iso-file' | 'fat-file' | 'block-device' | 'directory' | 'metadata' | 'metadata-cache' | 'nocloud' | 'config-drive';

export interface SourceInfo {
  readonly kind: SourceKind;
  /** Host path of the ISO file, device or directory. */
  readonly path: string;
  readonly label?: string | undefined;
  /** How names on the medium were read (rockridge, joliet, iso9660), for ISO media. */
  readonly scheme?: string | undefined;
  /** How the medium was found: "--source", "label", "device name", "iso9660 signature". */
  readonly foundBy: string;
  /** Files that held variables, in the order they were read. */
  readonly variableFiles: readonly string[];
}

/** Read access to the files on the medium (scripts, FILES_DS, key files). */
export interface MediumFiles {
  readonly names: readonly string[];
  read(name: string, maxBytes: number): Promise<Buffer | undefined>;
  /** A plain file to copy without holding it in memory (charged to the medium's byte budget); undefined when absent or not a plain file. */
  open?(name: string): Promise<MediumFile | undefined>;
}

/** A file on the medium, read only when its chunks are pulled. Files with the same key hold the same bytes. */
export interface MediumFile {
  readonly size: number;
  readonly key: string;
  chunks(): AsyncIterable<Uint8Array>;
}

export interface ContextWarning {
  readonly message: string;
  readonly variable?: string;
  readonly file?: string;
  readonly line?: number;
  readonly col?: number | undefined;
  /** An error: the whole document it is about was not used (a cloud-config that is not YAML). */
  readonly severity?: 'error' | undefined;
  /** The network plan's note this warning reports (its file, line and key), for `validate`'s placing. */
  readonly network?: NetworkNote | undefined;
}

export interface Dns {
  readonly nameservers: readonly string[];
  readonly search: readonly string[];
}

/** How /etc/hosts is handled: 'localhost' keeps its lines and replaces the 127.0.1.1 one (vmctx's default), 'template' rewrites it whole, 'off' leaves it. */
export type EtcHostsMode = 'localhost' | 'template' | 'off';

export interface HostnameSpec {
  /** What /etc/hostname and the running system get: the short name, or the fqdn (see hostnameSpec in context.ts). */
  readonly name: string;
  /** The first label. */
  readonly short: string;
  /** The fully qualified name, when one is known (cloud-config fqdn, or a name with a dot). */
  readonly fqdn: string | undefined;
  /** Where the name came from ("SET_HOSTNAME", "USER_DATA fqdn", …). */
  readonly source: string;
  /** cloud-config preserve_hostname: true: the system's name is not changed (/etc/hosts only when manage_etc_hosts asks). */
  readonly preserve: boolean;
  /** cloud-config create_hostname_file: false: /etc/hostname is not created where the image has none. */
  readonly createFile: boolean;
  readonly etcHosts: EtcHostsMode;
}

export interface SshKeys {
  readonly keys: readonly string[];
  /** Which variables (or medium files) the keys came from. */
  readonly sources: readonly string[];
}

export interface Context {
  readonly source: SourceInfo;
  readonly instanceId: string;
  readonly instanceIdSource: 'VMID' | 'dmi' | 'context-hash' | 'metadata';
  readonly variables: Readonly<Record<string, string>>;
  /** The name vmctx sets as the system's host name (host.name); undefined when there is none or preserve_hostname keeps the image's. */
  readonly hostname: string | undefined;
  /** The host name in full: short name, fqdn, where it came from and how /etc/hostname and /etc/hosts are handled. */
  readonly host: HostnameSpec | undefined;
  readonly dns: Dns;
  readonly sshKeys: SshKeys;
  /**
   * The network the network module applies (the NetModel): the source's network document mapped,
   * or the OpenNebula variables; with the notes on what is not applied as written.
   */
  readonly net: NetworkPlan;
  /** The account keys, sudo and the password apply to; "root" when the context names none. */
  readonly username: string;
  readonly user: UserSpec;
  /** The first-boot password (a Secret), from the highest-priority usable variable. */
  readonly password: PasswordSpec | undefined;
  /** Scripts to run in the final stage (provider init scripts, START_SCRIPT, SCRIPT_EXEC, #! user data, runcmd). */
  readonly scripts: readonly ScriptSource[];
  /** #cloud-config from the user data (merged), when there is one. */
  readonly cloudConfig: CloudConfig | undefined;
  /** The accounts from every source (the context's user, cloud-config users, groups, password, chpasswd, ssh_pwauth). */
  readonly accounts: Accounts;
  readonly warnings: readonly ContextWarning[];
  /** Variables vmctx carries but does not apply (the provider's bookkeeping, the scripts' own names). */
  readonly unused: readonly string[];
  readonly medium: MediumFiles;
  /** Inputs the source could not deliver this time; modules that need them wait for a later run. */
  readonly missing: readonly string[];
  /** How often the provider's init scripts run (INIT_SCRIPTS_FREQUENCY in /etc/vmctx/config). */
  readonly initScriptsFrequency: 'per-instance' | 'per-boot';
  /** Files the seed itself carries (an OpenStack config drive's meta_data.json `files`). */
  readonly seedFiles?: readonly SeedFile[] | undefined;
  /**
   * The user data has #include URLs: 'pending' when they were not fetched (the local stage: the
   * user data counts as missing and the network stage is asked for), 'fetched' once they were.
   */
  readonly userDataIncludes?: 'pending' | 'fetched' | undefined;
}

/** A file a seed asks to write (config drive `files`): a normalised absolute guest path and its bytes. */
export interface SeedFile {
  readonly path: string;
  readonly content: Buffer;
  /** Where its bytes came from on the seed ("openstack/content/0000"). */
  readonly from: string;
}

/** What a datasource hands over before identity and normalisation. */
export interface RawContext {
  readonly source: SourceInfo;
  readonly variables: Readonly<Record<string, string>>;
  readonly lines: Readonly<Record<string, number>>;
  readonly warnings: readonly ContextWarning[];
  readonly medium: MediumFiles;
  /** The instance id the source itself gives (metadata services, seeds); wins over VMID/DMI. */
  readonly instanceId?: string | undefined;
  /** Inputs the source could not deliver this time (metadata budget ran out). */
  readonly missing?: readonly string[] | undefined;
  /** The source's own network document (NoCloud network-config, network_data.json, …), mapped in normaliseContext. */
  readonly networkDocument?: NetworkDocument | undefined;
  /** Files the seed carries (config drive `files`), written by the config-drive-files module. */
  readonly seedFiles?: readonly SeedFile[] | undefined;
}

export interface UserSpec {
  /** The account the context is about ("root" when it names none or an invalid one). */
  readonly name: string;
  /** USERNAME_SHELL, when given and plausible. */
  readonly shell: string | undefined;
  /** USERNAME_SUDO / GRANT_SUDO: true or false when given, undefined when not. */
  readonly sudo: boolean | undefined;
  /** USERNAME_PASSWORD_RESET=YES: the account's password is locked. */
  readonly lockPassword: boolean;
  /** USERNAME_PASSWORD_EXPIRE=YES: the first-boot password must be changed at first login. */
  readonly expirePassword: boolean;
}

export type PasswordSource = 'CRYPTED_PASSWORD_BASE64' | 'PASSWORD_BASE64' | 'CRYPTED_PASSWORD' | 'PASSWORD' | 'metadata';

export interface PasswordSpec {
  readonly kind: 'plain' | 'hash';
  readonly secret: Secret;
  readonly source: PasswordSource;
}

export interface ScriptSource {
  readonly name: string;
  readonly body: Buffer;
  /** A command to run as an argv (cloud-config list commands): no shell. */
  readonly argv?: readonly string[];
  /** The provider's own script: it may see secrets in its environment. */
  readonly provider: boolean;
  readonly variable: string;
  /**
   * User-data parts that are not run once per instance: a #cloud-boothook (every boot, first),
   * text/x-shellscript-per-boot (every boot), text/x-shellscript-per-once (once ever).
   */
  readonly frequency?: 'boothook' | 'per-boot' | 'once' | undefined;
}

export interface UserDataResult {
  readonly scripts: ScriptSource[];
  readonly cloudConfig: CloudConfig | undefined;
  /** The user data has #include URLs: not fetched here (no fetcher: the local stage, validate), or fetched. */
  readonly includes?: 'pending' | 'fetched' | undefined;
}

// The accounts model (built by accounts.ts, applied by the users and password modules).
export interface AccountPassword {
  readonly kind: 'plain' | 'hash';
  readonly secret: Secret;
  /** Where it came from, for messages ("users[foobar] hashed_passwd", "chpasswd", …). */
  readonly origin: string;
}

export interface Account {
  readonly name: string;
  /** Where the account was asked for, for messages: "USERNAME", "users[foobar] (line 12)". */
  readonly origin: string;
  /** vmctx's default user (the context's USERNAME, else root). */
  readonly isDefault: boolean;
  /** Whether cloud-config `users` lists it (cloud-init's rules on locking and existing accounts apply). */
  readonly fromCloudConfig: boolean;
  readonly gecos: string | undefined;
  /** The home directory; undefined: /home/NAME (useradd's own default for system accounts). */
  readonly home: string | undefined;
  readonly createHome: boolean;
  readonly primaryGroup: string | undefined;
  readonly groups: readonly string[];
  readonly createGroups: boolean;
  readonly noUserGroup: boolean;
  readonly noLogInit: boolean;
  readonly system: boolean;
  readonly uid: number | undefined;
  readonly shell: string | undefined;
  /** Where the shell came from: USERNAME_SHELL changes an existing account's shell, a cloud-config shell does not. */
  readonly shellFromVariable: boolean;
  /** sudo rules, each written as "NAME RULE"; empty: none. */
  readonly sudo: readonly string[];
  /** Lock the password (cloud-init's lock_passwd, default true for its users; the context user: false). */
  readonly lock: boolean;
  /** The account's own password (cloud-config users); `newOnly` for `passwd`, which cloud-init sets on a new account only. */
  readonly password: (AccountPassword & { readonly newOnly: boolean }) | undefined;
  readonly keys: readonly string[];
  readonly expiredate: string | undefined;
  readonly inactive: number | undefined;
}

export interface GroupSpec {
  readonly name: string;
  readonly members: readonly string[];
  readonly origin: string;
}

export interface PasswordChange extends AccountPassword {
  readonly user: string;
  /** Expire it: the user must change it at the next login (cloud-config chpasswd.expire, default true). */
  readonly expire: boolean;
}

export interface Accounts {
  /** vmctx's default user: USERNAME, else root. */
  readonly defaultUser: string;
  /** The accounts to create or update: the context's user (unless root) and cloud-config users. */
  readonly users: readonly Account[];
  readonly groups: readonly GroupSpec[];
  /** Passwords set after the accounts exist: cloud-config chpasswd and the default user's `password:`. */
  readonly passwords: readonly PasswordChange[];
  /** sshd's PasswordAuthentication: true/false; undefined leaves it unchanged. */
  readonly sshPwauth: boolean | undefined;
}
