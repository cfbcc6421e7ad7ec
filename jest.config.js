/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: {
    '^.+\\.ts$': ['@swc/jest', { jsc: { target: 'es2022', parser: { syntax: 'typescript' } } }],
    '^.+\\.(sh|yaml)$': '<rootDir>/test/helpers/text-transform.js',
  },
  testTimeout: 30000,
  // The local cloud binds loopback ports; tests in one file share one cloud, files run in parallel.
  maxWorkers: 2,
};
