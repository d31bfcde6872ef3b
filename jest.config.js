// Jest as @grafana/create-plugin sets it up (.config/jest.config.js there):
// jsdom, swc, and Grafana's ESM-only dependencies transformed. JSX is
// compiled classic (React.createElement), as in the build.

// Packages under @grafana/ui that ship only ES modules.
const esmOnly = [
  '@grafana/schema',
  '@wojtekmaj/date-utils',
  'd3',
  'd3-[a-z-]+',
  'internmap',
  'delaunator',
  'robust-predicates',
  'get-user-locale',
  'marked',
  'memoize',
  'mimic-function',
  'ol',
  'react-calendar',
  'react-colorful',
  'rxjs',
  'uuid',
];

module.exports = {
  testEnvironment: 'jest-environment-jsdom',
  roots: ['<rootDir>/src'],
  testMatch: ['<rootDir>/src/**/*.test.{ts,tsx}'],
  testPathIgnorePatterns: ['/node_modules/', '<rootDir>/src/console/'],
  modulePathIgnorePatterns: ['<rootDir>/src/console/', '<rootDir>/dist/'],
  setupFilesAfterEnv: ['<rootDir>/jest-setup.ts'],
  moduleNameMapper: {
    '\\.(css|scss|sass)$': 'identity-obj-proxy',
  },
  transform: {
    '^.+\\.(m?js|tsx?|jsx)$': [
      '@swc/jest',
      {
        jsc: {
          parser: { syntax: 'typescript', tsx: true },
          transform: { react: { runtime: 'classic' } },
          target: 'es2020',
        },
        module: { type: 'commonjs' },
      },
    ],
  },
  transformIgnorePatterns: [`node_modules/(?!.*(${esmOnly.join('|')})/.*)`],
  testTimeout: 20000,
};
