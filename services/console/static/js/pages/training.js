// Training: modules (validity, pass score) and the modules each category requires. Every change
// is previewed first (how many providers it would disqualify), then saved.
import { call } from "../api.js";
import { CATEGORIES, badge, clear, h, section, showError, toast } from "../ui.js";

let state = null;

export function stop() {
  state = null;
}

export async function render(root) {
  state = { root, modules: [], requirements: {}, baseChecks: [], categoryChecks: {}, staged: {}, editing: null };
  await load();
}

async function load() {
  const catalogue = await call("trainingCatalogue");
  state.modules = catalogue.modules;
  state.requirements = catalogue.requirements;
  state.baseChecks = catalogue.base_checks || [];
  state.categoryChecks = catalogue.category_checks || {};
  draw();
}

const moduleById = (id) => state.modules.find((m) => m.id === id);

function draw() {
  const s = state;
  clear(
    s.root,
    h("h1", "Training requirements"),
    h("p.muted", "A change is previewed against every vetted provider before it is saved: who would lose a category, and who would have none left."),
    section(
      "Requirements per category",
      h("p.muted#base-checks", "Every category needs the checks ", s.baseChecks.map((c) => [badge(c), " "]), "(vetting); the checks below come on top. Checks are settings; modules are yours to change here."),
      requirementsTable(),
    ),
    section("Modules", modulesTable(), h("h3", "New module"), newModuleForm()),
  );
}

function requirementsTable() {
  const s = state;
  const rows = Object.entries(CATEGORIES).map(([category, label]) => {
    const saved = s.requirements[category] || [];
    const staged = s.staged[category];
    const shown = staged || saved;
    const chips = shown.map((id) => {
      const module = moduleById(id);
      const isNew = !saved.includes(id);
      return h(
        "span.badge" + (isNew ? ".info" : ""),
        { dataset: { module: module ? module.code : id } },
        module ? `${module.code} (${validity(module)})` : id,
        " ",
        h("button.link.retire", { title: "retire from this category", onclick: () => stage(category, shown.filter((x) => x !== id)) }, "×"),
      );
    });
    const removed = saved.filter((id) => !shown.includes(id)).map((id) => h("span.badge.bad", { style: "text-decoration:line-through" }, (moduleById(id) || {}).code || id));
    const options = s.modules.filter((m) => !shown.includes(m.id));
    const adder = h(
      "select.add-module",
      { onchange: (event) => event.target.value && stage(category, [...shown, event.target.value]) },
      h("option", { value: "" }, "+ require a module…"),
      options.map((m) => h("option", { value: m.id }, `${m.code} — ${m.title}`)),
    );
    return h(
      "tr",
      { dataset: { category } },
      h("th", label, h("div.muted", h("code", category))),
      h("td.checks", (s.categoryChecks[category] || []).map((c) => [badge(c, "warn"), " "])),
      h("td", h("div.row", { style: "gap:6px" }, chips.length || removed.length ? [chips, removed] : h("span.muted", "no training required"))),
      h("td", adder),
      h("td.preview", staged ? h("span.muted", "checking…") : null),
    );
  });
  const table = h("table#requirements", h("thead", h("tr", ["category", "checks", "required modules", "", "before saving"].map((x) => h("th", x)))), h("tbody", rows));
  for (const category of Object.keys(s.staged)) preview(category);
  return table;
}

function validity(module) {
  const parts = [module.validity_days ? `${module.validity_days} d` : "no expiry"];
  if (module.min_score !== null && module.min_score !== undefined) parts.push(`≥ ${module.min_score}`);
  return parts.join(", ");
}

function stage(category, moduleIds) {
  const saved = state.requirements[category] || [];
  const same = moduleIds.length === saved.length && moduleIds.every((x) => saved.includes(x));
  if (same) delete state.staged[category];
  else state.staged[category] = moduleIds;
  draw();
}

async function preview(category) {
  const s = state;
  const moduleIds = s.staged[category];
  const cell = () => s.root.querySelector(`#requirements tr[data-category="${category}"] td.preview`);
  try {
    const result = await call("previewTrainingChange", {}, { category, module_ids: moduleIds });
    if (state !== s || s.staged[category] !== moduleIds || !cell()) return;
    clear(
      cell(),
      impact(result),
      h(
        "div.toolbar",
        { style: "margin:6px 0 0" },
        h("button.primary.save-requirements", { onclick: () => saveRequirements(category, moduleIds) }, "Save"),
        h("button.cancel", { onclick: () => { delete s.staged[category]; draw(); } }, "Cancel"),
      ),
    );
  } catch (error) {
    if (cell()) showError(error, cell());
  }
}

