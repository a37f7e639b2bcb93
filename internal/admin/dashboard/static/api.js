// api.js: the admin API (/api/v1, docs/admin-api.yaml) with the bearer
// token, which lives in sessionStorage: it is gone when the tab closes.

const KEY = "mote-admin-token";

export const token = {
  get: () => sessionStorage.getItem(KEY) ?? "",
  set: (t) => sessionStorage.setItem(KEY, t),
  clear: () => sessionStorage.removeItem(KEY),
};

// ApiError is a failed request: status is the HTTP status (0 when the
// server could not be reached), code the API's error code.
export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

let unauthorized = () => {};

// onUnauthorized sets what happens when the server refuses the token
// (401): the page goes back to the login form.
export function onUnauthorized(fn) {
  unauthorized = fn;
}

// request sends a request with the token (or with tok, for the login
// check) and returns the JSON body (null for 204). It throws an ApiError.
export async function request(method, path, { tok, timeout = 10_000 } = {}) {
  const ctl = new AbortController();
  const timer = setTimeout(() => ctl.abort(), timeout);
  let resp;
  try {
    resp = await fetch(path, {
      method,
      headers: { Authorization: `Bearer ${tok ?? token.get()}`, Accept: "application/json" },
      cache: "no-store",
      credentials: "omit",
      signal: ctl.signal,
    });
  } catch (err) {
    throw new ApiError(0, "unreachable", ctl.signal.aborted ? "the server did not answer in time" : "cannot reach the server");
  } finally {
    clearTimeout(timer);
  }
  if (resp.status === 204) return null;
  let body = null;
  try {
    body = await resp.json();
  } catch {
    // not JSON: a proxy's page, say
  }
  if (!resp.ok) {
    const e = body?.error ?? {};
    const err = new ApiError(resp.status, e.code ?? "http_" + resp.status, e.message ?? resp.statusText);
    if (resp.status === 401 && tok === undefined) unauthorized(err);
    throw err;
  }
  return body;
}

export const get = (path, opts) => request("GET", path, opts);
export const del = (path, opts) => request("DELETE", path, opts);

// query builds a query string from the defined values.
export function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== "") q.set(k, v);
  const s = q.toString();
  return s ? "?" + s : "";
}
