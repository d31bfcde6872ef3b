// The scene: what Grafana's dashboard and solo-panel pages build from a
// dashboard's JSON, reduced to panels in a column.
import { FieldConfigSource } from '@grafana/data';
import {
  behaviors,
  EmbeddedScene,
  SceneFlexItem,
  SceneFlexLayout,
  SceneQueryRunner,
  SceneTimeRange,
  VizPanel,
} from '@grafana/scenes';

export interface Route {
  solo: boolean;
  uid: string;
  params: URLSearchParams;
}

export interface Page {
  scene: EmbeddedScene;
}

// PanelModel is a panel of the stand-in's dashboard API (Grafana's
// dashboard JSON, with only the keys this page reads).
interface PanelModel {
  id: number;
  title?: string;
  type: string;
  height?: number;
  fieldConfig?: FieldConfigSource;
  options?: Record<string, unknown>;
}

// VariableModel is a template variable (dashboard.templating.list[]).
interface VariableModel {
  name: string;
  skipUrlSync?: boolean;
  current?: { value?: string | string[] };
}

interface DashboardAnswer {
  dashboard: { uid: string; title: string; panels: PanelModel[]; templating?: { list?: VariableModel[] } };
  // The stand-in of package grafanatest says how late its queries answer.
  meta: { panelcast?: { queryMs: number } };
}

export function route(loc: Location): Route | undefined {
  const m = /^\/(d|d-solo)\/([^/]+)/.exec(loc.pathname);
  if (!m) {
    return undefined;
  }
  return { solo: m[1] === 'd-solo', uid: decodeURIComponent(m[2]), params: new URLSearchParams(loc.search) };
}

// Grafana's URLs carry from/to as epoch milliseconds or relative times.
function timeParam(v: string | null, def: string) {
  if (!v) {
    return def;
  }
  return /^\d+$/.test(v) ? new Date(Number(v)).toISOString() : v;
}

function delayParam(params: URLSearchParams, name: string, def: number) {
  const v = params.get(name);
  const n = v === null || v === '' ? NaN : Number(v);
  return Number.isFinite(n) && n >= 0 ? n : def;
}

// variableValues is each template variable's selection, as Grafana's URL
// sync gives it: the page's var-<name> values, else the saved current
// value.
function variableValues(list: VariableModel[], params: URLSearchParams) {
  const values: Record<string, string[]> = {};
  for (const v of list) {
    const fromURL = v.skipUrlSync ? [] : params.getAll('var-' + v.name);
    const current = v.current?.value ?? [];
    values[v.name] = fromURL.length > 0 ? fromURL : typeof current === 'string' ? [current] : current;
  }
  return values;
}

export async function loadDashboard(r: Route): Promise<Page> {
  const res = await fetch('/api/dashboards/uid/' + encodeURIComponent(r.uid), { credentials: 'same-origin' });
  const body = await res.json().catch(() => ({ message: `HTTP ${res.status}` }));
  if (!res.ok) {
    throw new Error(body.message || 'Failed to load dashboard');
  }
  const model = body as DashboardAnswer;
  let panels = model.dashboard.panels;
  if (r.solo) {
    const id = Number(r.params.get('panelId'));
    panels = panels.filter((p) => p.id === id);
    if (panels.length === 0) {
      throw new Error('Panel not found');
    }
  }
  const standIn = model.meta.panelcast;
  const queryMs = standIn ? delayParam(r.params, 'query', standIn.queryMs) : 0;
  const vars = variableValues(model.dashboard.templating?.list ?? [], r.params);

  const children = panels.map(
    (p) =>
      new SceneFlexItem({
        height: r.solo ? '100%' : p.height,
        body: new VizPanel({
          key: `panel-${p.id}`,
          pluginId: p.type,
          title: p.title ?? '',
          options: p.options ?? {},
          fieldConfig: p.fieldConfig ?? { defaults: {}, overrides: [] },
          $data: new SceneQueryRunner({
            datasource: { type: 'grafana-testdata-datasource', uid: 'testdata' },
            // /api/ds/query reads which answer to give, and how late, from
            // the query, as TestData reads its scenarioId, and filters the
            // series by the variables' values, as $instance would in a
            // Prometheus query.
            queries: [{ refId: 'A', scenario: r.uid, queryMs, panelId: p.id, ...vars }],
            maxDataPoints: 500,
          }),
        }),
      })
  );

  return {
    scene: new EmbeddedScene({
      $timeRange: new SceneTimeRange({
        from: timeParam(r.params.get('from'), 'now-6h'),
        to: timeParam(r.params.get('to'), 'now'),
        timeZone: r.params.get('timezone') || undefined,
      }),
      // Grafana's dashboards count their running queries with this
      // behaviour; it is what sets window.__grafanaRunningQueryCount.
      $behaviors: [new behaviors.SceneQueryController()],
      body: new SceneFlexLayout({ direction: 'column', children }),
    }),
  };
}
