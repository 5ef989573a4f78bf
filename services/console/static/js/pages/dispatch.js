// Live dispatch board: open orders, live offers, missions, unassignable orders with their reason,
// polled every 2 s; the SVG map; the explanation of any decision one click away; the weights.
import { call } from "../api.js";
import { drawMap } from "../map.js";
import { badge, clear, h, section, short, showError, table, toast, when } from "../ui.js";

const POLL_MS = 2000;
let state = null;

export function stop() {
  if (state) clearTimeout(state.timer);
  state = null;
}

export async function render(root, params) {
  state = { root, zones: [], board: null, selected: params[0] || null, timer: null };
  const s = state;
  s.zones = await call("listZones");
  clear(
    root,
    h("div.toolbar", h("h1", { style: "margin:0" }, "Live dispatch"), h("span.spacer"), h("span#live.muted")),
    h("div.stats#counts"),
    h(
      "div.row",
      h("div.grow", h("div.card", h("div#map-box"), legend())),
      h("div.grow", h("div.card#explain", h("h2", "Decision"), h("p.muted", "Click an order on the map or “why?” in a list to see how it was decided."))),
    ),
    h("div.row", h("div.grow#lists-left"), h("div.grow#lists-right")),
    h("div#weights"),
  );
  await Promise.all([poll(), drawWeights()]);
  if (s.selected) explain(s.selected);
}

function legend() {
  const item = (cls, text) => h("span", h(`span.swatch`, { style: `background:var(${cls})` }), text);
  return h(
    "div.legend",
    h("span", h("span.swatch", { style: "background:#e08a00" }), "open order"),
    item("--accent", "offered"),
    item("--ok", "mission"),
    item("--bad", "unassignable"),
    h("span", h("span.swatch", { style: "background:#16213e" }), "provider on duty"),
  );
}

async function poll() {
  const s = state;
  if (!s) return;
  try {
    s.board = await call("dispatchBoard");
    if (state !== s) return;
    drawBoard();
    clear(document.getElementById("live"), h("span.live-dot"), `live — updated ${new Date().toLocaleTimeString("en-GB")}`);
  } catch (error) {
    if (state !== s) return;
    clear(document.getElementById("live"), h("span.error", `not updated: ${error.message}`));
  }
  if (state === s) s.timer = setTimeout(poll, POLL_MS);
}

function providerAt(id) {
  return state.board.providers.find((p) => p.provider_id === id) || null;
}

function drawBoard() {
  const s = state;
  const b = s.board;
  const c = b.counts;
  const stat = (n, label, id) => h("div.stat", { id }, h("b", n), h("span", label));
  clear(
    document.getElementById("counts"),
    stat(c.pool, "open orders", "count-pool"),
    stat(c.live_offers, "live offers", "count-offers"),
    stat(c.missions_assigned, "missions assigned", "count-assigned"),
    stat(c.missions_started, "missions started", "count-started"),
    stat(c.unassignable, "unassignable", "count-unassignable"),
    stat(`${c.providers_on_duty} / ${c.providers_active}`, "providers on duty / active", "count-providers"),
  );
  const marks = [
    ...b.pool.map((o) => ({ ...o, id: o.order_id, kind: "pool", label: `open order ${o.order_id} (${o.category}, ${o.zone})` })),
    ...b.live_offers.map((o) => ({ ...o, id: o.order_id, kind: "offered", label: `offered to ${o.provider_id}: ${o.order_id}`, to: providerAt(o.provider_id) })),
    ...b.missions.map((m) => ({ ...m, id: m.order_id, kind: "mission", label: `mission ${m.status} by ${m.provider_id}: ${m.order_id}`, to: providerAt(m.provider_id) })),
    ...b.unassignable.map((o) => ({ ...o, id: o.order_id, kind: "unassignable", label: `unassignable ${o.order_id}: ${o.reason}` })),
  ];
  clear(document.getElementById("map-box"), drawMap({ zones: s.zones, marks, providers: b.providers, selected: s.selected, onSelect: explain }));
  const why = (orderId) => h("button.small.why", { onclick: () => explain(orderId), dataset: { order: orderId } }, "why?");
  const row = (orderId, ...cells) => h("tr", { dataset: { order: orderId }, class: orderId === s.selected ? "selected" : "" }, ...cells);
  clear(
    document.getElementById("lists-left"),
    section(
      "Open orders",
      table(
        ["order", "category", "zone", "deadline", "waiting because", ""],
        b.pool.map((o) => row(o.order_id, h("td", h("code", short(o.order_id))), h("td", o.category), h("td", o.zone), h("td.nowrap", when(o.dispatch_deadline)), h("td", o.reason || h("span.muted", "next batch")), h("td", why(o.order_id)))),
        { id: "pool" },
      ),
    ),
    section(
      "Live offers",
      table(
        ["order", "provider", "zone", "expires", ""],
        b.live_offers.map((o) => row(o.order_id, h("td", h("code", short(o.order_id))), h("td", o.provider_id), h("td", o.zone), h("td.nowrap", when(o.expires_at)), h("td", why(o.order_id)))),
        { id: "offers" },
      ),
    ),
  );
  clear(
    document.getElementById("lists-right"),
    section(
      "Missions in progress",
      table(
        ["order", "provider", "status", "start", ""],
        b.missions.map((m) => row(m.order_id, h("td", h("code", short(m.order_id))), h("td", m.provider_id), h("td", badge(m.status, m.status === "started" ? "ok" : "info")), h("td.nowrap", when(m.scheduled_start)), h("td", why(m.order_id)))),
        { id: "missions" },
      ),
    ),
    section(
      "Unassignable orders",
      table(
        ["order", "zone", "reason", ""],
        b.unassignable.map((o) => row(o.order_id, h("td", h("code", short(o.order_id))), h("td", o.zone), h("td", o.reason), h("td", why(o.order_id)))),
        { id: "unassignable" },
      ),
    ),
  );
}

