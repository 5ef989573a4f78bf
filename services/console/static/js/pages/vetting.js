// Vetting queue: applications with what each is missing, record a check, approve or reject with
// a reason, and the audit trail of each provider.
import { call } from "../api.js";
import { CATEGORIES, badge, clear, day, h, section, showError, table, toast, when } from "../ui.js";

const CHECK_KINDS = ["identity", "right_to_work", "siret", "insurance", "criminal_record", "urssaf_vigilance", "driving_licence"];
let state = null;

export function stop() {
  state = null;
}

export async function render(root, params) {
  state = { root, queue: [], selected: params[0] || null };
  await load();
}

async function load() {
  const s = state;
  s.queue = await call("vettingQueue");
  if (!s.selected && s.queue.length) s.selected = s.queue[0].id;
  clear(
    s.root,
    h("h1", "Vetting queue"),
    h("div.row", h("div.card", { style: "flex:0 0 430px" }, h("h2", `Applications waiting (${s.queue.length})`), queueTable()), h("div.grow#application")),
  );
  if (s.selected) await showApplication(s.selected);
}

function missingOf(p) {
  const q = p.qualifications;
  return [...q.missing_for_all, ...q.categories.flatMap((c) => c.missing)];
}

function queueTable() {
  const s = state;
  return table(
    ["applicant", "status", "applied", "missing"],
    s.queue.map((p) =>
      h(
        "tr.clickable",
        { dataset: { provider: p.id }, class: p.id === s.selected ? "selected" : "", onclick: () => { s.selected = p.id; load(); } },
        h("td", h("b", `${p.first_name} ${p.last_name}`), h("div.muted", h("code", p.id))),
        h("td", badge(p.status.replace("_", " "), "info")),
        h("td", day(p.applied_at)),
        h("td", missingOf(p).length ? badge(`${missingOf(p).length} missing`, "warn") : badge("complete", "ok")),
      ),
    ),
    { id: "queue" },
  );
}

async function showApplication(providerId) {
  const box = document.getElementById("application");
  const s = state;
  let provider;
  let checks;
  let audit;
  try {
    [provider, checks, audit] = await Promise.all([
      call("getProvider", { provider_id: providerId }),
      call("providerChecks", { provider_id: providerId }),
      call("vettingAudit", { provider_id: providerId }),
    ]);
  } catch (error) {
    return showError(error, box);
  }
  if (state !== s) return;
  const missing = missingOf(provider);
  const form = checkForm(provider);
  clear(
    box,
    section(
      `${provider.first_name} ${provider.last_name}`,
      h(
        "dl.kv",
        h("dt", "id"), h("dd", h("code", provider.id)),
        h("dt", "status"), h("dd#applicant-status", badge(provider.status.replace("_", " "), provider.status === "active" ? "ok" : "info")),
        h("dt", "categories"), h("dd", provider.categories.map((c) => CATEGORIES[c] || c).join(", ")),
        h("dt", "SIRET"), h("dd", provider.siret),
        h("dt", "contact"), h("dd", `${provider.email} · ${provider.phone}`),
        h("dt", "home"), h("dd", `${provider.address} (${provider.postcode}), radius ${provider.travel_radius_km} km`),
        h("dt", "applied"), h("dd", when(provider.applied_at)),
      ),
      h("h3", "What is missing"),
      missing.length
        ? h(
            "ul#missing",
            missing.map((m) =>
              h(
                "li",
                { dataset: { item: m.item } },
                h("b", m.item), m.category ? ` (${m.category})` : "", ` — ${m.reason} `,
                h("button.small.record-missing", { onclick: () => form.prefill(m.item, m.category) }, "Record check…"),
              ),
            ),
          )
        : h("p.success#nothing-missing", "Nothing missing: every check passed."),
    ),
    section("Record a check", form.node),
    section("Decide", decisionForm(provider)),
    section(
      "Checks recorded",
      table(
        ["kind", "outcome", "category", "evidence", "expires", "by", "at"],
        checks.map((c) => h("tr", h("td", c.kind), h("td", badge(c.outcome, c.outcome === "passed" ? "ok" : "bad")), h("td", c.category || "—"), h("td", c.evidence_ref), h("td", day(c.expires_at)), h("td", c.checked_by), h("td", when(c.checked_at)))),
        { id: "checks" },
      ),
    ),
    section(
      "Audit trail",
      table(
        ["at", "who", "what", "why / details"],
        audit.map((e) => h("tr", h("td.nowrap", when(e.at)), h("td", e.actor), h("td", h("code", e.action)), h("td", e.reason || "", " ", h("span.muted", details(e.details))))),
        { id: "audit" },
      ),
    ),
  );
}

