// The public API with the ops token kept in sessionStorage (gone when the tab closes).
import { ENDPOINTS } from "./endpoints.js";

const TOKEN_KEY = "coupdemain.console.token";

export const session = {
  token: () => sessionStorage.getItem(TOKEN_KEY),
  signIn: (token) => sessionStorage.setItem(TOKEN_KEY, token),
  signOut: () => sessionStorage.removeItem(TOKEN_KEY),
  claims() {
    const token = this.token();
    if (!token) return null;
    try {
      const part = token.split(".")[1].replace(/-/g, "+").replace(/_/g, "/");
      return JSON.parse(atob(part.padEnd(part.length + ((4 - (part.length % 4)) % 4), "=")));
    } catch {
      return null;
    }
  },
};

export class ApiError extends Error {
  constructor(status, body) {
    const detail = (body && Array.isArray(body.detail) && body.detail) || [];
    super(detail.length ? detail.map(describe).join("; ") : `HTTP ${status}`);
    this.status = status;
    this.detail = detail;
  }
}

function describe(item) {
  const where = (item.loc || []).filter((x) => x !== "body").join(".");
  return where ? `${where}: ${item.msg}` : item.msg;
}

export function urlOf(name, params = {}) {
  const endpoint = ENDPOINTS[name];
  if (!endpoint) throw new Error(`unknown endpoint ${name}`);
  return endpoint.path.replace(/\{(\w+)\}/g, (_, key) => {
    if (params[key] === undefined || params[key] === null) throw new Error(`${name}: missing ${key}`);
    return encodeURIComponent(params[key]);
  });
}

// Call a named endpoint; body: an object (JSON) or a string (sent as text, e.g. CSV).
// as: "json" (default) or "text". Throws ApiError on any non-2xx answer.
export async function call(name, params = {}, body = undefined, { as = "json", contentType } = {}) {
  const endpoint = ENDPOINTS[name];
  const headers = {};
  const token = session.token();
  if (token) headers.Authorization = `Bearer ${token}`;
  let payload;
  if (body !== undefined) {
    if (typeof body === "string") {
      payload = body;
      headers["Content-Type"] = contentType || "text/plain; charset=utf-8";
    } else {
      payload = JSON.stringify(body);
      headers["Content-Type"] = "application/json";
    }
  }
  const response = await fetch(urlOf(name, params), { method: endpoint.method, headers, body: payload });
  if (response.status === 401) {
    window.dispatchEvent(new CustomEvent("console:unauthorized"));
  }
  if (!response.ok) {
    let data = null;
    try {
      data = await response.json();
    } catch {
      data = null;
    }
    throw new ApiError(response.status, data);
  }
  if (response.status === 204) return null;
  return as === "text" ? response.text() : response.json();
}
