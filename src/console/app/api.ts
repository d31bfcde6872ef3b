// Calls to Panelcast's API. Paths are relative, so the console also works
// behind a proxy that serves it under a sub-path.

export class ApiError extends Error {
  constructor(message: string, readonly status: number) {
    super(message);
  }
}

let unauthorized: (message: string) => void = () => {};

/** onUnauthorized is called when the API answers 401 (except on api/session). */
export function onUnauthorized(f: (message: string) => void): void {
  unauthorized = f;
}

export const SESSION = "api/session";

/** request sends one call and returns the answer when it is a 2xx; else it throws ApiError with the API's sentence. */
export async function request(method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<Response> {
  const init: RequestInit = {
    method,
    headers: body === undefined ? { Accept: "application/json" } : { Accept: "application/json", "Content-Type": "application/json" },
    credentials: "same-origin",
    cache: "no-store",
  };
  if (body !== undefined) init.body = JSON.stringify(body);
  if (signal) init.signal = signal;
  let res: Response;
  try {
    res = await fetch(path, init);
  } catch (e) {
    if (signal?.aborted) throw e;
    throw new ApiError(`Panelcast did not answer (${errorMessage(e)}): check that it is running and reachable.`, 0);
  }
  if (res.ok) return res;
  const message = await errorText(res);
  if (res.status === 401 && path !== SESSION) unauthorized(message);
  throw new ApiError(message, res.status);
}

/** getJSON fetches and decodes a JSON answer. */
export async function getJSON<T>(path: string, signal?: AbortSignal): Promise<T> {
  return decode<T>(await request("GET", path, undefined, signal));
}

/** sendJSON sends body and decodes the JSON answer. */
export async function sendJSON<T>(method: string, path: string, body?: unknown): Promise<T> {
  return decode<T>(await request(method, path, body));
}

async function decode<T>(res: Response): Promise<T> {
  try {
    return (await res.json()) as T;
  } catch {
    throw new ApiError(`${res.url} did not answer with JSON: is a proxy in the way?`, res.status);
  }
}

// errorText is the API's {"error": "..."} sentence, or the first part of
// a plain-text answer, or the status line.
async function errorText(res: Response): Promise<string> {
  let text = "";
  try {
    text = await res.text();
  } catch {
    // The status line below is all there is.
  }
  try {
    const j: unknown = JSON.parse(text);
    if (j && typeof j === "object" && typeof (j as { error?: unknown }).error === "string") {
      const msg = (j as { error: string }).error.trim();
      if (msg) return msg;
    }
  } catch {
    // Not JSON: use the text.
  }
  text = text.trim();
  if (text && !text.startsWith("<")) return text.length > 500 ? text.slice(0, 500) + "…" : text;
  return `The server answered ${res.status} ${res.statusText}`.trim() + ".";
}

export function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

export function isUnauthorized(e: unknown): boolean {
  return e instanceof ApiError && e.status === 401;
}
