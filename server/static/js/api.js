// The REST API (/v1) and the chat endpoints, with the bearer token of this browser tab.
"use strict";

const TOKEN = "pp.token";

export class ApiError extends Error {
  constructor(status, detail) { super(detail || `HTTP ${status}`); this.status = status; this.detail = detail; }
}

export const session = {
  get token() { return sessionStorage.getItem(TOKEN); },
  set token(value) { if (value) sessionStorage.setItem(TOKEN, value); else sessionStorage.removeItem(TOKEN); },
  clear() { sessionStorage.clear(); },
};

export function authHeaders(extra = {}) {
  const headers = { ...extra };
  if (session.token) headers.Authorization = `Bearer ${session.token}`;
  return headers;
}

async function detailOf(res) {
  try {
    const body = await res.json();
    return typeof body.detail === "string" ? body.detail : JSON.stringify(body.detail);
  } catch { return `${res.status} ${res.statusText}`; }
}

export async function request(method, path, body, { signal } = {}) {
  const init = { method, headers: authHeaders(body === undefined ? {} : { "Content-Type": "application/json" }), signal };
  if (body !== undefined) init.body = JSON.stringify(body);
  const res = await fetch(path, init);
  if (!res.ok) {
    const err = new ApiError(res.status, await detailOf(res));
    if (res.status === 401 && session.token) window.dispatchEvent(new CustomEvent("pp:signed-out"));
    throw err;
  }
  return res.status === 204 ? null : res.json();
}

export const get = (path, opts) => request("GET", path, undefined, opts);
export const post = (path, body, opts) => request("POST", path, body ?? {}, opts);
export const patch = (path, body, opts) => request("PATCH", path, body ?? {}, opts);

export function qs(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined && v !== null && v !== "") q.set(k, v);
  const s = q.toString();
  return s ? `?${s}` : "";
}
