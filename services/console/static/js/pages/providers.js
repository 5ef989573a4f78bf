// Provider view: the list, then one provider's qualifications and their expiry, ratings,
// bonuses, turnover ceiling and dependency watch, and the decisions taken about them.
import { call } from "../api.js";
import { CATEGORIES, badge, clear, day, euros, h, section, showError, table, when } from "../ui.js";

let state = null;

export function stop() {
  state = null;
}

export async function render(root, params) {
  state = { root };
  if (params[0]) await one(params[0]);
  else await list();
}

const STATUS_KIND = { active: "ok", suspended: "warn", rejected: "bad", offboarded: "bad", approved: "info" };

async function list(status = "") {
  const s = state;
  const providers = await call("listProviders");
  if (state !== s) return;
  const statuses = [...new Set(providers.map((p) => p.status))].sort();
  const shown = status ? providers.filter((p) => p.status === status) : providers;
  clear(
    s.root,
    h(
      "div.toolbar",
      h("h1", { style: "margin:0" }, "Providers"),
      h("span.spacer"),
      h("label", "Status", h("select#status-filter", { onchange: (e) => list(e.target.value) }, h("option", { value: "" }, "all"), statuses.map((x) => h("option", { value: x, selected: x === status }, x)))),
    ),
    h(
      "div.card",
      table(
        ["provider", "status", "qualified for", "on duty", "home", "applied"],
        shown.map((p) =>
          h(
            "tr.clickable",
            { dataset: { provider: p.id }, onclick: () => (location.hash = `#/providers/${encodeURIComponent(p.id)}`) },
            h("td", h("b", `${p.first_name} ${p.last_name}`), h("div.muted", h("code", p.id))),
            h("td", badge(p.status, STATUS_KIND[p.status] || "")),
            h("td", p.qualifications.qualified.map((c) => CATEGORIES[c] || c).join(", ") || h("span.muted", "nothing yet")),
            h("td", p.on_duty ? badge("on duty", "ok") : h("span.muted", "off")),
            h("td", p.postcode),
            h("td", day(p.applied_at)),
          ),
        ),
        { id: "providers" },
      ),
    ),
  );
}

async function one(providerId) {
  const s = state;
  const id = { provider_id: providerId };
  const [provider, checks, trainings, catalogue, reputation, bonuses, turnover, dependency, decisions] = await Promise.all([
    call("getProvider", id),
    call("providerChecks", id),
    call("providerTrainings", id),
    call("trainingCatalogue"),
    call("providerReputation", id),
    call("providerBonuses", id),
    call("providerTurnover", id),
    call("providerDependency", id),
    call("providerDecisions", id),
  ]);
  if (state !== s) return;
  const modules = new Map(catalogue.modules.map((m) => [m.id, m]));
  clear(
    s.root,
    h("p", h("a", { href: "#/providers" }, "← all providers")),
    h("h1", `${provider.first_name} ${provider.last_name} `, badge(provider.status, STATUS_KIND[provider.status] || ""), provider.suspension ? [" ", badge(`suspension: ${provider.suspension}`, "warn")] : null),
    h("p.muted", h("code", provider.id), ` · SIRET ${provider.siret} · ${provider.postcode} · radius ${provider.travel_radius_km} km · target ${provider.weekly_hours_target} h/week`, provider.activated_at ? ` · active since ${day(provider.activated_at)}` : ""),
    h(
      "div.row",
      h("div.grow", qualificationsView(provider, checks, trainings, modules, catalogue.requirements)),
      h("div.grow", watchView(turnover, dependency), ratingsView(reputation), bonusesView(bonuses)),
    ),
    section(
      "Decisions about this provider",
      table(["when", "action", "from → to", "by", "reason"], decisions.map((d) => h("tr", h("td.nowrap", when(d.decided_at)), h("td", d.action), h("td", `${d.from_status} → ${d.to_status}`), h("td", d.decided_by), h("td", d.reason))), { id: "decisions" }),
    ),
  );
}

function expiryBadge(iso) {
  if (!iso) return h("span.muted", "no expiry");
  const days = Math.floor((new Date(iso) - Date.now()) / 86400000);
  const kind = days < 0 ? "bad" : days <= 30 ? "warn" : "ok";
  return badge(days < 0 ? `expired ${day(iso)}` : `until ${day(iso)} (${days} d)`, kind);
}

