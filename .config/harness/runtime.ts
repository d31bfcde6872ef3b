// A stand-in for @grafana/runtime in the harness page: the boot data, a
// BackendSrv that answers the app's JSON routes, and the page location.
type Status = { id: string; state: string; attempts?: number; error?: string; permalink?: string };

const params = new URLSearchParams(window.location.search);
let polls = 0;

export const config = { appSubUrl: '', bootData: { user: { id: 1, orgId: 1 } } };

export const locationService = {
  getLocation: () => ({ pathname: '/d/ops-01/ops-overview', search: '?orgId=1&var-env=prod' }),
};

export const getBackendSrv = () => ({
  async get(url: string): Promise<unknown> {
    if (url.endsWith('/destinations')) {
      return {
        destinations: [
          { name: 'Ops on Slack', to: 'slack:#ops' },
          { name: 'Dev on Mattermost', to: 'mattermost:dev' },
        ],
        freeAddresses: true,
        defaultTo: 'slack:#ops',
        chats: [{ provider: 'slack', configured: true }],
      };
    }
    polls++;
    const s: Status =
      params.get('outcome') === 'failed'
        ? { id: 'm-1', state: 'failed', attempts: 3, error: 'Slack says the bot is not in #ops: invite it with /invite @panelcast.' }
        : polls < 2
          ? { id: 'm-1', state: 'sending', attempts: 1 }
          : { id: 'm-1', state: 'sent', attempts: 1, permalink: 'https://chat.example/archives/C1/p1' };
    return s;
  },
  async post(): Promise<unknown> {
    return { id: 't-1', state: 'queued' };
  },
});
