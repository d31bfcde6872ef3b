// The Send to chat modal outside Grafana, for screenshots in light and dark:
// the real @grafana/ui in Grafana's Modal, a canvas-drawn "panel" as the
// render, and runtime.ts in place of @grafana/runtime.
import React from 'react';
import { createRoot } from 'react-dom/client';
import { css } from '@emotion/css';
import { createTheme, ThemeContext } from '@grafana/data';
import { GlobalStyles, Modal } from '@grafana/ui';

import { SendToChat } from '../../src/components/SendToChat';

const params = new URLSearchParams(window.location.search);
const mode = params.get('theme') === 'light' ? 'light' : 'dark';
const theme = createTheme({ colors: { mode } });

function fakePanel(width: number, height: number): Promise<Blob> {
  const c = document.createElement('canvas');
  c.width = width;
  c.height = height;
  const g = c.getContext('2d')!;
  g.fillStyle = mode === 'dark' ? '#181b1f' : '#ffffff';
  g.fillRect(0, 0, width, height);
  g.fillStyle = mode === 'dark' ? '#ccccdc' : '#24292e';
  g.font = '28px sans-serif';
  g.fillText('CPU by host', 24, 44);
  g.strokeStyle = '#73bf69';
  g.lineWidth = 4;
  g.beginPath();
  for (let x = 0; x <= width - 48; x += 8) {
    const y = height * 0.6 + Math.sin(x / 40) * height * 0.2 + Math.cos(x / 13) * 10;
    x === 0 ? g.moveTo(24 + x, y) : g.lineTo(24 + x, y);
  }
  g.stroke();
  return new Promise((resolve) => c.toBlob((b) => resolve(b!), 'image/png'));
}

const realFetch = window.fetch.bind(window);
window.fetch = async (input: RequestInfo | URL, init?: RequestInit) => {
  const url = String(input);
  if (url.includes('/render/d-solo/')) {
    const q = new URL(url, window.location.href).searchParams;
    const blob = await fakePanel(Number(q.get('width')), Number(q.get('height')));
    return new Response(blob, { status: 200, headers: { 'Content-Type': 'image/png' } });
  }
  if (url.endsWith('/resources/push')) {
    return new Response(JSON.stringify({ id: 'm-1', state: 'queued' }), { status: 202, headers: { 'Content-Type': 'application/json' } });
  }
  return realFetch(input, init);
};

const context = {
  id: 4,
  pluginId: 'timeseries',
  title: 'CPU by host',
  timeRange: { from: 'now-6h', to: 'now' },
  timeZone: 'Europe/Berlin',
  dashboard: { uid: 'ops-01', title: 'Ops Overview', tags: [] },
  targets: [],
  scopedVars: {},
};

const modalWidth = css({ width: 760 });

function App() {
  return (
    <ThemeContext.Provider value={theme}>
      <GlobalStyles />
      <Modal title="Send to chat" isOpen onDismiss={() => {}} className={modalWidth}>
        <SendToChat context={context} pollMs={200} />
      </Modal>
    </ThemeContext.Provider>
  );
}

createRoot(document.getElementById('root')!).render(<App />);

// ?send=1 presses Send once the preview is there.
if (params.get('send')) {
  const t = setInterval(() => {
    const b = [...document.querySelectorAll('button')].find((x) => x.textContent === 'Send' && !x.disabled);
    if (b && document.querySelector('img[alt^="Preview"]')) {
      clearInterval(t);
      b.click();
    }
  }, 100);
}
