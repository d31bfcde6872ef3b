// The last destinations this user sent to, newest first, kept in the
// browser's localStorage (per Grafana user and org; nothing secret in it).

const MAX = 5;

function key(userId: number | undefined, orgId: number | undefined): string {
  return `panelcast-app.recent.${orgId ?? 0}.${userId ?? 0}`;
}

export function loadRecent(userId?: number, orgId?: number): string[] {
  try {
    const raw = window.localStorage.getItem(key(userId, orgId));
    const list = raw ? (JSON.parse(raw) as unknown) : [];
    return Array.isArray(list) ? list.filter((x): x is string => typeof x === 'string' && x !== '').slice(0, MAX) : [];
  } catch {
    return [];
  }
}

export function rememberRecent(to: string, userId?: number, orgId?: number): string[] {
  const list = [to, ...loadRecent(userId, orgId).filter((x) => x !== to)].slice(0, MAX);
  try {
    window.localStorage.setItem(key(userId, orgId), JSON.stringify(list));
  } catch {
    // storage full or disabled: the list is only a convenience
  }
  return list;
}
