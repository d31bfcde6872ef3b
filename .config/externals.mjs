// The modules Grafana provides to plugins at run time, kept out of
// module.js: the same list as @grafana/create-plugin's .config/bundler
// externals (create-plugin 7), so module.js asks Grafana for exactly what a
// scaffolded plugin would. A listed package also covers its subpaths.
export const externals = [
  'lodash',
  'jquery',
  'moment',
  'slate',
  'emotion',
  '@emotion/react',
  '@emotion/css',
  'prismjs',
  'slate-plain-serializer',
  '@grafana/slate-react',
  'react',
  'react/jsx-runtime',
  'react/jsx-dev-runtime',
  'react-dom',
  'react-redux',
  'redux',
  'rxjs',
  'i18next',
  'react-router',
  'd3',
  'angular',
  '@grafana/ui',
  '@grafana/runtime',
  '@grafana/data',
  '@grafana/schema',
];

// Provided by Grafana only from 12.3: module.js must not ask for them, or
// it fails to load on 11.x and 12.0–12.2. The build compiles JSX to
// React.createElement and checks this.
export const newerThanFloor = ['react/jsx-runtime', 'react/jsx-dev-runtime'];
