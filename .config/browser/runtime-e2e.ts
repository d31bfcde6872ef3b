// @grafana/runtime for the end-to-end page (host-e2e.tsx): the boot data of
// an Editor in org 1, the page's location on the dashboard, and a BackendSrv
// that, like Grafana's, sends JSON to the same origin with the session
// cookie and the X-Grafana-Org-Id header, and rejects with {status, data}.
// The Go test behind the page answers with the app's real backend.

export const config = { appSubUrl: '', bootData: { user: { id: 7, login: 'editor', orgId: 1, orgRole: 'Editor' } } };

// The dashboard page the panel menu was opened on: its var-* are the
// dashboard's variables (see src/panel.ts).
export const locationService = {
  getLocation: () => ({ pathname: '/d/scenes/scenes', search: '?orgId=1&from=now-6h&to=now&var-cluster=prod' }),
};

type Options = { showErrorAlert?: boolean; showSuccessAlert?: boolean };

async function request<T>(method: string, url: string, data?: unknown): Promise<T> {
  const headers: Record<string, string> = { Accept: 'application/json, text/plain, */*', 'X-Grafana-Org-Id': '1' };
  if (data !== undefined) {
    headers['Content-Type'] = 'application/json';
  }
  const res = await fetch(url, {
    method,
    credentials: 'same-origin',
    headers,
    body: data === undefined ? undefined : JSON.stringify(data),
  });
  const text = await res.text();
  let body: unknown = text;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    // not JSON: BackendSrv hands the text on
  }
  if (!res.ok) {
    throw { status: res.status, statusText: res.statusText, data: body };
  }
  return body as T;
}

function withParams(url: string, params?: Record<string, unknown>): string {
  if (!params) {
    return url;
  }
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v !== undefined && v !== null) {
      q.append(k, String(v));
    }
  }
  const s = q.toString();
  return s ? `${url}${url.includes('?') ? '&' : '?'}${s}` : url;
}

export const getBackendSrv = () => ({
  get<T>(url: string, params?: Record<string, unknown>, _requestId?: string, _options?: Options): Promise<T> {
    return request<T>('GET', withParams(url, params));
  },
  post<T>(url: string, data?: unknown, _options?: Options): Promise<T> {
    return request<T>('POST', url, data);
  },
  put<T>(url: string, data?: unknown): Promise<T> {
    return request<T>('PUT', url, data);
  },
  delete<T>(url: string): Promise<T> {
    return request<T>('DELETE', url);
  },
});
