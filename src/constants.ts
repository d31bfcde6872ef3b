// One place for the names that plugin.json, Grafana and the backend must agree on.

export const PLUGIN_ID = 'panelcast-app';

// The panel menu's extension point (PluginExtensionPoints.DashboardPanelMenu).
// Spelled out rather than read from @grafana/data's enum so that the value is
// fixed at build time and plugin.json's test can compare it.
export const PANEL_MENU = 'grafana/dashboard/panel/menu';

// addLink's title must be identical to extensions.addedLinks[].title in
// plugin.json (Grafana hides links whose title it does not know).
export const SEND_LINK_TITLE = 'Send to chat…';
export const SEND_LINK_DESCRIPTION = 'Send the picture of this panel, as you see it, to a chat channel or person';

// The backend's resource routes.
export const RESOURCES = `/api/plugins/${PLUGIN_ID}/resources`;