async function explain(orderId) {
  const s = state;
  s.selected = orderId;
  if (s.board) drawBoard();
  const box = document.getElementById("explain");
  clear(box, h("h2", "Decision"), h("p.muted", `order ${orderId}: loading…`));
  try {
    const data = await call("dispatchDecision", { order_id: orderId });
    if (state !== s || s.selected !== orderId) return;
    clear(box, h("h2", "Decision ", h("code", short(orderId))), data.decisions.map(decisionView));
  } catch (error) {
    if (state !== s) return;
    if (error.status === 404) {
      const waiting = s.board && s.board.pool.find((o) => o.order_id === orderId);
      clear(box, h("h2", "Decision ", h("code", short(orderId))), h("p.muted#no-decision", "No decision recorded yet for this order.", waiting && waiting.reason ? ` It waits: ${waiting.reason}` : ""));
    } else showError(error, box);
  }
}

function decisionView(d) {
  const chosen = d.chosen;
  const components = chosen ? Object.entries(chosen.components) : [];
  return h(
    "div.explain",
    h("div.toolbar", badge(d.outcome || "decided", d.outcome === "offered" ? "info" : ""), h("span.muted", when(d.decided_at)), d.provider_id ? h("span", "→ ", h("b", d.provider_id)) : null),
    h("pre.summary", d.summary),
    chosen
      ? h(
          "table",
          h("thead", h("tr", h("th", "score component"), h("th", "chosen"), (d.alternatives || []).map((a) => h("th", a.provider_id)))),
          h(
            "tbody",
            components.map(([name, value]) => h("tr", h("td", name), h("td", value.toFixed(2)), (d.alternatives || []).map((a) => h("td", a.components && a.components[name] !== undefined ? a.components[name].toFixed(2) : "—")))),
            h("tr", h("th", "total (lower is better)"), h("th", chosen.cost.toFixed(2)), (d.alternatives || []).map((a) => h("th", a.cost !== undefined ? a.cost.toFixed(2) : "—"))),
            h("tr", h("td", "travel (min)"), h("td", chosen.travel_min.toFixed(1)), (d.alternatives || []).map((a) => h("td", a.travel_min !== undefined ? a.travel_min.toFixed(1) : "—"))),
          ),
        )
      : null,
  );
}

async function drawWeights() {
  const box = document.getElementById("weights");
  let data;
  try {
    data = await call("getWeights");
  } catch (error) {
    return showError(error, box);
  }
  const inputs = Object.fromEntries(Object.entries(data.weights).map(([k, v]) => [k, h("input", { type: "number", step: "any", min: 0, value: v, name: k, style: "width:7em" })]));
  const reason = h("input#weights-reason", { placeholder: "why (audited)", size: 30, required: true, minLength: 3 });
  const problem = h("div");
  clear(
    box,
    section(
      "Matching weights",
      h("p.muted", `The next batch uses these. Last changed ${data.updated_at ? `${when(data.updated_at)} by ${data.updated_by}` : "never (defaults)"}.`),
      h(
        "form.inline#weights-form",
        {
          onsubmit: async (event) => {
            event.preventDefault();
            try {
              const body = Object.fromEntries(Object.entries(inputs).map(([k, input]) => [k, Number(input.value)]));
              await call("setWeights", {}, { ...body, reason: reason.value.trim() });
              toast("Weights saved; the next batch uses them", "ok");
              await drawWeights();
            } catch (error) {
              showError(error, problem);
            }
          },
        },
        Object.entries(inputs).map(([k, input]) => h("label", k, input)),
        h("label", "Reason", reason),
        h("button.primary", { type: "submit" }, "Save weights"),
      ),
      problem,
    ),
  );
}
