// The modal with the real @grafana/ui: preview, destinations, Send, the
// message followed to "sent", and the error sentence with Retry. Grafana's
// backend (getBackendSrv) and the browser's fetch (render, push) are mocked.

import React from 'react';
import { act, fireEvent, render, screen, waitFor } from '@testing-library/react';

import { SendToChat } from '../components/SendToChat';
import { relativeContext } from './fixtures';

const backend = { get: jest.fn(), post: jest.fn() };

jest.mock('@grafana/runtime', () => ({
  config: { appSubUrl: '', bootData: { user: { id: 7, orgId: 2 } } },
  getBackendSrv: () => backend,
  locationService: { getLocation: () => ({ pathname: '/d/ops-01/ops-overview', search: '?orgId=2&var-env=prod' }) },
}));

const PNG = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 1, 2, 3]);

type Call = { url: string; init?: RequestInit };
let calls: Call[];
let pushReplies: Array<() => Response>;

// jsdom has no Response: the few members api.ts reads.
function reply(status: number, body: Blob): Response {
  return {
    ok: status >= 200 && status < 300,
    status,
    headers: { get: (h: string) => (h.toLowerCase() === 'content-type' ? body.type : null) },
    text: () => blobText(body),
    blob: async () => body,
  } as unknown as Response;
}

function blobText(b: Blob): Promise<string> {
  return new Promise((resolve) => {
    const r = new FileReader();
    r.onload = () => resolve(String(r.result));
    r.readAsText(b);
  });
}

function blobBytes(b: Blob): Promise<Uint8Array> {
  return new Promise((resolve) => {
    const r = new FileReader();
    r.onload = () => resolve(new Uint8Array(r.result as ArrayBuffer));
    r.readAsArrayBuffer(b);
  });
}

function json(status: number, body: unknown): Response {
  return reply(status, new Blob([JSON.stringify(body)], { type: 'application/json' }));
}

function installFetch(render: () => Response = () => reply(200, new Blob([PNG], { type: 'image/png' }))) {
  calls = [];
  global.fetch = jest.fn(async (input: RequestInfo | URL, init?: RequestInit) => {
    const url = String(input);
    calls.push({ url, init });
    if (url.includes('/render/d-solo/')) {
      return render();
    }
    if (url.endsWith('/api/plugins/panelcast-app/resources/push')) {
      const next = pushReplies.shift();
      if (!next) {
        throw new Error('unexpected push');
      }
      return next();
    }
    throw new Error(`unexpected fetch ${url}`);
  }) as unknown as typeof fetch;
}

function destinations(over: Record<string, unknown> = {}) {
  return {
    destinations: [
      { name: 'Ops on Slack', to: 'slack:#ops' },
      { name: 'Dev on Mattermost', to: 'mattermost:dev' },
    ],
    freeAddresses: true,
    defaultTo: 'slack:#ops',
    chats: [{ provider: 'slack', configured: true }],
    ...over,
  };
}

async function readForm(call: Call) {
  const form = call.init?.body as FormData;
  expect(form).toBeInstanceOf(FormData);
  const request = form.get('request') as Blob;
  const picture = form.get('picture') as Blob;
  return {
    request: JSON.parse(await blobText(request)),
    requestType: request.type,
    picture: await blobBytes(picture),
    pictureType: picture.type,
  };
}

beforeEach(() => {
  window.localStorage.clear();
  backend.get.mockReset();
  backend.post.mockReset();
  pushReplies = [];
  installFetch();
});

