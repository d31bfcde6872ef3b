// Builds the app plugin's frontend into dist/: module.js (AMD, the way
// Grafana loads plugins through SystemJS), plugin.json, img/, README.md
// (from src/README.app.md) and LICENSE.
//
// An equivalent of @grafana/create-plugin's webpack setup, with esbuild
// (already the console's bundler) instead of webpack + swc: the same entry
// (src/module.ts), the same externals (.config/externals.mjs), an anonymous
// AMD define() whose dependencies are the externals module.js imports, and
// the same %VERSION% / %TODAY% substitution in plugin.json. There are no
// lazy chunks or bundled assets, so create-plugin's public-path shim
// ("amd-module") has nothing to do here and is left out.
//
// Only the files it writes are replaced: the Go build's gpx_* executables in
// dist/ stay.
//
//   node .config/build.mjs            production build
//   node .config/build.mjs --dev      unminified, inline source map

import { build } from 'esbuild';
import { copyFile, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { externals, newerThanFloor } from './externals.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const src = path.join(root, 'src');
const dist = path.resolve(root, process.env.DIST_DIR || 'dist');
const dev = process.argv.includes('--dev');

const pkg = JSON.parse(await readFile(path.join(root, 'package.json'), 'utf8'));
// Grafana's semver gates refuse pre-releases: plugin.json gets MAJOR.MINOR.PATCH
// of the release version (make's VERSION) or of package.json.
const version = ((process.env.VERSION || pkg.version).match(/^v?(\d+\.\d+\.\d+)/) || [, pkg.version])[1];
const today = new Date().toISOString().slice(0, 10);
const pluginJson = JSON.parse(await readFile(path.join(src, 'plugin.json'), 'utf8'));

const result = await build({
  absWorkingDir: root,
  entryPoints: [path.join(src, 'module.ts')],
  bundle: true,
  write: false,
  metafile: true,
  format: 'cjs',
  platform: 'browser',
  // Grafana 11's supported browsers.
  target: ['es2020', 'chrome100', 'firefox100', 'safari15'],
  // Classic JSX: React.createElement works in React 18 and 19 alike, and
  // needs no react/jsx-runtime from Grafana.
  jsx: 'transform',
  jsxFactory: 'React.createElement',
  jsxFragment: 'React.Fragment',
  external: externals,
  minify: !dev,
  sourcemap: dev ? 'inline' : 'external',
  outfile: path.join(dist, 'module.js'),
  legalComments: 'none',
  define: { 'process.env.NODE_ENV': JSON.stringify(dev ? 'development' : 'production') },
  logLevel: 'warning',
});

// The externals module.js really imports become the define() dependencies.
const deps = new Set();
for (const out of Object.values(result.metafile.outputs)) {
  for (const imp of out.imports) {
    if (imp.external) {
      deps.add(imp.path);
    }
  }
}
const bad = [...deps].filter((d) => newerThanFloor.includes(d));
if (bad.length) {
  throw new Error(`module.js would import ${bad.join(', ')}, which Grafana provides only from 12.3`);
}
const notListed = [...deps].filter((d) => !externals.some((e) => d === e || d.startsWith(`${e}/`)));
if (notListed.length) {
  throw new Error(`module.js would import ${notListed.join(', ')} at run time, which Grafana does not provide`);
}
const depList = JSON.stringify([...deps].sort());

const code = result.outputFiles.find((f) => f.path.endsWith('module.js')).text;
const map = result.outputFiles.find((f) => f.path.endsWith('module.js.map'));
const banner = `/* ${pluginJson.id}@${version} */\n`;
const amd =
  banner +
  `define(${depList},function(){` +
  `var __deps=${depList},__mods=arguments;` +
  `var require=function(id){var i=__deps.indexOf(id);if(i<0){throw new Error(${JSON.stringify(pluginJson.id + ': not provided: ')}+id)}return __mods[i]};` +
  `var module={exports:{}},exports=module.exports;\n` +
  code.replace(/\n\/\/# sourceMappingURL=.*\n?$/, '\n') +
  `return module.exports});\n` +
  (map ? '//# sourceMappingURL=module.js.map\n' : '');

await mkdir(dist, { recursive: true });
for (const f of ['module.js', 'module.js.map', 'plugin.json', 'img', 'README.md', 'LICENSE']) {
  await rm(path.join(dist, f), { recursive: true, force: true });
}
await writeFile(path.join(dist, 'module.js'), amd);
if (map) {
  // The map's lines are shifted by the two wrapper lines in front of the code.
  const m = JSON.parse(map.text);
  m.mappings = ';;' + m.mappings;
  await writeFile(path.join(dist, 'module.js.map'), JSON.stringify(m));
}
const filled = (await readFile(path.join(src, 'plugin.json'), 'utf8')).replaceAll('%VERSION%', version).replaceAll('%TODAY%', today);
await writeFile(path.join(dist, 'plugin.json'), filled);
await mkdir(path.join(dist, 'img'), { recursive: true });
const logos = new Set([pluginJson.info?.logos?.small, pluginJson.info?.logos?.large].filter(Boolean));
for (const logo of logos) {
  await mkdir(path.join(dist, path.dirname(logo)), { recursive: true });
  await copyFile(path.join(src, logo), path.join(dist, logo));
}
await copyFile(path.join(root, 'LICENSE'), path.join(dist, 'LICENSE'));
// The page Grafana shows on the plugin's catalog entry (src/README.md is the renderer's).
await copyFile(path.join(src, 'README.app.md'), path.join(dist, 'README.md'));

const size = Buffer.byteLength(amd);
console.log(`dist/module.js ${(size / 1024).toFixed(1)} KiB, define(${depList})`);
