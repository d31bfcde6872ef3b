// DOM helpers. Text from the API (messages, errors, addresses) only ever
// becomes text nodes or checked attributes, never markup.

export type Child = Node | string | number | null | undefined | false;
type Attrs = Record<string, string | number | boolean | undefined>;

/** h makes an element; string children become text nodes. */
export function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs?: Attrs | null, ...children: Child[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  if (attrs) {
    for (const [k, v] of Object.entries(attrs)) {
      if (v === undefined || v === false) continue;
      el.setAttribute(k, v === true ? "" : String(v));
    }
  }
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    el.append(typeof c === "number" ? String(c) : c);
  }
  return el;
}

export function byId<T extends HTMLElement = HTMLElement>(id: string): T {
  const el = document.getElementById(id);
  if (!el) throw new Error(`the page has no #${id}`);
  return el as T;
}

/** setText sets an element's text; empty text hides status lines (CSS :empty). */
export function setText(el: HTMLElement, text: string): void {
  el.textContent = text;
}

/** safeHref returns a link target only for http(s) URLs, so a permalink cannot run script. */
export function safeHref(s: unknown): string | null {
  if (typeof s !== "string" || s === "") return null;
  try {
    const u = new URL(s, document.baseURI);
    return u.protocol === "https:" || u.protocol === "http:" ? u.href : null;
  } catch {
    return null;
  }
}

/** permalink links a posted message: in a chat (new tab), or here (an inbox message). */
export function permalink(href: string): HTMLAnchorElement {
  if (new URL(href).origin === location.origin) return h("a", { href }, "Show in inbox");
  return h("a", { href, target: "_blank", rel: "noopener noreferrer" }, "Open in chat");
}

/** linkify turns the http(s) URLs in a text into links, the rest into text nodes. */
export function linkify(text: string): (string | Node)[] {
  const out: (string | Node)[] = [];
  let last = 0;
  for (const m of text.matchAll(/https?:\/\/[^\s<>"']+[^\s<>"'.,;:!?)\]]/g)) {
    const href = safeHref(m[0]);
    if (!href) continue;
    out.push(text.slice(last, m.index), h("a", { href, target: "_blank", rel: "noopener noreferrer" }, m[0]));
    last = m.index + m[0].length;
  }
  out.push(text.slice(last));
  return out;
}

/** sameOriginPath returns s when it resolves to this origin (pictures come from our API only). */
export function sameOriginPath(s: unknown): string | null {
  const href = safeHref(s);
  return href && new URL(href).origin === location.origin ? href : null;
}

/**
 * replaceKeepingFocus swaps a container's children and puts the focus back
 * on the element with the same data-key, so a refresh does not throw a
 * keyboard user out of a list.
 */
export function replaceKeepingFocus(container: HTMLElement, nodes: Node[]): void {
  const active = document.activeElement;
  const key = active instanceof HTMLElement && container.contains(active) ? active.dataset["key"] : undefined;
  container.replaceChildren(...nodes);
  if (key === undefined) return;
  for (const el of container.querySelectorAll<HTMLElement>("[data-key]")) {
    if (el.dataset["key"] === key) {
      el.focus();
      return;
    }
  }
}

/** busy marks a form as working: its submit buttons are disabled meanwhile. */
export async function busy<T>(form: HTMLFormElement, work: () => Promise<T>): Promise<T> {
  const buttons = [...form.querySelectorAll<HTMLButtonElement>("button[type=submit]")];
  buttons.forEach((b) => (b.disabled = true));
  form.setAttribute("aria-busy", "true");
  try {
    return await work();
  } finally {
    buttons.forEach((b) => (b.disabled = false));
    form.removeAttribute("aria-busy");
  }
}

export function num(v: unknown): number | undefined {
  return typeof v === "number" && Number.isFinite(v) ? v : undefined;
}

export function str(v: unknown): string {
  return typeof v === "string" ? v : "";
}

const clock = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit", second: "2-digit" });
const dated = new Intl.DateTimeFormat(undefined, { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" });

/** timeEl shows an API timestamp: the time today, else the date and time. */
export function timeEl(iso: unknown): HTMLElement {
  const d = typeof iso === "string" ? new Date(iso) : null;
  if (!d || Number.isNaN(d.getTime())) return h("span", { class: "muted" }, "—");
  const today = d.toDateString() === new Date().toDateString();
  return h("time", { datetime: d.toISOString(), title: d.toLocaleString() }, (today ? clock : dated).format(d));
}

export function clockNow(): string {
  return clock.format(new Date());
}

/** age says how long seconds are, roughly: "45 s", "3 min", "2 h 5 min". */
export function age(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min`;
  const hrs = Math.floor(m / 60);
  if (hrs < 48) return m % 60 ? `${hrs} h ${m % 60} min` : `${hrs} h`;
  return `${Math.floor(hrs / 24)} days`;
}

export function kb(bytes: number): string {
  return bytes < 1024 ? `${bytes} B` : `${(bytes / 1024).toFixed(bytes < 10240 ? 1 : 0)} KB`;
}

export function badge(state: string): HTMLElement {
  const known = ["queued", "sending", "sent", "failed"].includes(state);
  return h("span", { class: known ? `badge ${state}` : "badge" }, state || "unknown");
}