describe('SendToChat', () => {
  it('shows the preview rendered by the user session, then sends it and follows it to sent', async () => {
    // Each poll waits for the test to let it answer, so every state is seen.
    const answers: Array<(v: unknown) => void> = [];
    backend.get.mockImplementation((url: string) => {
      if (url.endsWith('/resources/destinations')) {
        return Promise.resolve(destinations());
      }
      if (url.endsWith('/resources/push/m-1')) {
        return new Promise((resolve) => answers.push(resolve));
      }
      return Promise.reject(new Error(`unexpected get ${url}`));
    });
    pushReplies.push(() => json(202, { id: 'm-1', state: 'queued' }));

    render(<SendToChat context={relativeContext()} onDismiss={jest.fn()} pollMs={10} />);

    expect(screen.getByText(/Rendering the panel/)).toBeInTheDocument();
    const img = await screen.findByRole('img', { name: 'Preview of CPU by host' });
    expect(img.getAttribute('src')).toMatch(/^blob:/);

    const renderCall = calls.find((c) => c.url.includes('/render/d-solo/'))!;
    const u = new URL(renderCall.url, 'http://grafana.local');
    expect(u.pathname).toBe('/render/d-solo/ops-01/ops-overview');
    expect(Object.fromEntries(u.searchParams)).toMatchObject({
      orgId: '2',
      panelId: '4',
      from: 'now-6h',
      to: 'now',
      tz: 'Europe/Berlin',
      width: '1000',
      height: '500',
      'var-env': 'prod',
      'var-host': 'web-2',
    });
    expect(renderCall.init?.credentials).toBe('same-origin');

    // the default destination is chosen
    expect(await screen.findByText('Ops on Slack')).toBeInTheDocument();

    fireEvent.change(screen.getByLabelText(/^Message/), { target: { value: 'CPU is high again' } });
    fireEvent.click(screen.getByRole('button', { name: /^Send$/ }));

    expect(await screen.findByText(/Queued: Panelcast will send it/)).toBeInTheDocument();
    expect(screen.getByRole('button', { name: /Sending/ })).toBeDisabled();
    await waitFor(() => expect(answers).toHaveLength(1));
    await act(async () => answers[0]({ id: 'm-1', state: 'sending', attempts: 2 }));
    expect(await screen.findByText('Sending (attempt 2)…')).toBeInTheDocument();
    await waitFor(() => expect(answers).toHaveLength(2));
    await act(async () => answers[1]({ id: 'm-1', state: 'sent', attempts: 2, permalink: 'https://chat.example/archives/C1/p1' }));
    const sent = await screen.findByText('Sent to Ops on Slack');
    expect(sent).toBeInTheDocument();
    const links = screen.getAllByRole('link', { name: /Open (the message )?in chat/ });
    expect(links[0]).toHaveAttribute('href', 'https://chat.example/archives/C1/p1');

    const pushCall = calls.find((c) => c.url.endsWith('/resources/push'))!;
    expect(pushCall.init?.method).toBe('POST');
    expect((pushCall.init?.headers as Record<string, string>)['X-Grafana-Org-Id']).toBe('2');
    const form = await readForm(pushCall);
    expect(form.requestType).toBe('application/json');
    expect(form.request).toEqual({
      panel: {
        dashboardUid: 'ops-01',
        panelId: 4,
        from: 'now-6h',
        to: 'now',
        vars: { env: 'prod', host: 'web-2' },
        width: 1000,
        height: 500,
        timezone: 'Europe/Berlin',
      },
      to: 'slack:#ops',
      text: 'CPU is high again',
    });
    expect(form.pictureType).toBe('image/png');
    expect(form.picture).toEqual(PNG);

    // remembered for next time
    expect(JSON.parse(window.localStorage.getItem('panelcast-app.recent.2.7')!)).toEqual(['slack:#ops']);
  });

  it('preselects the first address of a comma-separated defaultTo', async () => {
    backend.get.mockResolvedValue(destinations({ defaultTo: 'mattermost:dev, slack:#ops' }));
    render(<SendToChat context={relativeContext()} pollMs={10} />);
    expect(await screen.findByText('Dev on Mattermost')).toBeInTheDocument();
    await screen.findByRole('img');
  });

  it('renders again at the size the user types', async () => {
    backend.get.mockResolvedValue(destinations());
    render(<SendToChat context={relativeContext()} pollMs={10} />);
    await screen.findByRole('img');
    fireEvent.change(screen.getByLabelText(/^Width/), { target: { value: '640' } });
    fireEvent.change(screen.getByLabelText(/^Height/), { target: { value: '99999' } });
    fireEvent.click(screen.getByRole('button', { name: 'Update preview' }));
    await waitFor(() => expect(calls.filter((c) => c.url.includes('/render/')).length).toBe(2));
    const last = new URL(calls.filter((c) => c.url.includes('/render/'))[1].url, 'http://x');
    expect(last.searchParams.get('width')).toBe('640');
    expect(last.searchParams.get('height')).toBe('4000');
    await screen.findByRole('img');
  });

  it('shows the backend error sentence and sends again on Retry', async () => {
    backend.get.mockImplementation(async (url: string) => {
      if (url.endsWith('/resources/destinations')) {
        return destinations();
      }
      return { id: 'm-2', state: 'sent', permalink: 'https://chat.example/p2' };
    });
    pushReplies.push(() => json(403, { error: 'Only editors may send to slack:#ops.' }));
    pushReplies.push(() => json(202, { id: 'm-2', state: 'queued' }));

    render(<SendToChat context={relativeContext()} pollMs={10} />);
    await screen.findByRole('img');
    await screen.findByText('Ops on Slack');
    fireEvent.click(screen.getByRole('button', { name: /^Send$/ }));

    expect(await screen.findByText('Only editors may send to slack:#ops.')).toBeInTheDocument();
    expect(screen.getByText('Not sent')).toBeInTheDocument();
    fireEvent.click(screen.getByRole('button', { name: 'Retry' }));
    expect(await screen.findByText('Sent to Ops on Slack')).toBeInTheDocument();
    expect(calls.filter((c) => c.url.endsWith('/resources/push'))).toHaveLength(2);
  });

  it('shows why a message failed in the outbox', async () => {
    backend.get.mockImplementation(async (url: string) => {
      if (url.endsWith('/resources/destinations')) {
        return destinations();
      }
      return { id: 'm-3', state: 'failed', attempts: 5, error: 'Slack says the bot is not in #ops: invite it.' };
    });
    pushReplies.push(() => json(202, { id: 'm-3', state: 'queued' }));
    render(<SendToChat context={relativeContext()} pollMs={10} />);
    await screen.findByRole('img');
    await screen.findByText('Ops on Slack');
    fireEvent.click(screen.getByRole('button', { name: /^Send$/ }));
    expect(await screen.findByText('Slack says the bot is not in #ops: invite it.')).toBeInTheDocument();
    expect(screen.getByRole('button', { name: 'Retry' })).toBeEnabled();
  });

  it('explains a failed preview and keeps Send off', async () => {
    installFetch(() => json(500, { message: 'Rendering failed: no image renderer available/installed' }));
    backend.get.mockResolvedValue(destinations());
    render(<SendToChat context={relativeContext()} pollMs={10} />);
    expect(await screen.findByText(/no image renderer available/)).toBeInTheDocument();
    expect(screen.getByRole('button', { name: /^Send$/ })).toBeDisabled();
  });

  it('shows a plain-text render failure as Grafana wrote it, and previews again on request', async () => {
    installFetch(() => reply(500, new Blob(['Rendering failed: timeout'], { type: 'text/plain' })));
    backend.get.mockResolvedValue(destinations());
    render(<SendToChat context={relativeContext()} pollMs={10} />);
    expect(await screen.findByText('Grafana could not render the panel: Rendering failed: timeout')).toBeInTheDocument();
    installFetch();
    fireEvent.click(screen.getByRole('button', { name: 'Try the preview again' }));
    expect(await screen.findByRole('img', { name: 'Preview of CPU by host' })).toBeInTheDocument();
    expect(screen.getByRole('button', { name: /^Send$/ })).toBeEnabled();
  });

  it('offers the last addresses this user sent to, and takes a free address', async () => {
    window.localStorage.setItem('panelcast-app.recent.2.7', JSON.stringify(['telegram:-10042']));
    backend.get.mockResolvedValue(destinations({ defaultTo: '' }));
    pushReplies.push(() => json(202, { id: 'm-4', state: 'sent', permalink: '', error: 'The text was cut to 4000 characters.' }));
    render(<SendToChat context={relativeContext()} pollMs={10} />);
    await screen.findByRole('img');
    // with no default, the most recent address is preselected
    expect(await screen.findByText('telegram:-10042')).toBeInTheDocument();

    const input = screen.getByLabelText('Send to');
    await act(async () => {
      fireEvent.change(input, { target: { value: 'discord:987' } });
    });
    await act(async () => {
      fireEvent.keyDown(input, { key: 'Enter', code: 'Enter' });
    });
    fireEvent.click(screen.getByRole('button', { name: /^Send$/ }));
    expect(await screen.findByText('Sent to discord:987')).toBeInTheDocument();
    expect(screen.getByText('The text was cut to 4000 characters.')).toBeInTheDocument();
    const form = await readForm(calls.find((c) => c.url.endsWith('/resources/push'))!);
    expect(form.request.to).toBe('discord:987');
    expect(form.request.text).toBeUndefined();
  });
});
