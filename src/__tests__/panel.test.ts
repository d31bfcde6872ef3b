import { pushPanel, renderUrl, timeBound, resolveTimeZone, dashboardSlug, panelVariables } from '../panel';
import { absoluteContext, relativeContext } from './fixtures';

const site = { appSubUrl: '', orgId: 3 };

function params(url: string) {
  const u = new URL(url, 'http://grafana.local');
  return { path: u.pathname, q: u.searchParams };
}

describe('renderUrl', () => {
  it('renders the panel as the dashboard shows it: time, zone, size, variables', () => {
    const loc = { pathname: '/d/ops-01/ops-overview', search: '?orgId=3&from=now-6h&to=now&var-env=prod&var-host=web-1&var-dc=a&var-dc=b' };
    const { path, q } = params(renderUrl(relativeContext(), { width: 1200, height: 600 }, site, loc));
    expect(path).toBe('/render/d-solo/ops-01/ops-overview');
    expect(q.get('orgId')).toBe('3');
    expect(q.get('panelId')).toBe('4');
    expect(q.get('from')).toBe('now-6h');
    expect(q.get('to')).toBe('now');
    expect(q.get('tz')).toBe('Europe/Berlin');
    expect(q.get('width')).toBe('1200');
    expect(q.get('height')).toBe('600');
    expect(q.get('var-env')).toBe('prod');
    // the repeated panel's own value wins over the page's
    expect(q.getAll('var-host')).toEqual(['web-2']);
    expect(q.getAll('var-dc')).toEqual(['a', 'b']);
    // Grafana's built-ins are not dashboard variables
    expect([...q.keys()].some((k) => k.startsWith('var-__'))).toBe(false);
  });

  it('turns an absolute range into epoch milliseconds and "browser" into a real zone', () => {
    const { q } = params(renderUrl(absoluteContext(), { width: 800, height: 400 }, site, { pathname: '/d/ops-01', search: '' }));
    expect(q.get('from')).toBe('1700000000000');
    expect(q.get('to')).toBe('1700003600000');
    expect(q.get('tz')).toBe(Intl.DateTimeFormat().resolvedOptions().timeZone);
  });

  it('keeps Grafana under a sub path and makes a slug when the page has none', () => {
    const url = renderUrl(relativeContext(), { width: 800, height: 400 }, { appSubUrl: '/grafana/', orgId: 1 }, { pathname: '/grafana/explore', search: '' });
    expect(params(url).path).toBe('/grafana/render/d-solo/ops-01/ops-overview');
  });
});

describe('pushPanel', () => {
  it('is the same picture for the backend, as the contract spells it', () => {
    const loc = { pathname: '/d/ops-01/ops-overview', search: '?var-env=prod&var-dc=a&var-dc=b' };
    expect(pushPanel(relativeContext(), { width: 1000, height: 500 }, loc)).toEqual({
      dashboardUid: 'ops-01',
      panelId: 4,
      from: 'now-6h',
      to: 'now',
      vars: { env: 'prod', dc: 'a,b', host: 'web-2' },
      width: 1000,
      height: 500,
      timezone: 'Europe/Berlin',
    });
  });
});

describe('helpers', () => {
  it('timeBound', () => {
    expect(timeBound('now-1h/h')).toBe('now-1h/h');
    expect(timeBound(1700000000000)).toBe('1700000000000');
    expect(timeBound('2023-11-14T22:13:20.000Z')).toBe('1700000000000');
    expect(timeBound(undefined)).toBe('');
  });
  it('resolveTimeZone', () => {
    expect(resolveTimeZone('utc')).toBe('UTC');
    expect(resolveTimeZone('America/New_York')).toBe('America/New_York');
  });
  it('dashboardSlug', () => {
    expect(dashboardSlug('x', 'Über Ops: 2024 / EU')).toBe('uber-ops-2024-eu');
    expect(dashboardSlug('x', '')).toBe('dashboard');
    expect(dashboardSlug('x', 'T', { pathname: '/d/x/the-slug', search: '' })).toBe('the-slug');
  });
  it('panelVariables lists scopedVars values', () => {
    const vars = panelVariables({ region: { text: 'All', value: ['eu', 'us'] } }, '');
    expect(vars.get('region')).toEqual(['eu', 'us']);
  });
});
