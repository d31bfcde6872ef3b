// The health panel: GET api/health shown as Grafana-like stat tiles.

import { getJSON, errorMessage, isUnauthorized } from "./api";
import { age, byId, clockNow, h, num, setText, str, type Child } from "./dom";
import type { Health } from "./types";

type Tone = "ok" | "warn" | "err" | "";

function tile(title: string, value: Child, tone: Tone, ...details: Child[]): HTMLElement {
  const big = typeof value === "string" && value.length > 10 ? "value text" : "value";
  return h(
    "div",
    { class: "tile" },
    h("h3", null, title),
    h("div", { class: tone ? `${big} is-${tone}` : big }, value),
    ...details.filter((d) => d !== "" && d != null && d !== false).map((d) => h("div", { class: "detail" }, d)),
  );
}

// check is a line "✓ Latin" with the word as well as the mark, so colour is
// not the only cue.
function check(name: string, ok: boolean | undefined, okWord: string, badWord: string, detail?: string): HTMLElement {
  if (ok === undefined) return h("li", null, `${name}: not reported`);
  return h(
    "li",
    { class: ok ? "is-ok" : "is-err" },
    h("span", { "aria-hidden": "true" }, ok ? "✓ " : "✗ "),
    `${name}: ${ok ? okWord : badWord}`,
    detail ? h("div", { class: "detail" }, detail) : null,
  );
}

function count(n: number | undefined): string {
  return n === undefined ? "—" : n.toLocaleString();
}

export function tiles(hl: Health): HTMLElement[] {
  const out: HTMLElement[] = [];
  const ok = hl.ok;
  out.push(tile("Status", ok === undefined ? "—" : ok ? "OK" : "Problem", ok === undefined ? "" : ok ? "ok" : "err", str(hl.version) && `Panelcast ${str(hl.version)}`, str(hl.tlsMode) && `TLS mode: ${str(hl.tlsMode)}`));

  // "HeadlessChrome/141.0.7390.54": the number is the news.
  const browser = str(hl.browserVersion);
  const [, product, version] = /^(.*)\/([\d.]+)$/.exec(browser) ?? [];
  out.push(tile("Chromium", version ?? (browser || (str(hl.chromiumPath) ? "—" : "Not found")), browser ? "" : "err", product ?? "", str(hl.chromiumPath)));

  if (hl.sandbox && typeof hl.sandbox === "object") {
    const on = hl.sandbox.enabled;
    out.push(tile("Sandbox", on === undefined ? "—" : on ? "On" : "Off", on === undefined ? "" : on ? "ok" : "warn", str(hl.sandbox.reason)));
  }

  if (hl.fonts && typeof hl.fonts === "object") {
    const f = hl.fonts;
    const install = Array.isArray(f.install) ? f.install.filter((p): p is string => typeof p === "string" && /^[a-z0-9][a-z0-9.+-]*$/.test(p)) : [];
    out.push(
      tile(
        "Fonts",
        h("ul", null, check("Latin", f.latin, "found", "missing"), check("CJK", f.cjk, "found", "missing")),
        "",
        install.length ? h("span", null, "Install: ", h("code", null, `apt-get install ${install.join(" ")}`)) : "",
        str(f.message),
      ),
    );
  }

  if (Array.isArray(hl.chat)) {
    const items = hl.chat.filter((c) => c && typeof c === "object").map((c) => check(str(c.provider) || "chat", c.ok, "token works", "failing", str(c.error)));
    out.push(tile("Chat", items.length ? h("ul", null, ...items) : "None set up", "", items.length ? "" : "Only inbox: addresses can be used."));
  }

  if (hl.outbox && typeof hl.outbox === "object") {
    const o = hl.outbox;
    const queued = num(o.queued) ?? 0;
    const sending = num(o.sending) ?? 0;
    const oldest = num(o.oldestPendingSeconds);
    const err = str(o.error);
    const where = [str(o.store), str(o.path)].filter(Boolean).join(": ");
    out.push(
      tile(
        "Outbox",
        err ? "Error" : `${queued + sending} waiting`,
        err ? "err" : oldest !== undefined && oldest > 300 ? "warn" : "",
        err,
        `${queued} queued, ${sending} sending`,
        oldest !== undefined && queued + sending > 0 ? `oldest waits ${age(oldest)}` : "",
        where,
      ),
    );
  }

  const renders = num(hl.renders);
  const restarts = num(hl.browserRestarts);
  if (renders !== undefined || num(hl.inFlight) !== undefined) {
    out.push(tile("Renders", count(renders), "", `${count(num(hl.inFlight))} in flight, ${count(num(hl.queued))} queued`, restarts !== undefined ? `${count(restarts)} browser restarts` : ""));
  }

  if (hl.alerts && typeof hl.alerts === "object") {
    const a = hl.alerts;
    const failed = num(a.failed) ?? 0;
    out.push(tile("Alerts", count(num(a.received)), "", `${count(num(a.delivered))} delivered`, h("span", { class: failed ? "is-err" : "" }, `${count(num(a.failed))} failed`)));
  }
  return out;
}

export function createHealth(onHealth: (h: Health) => void) {
  const box = byId("health-tiles");
  const message = byId("health-message");
  const error = byId("health-error");
  const when = byId("health-when");
  const version = byId("version");
  const status = byId("health-status");

  // refresh checks health; manual checks are announced, periodic ones not.
  async function refresh(manual = false): Promise<void> {
    box.setAttribute("aria-busy", "true");
    try {
      const hl = await getJSON<Health>("api/health");
      if (!hl || typeof hl !== "object") throw new Error("api/health did not answer with an object");
      box.replaceChildren(...tiles(hl));
      setText(message, str(hl.message));
      setText(error, "");
      setText(when, `checked ${clockNow()}`);
      setText(version, str(hl.version) && `Panelcast ${str(hl.version)}`);
      if (manual) setText(status, hl.ok === false ? "Health checked: there is a problem." : "Health checked.");
      onHealth(hl);
    } catch (e) {
      if (!isUnauthorized(e)) setText(error, `Health check failed: ${errorMessage(e)}`);
      throw e;
    } finally {
      box.setAttribute("aria-busy", "false");
    }
  }
  return { refresh };
}
