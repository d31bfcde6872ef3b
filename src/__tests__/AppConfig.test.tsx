import React from 'react';
import { fireEvent, render, screen, waitFor } from '@testing-library/react';

import { AppConfig, type AppConfigProps } from '../components/AppConfig';

const backend = { get: jest.fn(), post: jest.fn() };

jest.mock('@grafana/runtime', () => ({
  config: { appSubUrl: '', bootData: { user: { id: 1, orgId: 1 } } },
  getBackendSrv: () => backend,
}));

function props(): AppConfigProps {
  return {
    query: {},
    plugin: {
      meta: {
        id: 'panelcast-app',
        enabled: true,
        pinned: true,
        jsonData: { destinations: [{ name: 'Ops on Slack', to: 'slack:#ops' }], free_addresses: true, mattermost_url: 'https://mm.example' },
        secureJsonFields: { slack_bot_token: true },
      },
    } as unknown as AppConfigProps['plugin'],
  };
}

beforeEach(() => {
  backend.get.mockReset();
  backend.post.mockReset();
});

it('never shows a stored token, sends only changed ones, and saves destinations', async () => {
  backend.post.mockResolvedValue({});
  render(<AppConfig {...props()} />);

  const slack = screen.getByLabelText('Slack Bot token (xoxb-…)') as HTMLInputElement;
  expect(slack.value).toBe('configured');
  expect(slack).toBeDisabled();

  fireEvent.change(screen.getByLabelText('Telegram Bot token'), { target: { value: '123:abc' } });
  fireEvent.change(screen.getByLabelText('Destination 1 name'), { target: { value: 'Ops' } });
  fireEvent.click(screen.getByRole('button', { name: 'Add destination' }));
  fireEvent.change(screen.getByLabelText('Destination 2 address'), { target: { value: ' discord:42 ' } });
  fireEvent.click(screen.getByRole('button', { name: 'Save settings' }));

  await screen.findByText('Saved.');
  expect(backend.post).toHaveBeenCalledWith(
    '/api/plugins/panelcast-app/settings',
    {
      enabled: true,
      pinned: true,
      jsonData: {
        destinations: [
          { name: 'Ops', to: 'slack:#ops' },
          { name: '', to: 'discord:42' },
        ],
        free_addresses: true,
        mattermost_url: 'https://mm.example',
      },
      secureJsonData: { telegram_bot_token: '123:abc' },
    },
    { showErrorAlert: false }
  );
  // the new token is now "configured" too, and not shown
  await waitFor(() => expect((screen.getByLabelText('Telegram Bot token') as HTMLInputElement).value).toBe('configured'));
});

it('resets a stored token by sending it empty', async () => {
  backend.post.mockResolvedValue({});
  render(<AppConfig {...props()} />);
  const resets = screen.getAllByRole('button', { name: 'Reset' });
  fireEvent.click(resets[0]);
  fireEvent.click(screen.getByRole('button', { name: 'Save settings' }));
  await screen.findByText('Saved.');
  expect(backend.post.mock.calls[0][1].secureJsonData).toEqual({ slack_bot_token: '' });
});

it('tests a destination through POST test and shows the answer', async () => {
  backend.post.mockImplementation(async (url: string, body: unknown) => {
    expect(url).toBe('/api/plugins/panelcast-app/resources/test');
    expect(body).toEqual({ to: 'slack:#ops' });
    return { id: 't-1', state: 'queued' };
  });
  render(<AppConfig {...props()} />);
  fireEvent.click(screen.getByRole('button', { name: 'Test' }));
  expect(await screen.findByText('Test message queued (id t-1).')).toBeInTheDocument();

  backend.post.mockRejectedValueOnce({ status: 400, data: { error: 'No Slack bot token is set.' } });
  fireEvent.click(screen.getByRole('button', { name: 'Test' }));
  expect(await screen.findByText('No Slack bot token is set.')).toBeInTheDocument();
});

it('sets the service account token, who may send, alert pictures and the outbox, each in its half', async () => {
  backend.post.mockResolvedValue({});
  render(<AppConfig {...props()} />);
  fireEvent.change(screen.getByLabelText(/^Grafana Service account token/), { target: { value: 'glsa_app' } });
  fireEvent.change(screen.getByLabelText('Grafana Who may send (Viewer, Editor or Admin)'), { target: { value: 'Viewer' } });
  fireEvent.change(screen.getByLabelText('Alerts One message per alert or per group (alert, group)'), { target: { value: 'group' } });
  fireEvent.change(screen.getByLabelText('Alerts Picture width'), { target: { value: '800' } });
  fireEvent.change(screen.getByLabelText(/^Outbox PostgreSQL URL/), { target: { value: 'postgres://pc:secret@db/pc' } });
  fireEvent.click(screen.getByRole('button', { name: 'Save settings' }));
  await screen.findByText('Saved.');
  const body = backend.post.mock.calls[0][1];
  expect(body.jsonData).toMatchObject({ push_min_role: 'Viewer', alert_grouping: 'group', alert_width: '800' });
  expect(body.jsonData).not.toHaveProperty('grafana_token');
  expect(body.jsonData).not.toHaveProperty('outbox_url');
  expect(body.secureJsonData).toEqual({ grafana_token: 'glsa_app', outbox_url: 'postgres://pc:secret@db/pc' });
});
