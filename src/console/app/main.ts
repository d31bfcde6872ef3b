// Panelcast's console: health, render and send, outbox, inbox.

import { onUnauthorized } from "./api";
import { createAuth } from "./auth";
import { byId } from "./dom";
import { createHealth } from "./health";
import { createInbox } from "./inbox";
import { createOutbox } from "./outbox";
import { Poller } from "./poll";
import { createRender } from "./render";
import { initTheme } from "./theme";

initTheme(byId<HTMLButtonElement>("theme"));

const render = createRender(() => {
  void outboxPoll.now();
  void inboxPoll.now();
});
const health = createHealth((hl) => render.health(hl));
const outbox = createOutbox();
const inbox = createInbox();

// Health runs a probe render and asks every chat, so it is polled gently.
const healthPoll = new Poller(() => health.refresh(), 30_000);
const outboxPoll = new Poller(() => outbox.refresh(), 5_000);
const inboxPoll = new Poller(() => inbox.refresh(), 10_000);
const polls = [healthPoll, outboxPoll, inboxPoll];

byId("health-refresh").addEventListener("click", () => void health.refresh(true).catch(() => {}));
byId("outbox-refresh").addEventListener("click", () => void outboxPoll.now());
byId("inbox-refresh").addEventListener("click", () => void inboxPoll.now());
inbox.filter.addEventListener("submit", (e) => {
  e.preventDefault();
  void inboxPoll.now();
});

const auth = createAuth({
  signedIn: () => polls.forEach((p) => p.start()),
  signedOut: () => polls.forEach((p) => p.stop()),
});
onUnauthorized(auth.expired);
void auth.start();
