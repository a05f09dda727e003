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
  setupFiles: ['<rootDir>/test/helpers/env.ts'],
  // One initialised embedded database, copied by every test file that uses one (saves an initdb per file).
  globalSetup: '<rootDir>/test/setup/pglite-template.js',
};
