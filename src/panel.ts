// From the context Grafana hands a panel menu link (PanelMenuBehavior builds
// it) to the two things Panelcast needs: the /render/d-solo URL the user's
// own browser session renders, and the "panel" part of the push request.
// Everything here is pure so that tests can pin the translation down.

import type { PluginExtensionPanelContext, ScopedVars } from '@grafana/data';

export interface PanelSize {
  width: number;
  height: number;
}

export const DEFAULT_SIZE: PanelSize = { width: 1000, height: 500 };
export const MIN_SIZE = 100;
export const MAX_SIZE = 4000;

/** The "panel" object of POST push (the contract with the backend). */
export interface PushPanel {
  dashboardUid: string;
  panelId: number;
  from: string;
  to: string;
  vars: Record<string, string>;
  width: number;
  height: number;
  timezone: string;
}

/** Where the page is: the parts of window.location the URL needs. */
export interface PageLocation {
  pathname: string;
  search: string;
}

/** What the URL needs from Grafana's boot data. */
export interface GrafanaSite {
  appSubUrl: string;
  orgId: number;
}

// A raw time bound is either Grafana's relative text ("now-6h") or, for an
// absolute range, a DateTime (moment) object; some callers hand ISO strings
// or epoch numbers. /render and the backend both take "now-6h" or epoch ms.
export function timeBound(v: unknown): string {
  if (v === undefined || v === null || v === '') {
    return '';
  }
  if (typeof v === 'number') {
    return String(Math.round(v));
  }
  if (typeof v === 'string') {
    if (/^\d+$/.test(v) || v.startsWith('now')) {
      return v;
    }
    const t = Date.parse(v);
    return Number.isNaN(t) ? v : String(t);
  }
  if (typeof v === 'object') {
    const o = v as { valueOf?: () => unknown; toDate?: () => Date };
    if (typeof o.toDate === 'function') {
      return String(o.toDate().getTime());
    }
    const n = typeof o.valueOf === 'function' ? o.valueOf() : undefined;
    if (typeof n === 'number' && Number.isFinite(n)) {
      return String(Math.round(n));
    }
  }
  return String(v);
}

// Grafana's dashboard time zone is "browser", "utc" or an IANA name; the
// renderer needs a real zone, so "browser" becomes this browser's zone.
export function resolveTimeZone(tz: string | undefined): string {
  if (!tz || tz === 'browser') {
    try {
      return Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
    } catch {
      return 'UTC';
    }
  }
  if (tz === 'utc') {
    return 'UTC';
  }
  return tz;
}

// The URL's "<slug>" segment: Grafana ignores it for d-solo, but it is part of
// the route. The page's own /d/<uid>/<slug> wins; else one made from the title
// the way Grafana's slugs look.
export function dashboardSlug(uid: string, title: string | undefined, loc?: PageLocation): string {
  if (loc) {
    const m = loc.pathname.match(/\/d(?:-solo)?\/([^/]+)\/([^/?#]+)/);
    if (m && m[1] === uid && m[2]) {
      return m[2];
    }
  }
  const slug = (title ?? '')
    .toLowerCase()
    .normalize('NFKD')
    .replace(/\p{M}+/gu, '')
    .replace(/[^\p{L}\p{N}]+/gu, '-')
    .replace(/^-+|-+$/g, '');
  return slug || 'dashboard';
}

/**
 * The dashboard's template variables for this panel: every var-* of the page
 * URL (what the dashboard shows), overridden by the panel's scopedVars (a
 * repeated panel's own value). Grafana's built-ins (__interval, __sceneObject
 * ...) are not variables of the dashboard and stay out. Values are lists
 * because a multi-value variable repeats its var-name parameter.
 */
export function panelVariables(scopedVars: ScopedVars | undefined, search: string): Map<string, string[]> {
  const vars = new Map<string, string[]>();
  const params = new URLSearchParams(search);
  params.forEach((value, key) => {
    if (!key.startsWith('var-')) {
      return;
    }
    const name = key.slice(4);
    if (!name) {
      return;
    }
    vars.set(name, [...(vars.get(name) ?? []), value]);
  });
  for (const [name, sv] of Object.entries(scopedVars ?? {})) {
    if (name.startsWith('__') || !sv) {
      continue;
    }
    const value = (sv as { value?: unknown }).value;
    if (value === undefined || value === null || typeof value === 'object' && !Array.isArray(value)) {
      continue;
    }
    vars.set(name, Array.isArray(value) ? value.map(String) : [String(value)]);
  }
  return vars;
}

export function clampSize(n: number, fallback: number): number {
  if (!Number.isFinite(n) || n <= 0) {
    return fallback;
  }
  return Math.min(MAX_SIZE, Math.max(MIN_SIZE, Math.round(n)));
}

/** The /render/d-solo URL (relative to the page's origin) for the preview. */
export function renderUrl(
  ctx: PluginExtensionPanelContext,
  size: PanelSize,
  site: GrafanaSite,
  loc: PageLocation
): string {
  const uid = ctx.dashboard?.uid ?? '';
  const slug = dashboardSlug(uid, ctx.dashboard?.title, loc);
  const q = new URLSearchParams();
  q.set('orgId', String(site.orgId));
  q.set('panelId', String(ctx.id));
  q.set('from', timeBound(ctx.timeRange?.from));
  q.set('to', timeBound(ctx.timeRange?.to));
  q.set('tz', resolveTimeZone(ctx.timeZone));
  q.set('width', String(size.width));
  q.set('height', String(size.height));
  for (const [name, values] of panelVariables(ctx.scopedVars, loc.search)) {
    for (const v of values) {
      q.append(`var-${name}`, v);
    }
  }
  const base = site.appSubUrl.replace(/\/+$/, '');
  return `${base}/render/d-solo/${encodeURIComponent(uid)}/${encodeURIComponent(slug)}?${q.toString()}`;
}

/** The "panel" object of the push request for the same picture. */
export function pushPanel(ctx: PluginExtensionPanelContext, size: PanelSize, loc: PageLocation): PushPanel {
  const vars: Record<string, string> = {};
  for (const [name, values] of panelVariables(ctx.scopedVars, loc.search)) {
    // The contract carries one string per variable; a multi-value variable
    // goes as Grafana writes it in a single parameter, comma-separated.
    vars[name] = values.join(',');
  }
  return {
    dashboardUid: ctx.dashboard?.uid ?? '',
    panelId: ctx.id,
    from: timeBound(ctx.timeRange?.from),
    to: timeBound(ctx.timeRange?.to),
    vars,
    width: size.width,
    height: size.height,
    timezone: resolveTimeZone(ctx.timeZone),
  };
}
