// npm run shots: bundles harness.tsx (real React 18 and @grafana/ui) and
// takes screenshots of the modal with headless Chromium into shots/app-*.png.
import { build } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '../..');
const out = path.join(root, 'shots', 'harness');
mkdirSync(out, { recursive: true });
await build({
  entryPoints: [path.join(here, 'harness.tsx')],
  bundle: true,
  outfile: path.join(out, 'harness.js'),
  format: 'iife',
  jsx: 'transform',
  alias: { '@grafana/runtime': path.join(here, 'runtime.ts') },
  define: { 'process.env.NODE_ENV': '"production"', global: 'window' },
  loader: { '.svg': 'text', '.woff2': 'empty', '.woff': 'empty', '.ttf': 'empty', '.png': 'empty' },
  minify: true,
  logLevel: 'error',
});
writeFileSync(path.join(out, 'index.html'), '<!doctype html><meta charset="utf-8"><body><div id="root"></div><script src="harness.js"></script>');
const chromium = process.env.CHROMIUM || '/usr/bin/chromium';
for (const [name, query] of [
  ['app-dark', 'theme=dark'],
  ['app-light', 'theme=light'],
  ['app-sent-dark', 'theme=dark&send=1'],
  ['app-failed-light', 'theme=light&send=1&outcome=failed'],
]) {
  const file = path.join(root, 'shots', `${name}.png`);
  execFileSync(chromium, [
    '--headless', '--no-sandbox', '--disable-gpu', '--hide-scrollbars', '--allow-file-access-from-files',
    '--window-size=1000,1000', '--virtual-time-budget=8000', `--screenshot=${file}`,
    `file://${path.join(out, 'index.html')}?${query}`,
  ], { stdio: 'pipe' });
  console.log(`wrote ${path.relative(root, file)}`);
}
