// The context Grafana passes to a panel menu link, shaped the way
// PanelMenuBehavior's createExtensionContext builds it (scenes dashboards):
// raw time range, resolved time zone, dashboard {uid,title,tags}, targets,
// scopedVars from repeats ({value, text}), and the panel's data.

import { dateTime, type PluginExtensionPanelContext } from '@grafana/data';

export function relativeContext(over: Partial<PluginExtensionPanelContext> = {}): PluginExtensionPanelContext {
  return {
    id: 4,
    pluginId: 'timeseries',
    title: 'CPU by host',
    timeRange: { from: 'now-6h', to: 'now' },
    timeZone: 'Europe/Berlin',
    dashboard: { uid: 'ops-01', title: 'Ops Overview', tags: ['ops'] },
    targets: [{ refId: 'A' }],
    scopedVars: {
      host: { text: 'web-2', value: 'web-2' },
      __sceneObject: { text: '__sceneObject', value: {} as unknown as string },
    },
    data: undefined,
    ...over,
  };
}

export function absoluteContext(): PluginExtensionPanelContext {
  return relativeContext({
    timeRange: { from: dateTime(1700000000000), to: dateTime(1700003600000) },
    timeZone: 'browser',
    scopedVars: {},
  });
}
