import { defineConfig } from 'vitest/config';

// The real-guest suite: QEMU/TCG boots, one file at a time (each boot wants both cores).
export default defineConfig({
  test: {
    include: ['test/e2e/**/*.e2e.test.ts'],
    testTimeout: 400_000,
    hookTimeout: 900_000,
    pool: 'forks',
    fileParallelism: false,
    globalSetup: ['test/setup/build.ts'],
  },
});