function details(data) {
  return Object.entries(data || {})
    .filter(([key]) => !key.endsWith("_id"))
    .map(([key, value]) => `${key}: ${typeof value === "object" ? JSON.stringify(value) : value}`)
    .join(" · ");
}

function checkForm(provider) {
  const kind = h("input#check-kind", { list: "check-kinds", required: true, placeholder: "identity", size: 16 });
  kind.setAttribute("list", "check-kinds");
  const outcome = h("select#check-outcome", h("option", { value: "passed" }, "passed"), h("option", { value: "failed" }, "failed"));
  const evidence = h("input#check-evidence", { required: true, placeholder: "document reference", size: 22 });
  const category = h("select#check-category", h("option", { value: "" }, "all categories"), provider.categories.map((c) => h("option", { value: c }, c)));
  const expires = h("input#check-expires", { type: "date" });
  const note = h("input#check-note", { placeholder: "note", size: 20 });
  const problem = h("div");
  const node = h(
    "div",
    h("datalist#check-kinds", CHECK_KINDS.map((k) => h("option", { value: k }))),
    h(
      "form.inline#check-form",
      {
        onsubmit: async (event) => {
          event.preventDefault();
          const body = { kind: kind.value.trim(), outcome: outcome.value, evidence_ref: evidence.value.trim(), note: note.value };
          if (category.value) body.category = category.value;
          if (expires.value) body.expires_at = new Date(`${expires.value}T23:59:59Z`).toISOString();
          try {
            await call("recordCheck", { provider_id: provider.id }, body);
            toast(`Check ${body.kind} recorded`, "ok");
            await load();
          } catch (error) {
            showError(error, problem);
          }
        },
      },
      h("label", "Kind", kind),
      h("label", "Outcome", outcome),
      h("label", "Evidence", evidence),
      h("label", "Category", category),
      h("label", "Expires", expires),
      h("label", "Note", note),
      h("button.primary", { type: "submit" }, "Record"),
    ),
    problem,
  );
  return {
    node,
    prefill(item, cat) {
      kind.value = item;
      category.value = cat || "";
      if (item === "insurance" && !expires.value) {
        const next = new Date();
        next.setFullYear(next.getFullYear() + 1);
        expires.value = next.toISOString().slice(0, 10);
      }
      evidence.focus();
    },
  };
}

function decisionForm(provider) {
  const reason = h("textarea#decision-reason", { rows: 2, cols: 60, placeholder: "written reason (shown to the provider; at least 10 characters to reject)" });
  const problem = h("div#decision-result");
  const id = { provider_id: provider.id };
  const decide = (send, label, fallback) => async () => {
    try {
      const result = await send({ reason: reason.value.trim() || fallback });
      toast(`${provider.first_name} ${provider.last_name}: ${label} (${result.status})`, "ok");
      clear(problem, h("div.success#decided", `${label}: now ${result.status}.`));
      state.selected = null;
      setTimeout(() => state && load(), 1200);
    } catch (error) {
      showError(error, problem);
    }
  };
  return h(
    "div",
    reason,
    h("div.toolbar", { style: "margin-top:8px" },
      h("button.primary#approve", { onclick: decide((body) => call("approveApplication", id, body), "approved", "all checks passed") }, "Approve"),
      h("button.danger#reject", { onclick: decide((body) => call("rejectApplication", id, body), "rejected", "") }, "Reject")),
    problem,
  );
}
