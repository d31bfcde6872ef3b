// The backend's resource routes (pkg/app), as the modal and the config page
// use them. JSON routes go through Grafana's getBackendSrv(); the multipart
// push cannot: BackendSrv gives every POST a JSON content type and turns a
// body that is not a string into JSON or URL parameters, so a FormData would
// arrive as "{}". The push is a same-origin fetch with the session cookie and
// the org header BackendSrv would have sent.

import { config, getBackendSrv } from '@grafana/runtime';

import { RESOURCES } from './constants';
import type { PushPanel } from './panel';

export interface Destination {
  name: string;
  to: string;
}

export interface ChatProvider {
  provider: string;
  configured: boolean;
}

export interface DestinationsResponse {
  destinations: Destination[];
  freeAddresses: boolean;
  defaultTo?: string;
  chats?: ChatProvider[];
}

export type PushState = 'queued' | 'sending' | 'sent' | 'failed';

export interface PushStatus {
  id: string;
  state: PushState;
  attempts?: number;
  error?: string;
  permalink?: string;
}

export interface PushRequest {
  panel: PushPanel;
  to: string;
  text?: string;
}

/** An error with the sentence the backend (or we) can show a person. */
export class ApiError extends Error {
  readonly status: number;
  constructor(message: string, status: number) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
  }
}

const quiet = { showErrorAlert: false, showSuccessAlert: false };

function statusSentence(status: number): string {
  switch (status) {
    case 0:
      return 'Grafana could not be reached.';
    case 401:
      return 'Your Grafana session has ended: sign in again.';
    case 403:
      return 'You are not allowed to send pictures to chat.';
    case 404:
      return 'The Panelcast app is not running on this Grafana (is its backend installed and enabled?).';
    case 413:
      return 'The picture is too large to send: make it smaller.';
    case 503:
      return 'Panelcast is not ready to send right now: try again in a moment.';
    default:
      return `The request failed (HTTP ${status}).`;
  }
}

// BackendSrv rejects with {status, data}; data is the backend's JSON.
function toApiError(err: unknown): ApiError {
  if (err instanceof ApiError) {
    return err;
  }
  const e = err as { status?: number; data?: { error?: unknown; message?: unknown }; message?: unknown };
  const status = typeof e?.status === 'number' ? e.status : 0;
  const sentence =
    (typeof e?.data?.error === 'string' && e.data.error) ||
    (typeof e?.data?.message === 'string' && e.data.message) ||
    statusSentence(status);
  return new ApiError(sentence, status);
}

export async function getDestinations(): Promise<DestinationsResponse> {
  try {
    const r = await getBackendSrv().get<DestinationsResponse>(`${RESOURCES}/destinations`, undefined, undefined, quiet);
    return {
      destinations: Array.isArray(r?.destinations) ? r.destinations : [],
      freeAddresses: Boolean(r?.freeAddresses),
      defaultTo: r?.defaultTo || undefined,
      chats: Array.isArray(r?.chats) ? r.chats : [],
    };
  } catch (err) {
    throw toApiError(err);
  }
}

export async function getPush(id: string): Promise<PushStatus> {
  try {
    return await getBackendSrv().get<PushStatus>(`${RESOURCES}/push/${encodeURIComponent(id)}`, undefined, undefined, quiet);
  } catch (err) {
    throw toApiError(err);
  }
}

export async function testDestination(to: string): Promise<PushStatus> {
  try {
    return await getBackendSrv().post<PushStatus>(`${RESOURCES}/test`, { to }, quiet);
  } catch (err) {
    throw toApiError(err);
  }
}

/** The multipart body of POST push: a JSON part "request" and the PNG "picture". */
export function pushForm(req: PushRequest, picture: Blob): FormData {
  const form = new FormData();
  form.append('request', new Blob([JSON.stringify(req)], { type: 'application/json' }), 'request.json');
  form.append('picture', picture.type === 'image/png' ? picture : new Blob([picture], { type: 'image/png' }), 'panel.png');
  return form;
}

function orgId(): number | undefined {
  return config.bootData?.user?.orgId;
}

export async function push(req: PushRequest, picture: Blob): Promise<PushStatus> {
  const headers: Record<string, string> = { Accept: 'application/json' };
  const org = orgId();
  if (org) {
    headers['X-Grafana-Org-Id'] = String(org);
  }
  let res: Response;
  try {
    res = await fetch(`${config.appSubUrl ?? ''}${RESOURCES}/push`, {
      method: 'POST',
      credentials: 'same-origin',
      headers,
      body: pushForm(req, picture),
    });
  } catch {
    throw new ApiError(statusSentence(0), 0);
  }
  const text = await res.text();
  let body: unknown;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    body = undefined;
  }
  if (!res.ok) {
    throw toApiError({ status: res.status, data: body });
  }
  const st = body as PushStatus | undefined;
  if (!st || typeof st.id !== 'string' || !st.id) {
    throw new ApiError('Panelcast accepted the picture but sent back no message id.', res.status);
  }
  return st;
}

/** Renders the preview through the user's own session: the PNG itself. */
export async function renderPreview(url: string, signal?: AbortSignal): Promise<Blob> {
  let res: Response;
  try {
    res = await fetch(url, { credentials: 'same-origin', signal, headers: { Accept: 'image/png' } });
  } catch (err) {
    if ((err as Error)?.name === 'AbortError') {
      throw err;
    }
    throw new ApiError('Grafana could not be reached to render the preview.', 0);
  }
  if (!res.ok) {
    const text = await res.text().catch(() => '');
    let sentence = '';
    try {
      const j = JSON.parse(text) as { message?: string; error?: string };
      sentence = j.message || j.error || '';
    } catch {
      // Grafana answers some render failures in plain text; a page is no sentence.
      const t = text.trim();
      sentence = t.length > 0 && t.length <= 300 && !t.startsWith('<') ? t : '';
    }
    throw new ApiError(
      sentence ? `Grafana could not render the panel: ${sentence}` : `Grafana could not render the panel (HTTP ${res.status}). Is an image renderer installed?`,
      res.status
    );
  }
  const blob = await res.blob();
  if (blob.type && !blob.type.startsWith('image/')) {
    throw new ApiError('Grafana answered the render with something that is not a picture. Is an image renderer installed?', res.status);
  }
  return blob;
}
