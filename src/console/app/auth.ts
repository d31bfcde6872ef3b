// Sign-in: when the API wants a token, a form POSTs it to api/session,
// which answers with a session cookie; the page never keeps the token.

import { SESSION, errorMessage, getJSON, request, ApiError } from "./api";
import { busy, byId, setText } from "./dom";
import type { Session } from "./types";

export interface AuthHooks {
  signedIn: () => void;
  signedOut: () => void;
}

export function createAuth(hooks: AuthHooks) {
  const login = byId("login");
  const app = byId("app");
  const boot = byId("boot");
  const form = byId<HTMLFormElement>("login-form");
  const token = byId<HTMLInputElement>("login-token");
  const error = byId("login-error");
  const logout = byId<HTMLButtonElement>("logout");
  const nav = byId("nav");

  function showApp(s: Session): void {
    boot.hidden = true;
    login.hidden = true;
    app.hidden = false;
    nav.hidden = false;
    logout.hidden = !(s.required && s.authenticated);
    hooks.signedIn();
  }

  function showLogin(message: string): void {
    hooks.signedOut();
    boot.hidden = true;
    app.hidden = true;
    nav.hidden = true;
    logout.hidden = true;
    login.hidden = false;
    setText(error, message);
    token.focus();
  }

  async function session(): Promise<Session> {
    try {
      const s = await getJSON<Session>(SESSION);
      return s && typeof s === "object" ? s : {};
    } catch (e) {
      // A server without sessions is open, or answers 401 on the API.
      if (e instanceof ApiError && e.status === 404) return { required: false };
      if (e instanceof ApiError && e.status === 401) return { required: true, authenticated: false };
      throw e;
    }
  }

  async function start(): Promise<void> {
    try {
      const s = await session();
      if (s.required && !s.authenticated) showLogin("");
      else showApp(s);
    } catch (e) {
      setText(boot, `Could not reach Panelcast: ${errorMessage(e)}`);
      boot.classList.add("error");
    }
  }

  form.addEventListener("submit", (e) => {
    e.preventDefault();
    if (!form.reportValidity()) return;
    void busy(form, async () => {
      setText(error, "");
      try {
        await request("POST", SESSION, { token: token.value });
      } catch (err) {
        setText(error, errorMessage(err));
        token.select();
        return;
      }
      token.value = "";
      showApp({ required: true, authenticated: true });
      byId("main").focus();
    });
  });

  logout.addEventListener("click", () => {
    void (async () => {
      try {
        await request("DELETE", SESSION);
      } catch (e) {
        setText(error, errorMessage(e));
      }
      showLogin("You are signed out.");
    })();
  });

  return { start, expired: (message: string) => showLogin(`Sign in again: ${message}`) };
}
