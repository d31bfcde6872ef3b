// npm run test:browser — dist/module.js in headless Chromium, loaded through
// SystemJS's AMD extra the way Grafana loads plugins, once with React 18
// (Grafana 11–12) and once with React 19 (Grafana 13), the same module.js.
// Each page clicks "Send to chat…" and must show the modal with the preview
// and the destinations. Screenshots: shots/browser-react{18,19}.png.
//
// Then end to end (host-e2e.tsx, internal/appe2e): the same two Reacts, the
// built dist/module.js (npm run build first), no fakes in the page. A Go test
// serves it as Grafana would, answers the app's resources with Panelcast's
// real backend and /render/d-solo with the Grafana stand-in, and drives
// Chromium: preview, pick a destination, Send, sent; the Slack fake must get
// the preview's PNG. Screenshots: shots/e2e-react{18,19}.png.
//
// React 19 and SystemJS live in .config/browser/node_modules (npm ci there:
// a second React cannot sit beside React 18 at the top). The pages use the
// app's @grafana/ui 12.4 with either React; Grafana 13 brings its own 13.x.
import { build } from 'esbuild';
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '../..');
const own = path.join(here, 'node_modules');
if (!existsSync(path.join(own, 'react', 'package.json'))) {
  execFileSync('npm', ['ci', '--no-audit', '--no-fund'], { cwd: here, stdio: 'inherit' });
}
const chromium = process.env.CHROMIUM || '/usr/bin/chromium';
const shared = ['react', 'react-dom', '@emotion/css', '@grafana/data', '@grafana/ui', '@grafana/runtime'];

// Every import of react or react-dom (and their subpaths), from any package
// and from host.tsx, resolved from one place: the top (React 18) or
// .config/browser (React 19), each with its own exports map.
const oneReact = (from) => ({
  name: 'one-react',
  setup(b) {
    b.onResolve({ filter: /^(react|react-dom)(\/.*)?$/ }, async (args) => {
      if (args.pluginData === 'one-react') {
        return undefined;
      }
      return b.resolve(args.path, { kind: args.kind, resolveDir: from, pluginData: 'one-react' });
    });
  },
});

async function buildHost(react, entry, dir, alias) {
  await build({
    entryPoints: [path.join(here, entry)],
    bundle: true,
    outfile: path.join(dir, 'host.js'),
    format: 'iife',
    jsx: 'transform',
    alias,
    plugins: [oneReact(react === '19' ? here : root)],
    // The page's AMD define() (SystemJS's extra) is for module.js only: UMD
    // code inside the host bundle (lodash ...) must not register with it.
    define: { 'process.env.NODE_ENV': '"production"', global: 'window', define: 'undefined' },
    loader: { '.svg': 'text', '.woff2': 'empty', '.woff': 'empty', '.ttf': 'empty', '.png': 'empty' },
    minify: true,
    logLevel: 'error',
  });
}

function writePage(dir, body = '') {
  copyFileSync(path.join(own, 'systemjs/dist/system.min.js'), path.join(dir, 's.js'));
  copyFileSync(path.join(own, 'systemjs/dist/extras/amd.min.js'), path.join(dir, 'amd.js'));
  const importMap = { imports: Object.fromEntries(shared.map((n) => [n, `app:${n}`])) };
  writeFileSync(
    path.join(dir, 'index.html'),
    `<!doctype html><meta charset="utf-8"><script type="systemjs-importmap">${JSON.stringify(importMap)}</script>` +
      `<script src="s.js"></script><script src="amd.js"></script>` +
      `<body>${body}<pre id="result" style="display:none"></pre><div id="root"></div><script src="host.js"></script></body>`
  );
}

let passed = 0;
let failed = 0;
for (const react of ['18', '19']) {
  const dir = path.join(root, 'shots', `browser-react${react}`);
  mkdirSync(dir, { recursive: true });
  // The module under test: the production build, as make frontend writes it.
  execFileSync(process.execPath, [path.join(root, '.config/build.mjs')], { cwd: root, env: { ...process.env, DIST_DIR: dir }, stdio: 'pipe' });
  await buildHost(react, 'host.tsx', dir, { '@grafana/runtime': path.join(root, '.config/harness/runtime.ts') });
  writePage(dir);
  const url = `file://${path.join(dir, 'index.html')}`;
  const flags = ['--headless', '--no-sandbox', '--disable-gpu', '--hide-scrollbars', '--allow-file-access-from-files', '--window-size=1000,1000', '--virtual-time-budget=8000'];
  const dom = execFileSync(chromium, [...flags, '--dump-dom', url], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  execFileSync(chromium, [...flags, `--screenshot=${path.join(root, 'shots', `browser-react${react}.png`)}`, url], { stdio: 'ignore' });

  const m = dom.match(/<pre id="result"[^>]*>([^<]*)<\/pre>/);
  const result = m ? JSON.parse(m[1].replace(/&quot;/g, '"').replace(/&amp;/g, '&')) : { loaded: false, error: 'no result' };
  const problems = [];
  if (!result.loaded) problems.push(`module.js did not load: ${result.error}`);
  if (!String(result.react).startsWith(`${react}.`)) problems.push(`the page ran React ${result.react}`);
  if (result.title !== 'Send to chat…') problems.push(`link title ${JSON.stringify(result.title)}`);
  if (!/<img[^>]*alt="Preview of CPU by host"/.test(dom)) problems.push('no preview picture');
  if (!dom.includes('Ops on Slack')) problems.push('no destination');
  if (!/>Send<\/span>/.test(dom)) problems.push('no Send button');
  if (problems.length) {
    failed++;
    console.log(`FAIL React ${react}: ${problems.join('; ')}`);
  } else {
    passed++;
    console.log(`ok   React ${result.react}: module.js loaded by SystemJS (AMD), modal with preview and destinations`);
  }
}
// End to end: dist/module.js as npm run build wrote it, served by the Go test.
if (!existsSync(path.join(root, 'dist', 'module.js'))) {
  failed += 2;
  console.log('FAIL end to end: dist/module.js is missing: npm run build first');
} else {
  const pages = path.join(root, 'shots');
  for (const react of ['18', '19']) {
    const dir = path.join(pages, `e2e-react${react}`);
    mkdirSync(dir, { recursive: true });
    await buildHost(react, 'host-e2e.tsx', dir, {});
    writePage(dir, '<button id="menu" type="button"></button>');
  }
  const go = spawnSync('go', ['test', '-count=1', '-v', '-run', '^TestSendToChat$', './internal/appe2e'], {
    cwd: root,
    env: { ...process.env, PANELCAST_E2E_PAGES: pages, PANELCAST_E2E_REQUIRED: '1' },
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  if (go.error) {
    failed += 2;
    console.log(`FAIL end to end: go test did not run: ${go.error.message}`);
  } else {
    const out = `${go.stdout}${go.stderr}`;
    for (const react of ['18', '19']) {
      const ok = go.status === 0 && new RegExp(`--- PASS: TestSendToChat/React${react} `).test(out);
      ok ? passed++ : failed++;
      const line = out.split('\n').find((l) => l.includes(`React ${react}.`) && l.includes(': module.js loaded'));
      console.log(ok ? `ok   end to end, ${(line || `React ${react}`).trim().replace(/^e2e_test\.go:\d+: /, '')}` : `FAIL end to end, React ${react}`);
    }
    if (go.status !== 0) {
      console.log(out.trimEnd());
    }
  }
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
