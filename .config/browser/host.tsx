// A page that loads dist/module.js the way Grafana does: SystemJS with its
// AMD extra, the shared modules registered as "app:<name>" behind an import
// map, then the panel menu link's onClick with an openModal that renders the
// body inside @grafana/ui's Modal. Bundled twice by run.mjs: with React 18
// and with React 19 (an esbuild alias), the same module.js each time.

import React from 'react';
import { createRoot } from 'react-dom/client';

import * as runtime from '../harness/runtime';
import { grafanaData, grafanaUi, importModule, registerShared } from './shared';
import { context, installFakeFetch } from '../harness/fakes';

registerShared(runtime);

installFakeFetch('dark');
const theme = grafanaData.createTheme({ colors: { mode: 'dark' } });
const report = (r: object) => {
  const el = document.getElementById('result')!;
  el.textContent = JSON.stringify({ react: React.version, ...r });
};

type Link = {
  title: string;
  targets: string | string[];
  onClick: (e: unknown, h: { context: unknown; openModal: (o: { title: string; body: React.ComponentType<{ onDismiss?: () => void }> }) => void }) => void;
};

importModule('./module.js').then(
  (ns) => {
    const plugin = (ns.plugin ?? (ns.default as { plugin?: unknown })?.plugin) as { addedLinkConfigs: Link[] };
    const link = plugin.addedLinkConfigs[0];
    const root = createRoot(document.getElementById('root')!);
    link.onClick(undefined, {
      context,
      openModal: ({ title, body: Body }) =>
        root.render(
          <grafanaData.ThemeContext.Provider value={theme}>
            <grafanaUi.GlobalStyles />
            <grafanaUi.Modal title={title} isOpen onDismiss={() => {}}>
              <Body onDismiss={() => {}} />
            </grafanaUi.Modal>
          </grafanaData.ThemeContext.Provider>
        ),
    });
    report({ loaded: true, title: link.title, targets: link.targets });
  },
  (err: unknown) => report({ loaded: false, error: String((err as Error)?.stack || err) })
);
