// Panelcast's stand-in page built from Grafana's own frontend libraries
// (package grafanatest, scenario "frontend"). A real @grafana/scenes scene
// (EmbeddedScene, SceneQueryController, SceneQueryRunner, VizPanel) runs a
// real DataSourceWithBackend query against the stand-in's /api/ds/query, and
// @grafana/ui draws the panel (PanelChrome, TimeSeries on uPlot, VizLegend).
//
// Grafana's app wires its services at start-up; scenes and @grafana/runtime
// only declare them. runtime.ts gives the page the few it needs, and nothing
// here sets a readiness signal itself: window.__grafanaSceneContext and
// window.__grafanaRunningQueryCount are scenes' own.
import React from 'react';
import { createRoot } from 'react-dom/client';

import { config } from '@grafana/runtime';
import { GlobalStyles, ThemeContext } from '@grafana/ui';

import { loadDashboard, Page, route } from './dashboard';
import { installRuntime } from './runtime';
import { sendReport } from './report';

const root = document.getElementById('reactRoot')!;

// A solo panel fills the viewport, as on Grafana's /d-solo pages.
const soloStyle: React.CSSProperties = { position: 'fixed', inset: 0, display: 'flex' };

function showMessage(text: string) {
  root.textContent = '';
  const div = document.createElement('div');
  div.className = 'page-message';
  div.textContent = text;
  root.appendChild(div);
}

async function start() {
  const r = route(location);
  if (!r) {
    return; // the login page loads bundles too, and has nothing to do
  }
  installRuntime(r.params);
  let page: Page;
  try {
    page = await loadDashboard(r);
  } catch (err) {
    showMessage(err instanceof Error ? err.message : String(err));
    return;
  }
  root.textContent = '';
  createRoot(root).render(
    <ThemeContext.Provider value={config.theme2}>
      <GlobalStyles />
      <div style={r.solo ? soloStyle : undefined}>
        <page.scene.Component model={page.scene} />
      </div>
    </ThemeContext.Provider>
  );
  sendReport(r.uid);
}

start();
