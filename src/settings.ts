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
  slack_api_url?: string;
  mattermost_url?: string;
  mattermost_team?: string;
  discord_api_url?: string;
  telegram_api_url?: string;
}

/** The secure fields: stored encrypted; the browser only learns which are set. */
export const SECRET_KEYS = ['slack_bot_token', 'mattermost_token', 'discord_bot_token', 'telegram_bot_token'] as const;
export type SecretKey = (typeof SECRET_KEYS)[number];

export interface ChatSection {
  provider: string;
  label: string;
  secret: SecretKey;
  secretLabel: string;
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
