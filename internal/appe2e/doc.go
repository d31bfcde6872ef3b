// Package appe2e holds the app plugin's end-to-end browser test: the built
// dist/module.js in the system Chromium, loaded through SystemJS's AMD
// extra as Grafana loads it (with React 18 and with React 19), whose
// "Send to chat…" modal talks to Panelcast's real app backend (started
// through internal/pluginhost as Grafana starts it), previews a panel
// rendered by the Grafana stand-in (internal/grafanatest) and sends it to
// the Slack fake (internal/fakechat/slackfake).
//
// The pages are built by npm run test:browser (.config/browser/run.mjs),
// which then runs this package's test with PANELCAST_E2E_PAGES set; see
// e2e_test.go. The package has no code besides its test.
package appe2e
