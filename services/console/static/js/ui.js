// Small DOM and formatting helpers shared by the pages.

// The categories the operator sells (mirror of shared/categories.py; a test keeps them equal).
export const CATEGORIES = {
  cleaning: "Housework and cleaning",
  gardening: "Small gardening",
  handyman: "Small handyman jobs",
  tutoring: "Tutoring at home",
  childcare: "Childcare (over 3)",
  it_help: "IT help at home",
  moving_help: "Moving help",
  transport: "Transport of people",
};

// h("div.card#x", {onclick: f, dataset: {...}}, child, "text", [more]) -> Element
export function h(spec, attrs, ...children) {
  if (attrs === null || typeof attrs !== "object" || attrs instanceof Node || Array.isArray(attrs)) {
    children.unshift(attrs);
    attrs = {};
  }
  const [, tag, rest] = spec.match(/^([a-z0-9]+)?(.*)$/i);
  const node = document.createElement(tag || "div");
  for (const part of rest.match(/[.#][^.#]+/g) || []) {
    if (part[0] === ".") node.classList.add(part.slice(1));
    else node.id = part.slice(1);
  }
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (key === "dataset") Object.assign(node.dataset, value);
    else if (key === "class") node.classList.add(...String(value).split(/\s+/).filter(Boolean));
    else if (key in node && key !== "list") node[key] = value;
    else node.setAttribute(key, value === true ? "" : value);
  }
  append(node, children);
  return node;
}

function append(node, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

export function clear(node, ...children) {
  node.replaceChildren();
  append(node, children);
  return node;
}

export const euros = (cents) =>
  cents === null || cents === undefined ? "—" : `${(cents / 100).toFixed(2).replace(/\B(?=(\d{3})+(?!\d))/g, " ")} €`;

export const perHour = (cents) => (cents === null || cents === undefined ? "—" : `${(cents / 100).toFixed(2)} €/h`);

export function when(iso) {
  if (!iso) return "—";
  const date = new Date(iso);
  return date.toLocaleString("en-GB", {
    timeZone: "Europe/Paris",
    day: "2-digit",
    month: "short",
    year: "numeric",
    hour: "2-digit",
    minute: "2-digit",
  });
}

export const day = (iso) =>
  iso ? new Date(iso).toLocaleDateString("en-GB", { timeZone: "Europe/Paris", day: "2-digit", month: "short", year: "numeric" }) : "—";

export const short = (id) => (id && id.length > 12 ? `${id.slice(0, 8)}…` : id || "—");

export function debounce(fn, ms) {
  let timer = null;
  const debounced = (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
  debounced.cancel = () => clearTimeout(timer);
  return debounced;
}

export function toast(message, kind = "info") {
  const box = document.getElementById("toasts");
  const item = h(`div.toast.${kind}`, { role: kind === "error" ? "alert" : "status" }, message);
  box.append(item);
  setTimeout(() => item.remove(), kind === "error" ? 8000 : 4000);
}

// Show an error where it happened (an element) and as a toast.
export function showError(error, where) {
  const message = error && error.message ? error.message : String(error);
  if (where) clear(where, h("div.error", { role: "alert" }, message));
  else toast(message, "error");
}

export function badge(text, kind = "") {
  return h(`span.badge${kind ? "." + kind : ""}`, text);
}

export function section(title, ...children) {
  return h("section.card", h("h2", title), ...children);
}

export function table(headers, rows, attrs = {}) {
  return h(
    "table",
    attrs,
    h("thead", h("tr", headers.map((x) => h("th", x)))),
    h("tbody", rows.length ? rows : h("tr", h("td.empty", { colSpan: headers.length }, "nothing here"))),
  );
}
