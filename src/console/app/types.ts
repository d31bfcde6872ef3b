// The API's answers as the console reads them. Every field is optional:
// the back end may leave any out, and the page renders what is there.

export interface Session {
  authenticated?: boolean;
  required?: boolean;
}

export interface Health {
  ok?: boolean;
  message?: string;
  version?: string;
  browserVersion?: string;
  chromiumPath?: string;
  tlsMode?: string;
  sandbox?: { enabled?: boolean; reason?: string };
  // missing: fontconfig languages without a font; install: Debian packages that add them.
  fonts?: { latin?: boolean; cjk?: boolean; missing?: string[]; install?: string[]; message?: string };
  inFlight?: number;
  queued?: number;
  renders?: number;
  browserRestarts?: number;
  outbox?: {
    store?: string;
    path?: string;
    queued?: number;
    sending?: number;
    oldestPendingSeconds?: number;
    error?: string;
  };
  chat?: { provider?: string; ok?: boolean; error?: string }[];
  alerts?: { received?: number; delivered?: number; failed?: number };
  // A panel the form may start with, e.g. the built-in demo dashboard's.
  demoPanel?: Panel;
}

// Panel is the "panel" object of POST /api/render and POST /push.
export interface Panel {
  url?: string;
  dashboardUid?: string;
  panelId?: number;
  from?: string;
  to?: string;
  width?: number;
  height?: number;
  theme?: string;
  timezone?: string;
}

export type PushState = "queued" | "sending" | "sent" | "failed";

export interface PushStatus {
  id?: string;
  state?: string;
  attempts?: number;
  error?: string;
  permalink?: string;
}

export interface Job {
  id?: string;
  kind?: string;
  address?: string;
  text?: string;
  state?: string;
  attempts?: number;
  error?: string;
  permalink?: string;
  createdAt?: string;
  sentAt?: string;
}

export interface Message {
  id?: string;
  channel?: string;
  text?: string;
  createdAt?: string;
  images?: string[];
}
