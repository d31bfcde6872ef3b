// dist/module.js as Grafana's SystemJS sees it: one anonymous AMD define()
// whose dependencies are only modules Grafana provides (none that only
// 12.3+ provides), whose factory returns { plugin } with the link.

import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

const root = path.resolve(__dirname, '../..');
let dir: string;

beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'panelcast-app-dist-'));
  execFileSync(process.execPath, [path.join(root, '.config/build.mjs')], {
    cwd: root,
    env: { ...process.env, DIST_DIR: dir, VERSION: '4.2.1-3-gabc1234' },
    stdio: 'pipe',
  });
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

type Define = (deps: string[], factory: (...mods: unknown[]) => unknown) => void;

function load(mods: Record<string, unknown>) {
  const code = readFileSync(path.join(dir, 'module.js'), 'utf8');
  let seen: string[] | undefined;
  let exported: unknown;
  const define: Define = (deps, factory) => {
    seen = deps;
    exported = factory(...deps.map((d) => mods[d]));
  };
  new Function('define', code)(define);
  return { deps: seen!, exported: exported as { plugin: { addedLinkConfigs: Array<{ title: string; targets: string[] }> } } };
}

it('writes module.js, plugin.json with the release version, and the logo', () => {
  expect(existsSync(path.join(dir, 'module.js'))).toBe(true);
  expect(existsSync(path.join(dir, 'img/logo.svg'))).toBe(true);
  expect(readFileSync(path.join(dir, 'README.md'), 'utf8')).toMatch(/^# Panelcast app/);
  const pj = JSON.parse(readFileSync(path.join(dir, 'plugin.json'), 'utf8'));
  expect(pj.id).toBe('panelcast-app');
  expect(pj.info.version).toBe('4.2.1');
  expect(pj.info.updated).toMatch(/^\d{4}-\d{2}-\d{2}$/);
});

it('is one AMD module asking Grafana only for what every supported version provides', () => {
  const code = readFileSync(path.join(dir, 'module.js'), 'utf8');
  expect(code.match(/\bdefine\(/g)).toHaveLength(1);
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const real = { react: require('react'), '@grafana/data': require('@grafana/data'), '@grafana/ui': {}, '@grafana/runtime': {}, '@emotion/css': {} };
  const { deps, exported } = load(real);
  expect(deps.sort()).toEqual(['@emotion/css', '@grafana/data', '@grafana/runtime', '@grafana/ui', 'react']);
  expect(deps).not.toContain('react/jsx-runtime');
  expect(code).not.toMatch(/jsx-runtime|jsxs?\(/);
  // React and Grafana's libraries stay out of the bundle.
  expect(code).not.toMatch(/react\.production|__SECRET_INTERNALS|ReactCurrentOwner/);
  expect(code.length).toBeLessThan(100 * 1024);
  const links = exported.plugin.addedLinkConfigs;
  expect(links.map((l) => l.title)).toEqual(['Send to chat…']);
  expect([links[0].targets].flat()).toEqual(['grafana/dashboard/panel/menu']);
});
