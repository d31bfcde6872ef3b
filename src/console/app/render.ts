// The render form (POST api/render shows the picture) and "send to"
// (POST push, then GET push/{id} until it is sent or failed).

import { ApiError, errorMessage, getJSON, isUnauthorized, request, sendJSON } from "./api";
import { badge, busy, byId, h, kb, num, permalink, safeHref, setText, str } from "./dom";
import type { Health, Panel, PushStatus } from "./types";

const FORM_KEY = "panelcast.render";
const TO_KEY = "panelcast.sendTo";
const FIELDS = ["url", "dashboardUid", "panelId", "from", "to", "width", "height", "theme", "timezone"] as const;

function load(key: string): unknown {
  try {
    return JSON.parse(localStorage.getItem(key) ?? "null");
  } catch {
    return null;
  }
}

function save(key: string, v: unknown): void {
  try {
    localStorage.setItem(key, JSON.stringify(v));
  } catch {
    // Not remembered; the form still works.
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export function createRender(onPushDone: (address: string) => void) {
  const form = byId<HTMLFormElement>("render-form");
  const sendForm = byId<HTMLFormElement>("send-form");
  const byURL = byId<HTMLFieldSetElement>("by-url");
  const byUID = byId<HTMLFieldSetElement>("by-uid");
  const status = byId("render-status");
  const error = byId("render-error");
  const frame = byId("preview-frame");
  const img = byId<HTMLImageElement>("preview-img");
  const empty = byId("preview-empty");
  const caption = byId("preview-caption");
  const sendStatus = byId("send-status");
  const sendError = byId("send-error");
  const pushes = byId<HTMLOListElement>("pushes");
  const to = byId<HTMLInputElement>("s-to");
  const text = byId<HTMLTextAreaElement>("s-text");

  const input = (name: string) => form.elements.namedItem(name) as HTMLInputElement | HTMLSelectElement;
  const mode = () => (form.elements.namedItem("mode") as RadioNodeList).value as "url" | "uid";
  let objectURL = "";
  let rendering: AbortController | undefined;

  function showMode(): void {
    const url = mode() === "url";
    byURL.hidden = byURL.disabled = !url;
    byUID.hidden = byUID.disabled = url;
  }

  function values(): Record<string, string> {
    const v: Record<string, string> = { mode: mode() };
    for (const f of FIELDS) v[f] = input(f).value.trim();
    return v;
  }

  function fill(v: Record<string, unknown>): void {
    for (const f of FIELDS) if (typeof v[f] === "string" || typeof v[f] === "number") input(f).value = String(v[f]);
    const m = v["mode"] === "url" || (v["url"] && !v["dashboardUid"]) ? "url" : "uid";
    (form.querySelector<HTMLInputElement>(`input[name=mode][value=${m}]`)!).checked = true;
    showMode();
  }

  /** panel reads the form into the API's panel object, or shows what to fix and returns null. */
  function panel(): Panel | null {
    if (!form.reportValidity()) return null;
    const v = values();
    const p: Panel = {};
    if (v["mode"] === "url") p.url = v["url"]!;
    else {
      p.dashboardUid = v["dashboardUid"]!;
      p.panelId = Number(v["panelId"]);
      if (v["from"]) p.from = v["from"];
      if (v["to"]) p.to = v["to"];
    }
    if (v["width"]) p.width = Number(v["width"]);
    if (v["height"]) p.height = Number(v["height"]);
    if (v["theme"]) p.theme = v["theme"];
    if (v["timezone"]) p.timezone = v["timezone"];
    save(FORM_KEY, v);
    return p;
  }

  function describe(p: Panel): string {
    return p.url ? `the panel at ${p.url}` : `panel ${p.panelId} of dashboard ${p.dashboardUid}`;
  }

  async function render(p: Panel): Promise<void> {
    rendering?.abort();
    const ctl = (rendering = new AbortController());
    setText(error, "");
    setText(status, "Rendering…");
    frame.setAttribute("aria-busy", "true");
    const t0 = performance.now();
    try {
      const res = await request("POST", "api/render", { panel: p }, ctl.signal);
      const blob = await res.blob();
      if (!blob.type.startsWith("image/")) throw new ApiError(`api/render answered ${blob.type || "no content type"}, not a picture.`, res.status);
      const total = Math.round(performance.now() - t0);
      const server = num(Number(res.headers.get("X-Render-Duration-Ms") ?? NaN));
      if (objectURL) URL.revokeObjectURL(objectURL);
      objectURL = URL.createObjectURL(blob);
      await new Promise<void>((resolve) => {
        img.onload = img.onerror = () => resolve();
        img.src = objectURL;
      });
      img.alt = `Rendered picture of ${describe(p)}`;
      img.hidden = false;
      empty.hidden = true;
      const took = server !== undefined ? `rendered in ${server} ms (${total} ms with the network)` : `took ${total} ms`;
      caption.replaceChildren(
        `${img.naturalWidth}×${img.naturalHeight} px, ${kb(blob.size)}, ${took} · `,
        h("a", { href: objectURL, download: "panel.png" }, "Download"),
      );
      setText(status, `Rendered in ${server ?? total} ms.`);
    } catch (e) {
      if (ctl.signal.aborted) return;
      setText(status, "");
      if (!isUnauthorized(e)) setText(error, `Render failed: ${errorMessage(e)}`);
    } finally {
      if (rendering === ctl) frame.removeAttribute("aria-busy");
    }
  }

  // pushItem shows one push's state in the list under the form.
  function pushItem(address: string): { li: HTMLLIElement; show: (st: PushStatus) => void } {
    const state = h("span", null, badge("queued"));
    const info = h("span", { class: "muted small" });
    const link = h("span");
    const reason = h("span", { class: "reason small" });
    const li = h("li", null, state, h("strong", null, address), info, link, reason);
    function show(st: PushStatus): void {
      const s = str(st.state);
      state.replaceChildren(badge(s));
      const n = num(st.attempts);
      setText(info, n ? `${n} attempt${n === 1 ? "" : "s"}` : "");
      const href = safeHref(st.permalink);
      link.replaceChildren(href ? permalink(href) : str(st.permalink));
      reason.className = s === "failed" ? "reason small error" : "reason small muted";
      setText(reason, str(st.error) && (s === "failed" ? str(st.error) : `last attempt: ${str(st.error)}`));
    }
    return { li, show };
  }

  async function follow(id: string, address: string, show: (st: PushStatus) => void): Promise<void> {
    let last = "queued";
    let delay = 400;
    const until = Date.now() + 30 * 60_000;
    while (Date.now() < until) {
      await sleep(delay);
      delay = Math.min(delay * 1.5, 5000);
      let st: PushStatus;
      try {
        st = await getJSON<PushStatus>(`push/${encodeURIComponent(id)}`);
      } catch (e) {
        if (isUnauthorized(e) || (e instanceof ApiError && e.status === 404)) {
          show({ state: last, error: errorMessage(e) });
          return;
        }
        continue; // a blip: ask again later
      }
      show(st);
      const s = str(st.state);
      if (s !== last) {
        last = s;
        setText(sendStatus, `Push to ${address}: ${s}${s === "failed" && st.error ? ` (${st.error})` : ""}.`);
      }
      if (s === "sent" || s === "failed") {
        onPushDone(address);
        return;
      }
    }
    setText(sendStatus, `Push to ${address} is still ${last}: the outbox below keeps showing it.`);
  }

  async function send(): Promise<void> {
    const p = panel();
    if (!p || !sendForm.reportValidity()) return;
    const address = to.value.trim();
    save(TO_KEY, address);
    setText(sendError, "");
    const body: Record<string, unknown> = { panel: p, to: address };
    if (text.value.trim()) body["text"] = text.value;
    let id = "";
    try {
      const st = await sendJSON<PushStatus>("POST", "push", body);
      id = str(st.id);
      if (!id) throw new Error("the push was taken but no id came back, so its state cannot be followed: see the outbox");
      const { li, show } = pushItem(address);
      show(st);
      pushes.prepend(li);
      while (pushes.children.length > 10) pushes.lastElementChild!.remove();
      setText(sendStatus, `Push to ${address}: ${str(st.state) || "queued"}.`);
      void follow(id, address, show);
    } catch (e) {
      setText(sendStatus, "");
      if (!isUnauthorized(e)) setText(sendError, `Push failed: ${errorMessage(e)}`);
    }
  }

  form.addEventListener("change", (e) => {
    if ((e.target as HTMLInputElement).name === "mode") showMode();
  });
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const p = panel();
    if (p) void busy(form, () => render(p));
  });
  sendForm.addEventListener("submit", (e) => {
    e.preventDefault();
    void busy(sendForm, send);
  });

  const zones = byId("zones");
  const mine = Intl.DateTimeFormat().resolvedOptions().timeZone;
  zones.replaceChildren(...[...new Set([mine, "UTC", "Europe/London", "Europe/Berlin", "America/New_York", "America/Los_Angeles", "Asia/Tokyo", "Asia/Seoul"])].filter(Boolean).map((z) => h("option", { value: z })));

  const saved = load(FORM_KEY);
  let touched = saved !== null && typeof saved === "object";
  if (touched) fill(saved as Record<string, unknown>);
  else showMode();
  const savedTo = load(TO_KEY);
  if (typeof savedTo === "string") to.value = savedTo;
  form.addEventListener("input", () => (touched = true), { once: true });

  return {
    /** health fills the form with the server's demo panel unless the person has their own. */
    health(hl: Health): void {
      if (touched || !hl.demoPanel || typeof hl.demoPanel !== "object") return;
      fill(hl.demoPanel as Record<string, unknown>);
      touched = true;
    },
  };
}
