// ESM TypeScript through ts-jest (Node 20 needs --experimental-vm-modules, set in npm test).
// Type-checking is `npm run typecheck`; tests only transpile, each file on its own.
export default {
  testEnvironment: 'node',
  extensionsToTreatAsEsm: ['.ts'],
  transform: {
    '^.+\\.ts$': ['ts-jest', { useESM: true, isolatedModules: true, diagnostics: false }],
  },
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  testMatch: ['<rootDir>/test/**/*.test.ts'],
  testTimeout: 60_000,
  maxWorkers: 2,
  // A worker is replaced once it holds more than this after a file: test files that start servers leave memory
  // (embedded databases, browsers' clients) that the next files' garbage collection would otherwise keep walking.
  // Measured on the embedded-database pass: 1,071 s → 768 s, 39 → 18 CPU-minutes (docs/ARCHITECTURE.md, "Testing").
  workerIdleMemoryLimit: '800MB',
  setupFiles: ['<rootDir>/test/helpers/env.ts'],
  // Once per run: one initialised embedded database, copied by every test file that uses one (saves an initdb per
  // file), and the `gatehouse` command compiled from this run's sources, which the CLI tests spawn (saves tsx's start
  // in every command); the teardown removes that build.
  globalSetup: '<rootDir>/test/setup/global-setup.js',
  globalTeardown: '<rootDir>/test/setup/global-teardown.js',
  // The longest files first, estimated when jest has no durations recorded from an earlier run (a fresh machine).
  testSequencer: '<rootDir>/test/setup/sequencer.js',
};
