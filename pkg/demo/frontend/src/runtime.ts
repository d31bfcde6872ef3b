// The part of Grafana's app start-up that scenes and @grafana/runtime need:
// Grafana core registers these services from public/app; a page without the
// app must register its own. Each is as small as the page allows.
import { from, Observable, of } from 'rxjs';
import { catchError, map, startWith } from 'rxjs/operators';

import {
  DataQueryRequest,
  DataSourceApi,
  DataSourceInstanceSettings,
  DataSourcePluginMeta,
  DataSourceRef,
  EventBusSrv,
  LoadingState,
  PanelData,
  PluginType,
} from '@grafana/data';
import {
  BackendSrv,
  BackendSrvRequest,
  DataSourceWithBackend,
  FetchError,
  FetchResponse,
  setAppEvents,
  setBackendSrv,
  setDataSourceSrv,
  setPluginImportUtils,
  setRunRequest,
  toDataQueryError,
} from '@grafana/runtime';

import { timeSeriesPanel } from './panel';

// The stand-in's only data source, as Grafana's TestData would be listed.
const testData: DataSourceInstanceSettings = {
  id: 1,
  uid: 'testdata',
  type: 'grafana-testdata-datasource',
  name: 'TestData',
  access: 'proxy',
  readOnly: true,
  jsonData: {},
  meta: {
    id: 'grafana-testdata-datasource',
    name: 'TestData',
    type: PluginType.datasource,
    module: 'core:plugin/grafana-testdata-datasource',
    baseUrl: '',
    backend: true,
    info: {
      author: { name: 'Grafana Labs' },
      description: '',
      links: [],
      logos: { small: '', large: '' },
      screenshots: [],
      updated: '',
      version: '',
    },
  } as DataSourcePluginMeta,
};

// The TestData plugin's frontend is Grafana's generic backend data source:
// queries go to /api/ds/query and answers are parsed by @grafana/runtime.
class TestDataSource extends DataSourceWithBackend {}

function sleep(ms: number) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function isTestData(ref?: DataSourceRef | string | null) {
  if (ref == null) {
    return true; // the default data source
  }
  const uid = typeof ref === 'string' ? ref : ref.uid;
  return uid === undefined || uid === testData.uid || uid === testData.name;
}

// fetch is what Grafana's BackendSrv.fetch does for a data source query: a
// same-origin request (the renderKey cookie goes along), JSON both ways,
// and a FetchError for a status that is not ok.
function fetchJSON<T>(options: BackendSrvRequest): Observable<FetchResponse<T>> {
  const headers: Record<string, string> = { 'Content-Type': 'application/json', ...(options.headers ?? {}) };
  return from(
    fetch(options.url, {
      method: options.method ?? 'GET',
      credentials: 'same-origin',
      headers,
      body: options.data === undefined ? undefined : JSON.stringify(options.data),
    }).then(async (res) => {
      const data = await res.json().catch(() => ({ message: `HTTP ${res.status}` }));
      const response = {
        data,
        status: res.status,
        statusText: res.statusText,
        ok: res.ok,
        headers: res.headers,
        redirected: res.redirected,
        type: res.type,
        url: res.url,
        config: options,
      };
      if (!res.ok) {
        const err: FetchError = { ...response, message: data.message };
        throw err;
      }
      return response as FetchResponse<T>;
    })
  );
}

// runRequest is the core of Grafana's public/app/features/query/state/
// runRequest.ts: Loading first, then each answer as PanelData, errors as an
// Error state (which ends the query's count too).
function runRequest(ds: DataSourceApi, request: DataQueryRequest): Observable<PanelData> {
  const base = { series: [], timeRange: request.range, request };
  return from(ds.query(request) as Observable<any>).pipe(
    map((res): PanelData => {
      const errors = res.errors ?? (res.error ? [res.error] : undefined);
      return {
        ...base,
        series: res.data ?? [],
        state: res.state ?? (errors ? LoadingState.Error : LoadingState.Done),
        errors,
        error: errors?.[0],
      };
    }),
    catchError((err) => {
      const error = toDataQueryError(err);
      return of<PanelData>({ ...base, state: LoadingState.Error, errors: [error], error });
    }),
    startWith<PanelData>({ ...base, state: LoadingState.Loading })
  );
}

// standIn is the settings the stand-in of package grafanatest adds to the
// boot data; the built-in demo has none, and none of the stand-in's delays.
export const standIn = (window as any).grafanaBootData?.settings?.panelcast;

export function installRuntime(params: URLSearchParams) {
  // querystart imitates the data source plugin's module loading: Grafana
  // fetches it on first use, so the first query starts only after it.
  const loadMs = standIn ? Number(params.get('querystart') ?? 200) : 0;
  let ds: Promise<DataSourceApi> | undefined;
  setDataSourceSrv({
    get(ref) {
      if (!isTestData(ref)) {
        return Promise.reject(new Error(`Datasource ${JSON.stringify(ref)} was not found`));
      }
      ds ??= sleep(Number.isFinite(loadMs) && loadMs >= 0 ? loadMs : 200).then(() => new TestDataSource(testData));
      return ds;
    },
    getInstanceSettings(ref) {
      return isTestData(ref) ? testData : undefined;
    },
    getList() {
      return [testData];
    },
    reload() {},
    registerRuntimeDataSource() {},
  });
  setBackendSrv({
    fetch: fetchJSON,
  } as unknown as BackendSrv);
  setRunRequest(runRequest);
  setAppEvents(new EventBusSrv());
  setPluginImportUtils({
    importPanelPlugin(id: string) {
      return id === timeSeriesPanel.meta.id
        ? Promise.resolve(timeSeriesPanel)
        : Promise.reject(new Error(`Panel plugin not found: ${id}`));
    },
    getPanelPluginFromCache(id: string) {
      return id === timeSeriesPanel.meta.id ? timeSeriesPanel : undefined;
    },
  });
}
