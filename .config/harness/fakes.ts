// The page's stand-ins for Grafana: /render answers with a canvas-drawn
// panel, push with 202 queued, and the context a panel menu click passes.

function fakePanel(mode: string, width: number, height: number): Promise<Blob> {
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

export function installFakeFetch(mode: string) {
  const realFetch = window.fetch.bind(window);
  window.fetch = async (input: RequestInfo | URL, init?: RequestInit) => {
    const url = String(input);
    if (url.includes('/render/d-solo/')) {
      const q = new URL(url, window.location.href).searchParams;
      const blob = await fakePanel(mode, Number(q.get('width')), Number(q.get('height')));
      return new Response(blob, { status: 200, headers: { 'Content-Type': 'image/png' } });
    }
    if (url.endsWith('/resources/push')) {
      return new Response(JSON.stringify({ id: 'm-1', state: 'queued' }), { status: 202, headers: { 'Content-Type': 'application/json' } });
    }
    return realFetch(input, init);
  };
}

export const context = {
  id: 4,
  pluginId: 'timeseries',
  title: 'CPU by host',
  timeRange: { from: 'now-6h', to: 'now' },
  timeZone: 'Europe/Berlin',
  dashboard: { uid: 'ops-01', title: 'Ops Overview', tags: [] },
  targets: [],
  scopedVars: {},
};
