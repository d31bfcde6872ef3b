// plugin.json and module.ts agree: the link Grafana is told about is the
// link the module registers, at the panel menu, with a title Grafana accepts.

import pluginJson from '../plugin.json';
import { PANEL_MENU, PLUGIN_ID, SEND_LINK_DESCRIPTION, SEND_LINK_TITLE } from '../constants';
import { plugin } from '../module';
import { relativeContext } from './fixtures';

jest.mock('@grafana/runtime', () => ({
  config: { appSubUrl: '', bootData: { user: { id: 7, orgId: 1 } } },
  getBackendSrv: () => ({ get: jest.fn(() => new Promise(() => {})), post: jest.fn() }),
  locationService: { getLocation: () => ({ pathname: '/d/ops-01/ops-overview', search: '' }) },
}));

describe('plugin.json', () => {
  it('is the app panelcast-app with its Go backend', () => {
    expect(pluginJson.id).toBe(PLUGIN_ID);
    expect(pluginJson.id).toMatch(/^[0-9a-z]+-([0-9a-z]+-)?(app|panel|datasource)$/);
    expect(pluginJson.type).toBe('app');
    expect(pluginJson.backend).toBe(true);
    expect(pluginJson.executable).toBe('gpx_panelcast_app');
    // Grafanas before lazy app loading register extensions only of apps
    // they preload; module.js is small enough to load on every page.
    expect(pluginJson.preload).toBe(true);
    expect(pluginJson.info.logos.small).toBe('img/logo.svg');
    expect(pluginJson.info.version).toBe('%VERSION%');
  });

  it('asks for the Grafana versions that load the object form of extensions', () => {
    expect(pluginJson.dependencies.grafanaDependency).toBe('>=11.3.0 <14.0.0');
  });

  it('declares the panel menu link with the title and target module.ts uses', () => {
    const links = pluginJson.extensions.addedLinks;
    expect(links).toHaveLength(1);
    expect(links[0].title).toBe(SEND_LINK_TITLE);
    expect(links[0].title.length).toBeGreaterThanOrEqual(10);
    expect(links[0].description).toBe(SEND_LINK_DESCRIPTION);
    expect(links[0].targets).toEqual([PANEL_MENU]);

    const registered = plugin.addedLinkConfigs;
    expect(registered).toHaveLength(1);
    expect(registered[0].title).toBe(links[0].title);
    expect(registered[0].description).toBe(links[0].description);
    expect([registered[0].targets].flat()).toEqual(links[0].targets);
  });

  it('targets the extension point Grafana names DashboardPanelMenu', () => {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { PluginExtensionPoints } = require('@grafana/data');
    expect(PANEL_MENU).toBe(PluginExtensionPoints.DashboardPanelMenu);
  });

  it('hides the link for a dashboard that has no uid yet', () => {
    const { configure } = plugin.addedLinkConfigs[0];
    expect(configure?.(relativeContext() as object)).toEqual({});
    expect(configure?.(relativeContext({ dashboard: { uid: '', title: 'New dashboard', tags: [] } }) as object)).toBeUndefined();
  });

  it('opens a modal with the Send to chat body for the clicked panel', () => {
    const openModal = jest.fn();
    const ctx = relativeContext();
    plugin.addedLinkConfigs[0].onClick?.(undefined, {
      context: ctx,
      openModal,
      extensionPointId: PANEL_MENU,
      openSidebar: jest.fn(),
      closeSidebar: jest.fn(),
      toggleSidebar: jest.fn(),
    });
    expect(openModal).toHaveBeenCalledTimes(1);
    const opts = openModal.mock.calls[0][0];
    expect(opts.title).toBe('Send to chat');
    const el = opts.body({ onDismiss: jest.fn() });
    expect(el.type.name).toBe('SendToChat');
    expect(el.props.context).toBe(ctx);
  });

  it('has a configuration page', () => {
    expect(plugin.configPages?.map((p) => p.id)).toEqual(['configuration']);
  });
});