function qualificationsView(provider, checks, trainings, modules, requirements) {
  const q = provider.qualifications;
  const latest = new Map();
  for (const c of checks) latest.set(`${c.kind}|${c.category || ""}`, c);
  const done = new Map();
  for (const t of trainings) done.set(t.module_id, t);
  return section(
    "Qualifications",
    h(
      "table#qualifications",
      h("thead", h("tr", h("th", "category"), h("th", "state"), h("th", "what blocks it"))),
      h(
        "tbody",
        q.categories.map((c) =>
          h(
            "tr",
            { dataset: { category: c.category } },
            h("td", CATEGORIES[c.category] || c.category),
            h("td", c.is_qualified ? badge("qualified", "ok") : badge("not qualified", "bad")),
            h("td", [...q.missing_for_all, ...c.missing].map((m) => h("div", h("b", m.item), ` — ${m.reason}`)) || ""),
          ),
        ),
      ),
    ),
    q.notices.length ? h("div.notice", h("b", "To renew soon: "), q.notices.map((n) => `${n.item} (${n.reason})`).join("; ")) : null,
    h("h3", "Checks"),
    table(
      ["check", "outcome", "expiry"],
      [...latest.values()].map((c) => h("tr", h("td", c.kind, c.category ? h("span.muted", ` (${c.category})`) : ""), h("td", badge(c.outcome, c.outcome === "passed" ? "ok" : "bad")), h("td", expiryBadge(c.expires_at)))),
    ),
    h("h3", "Training"),
    table(
      ["module", "completed", "score", "expiry", "required by"],
      [...done.values()].map((t) => {
        const m = modules.get(t.module_id) || {};
        const expires = m.validity_days ? new Date(new Date(t.completed_at).getTime() + m.validity_days * 86400000).toISOString() : null;
        const by = Object.entries(requirements).filter(([, ids]) => ids.includes(t.module_id)).map(([c]) => c);
        return h("tr", h("td", m.code || t.module_id), h("td", day(t.completed_at)), h("td", t.score ?? "—", m.min_score !== null && m.min_score !== undefined ? h("span.muted", ` / pass ${m.min_score}`) : ""), h("td", expiryBadge(expires)), h("td", by.join(", ") || "—"));
      }),
    ),
  );
}

function meter(ratio, kind) {
  return h(`div.meter${kind ? "." + kind : ""}`, h("div", { style: `width:${Math.min(100, Math.max(0, ratio * 100)).toFixed(1)}%` }));
}

function watchView(t, d) {
  const tKind = t.alert === "none" ? "" : t.ratio >= 1 ? "bad" : "warn";
  return section(
    "Turnover and dependency watch",
    h("div#turnover", h("b", `Turnover ${t.year}: `), `${euros(t.earned_cents)} of the micro-entrepreneur ceiling ${euros(t.ceiling_cents)} (${(t.ratio * 100).toFixed(1)} %) `, t.alert !== "none" ? badge(`alert: ${t.alert}`, tKind || "warn") : null, meter(t.ratio, tKind)),
    h(
      "p.muted",
      t.platform_obligations_apply
        ? `Past the legal threshold of ${euros(t.legal_threshold_cents)}: the operator owes accident insurance and a training contribution (${euros(t.training_contribution_cents)}).`
        : `The operator's own obligations start at ${euros(t.legal_threshold_cents)} of yearly earnings.`,
    ),
    h(
      "div#dependency",
      h("b", "Dependency: "),
      d.platform_share === null || d.platform_share === undefined
        ? `${euros(d.platform_cents)} from the platform this year; total turnover not declared.`
        : `${(d.platform_share * 100).toFixed(0)} % of the declared turnover comes from the platform `,
      d.is_dependent ? badge("economically dependent", "warn") : null,
    ),
    h("div", { style: "margin-top:8px" }, h("b", "This week: "), `${d.week_worked_hours} h worked of a ${d.weekly_hours_target} h target `, d.is_over_target ? badge("over target", "warn") : null, meter(d.week_ratio, d.is_over_target ? "warn" : "")),
  );
}

function ratingsView(r) {
  const total = Object.values(r.distribution).reduce((a, b) => a + b, 0) || 1;
  const rel = r.reliability || {};
  return section(
    "Ratings",
    h("p#rating", r.rating_average !== null ? [h("b", `${r.rating_average.toFixed(2)} / 5`), ` from ${r.rating_count} rating(s)`] : h("span.muted", "no rating yet"), " · verdict ", badge(r.verdict, r.verdict === "below_threshold" ? "bad" : r.verdict === "good" ? "ok" : "")),
    h("div", ["5", "4", "3", "2", "1"].map((star) => h("div.row", { style: "gap:8px;align-items:center" }, h("span", { style: "width:2em" }, `${star}★`), h("div.grow", { style: "min-width:120px" }, meter((r.distribution[star] || 0) / total)), h("span.muted", String(r.distribution[star] || 0))))),
    h("p.muted", `Retraining is recommended below ${r.policy.threshold} with at least ${r.policy.min_count} ratings (last ${r.policy.window}). Reliability: ${rel.accepted ?? 0} accepted, ${rel.missed ?? 0} missed, ${rel.excused ?? 0} excused${rel.rate !== null && rel.rate !== undefined ? ` (${(rel.rate * 100).toFixed(0)} %)` : ""}.`),
  );
}

function bonusesView(bonuses) {
  const sum = bonuses.reduce((a, b) => a + b.amount_cents, 0);
  return section(
    `Bonuses (${euros(sum)})`,
    table(["period", "rule", "amount", "awarded"], bonuses.map((b) => h("tr", h("td", b.period), h("td", h("code", b.rule_id.slice(0, 8))), h("td", euros(b.amount_cents)), h("td", day(b.awarded_at)))), { id: "bonuses" }),
  );
}
