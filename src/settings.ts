// The app's settings as Grafana stores them (/api/plugins/panelcast-app/settings)
// and hands them to the backend as AppInstanceSettings. The keys are
// pkg/config's (docs/configuration.md), so one name means one thing everywhere.

export interface DestinationSetting {
  name: string;
  to: string;
}

export interface AppSettings {
  destinations?: DestinationSetting[];
  /** Whether users may type any address, not only a named destination. */
  free_addresses?: boolean;
  default_to?: string;
  grafana_url?: string;
  push_min_role?: string;
  alert_grouping?: string;
  alert_width?: string;
  alert_height?: string;
  alert_theme?: string;
  alert_lookback?: string;
  expression_panel?: string;
  outbox_path?: string;
  slack_api_url?: string;
  mattermost_url?: string;
  mattermost_team?: string;
  discord_api_url?: string;
  telegram_api_url?: string;
}

/** The secure fields: stored encrypted; the browser only learns which are set. */
export const SECRET_KEYS = [
  'grafana_token',
  'slack_bot_token',
  'mattermost_token',
  'discord_bot_token',
  'telegram_bot_token',
  'outbox_url',
] as const;
export type SecretKey = (typeof SECRET_KEYS)[number];

/** A part of the settings page: at most one secure field, then plain ones. */
export interface ChatSection {
  provider: string;
  label: string;
  secret?: SecretKey;
  secretLabel?: string;
  plain: Array<{ key: keyof AppSettings; label: string; placeholder: string }>;
}

export const CHATS: ChatSection[] = [
  {
    provider: 'slack',
    label: 'Slack',
    secret: 'slack_bot_token',
    secretLabel: 'Bot token (xoxb-…)',
    plain: [{ key: 'slack_api_url', label: 'Web API URL', placeholder: 'https://slack.com/api/' }],
  },
  {
    provider: 'mattermost',
    label: 'Mattermost',
    secret: 'mattermost_token',
    secretLabel: 'Bot or personal access token',
    plain: [
      { key: 'mattermost_url', label: 'Server URL', placeholder: 'https://mattermost.example.com' },
      { key: 'mattermost_team', label: 'Team', placeholder: 'ops' },
    ],
  },
  {
    provider: 'discord',
    label: 'Discord',
    secret: 'discord_bot_token',
    secretLabel: 'Bot token',
    plain: [{ key: 'discord_api_url', label: 'API URL', placeholder: 'https://discord.com/api/v10' }],
  },
  {
    provider: 'telegram',
    label: 'Telegram',
    secret: 'telegram_bot_token',
    secretLabel: 'Bot token',
    plain: [{ key: 'telegram_api_url', label: 'Bot API URL', placeholder: 'https://api.telegram.org' }],
  },
];

/** The settings that are not a chat's, before and after the chats. */
export const GRAFANA_SECTION: ChatSection = {
  provider: 'grafana',
  label: 'Grafana',
  secret: 'grafana_token',
  secretLabel: 'Service account token (Viewer is enough; for alert pictures and pushes from scripts)',
  plain: [
    { key: 'grafana_url', label: "Grafana's address as the app reaches it", placeholder: "Grafana's own URL" },
    { key: 'push_min_role', label: 'Who may send (Viewer, Editor or Admin)', placeholder: 'Editor' },
  ],
};

export const AFTER_CHATS: ChatSection[] = [
  {
    provider: 'alerts',
    label: 'Alerts',
    plain: [
      { key: 'alert_grouping', label: 'One message per alert or per group (alert, group)', placeholder: 'alert' },
      { key: 'alert_width', label: 'Picture width', placeholder: '1000' },
      { key: 'alert_height', label: 'Picture height', placeholder: '500' },
      { key: 'alert_theme', label: 'Picture theme (dark, light)', placeholder: 'dark' },
      { key: 'alert_lookback', label: 'How long before the alert started the picture begins', placeholder: '1h' },
      { key: 'expression_panel', label: 'Panel for alerts that name none (uid:panelId)', placeholder: 'none' },
    ],
  },
  {
    provider: 'outbox',
    label: 'Outbox',
    secret: 'outbox_url',
    secretLabel: 'PostgreSQL URL, when Grafana runs as several replicas',
    plain: [{ key: 'outbox_path', label: 'SQLite file', placeholder: "panelcast/outbox.db in Grafana's data folder" }],
  },
];