function impact(result) {
  const n = result.providers_disqualified;
  const who = result.disqualified.map((x) => `${x.provider_id} (${x.categories.join(", ")}${x.is_left_with_none ? "; none left: suspended" : ""})`);
  return h(
    "div.impact",
    n ? badge(`would disqualify ${n} provider${n > 1 ? "s" : ""}`, "bad") : badge("disqualifies nobody", "ok"),
    result.providers_left_with_none ? [" ", badge(`${result.providers_left_with_none} left with no category`, "warn")] : null,
    result.providers_requalified ? [" ", badge(`requalifies ${result.providers_requalified}`, "info")] : null,
    who.length ? h("div.muted", { style: "font-size:12px;margin-top:3px" }, who.join("; ")) : null,
  );
}

async function saveRequirements(category, moduleIds) {
  try {
    const result = await call("setRequirements", { category }, { module_ids: moduleIds });
    delete state.staged[category];
    toast(`${CATEGORIES[category]}: requirements saved; ${result.providers_changed} provider(s) changed`, "ok");
    await load();
  } catch (error) {
    showError(error);
  }
}

function modulesTable() {
  const s = state;
  const usedBy = (id) => Object.entries(s.requirements).filter(([, ids]) => ids.includes(id)).map(([c]) => c);
  const rows = s.modules.map((m) =>
    s.editing === m.id
      ? editRow(m)
      : h(
          "tr",
          { dataset: { module: m.code } },
          h("td", h("code", m.code)),
          h("td", m.title),
          h("td", m.validity_days ? `${m.validity_days} days` : "no expiry"),
          h("td", m.min_score ?? "—"),
          h("td", usedBy(m.id).join(", ") || h("span.muted", "no category")),
          h("td", h("button.small.edit-module", { onclick: () => { s.editing = m.id; draw(); } }, "Change…")),
        ),
  );
  return h("table#modules", h("thead", h("tr", ["code", "title", "validity", "pass score", "required by", ""].map((x) => h("th", x)))), h("tbody", rows.length ? rows : h("tr", h("td.empty", { colSpan: 6 }, "no module yet"))));
}

function editRow(m) {
  const title = h("input.title", { value: m.title });
  const days = h("input.validity", { type: "number", min: 1, max: 3650, value: m.validity_days ?? "", placeholder: "no expiry", style: "width:7em" });
  const score = h("input.score", { type: "number", min: 0, max: 100, value: m.min_score ?? "", placeholder: "none", style: "width:6em" });
  const out = h("td.preview", { colSpan: 2 });
  const body = () => ({
    title: title.value.trim(),
    validity_days: days.value === "" ? null : Number(days.value),
    min_score: score.value === "" ? null : Number(score.value),
  });
  const refresh = async () => {
    const b = body();
    try {
      const result = await call("previewTrainingChange", {}, { module_id: m.id, validity_days: b.validity_days, min_score: b.min_score });
      clear(out, impact(result), h("div.toolbar", { style: "margin:6px 0 0" },
        h("button.primary.save-module", { onclick: () => saveModule(m.id, body()) }, "Save"),
        h("button", { onclick: () => { state.editing = null; draw(); } }, "Cancel")));
    } catch (error) {
      showError(error, out);
    }
  };
  days.addEventListener("input", refresh);
  score.addEventListener("input", refresh);
  setTimeout(refresh);
  return h("tr.selected", { dataset: { module: m.code } }, h("td", h("code", m.code)), h("td", title), h("td", days), h("td", score), out);
}

async function saveModule(id, body) {
  try {
    const result = await call("updateModule", { module_id: id }, body);
    toast(`Module ${result.module.code} saved; ${result.providers_changed} provider(s) changed`, "ok");
    state.editing = null;
    await load();
  } catch (error) {
    showError(error);
  }
}

function newModuleForm() {
  const code = h("input#module-code", { placeholder: "first-aid", required: true, pattern: "[a-z0-9_-]{2,50}" });
  const title = h("input#module-title", { placeholder: "First aid basics", required: true, size: 30 });
  const days = h("input#module-validity", { type: "number", min: 1, max: 3650, placeholder: "none", style: "width:7em" });
  const score = h("input#module-score", { type: "number", min: 0, max: 100, placeholder: "none", style: "width:6em" });
  const problem = h("div");
  return h(
    "div",
    h(
      "form.inline#new-module",
      {
        onsubmit: async (event) => {
          event.preventDefault();
          try {
            const module = await call("createModule", {}, {
              code: code.value.trim(),
              title: title.value.trim(),
              validity_days: days.value === "" ? null : Number(days.value),
              min_score: score.value === "" ? null : Number(score.value),
            });
            toast(`Module ${module.code} created`, "ok");
            await load();
          } catch (error) {
            showError(error, problem);
          }
        },
      },
      h("label", "Code", code),
      h("label", "Title", title),
      h("label", "Validity (days)", days),
      h("label", "Pass score", score),
      h("button.primary", { type: "submit" }, "Create"),
    ),
    problem,
  );
}
