// The end-to-end page: dist/module.js loaded as Grafana loads it (SystemJS
// with its AMD extra, the shared modules as "app:<name>"), the panel menu
// link's onClick called with a context shaped like the one Grafana's
// PanelMenuBehavior builds for a panel of a saved dashboard, and an
// openModal that renders the body inside @grafana/ui's Modal. Nothing is
// faked in the page: /render/d-solo and the app's resources are answered by
// the Go test serving it (internal/appe2e), with Panelcast's real backend.
// Bundled by run.mjs with React 18 and with React 19.

import React from 'react';
import { createRoot } from 'react-dom/client';

import * as runtime from './runtime-e2e';
import { grafanaData, grafanaUi, importModule, registerShared } from './shared';

registerShared(runtime);

const theme = grafanaData.createTheme({ colors: { mode: 'dark' } });
const report = (r: object) => {
  const el = document.getElementById('result')!;
  el.textContent = JSON.stringify({ react: React.version, ...r });
};

// What PanelMenuBehavior (public/app/features/dashboard-scene/scene/
// PanelMenuBehavior.tsx, getPanelContext) hands a panel menu link: the
// panel's id, plugin and title, the raw time range, the dashboard's time
// zone, the dashboard, the queries, the scoped variables (Grafana's
// built-ins among them) and the panel's data.
const context = {
  id: 2,
  pluginId: 'timeseries',
  title: 'CPU usage',
  timeRange: { from: 'now-6h', to: 'now' },
  timeZone: 'utc',
  dashboard: { uid: 'demo', title: 'Demo', tags: ['ops'] },
  targets: [{ refId: 'A', datasource: { type: 'prometheus', uid: 'prom' } }],
  scopedVars: {
    __sceneObject: { text: '__sceneObject', value: { toString: () => 'viz-panel-2' } },
    __interval: { text: '1m', value: '1m' },
    __interval_ms: { text: '60000', value: 60000 },
  },
  data: undefined,
};

type Link = {
  title: string;
  targets: string | string[];
  configure?: (ctx: unknown) => object | undefined;
  onClick: (e: unknown, h: { context: unknown; openModal: (o: { title: string; body: React.ComponentType<{ onDismiss?: () => void }> }) => void }) => void;
};

importModule('./module.js').then(
  (ns) => {
    const plugin = (ns.plugin ?? (ns.default as { plugin?: unknown })?.plugin) as { addedLinkConfigs: Link[] };
    const link = plugin.addedLinkConfigs.find((l) => l.title === 'Send to chat…') ?? plugin.addedLinkConfigs[0];
    if (link.configure && link.configure(context) === undefined) {
      report({ loaded: true, title: link.title, error: 'configure hid the link for this panel' });
      return;
    }
    const root = createRoot(document.getElementById('root')!);
    // The page's own "Send to chat…" menu entry, as Grafana's panel menu
    // shows it: clicking it calls the link's onClick.
    const menu = document.getElementById('menu')!;
    menu.textContent = link.title;
    menu.onclick = (ev) =>
      link.onClick(ev, {
        context,
        openModal: ({ title, body: Body }) =>
          root.render(
            <grafanaData.ThemeContext.Provider value={theme}>
              <grafanaUi.GlobalStyles />
              <grafanaUi.Modal title={title} isOpen onDismiss={() => root.render(<></>)}>
                <Body onDismiss={() => root.render(<></>)} />
              </grafanaUi.Modal>
            </grafanaData.ThemeContext.Provider>
          ),
      });
    report({ loaded: true, title: link.title });
  },
  (err: unknown) => report({ loaded: false, error: String((err as Error)?.stack || err) })
);
