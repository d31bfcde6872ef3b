// The app's configuration page (Administration → Plugins → Panelcast):
// destinations, each with a Test button; Grafana's service account and who
// may send; each chat's token and URLs; alert pictures; the outbox.
// Tokens go to secureJsonData: never shown, only "configured" with Reset.

import React, { useState } from 'react';
import { css } from '@emotion/css';

import type { AppPluginMeta, GrafanaTheme2, PluginConfigPageProps } from '@grafana/data';
import { getBackendSrv } from '@grafana/runtime';
import { Alert, Button, Field, FieldSet, Input, SecretInput, Switch, useStyles2 } from '@grafana/ui';

import { testDestination } from '../api';
import { PLUGIN_ID } from '../constants';
import {
  AFTER_CHATS,
  type AppSettings,
  CHATS,
  type ChatSection,
  type DestinationSetting,
  GRAFANA_SECTION,
  SECRET_KEYS,
  type SecretKey,
} from '../settings';

export type AppConfigProps = PluginConfigPageProps<AppPluginMeta<AppSettings>>;

type TestResult = { state: 'running' } | { state: 'ok'; text: string } | { state: 'error'; text: string };

export function AppConfig({ plugin }: AppConfigProps) {
  const styles = useStyles2(getStyles);
  const meta = plugin.meta;
  const [settings, setSettings] = useState<AppSettings>(() => ({ ...(meta.jsonData ?? {}) }));
  const [destinations, setDestinations] = useState<DestinationSetting[]>(() => [...(meta.jsonData?.destinations ?? [])]);
  // Per secret: configured (set on the server), or the new value typed here.
  const [configured, setConfigured] = useState<Record<SecretKey, boolean>>(() =>
    Object.fromEntries(SECRET_KEYS.map((k) => [k, Boolean(meta.secureJsonFields?.[k])])) as Record<SecretKey, boolean>
  );
  const [secrets, setSecrets] = useState<Partial<Record<SecretKey, string>>>({});
  const [saving, setSaving] = useState(false);
  const [saved, setSaved] = useState<string | undefined>();
  const [error, setError] = useState<string | undefined>();
  const [tests, setTests] = useState<Record<number, TestResult>>({});

  const setDest = (i: number, patch: Partial<DestinationSetting>) =>
    setDestinations((ds) => ds.map((d, j) => (j === i ? { ...d, ...patch } : d)));

  const save = async (enabled: boolean) => {
    setSaving(true);
    setError(undefined);
    setSaved(undefined);
    // A reset secret is sent as "" (Grafana then drops it); an untouched one
    // is not sent at all, so Grafana keeps what it has.
    const secureJsonData: Record<string, string> = {};
    for (const k of SECRET_KEYS) {
      if (secrets[k] !== undefined) {
        secureJsonData[k] = secrets[k] ?? '';
      }
    }
    const jsonData: AppSettings = {
      ...settings,
      destinations: destinations.map((d) => ({ name: d.name.trim(), to: d.to.trim() })).filter((d) => d.to !== ''),
    };
    try {
      await getBackendSrv().post(
        `/api/plugins/${PLUGIN_ID}/settings`,
        { enabled, pinned: enabled, jsonData, secureJsonData },
        { showErrorAlert: false }
      );
      setConfigured((c) => {
        const next = { ...c };
        for (const k of SECRET_KEYS) {
          if (secrets[k] !== undefined) {
            next[k] = secrets[k] !== '';
          }
        }
        return next;
      });
      setSecrets({});
      setSaved(enabled === Boolean(meta.enabled) ? 'Saved.' : enabled ? 'Enabled and saved: reload the page to see Send to chat… in panel menus.' : 'Disabled.');
    } catch (err) {
      const e = err as { data?: { message?: string }; status?: number };
      setError(e?.data?.message || `Saving failed (HTTP ${e?.status ?? '?'}).`);
    } finally {
      setSaving(false);
    }
  };

  const test = async (i: number, to: string) => {
    setTests((t) => ({ ...t, [i]: { state: 'running' } }));
    try {
      const st = await testDestination(to.trim());
      setTests((t) => ({ ...t, [i]: { state: 'ok', text: `Test message ${st.state} (id ${st.id}).` } }));
    } catch (err) {
      setTests((t) => ({ ...t, [i]: { state: 'error', text: err instanceof Error ? err.message : String(err) } }));
    }
  };

  return (
    <div data-testid="panelcast-config">
      {!meta.enabled && (
        <Alert severity="info" title="The app is disabled">
          Enable it to put Send to chat… into every panel menu.
        </Alert>
      )}

      <FieldSet label="Destinations">
        <p className={styles.help}>
          Named places users pick in Send to chat…: a name people recognise, and an address such as slack:#ops,
          mattermost:town-square, discord:123456789 or telegram:-100123456. Save before testing a new one.
        </p>
        {destinations.map((d, i) => (
          <div key={i} className={styles.row}>
            <Field label="Name" className={styles.grow}>
              <Input aria-label={`Destination ${i + 1} name`} value={d.name} placeholder="Ops on Slack" onChange={(e) => setDest(i, { name: e.currentTarget.value })} />
            </Field>
            <Field label="Address" className={styles.grow}>
              <Input aria-label={`Destination ${i + 1} address`} value={d.to} placeholder="slack:#ops" onChange={(e) => setDest(i, { to: e.currentTarget.value })} />
            </Field>
            <Button variant="secondary" icon="message" disabled={!d.to.trim() || tests[i]?.state === 'running'} onClick={() => test(i, d.to)} className={styles.button}>
              Test
            </Button>
            <Button
              variant="destructive"
              fill="text"
              icon="trash-alt"
              aria-label={`Remove destination ${i + 1}`}
              onClick={() => setDestinations((ds) => ds.filter((_, j) => j !== i))}
              className={styles.button}
            />
            {tests[i] && tests[i].state !== 'running' && (
              <div className={styles.full}>
                <Alert severity={tests[i].state === 'ok' ? 'success' : 'error'} title={tests[i].state === 'ok' ? 'Test queued' : 'Test failed'}>
                  {(tests[i] as { text: string }).text}
                </Alert>
              </div>
            )}
          </div>
        ))}
        <Button variant="secondary" icon="plus" onClick={() => setDestinations((ds) => [...ds, { name: '', to: '' }])}>
          Add destination
        </Button>
        <Field label="Any address" description="Let users type an address that is not a named destination">
          <Switch value={Boolean(settings.free_addresses)} onChange={(e) => setSettings({ ...settings, free_addresses: e.currentTarget.checked })} />
        </Field>
        <Field label="Default addresses" description="Where alerts go when they name none, comma-separated; the first is preselected in Send to chat…">
          <Input value={settings.default_to ?? ''} placeholder="slack:#ops" onChange={(e) => setSettings({ ...settings, default_to: e.currentTarget.value })} />
        </Field>
      </FieldSet>

      {[GRAFANA_SECTION, ...CHATS, ...AFTER_CHATS].map((section: ChatSection) => (
        <FieldSet key={section.provider} label={section.label}>
          {section.secret && (
            <Field label={section.secretLabel}>
              <SecretInput
                aria-label={`${section.label} ${section.secretLabel}`}
                isConfigured={configured[section.secret] && secrets[section.secret] === undefined}
                value={secrets[section.secret] ?? ''}
                placeholder="Not set"
                onChange={(e) => setSecrets({ ...secrets, [section.secret as SecretKey]: e.currentTarget.value })}
                onReset={() => {
                  setSecrets({ ...secrets, [section.secret as SecretKey]: '' });
                }}
              />
            </Field>
          )}
          {section.plain.map((f) => (
            <Field key={f.key} label={f.label}>
              <Input
                aria-label={`${section.label} ${f.label}`}
                value={String(settings[f.key] ?? '')}
                placeholder={f.placeholder}
                onChange={(e) => setSettings({ ...settings, [f.key]: e.currentTarget.value })}
              />
            </Field>
          ))}
        </FieldSet>
      ))}

      {error && (
        <Alert severity="error" title="Not saved">
          {error}
        </Alert>
      )}
      {saved && <Alert severity="success" title={saved} />}

      <div className={styles.actions}>
        <Button onClick={() => save(true)} disabled={saving}>
          {meta.enabled ? 'Save settings' : 'Enable and save'}
        </Button>
        {meta.enabled && (
          <Button variant="destructive" fill="outline" onClick={() => save(false)} disabled={saving}>
            Disable
          </Button>
        )}
      </div>
    </div>
  );
}

const getStyles = (theme: GrafanaTheme2) => ({
  help: css({ color: theme.colors.text.secondary, marginBottom: theme.spacing(2) }),
  row: css({ display: 'flex', gap: theme.spacing(1), alignItems: 'flex-end', flexWrap: 'wrap' }),
  grow: css({ flex: '1 1 220px', marginBottom: theme.spacing(1) }),
  button: css({ marginBottom: theme.spacing(1) }),
  full: css({ flexBasis: '100%' }),
  actions: css({ display: 'flex', gap: theme.spacing(1), marginTop: theme.spacing(2) }),
});
