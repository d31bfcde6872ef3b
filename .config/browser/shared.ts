// What Grafana provides a plugin's module.js, registered for SystemJS as
// "app:<name>" (the page's import map points the bare names there), with
// the given @grafana/runtime. Both host pages use it.

import React from 'react';
import * as ReactDOM from 'react-dom';
import * as emotionCss from '@emotion/css';

// Grafana's CommonJS builds, taken whole (the page exposes every export, as
// Grafana does): bundled whole, the ES builds' lazy module init runs out of
// order. require() makes esbuild pick the "require" condition.
declare const require: (id: string) => Record<string, unknown>;
/* eslint-disable @typescript-eslint/no-require-imports */
export const grafanaData = require('@grafana/data') as typeof import('@grafana/data');
export const grafanaUi = require('@grafana/ui') as typeof import('@grafana/ui');

declare const System: {
  set: (id: string, mod: object) => void;
  import: (id: string) => Promise<Record<string, unknown>>;
};

export function registerShared(runtime: object) {
  const shared: Record<string, object> = {
    react: React,
    'react-dom': ReactDOM,
    '@emotion/css': emotionCss,
    '@grafana/data': grafanaData,
    '@grafana/ui': grafanaUi,
    '@grafana/runtime': runtime,
  };
  for (const [name, mod] of Object.entries(shared)) {
    System.set(`app:${name}`, { ...mod, default: mod, __useDefault: true });
  }
}

export function importModule(url: string) {
  return System.import(url);
}
