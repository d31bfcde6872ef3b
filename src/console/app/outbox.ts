// The outbox: recent pushes and alert messages, with a Retry button for
// the failed ones.

import { errorMessage, getJSON, isUnauthorized, sendJSON } from "./api";
import { badge, byId, clockNow, h, num, permalink, replaceKeepingFocus, safeHref, setText, str, timeEl } from "./dom";
import type { Job, PushStatus } from "./types";

export function createOutbox() {
  const rows = byId("outbox-rows");
  const status = byId("outbox-status");
  const error = byId("outbox-error");
  const when = byId("outbox-when");
  let shown = "";

  function cell(label: string, cls: string, ...children: (Node | string)[]): HTMLTableCellElement {
    return h("td", { "data-label": label, class: cls || undefined }, ...children);
  }

  function row(j: Job): HTMLTableRowElement {
    const id = str(j.id);
    const state = str(j.state);
    const address = str(j.address);
    const href = safeHref(j.permalink);
    const result: (Node | string)[] = [];
    if (href) result.push(permalink(href));
    else if (str(j.permalink)) result.push(str(j.permalink));
    if (str(j.error)) result.push(h("div", { class: state === "failed" ? "error" : "muted" }, str(j.error)));
    if (!result.length && state === "sent" && j.sentAt) result.push(h("span", { class: "muted" }, "sent ", timeEl(j.sentAt)));
    const act = cell("", "act");
    if (state === "failed" && id) {
      const b = h("button", { type: "button", class: "btn secondary small", "data-key": `retry-${id}`, "aria-label": `Retry the ${str(j.kind) || "job"} to ${address}` }, "Retry");
      b.addEventListener("click", () => void retry(b, id, address));
      act.append(b);
    }
    const t = str(j.text);
    return h(
      "tr",
      null,
      cell("Created", "created nowrap", timeEl(j.createdAt)),
      cell("Kind", "kind nowrap", str(j.kind)),
      cell("To", "to", address),
      cell("Text", "text", ...(t ? [h("span", { class: "clip", title: t }, t)] : [])),
      cell("State", "state nowrap", badge(state)),
      cell("Attempts", "num nowrap", String(num(j.attempts) ?? "")),
      cell("Result", "result", ...result),
      act,
    );
  }

  async function retry(b: HTMLButtonElement, id: string, address: string): Promise<void> {
    b.disabled = true;
    setText(error, "");
    try {
      const st = await sendJSON<PushStatus>("POST", `api/outbox/${encodeURIComponent(id)}/retry`);
      setText(status, `Retrying the message to ${address}: ${str(st.state) || "queued"}.`);
    } catch (e) {
      b.disabled = false;
      if (!isUnauthorized(e)) setText(error, `Retry failed: ${errorMessage(e)}`);
      return;
    }
    await refresh();
  }

  async function refresh(): Promise<void> {
    try {
      const ans = await getJSON<{ jobs?: Job[] }>("api/outbox?limit=50");
      const jobs = Array.isArray(ans?.jobs) ? ans.jobs.filter((j) => j && typeof j === "object") : [];
      setText(error, "");
      setText(when, `updated ${clockNow()}`);
      // Unchanged answers leave the table alone, so nothing flickers.
      const sig = JSON.stringify(jobs);
      if (sig === shown) return;
      shown = sig;
      replaceKeepingFocus(
        rows,
        jobs.length ? jobs.map(row) : [h("tr", { class: "none" }, h("td", { colspan: 8, class: "empty" }, "No pushes or alert messages yet."))],
      );
    } catch (e) {
      if (!isUnauthorized(e)) setText(error, `Could not load the outbox: ${errorMessage(e)}`);
      throw e;
    }
  }
  return { refresh };
}
