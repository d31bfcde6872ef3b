// Builds ../assets/grafana.js, the stand-in page made from Grafana's own
// frontend libraries (see src/main.tsx). `npm run build`; the output is
// committed so `make test` needs neither node nor npm.
import { build } from 'esbuild';
import { createRequire } from 'node:module';
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';

const require = createRequire(import.meta.url);

// @grafana/plugin-compat probes @grafana/runtime for functions newer
// releases export (`typeof getDataSourceInstance === 'function'`). webpack,
// which Grafana builds with, lets such a missing ESM import be undefined;
// esbuild refuses it. Its CommonJS build does the same probe on a plain
// object, so bundle that one, and give every importer the one ESM copy of
// @grafana/runtime, whose services this page registers.
const pluginCompatAsCommonJS = {
  name: 'plugin-compat-as-commonjs',
  setup(b) {
    b.onResolve({ filter: /^@grafana\/plugin-compat\/(datasources|apps)$/ }, (args) => ({
      path: path.join(path.dirname(require.resolve('@grafana/plugin-compat/package.json')), 'dist', 'cjs', args.path.split('/').pop() + '.cjs'),
    }));
    b.onResolve({ filter: /^@grafana\/runtime(\/unstable)?$/ }, (args) => {
      const dir = path.dirname(require.resolve('@grafana/runtime/package.json'));
      return { path: path.join(dir, 'dist', 'esm', args.path.endsWith('/unstable') ? 'unstable.mjs' : 'index.mjs') };
    });
  },
};

// Grafana's dates go through moment-timezone, whose default build carries
// every zone's rules since 1850 (700 KB minified). The 1970–2030 build
// holds every zone too, for the years a dashboard shows: a quarter of it.
const momentTimezone1970to2030 = {
  name: 'moment-timezone-1970-2030',
  setup(b) {
    b.onResolve({ filter: /^moment-timezone$/ }, () => ({
      path: path.join(path.dirname(require.resolve('moment-timezone/package.json')), 'builds', 'moment-timezone-with-data-1970-2030.js'),
    }));
  },
};

// Libraries import stylesheets as side effects, so every one that is
// imported anywhere would land in grafana.css, used or not (Monaco's icons,
// date and slider pickers). The page shows only uPlot's own elements.
const usedStylesheets = ['uplot/dist/uPlot.min.css'];
const onlyUsedStylesheets = {
  name: 'only-used-stylesheets',
  setup(b) {
    b.onLoad({ filter: /\.css$/ }, (args) =>
      usedStylesheets.some((s) => args.path.endsWith(path.join('node_modules', s))) ? undefined : { contents: '', loader: 'css' }
    );
  },
};

const result = await build({
  entryPoints: ['src/main.tsx'],
  outfile: '../assets/grafana.js',
  bundle: true,
  minify: true,
  format: 'iife',
  target: 'chrome110',
  jsx: 'automatic',
  legalComments: 'none',
  define: { 'process.env.NODE_ENV': '"production"' },
  // Fonts that stylesheets refer to; the page has none of them.
  loader: { '.ttf': 'empty', '.woff': 'empty', '.woff2': 'empty', '.svg': 'empty' },
  plugins: [pluginCompatAsCommonJS, momentTimezone1970to2030, onlyUsedStylesheets],
  metafile: true,
  logLevel: 'warning',
});

// Files Grafana serves under public/ that the page asks for: Inter, the
// font Grafana's theme sets (its Latin subset: other scripts fall back to
// the system's fonts, as they do in Grafana), and the icons it shows.
const publicFiles = {
  'fonts/inter/Inter-Regular.woff2': '@fontsource/inter/files/inter-latin-400-normal.woff2',
  'fonts/inter/Inter-Medium.woff2': '@fontsource/inter/files/inter-latin-500-normal.woff2',
  'build/img/icons/unicons/exclamation-triangle.svg': '@grafana/ui/dist/public/img/icons/unicons/exclamation-triangle.svg',
};
for (const [to, from] of Object.entries(publicFiles)) {
  const dest = path.join('..', 'assets', 'public', to);
  mkdirSync(path.dirname(dest), { recursive: true });
  copyFileSync(path.join('node_modules', from), dest);
}

// What went in, largest first, so a dependency that stops tree-shaking is
// seen in review.
const inputs = {};
for (const [file, info] of Object.entries(result.metafile.outputs['../assets/grafana.js'].inputs)) {
  const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(file);
  const pkg = m ? m[1] : 'src';
  inputs[pkg] = (inputs[pkg] ?? 0) + info.bytesInOutput;
}
const lines = Object.entries(inputs)
  .sort((a, b) => b[1] - a[1])
  .map(([pkg, bytes]) => `${String(bytes).padStart(9)}  ${pkg}`);
const total = result.metafile.outputs['../assets/grafana.js'].bytes;
writeFileSync('bundle-size.txt', `${String(total).padStart(9)}  total (minified bytes)\n${lines.join('\n')}\n`);
console.log(`../assets/grafana.js: ${total} bytes`);
