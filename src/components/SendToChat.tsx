// The body of "Send to chat…": Grafana's openModal wraps it in its own Modal,
// so everything here is @grafana/ui and follows the user's light or dark theme.
//
// The preview is the picture itself: the user's browser session renders the
// panel through /render/d-solo, and the same PNG bytes are what Send uploads.
// After Send the message is followed (GET push/{id}) until it is sent, with a
// link to it in the chat, or has failed, with the backend's sentence and Retry.

import React, { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import { css } from '@emotion/css';

import type { GrafanaTheme2, PluginExtensionPanelContext, SelectableValue } from '@grafana/data';
import { config, locationService } from '@grafana/runtime';
import { Alert, Button, Field, Input, LinkButton, Select, Spinner, TextArea, useStyles2 } from '@grafana/ui';

import {
  ApiError,
  type DestinationsResponse,
  getDestinations,
  getPush,
  push,
  type PushStatus,
  renderPreview,
} from '../api';
import { clampSize, DEFAULT_SIZE, MAX_SIZE, MIN_SIZE, type PageLocation, type PanelSize, pushPanel, renderUrl } from '../panel';
import { loadRecent, rememberRecent } from '../recent';

export interface SendToChatProps {
  context: PluginExtensionPanelContext;
  onDismiss?: () => void;
  /** How often a sent message is asked about (ms). */
  pollMs?: number;
}

type Preview =
  | { state: 'loading' }
  | { state: 'ready'; blob: Blob; url: string }
  | { state: 'error'; error: string };

type Delivery =
  | { state: 'idle' }
  | { state: 'posting' }
  | { state: 'following'; status: PushStatus }
  | { state: 'sent'; status: PushStatus }
  | { state: 'failed'; error: string };

/** What the modal shows for a message's state in the outbox. */
function deliveryOf(st: PushStatus): Delivery {
  if (st.state === 'sent') {
    return { state: 'sent', status: st };
  }
  if (st.state === 'failed') {
    return { state: 'failed', error: st.error || 'The chat did not take the message.' };
  }
  return { state: 'following', status: st };
}

function pageLocation(): PageLocation {
  try {
    const loc = locationService.getLocation();
    if (loc && typeof loc.pathname === 'string') {
      return { pathname: loc.pathname, search: loc.search ?? '' };
    }
  } catch {
    // older runtimes or tests: the window's own location is the same page
  }
  return { pathname: window.location.pathname, search: window.location.search };
}

function site() {
  return { appSubUrl: config.appSubUrl ?? '', orgId: config.bootData?.user?.orgId ?? 1 };
}

// After this long the dialog says that closing it loses nothing.
const PATIENCE_MS = 20000;

function describeState(st: PushStatus, long: boolean): string {
  let s: string;
  switch (st.state) {
    case 'queued':
      s = 'Queued: Panelcast will send it in a moment…';
      break;
    case 'sending':
      s = st.attempts && st.attempts > 1 ? `Sending (attempt ${st.attempts})…` : 'Sending…';
      break;
    default:
      s = 'Sending…';
  }
  return long ? `${s} You can close this window: Panelcast keeps trying.` : s;
}

export function SendToChat({ context, onDismiss, pollMs = 1000 }: SendToChatProps) {
  const styles = useStyles2(getStyles);
  const user = config.bootData?.user;
  const loc = useMemo(pageLocation, []);

  // Size: what the fields hold, and what the preview was rendered at.
  const [draft, setDraft] = useState({ width: String(DEFAULT_SIZE.width), height: String(DEFAULT_SIZE.height) });
  const [size, setSize] = useState<PanelSize>(DEFAULT_SIZE);
  const [previewNonce, setPreviewNonce] = useState(0);
  const [preview, setPreview] = useState<Preview>({ state: 'loading' });

  const [dests, setDests] = useState<DestinationsResponse | undefined>();
  const [destError, setDestError] = useState<string | undefined>();
  const [recent, setRecent] = useState<string[]>(() => loadRecent(user?.id, user?.orgId));
  const [to, setTo] = useState<string | undefined>();
  const [text, setText] = useState('');
  const [delivery, setDelivery] = useState<Delivery>({ state: 'idle' });
  const [longWait, setLongWait] = useState(false);

  const src = useMemo(() => renderUrl(context, size, site(), loc), [context, size, loc]);

  // The preview: fetched as a blob so that Send uploads exactly these bytes.
  useEffect(() => {
    const ctrl = new AbortController();
    let objectUrl: string | undefined;
    setPreview({ state: 'loading' });
    renderPreview(src, ctrl.signal).then(
      (blob) => {
        if (ctrl.signal.aborted) {
          return;
        }
        objectUrl = URL.createObjectURL(blob);
        setPreview({ state: 'ready', blob, url: objectUrl });
      },
      (err: unknown) => {
        if (!ctrl.signal.aborted) {
          setPreview({ state: 'error', error: err instanceof Error ? err.message : String(err) });
        }
      }
    );
    return () => {
      ctrl.abort();
      if (objectUrl) {
        URL.revokeObjectURL(objectUrl);
      }
    };
  }, [src, previewNonce]);

  // The destinations, once per modal.
  useEffect(() => {
    let live = true;
    getDestinations().then(
      (d) => {
        if (!live) {
          return;
        }
        setDests(d);
        // defaultTo is the alerts' comma-separated list: its first address.
        const first = d.defaultTo?.split(',').map((x) => x.trim()).find(Boolean);
        setTo((cur) => cur ?? first ?? recent.find((r) => d.freeAddresses || d.destinations.some((x) => x.to === r)) ?? d.destinations[0]?.to);
      },
      (err: unknown) => live && setDestError(err instanceof Error ? err.message : String(err))
    );
    return () => {
      live = false;
    };
    // recent is read once, when the list arrives
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, []);

  // Following a message: poll until it is sent or has failed.
  const following = delivery.state === 'following' ? delivery.status.id : undefined;
  useEffect(() => {
    if (!following) {
      return;
    }
    let live = true;
    let timer: ReturnType<typeof setTimeout> | undefined;
    setLongWait(false);
    const patience = setTimeout(() => live && setLongWait(true), PATIENCE_MS);
    const tick = () => {
      getPush(following).then(
        (st) => {
          if (!live) {
            return;
          }
          const next = deliveryOf(st);
          setDelivery(next);
          if (next.state === 'following') {
            timer = setTimeout(tick, pollMs);
          }
        },
        (err: unknown) => {
          if (!live) {
            return;
          }
          // A hiccup while asking is not a failed message: ask again, unless
          // the backend says the message is unknown or we may not see it.
          if (err instanceof ApiError && (err.status === 404 || err.status === 403)) {
            setDelivery({ state: 'failed', error: err.message });
          } else {
            timer = setTimeout(tick, pollMs);
          }
        }
      );
    };
    timer = setTimeout(tick, pollMs);
    return () => {
      live = false;
      clearTimeout(patience);
      if (timer) {
        clearTimeout(timer);
      }
    };
  }, [following, pollMs]);

  const options = useMemo<Array<SelectableValue<string>>>(() => {
    const out: Array<SelectableValue<string>> = [];
    const seen = new Set<string>();
    for (const d of dests?.destinations ?? []) {
      out.push({ label: d.name || d.to, value: d.to, description: d.name ? d.to : undefined });
      seen.add(d.to);
    }
    for (const r of recent) {
      if (!seen.has(r) && dests?.freeAddresses) {
        out.push({ label: r, value: r, description: 'Used recently' });
        seen.add(r);
      }
    }
    if (to && !seen.has(to)) {
      out.push({ label: to, value: to });
    }
    return out;
  }, [dests, recent, to]);

  const applySize = useCallback(() => {
    const next = {
      width: clampSize(Number(draft.width), size.width),
      height: clampSize(Number(draft.height), size.height),
    };
    setDraft({ width: String(next.width), height: String(next.height) });
    if (next.width !== size.width || next.height !== size.height) {
      setSize(next);
    } else {
      setPreviewNonce((n) => n + 1);
    }
  }, [draft, size]);

  const send = useCallback(async () => {
    if (preview.state !== 'ready' || !to) {
      return;
    }
    setDelivery({ state: 'posting' });
    try {
      const st = await push({ panel: pushPanel(context, size, loc), to, text: text.trim() || undefined }, preview.blob);
      setRecent(rememberRecent(to, user?.id, user?.orgId));
      setDelivery(deliveryOf(st));
    } catch (err) {
      setDelivery({ state: 'failed', error: err instanceof Error ? err.message : String(err) });
    }
  }, [preview, to, context, size, loc, text, user?.id, user?.orgId]);

  const busy = delivery.state === 'posting' || delivery.state === 'following';
  const destName = (dests?.destinations ?? []).find((d) => d.to === to)?.name || to;

  return (
    <div className={styles.body} data-testid="panelcast-send">
      <div className={styles.preview} style={{ aspectRatio: `${size.width} / ${size.height}` }}>
        {preview.state === 'loading' && (
          <div className={styles.center} role="status">
            <Spinner inline /> Rendering the panel…
          </div>
        )}
        {preview.state === 'ready' && (
          <img className={styles.image} src={preview.url} alt={`Preview of ${context.title || 'the panel'}`} />
        )}
        {preview.state === 'error' && (
          <div className={styles.center}>
            <Alert severity="error" title="No preview">
              {preview.error}
            </Alert>
            <Button variant="secondary" icon="sync" onClick={() => setPreviewNonce((n) => n + 1)}>
              Try the preview again
            </Button>
          </div>
        )}
      </div>

      <div className={styles.row}>
        {(['width', 'height'] as const).map((side) => (
          <Field key={side} label={side === 'width' ? 'Width' : 'Height'} htmlFor={`panelcast-${side}`} className={styles.size}>
            <Input
              id={`panelcast-${side}`}
              type="number"
              min={MIN_SIZE}
              max={MAX_SIZE}
              suffix="px"
              title={`${MIN_SIZE}–${MAX_SIZE} px`}
              value={draft[side]}
              disabled={busy}
              onChange={(e) => setDraft({ ...draft, [side]: e.currentTarget.value })}
              onKeyDown={(e) => e.key === 'Enter' && applySize()}
            />
          </Field>
        ))}
        <Button variant="secondary" icon="sync" onClick={applySize} disabled={busy} className={styles.refresh}>
          Update preview
        </Button>
      </div>

      {destError ? (
        <Alert severity="error" title="No destinations">
          {destError}
        </Alert>
      ) : (
        <Field label="Send to" htmlFor="panelcast-to">
          <Select
            inputId="panelcast-to"
            aria-label="Send to"
            isLoading={!dests}
            options={options}
            value={to ?? null}
            disabled={busy}
            allowCustomValue={Boolean(dests?.freeAddresses)}
            onCreateOption={(v: string) => setTo(v.trim() || undefined)}
            onChange={(v: SelectableValue<string>) => setTo(v?.value)}
            placeholder={
              dests && !dests.freeAddresses && dests.destinations.length === 0
                ? 'No destinations set up'
                : dests?.freeAddresses
                  ? 'A destination, or an address such as slack:#ops'
                  : 'Choose where to send'
            }
            noOptionsMessage="No destinations set up"
          />
        </Field>
      )}

      <Field label="Message" htmlFor="panelcast-text">
        <TextArea
          id="panelcast-text"
          rows={2}
          placeholder="Optional: a few words sent with the picture"
          value={text}
          disabled={busy}
          onChange={(e) => setText(e.currentTarget.value)}
        />
      </Field>

      {delivery.state === 'posting' && (
        <div role="status" className={styles.status}>
          <Spinner inline /> Uploading the picture…
        </div>
      )}
      {delivery.state === 'following' && (
        <div role="status" className={styles.status}>
          <Spinner inline /> {describeState(delivery.status, longWait)}
        </div>
      )}
      {delivery.state === 'sent' && (
        <Alert severity="success" title={`Sent to ${destName}`}>
          {delivery.status.permalink ? (
            <a href={delivery.status.permalink} target="_blank" rel="noopener noreferrer">
              Open the message in chat
            </a>
          ) : (
            'The picture is in the chat.'
          )}
          {/* For a sent message, error is what went wrong after it was posted. */}
          {delivery.status.error && <div className={styles.note}>{delivery.status.error}</div>}
        </Alert>
      )}
      {delivery.state === 'failed' && (
        <Alert severity="error" title="Not sent">
          {delivery.error}
        </Alert>
      )}

      <div className={styles.buttons}>
        <Button variant="secondary" fill="outline" onClick={onDismiss}>
          {delivery.state === 'sent' ? 'Close' : 'Cancel'}
        </Button>
        {delivery.state === 'sent' && delivery.status.permalink && (
          <LinkButton variant="secondary" icon="external-link-alt" href={delivery.status.permalink} target="_blank" rel="noopener noreferrer">
            Open in chat
          </LinkButton>
        )}
        {delivery.state === 'failed' ? (
          <Button icon="sync" onClick={send} disabled={preview.state !== 'ready' || !to}>
            Retry
          </Button>
        ) : delivery.state !== 'sent' ? (
          <Button icon={busy ? undefined : 'message'} onClick={send} disabled={busy || preview.state !== 'ready' || !to}>
            {busy ? 'Sending…' : 'Send'}
          </Button>
        ) : null}
      </div>
    </div>
  );
}

const getStyles = (theme: GrafanaTheme2) => ({
  body: css({ display: 'flex', flexDirection: 'column', gap: theme.spacing(1) }),
  preview: css({
    width: '100%',
    maxHeight: '32vh',
    display: 'flex',
    alignItems: 'center',
    justifyContent: 'center',
    background: theme.colors.background.secondary,
    border: `1px solid ${theme.colors.border.weak}`,
    borderRadius: theme.shape.radius.default,
    overflow: 'hidden',
  }),
  image: css({ maxWidth: '100%', maxHeight: '32vh', objectFit: 'contain' }),
  center: css({ display: 'flex', flexDirection: 'column', alignItems: 'center', gap: theme.spacing(1), padding: theme.spacing(2) }),
  row: css({ display: 'flex', alignItems: 'flex-end', gap: theme.spacing(2), flexWrap: 'wrap' }),
  size: css({ width: 130, marginBottom: 0 }),
  refresh: css({ marginBottom: theme.spacing(0.5) }),
  status: css({ display: 'flex', alignItems: 'center', gap: theme.spacing(1), color: theme.colors.text.secondary }),
  note: css({ marginTop: theme.spacing(0.5), color: theme.colors.text.secondary }),
  buttons: css({ display: 'flex', justifyContent: 'flex-end', gap: theme.spacing(1), marginTop: theme.spacing(1) }),
});
