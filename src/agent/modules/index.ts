// The modules in the order they run within a stage.
import { dnsModule } from './dns.js';
import { hostnameModule } from './hostname.js';
import type { Module } from './module.js';
import { networkModule } from './network.js';
import { sshKeysModule } from './sshkeys.js';
import { passwordModule, usersModule } from './users.js';
import { bootInitScriptsModule, bootcmdModule, boothooksModule, onceScriptsModule, perBootScriptsModule, scriptsModule } from './scripts.js';
import { ephemeralModule, growFsModule, machineIdModule } from './firstboot.js';
import { deferredWriteFilesModule, seedFilesModule, writeFilesModule } from './writefiles.js';
import { hostKeysLateModule, hostKeysModule, timezoneModule } from './hygiene.js';
import { localeModule, mountsModule, ntpModule } from './machine.js';
import { hookModules } from './hooks.js';
import { templatesModule } from './templates.js';
import { reportReadyModule } from './reportready.js';

export const MODULES: readonly Module[] = [
  networkModule, hostnameModule, dnsModule, timezoneModule, machineIdModule, growFsModule, ephemeralModule, usersModule, passwordModule, sshKeysModule, hostKeysModule, hostKeysLateModule, templatesModule,
  seedFilesModule, writeFilesModule, mountsModule, localeModule, ntpModule, bootcmdModule, deferredWriteFilesModule, boothooksModule, bootInitScriptsModule, scriptsModule, perBootScriptsModule, onceScriptsModule,
  // the image's own hooks, after everything built in
  ...hookModules,
  // OneGate is told the VM is ready once everything else of the final stage is done
  reportReadyModule,
];
