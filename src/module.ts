// The app plugin's entry: Grafana loads dist/module.js (AMD) and reads
// `plugin`. No JSX here (module.ts) and none compiled to react/jsx-runtime
// anywhere (see .config/build.mjs): Grafana provides that module only from 12.3.

import { createElement } from 'react';

import { AppPlugin, type PluginExtensionPanelContext } from '@grafana/data';

import { AppConfig } from './components/AppConfig';
import { SendToChat } from './components/SendToChat';
import { PANEL_MENU, SEND_LINK_DESCRIPTION, SEND_LINK_TITLE } from './constants';
import type { AppSettings } from './settings';

export const plugin = new AppPlugin<AppSettings>()
  .addLink<PluginExtensionPanelContext>({
    title: SEND_LINK_TITLE,
    description: SEND_LINK_DESCRIPTION,
    targets: [PANEL_MENU],
    icon: 'comment-alt-share',
    // A panel of a dashboard that was never saved has no uid to render by.
    configure: (context) => (context?.dashboard?.uid ? {} : undefined),
    onClick: (_event, { context, openModal }) => {
      if (!context) {
        return;
      }
      openModal({
        title: SEND_LINK_TITLE.replace(/…$/, ''),
        width: 760,
        body: ({ onDismiss }) => createElement(SendToChat, { context, onDismiss }),
      });
    },
  })
  .addConfigPage({
    id: 'configuration',
    title: 'Configuration',
    icon: 'cog',
    body: AppConfig,
  });
