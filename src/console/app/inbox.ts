// The inbox: messages sent to inbox:<channel>, with their pictures.

import { errorMessage, getJSON, isUnauthorized } from "./api";
import { byId, clockNow, h, linkify, replaceKeepingFocus, sameOriginPath, setText, str, timeEl } from "./dom";
import type { Message } from "./types";

export function createInbox() {
  const list = byId("inbox-list");
  const error = byId("inbox-error");
  const when = byId("inbox-when");
  const filter = byId<HTMLFormElement>("inbox-filter");
  const channelInput = byId<HTMLInputElement>("inbox-channel");
  let shown = "";

  function card(m: Message): HTMLLIElement {
    const channel = str(m.channel);
    const name = channel ? `#${channel.replace(/^#/, "")}` : "inbox";
    const pics = (Array.isArray(m.images) ? m.images : []).map(sameOriginPath).filter((p): p is string => p !== null);
    // A permalink (#inbox/<id>) scrolls to its message.
    return h(
      "li",
      { class: "message", id: str(m.id) ? `inbox/${str(m.id)}` : undefined },
      h("header", null, h("span", { class: "channel" }, name), h("span", { class: "muted small" }, timeEl(m.createdAt))),
      str(m.text) ? h("p", { class: "text" }, ...linkify(str(m.text))) : null,
      ...pics.map((src, i) =>
        h(
          "a",
          { href: src, target: "_blank", rel: "noopener", "data-key": `${str(m.id)}-${i}` },
          h("img", { src, alt: `Picture ${i + 1} of ${pics.length} in the message to ${name}`, loading: "lazy", decoding: "async" }),
        ),
      ),
    );
  }

  async function refresh(): Promise<void> {
    const channel = channelInput.value.trim().replace(/^#/, "");
    const q = new URLSearchParams({ limit: "50" });
    if (channel) q.set("channel", channel);
    try {
      const ans = await getJSON<{ messages?: Message[] }>(`api/inbox?${q}`);
      const msgs = Array.isArray(ans?.messages) ? ans.messages.filter((m) => m && typeof m === "object") : [];
      setText(error, "");
      setText(when, `updated ${clockNow()}`);
      const sig = channel + JSON.stringify(msgs);
      if (sig === shown) return;
      shown = sig;
      replaceKeepingFocus(
        list,
        msgs.length
          ? msgs.map(card)
          : [h("li", { class: "empty" }, channel ? `No messages in #${channel} yet: push one to inbox:${channel}.` : "No messages yet: push a panel to inbox:demo above.")],
      );
    } catch (e) {
      if (!isUnauthorized(e)) setText(error, `Could not load the inbox: ${errorMessage(e)}`);
      throw e;
    }
  }
  return { refresh, filter };
}
