// Price grids: the published grid (categories × zones), a draft edited in place with the live
// fair-pay check of every cell, the diff against the published version, publication (the
// server's refusal shown cell by cell), CSV import and export.
import { call } from "../api.js";
import { CATEGORIES, badge, clear, debounce, euros, h, perHour, showError, toast, when } from "../ui.js";

const FIELDS = [
  { key: "hourly_rate_cents", label: "rate €/h", read: (v) => (v / 100).toFixed(2), write: (s) => cents(s) },
  { key: "commission_rate", label: "commission %", read: (v) => trim(Number(v) * 100), write: (s) => rate(s) },
  { key: "min_billable_min", label: "min. billed (min)", read: String, write: (s) => integer(s) },
  { key: "travel_fee_cents", label: "travel fee €", read: (v) => (v / 100).toFixed(2), write: (s) => cents(s) },
  { key: "avg_travel_min", label: "avg travel (min)", read: String, write: (s) => integer(s) },
];
const DEFAULT_CELL = {
  hourly_rate_cents: 3000,
  min_billable_min: 60,
  travel_fee_cents: 300,
  commission_rate: "0.2",
  avg_travel_min: 20,
  surcharges: { evening: "0", night: "0", sunday: "0", holiday: "0", urgent: "0" },
};

const trim = (x) => String(Math.round(x * 100) / 100);
function cents(text) {
  const value = Number(String(text).replace(",", ".").trim());
  return Number.isFinite(value) && text.trim() !== "" ? Math.round(value * 100) : NaN;
}
function rate(text) {
  const value = Number(String(text).replace(",", ".").trim());
  return Number.isFinite(value) && text.trim() !== "" ? String(Math.round(value * 100) / 10000) : NaN;
}
function integer(text) {
  const value = Number(String(text).trim());
  return Number.isInteger(value) && text.trim() !== "" ? value : NaN;
}
const keyOf = (cell) => `${cell.category}|${cell.zone}`;
const same = (a, b, field) => (field === "commission_rate" ? Number(a) === Number(b) : a === b);

let state = null;

export function stop() {
  if (state) state.save.cancel();
  state = null;
}

export async function render(root) {
  state = {
    root,
    zones: [],
    published: null,
    drafts: [],
    draft: null,
    view: "published",
    floor: null,
    refused: new Set(),
    invalid: new Set(),
    dirty: false,
    saving: null,
    save: debounce(() => saveDraft(), 400),
  };
  await load();
}

async function load(selectDraftId) {
  const s = state;
  const [zones, grids] = await Promise.all([call("listZones"), call("listGrids")]);
  s.zones = zones;
  s.drafts = grids.filter((g) => g.status === "draft");
  try {
    s.published = await call("currentGrid");
  } catch (error) {
    if (error.status !== 404) throw error;
    s.published = null;
  }
  const wanted = selectDraftId || (s.draft && s.drafts.some((d) => d.id === s.draft.id) ? s.draft.id : null);
  if (wanted) await openDraft(wanted, false);
  else {
    s.draft = null;
    s.view = "published";
  }
  draw();
}

async function openDraft(gridId, redraw = true) {
  const s = state;
  s.draft = await call("getGrid", { grid_id: gridId });
  s.view = "draft";
  s.refused = new Set();
  s.invalid = new Set();
  s.dirty = false;
  if (redraw) draw();
  await checkFloor();
}

function shownCells() {
  const s = state;
  if (s.view === "draft" && s.draft) return s.draft.cells;
  return s.published ? s.published.cells : [];
}

function publishedCell(key) {
  if (!state.published) return null;
  return state.published.cells.find((c) => keyOf(c) === key) || null;
}

function draw() {
  const s = state;
  const draftPicker = h(
    "select#draft-select",
    {
      onchange: async (event) => {
        if (event.target.value === "") {
          s.view = "published";
          draw();
        } else {
          await guard(() => openDraft(event.target.value));
        }
      },
    },
    h("option", { value: "" }, s.published ? `Published version ${s.published.version}` : "No published grid"),
    s.drafts.map((d) =>
      h("option", { value: d.id, selected: s.view === "draft" && s.draft && s.draft.id === d.id }, `Draft: ${d.name}`),
    ),
  );
  const fileInput = h("input#import-file", {
    type: "file",
    accept: ".csv,text/csv",
    hidden: true,
    onchange: (event) => guard(() => importCsv(event.target.files[0])),
  });
  const toolbar = h(
    "div.toolbar",
    h("label", "Showing", draftPicker),
    h(
      "button#new-draft",
      { onclick: () => guard(newDraft) },
      s.published ? `New draft from version ${s.published.version}` : "New empty draft",
    ),
    h("button#import-csv", { onclick: () => fileInput.click() }, "Import CSV…"),
    fileInput,
    h("button#export-csv", { onclick: () => guard(exportCsv), disabled: !shownGrid() }, "Export CSV"),
    h("span.spacer"),
    h("span#save-state.muted"),
  );
  const header =
    s.view === "draft" && s.draft
      ? h("p.muted", "Draft ", h("b", s.draft.name), ` — edited ${when(s.draft.updated_at)}; every change is saved and checked against the fair-pay floor.`)
      : s.published
        ? h(
            "p.muted",
            `Version ${s.published.version} “${s.published.name}”, published by ${s.published.published_by} ${when(s.published.published_at)}, in force since ${when(s.published.effective_at)}.`,
          )
        : h("p.muted", "No grid is published yet: start a draft.");
  clear(
    s.root,
    h("h1", "Price grids"),
    toolbar,
    header,
    h("div#floor-status"),
    h("div#grid-errors"),
    h("div.card", { style: "overflow-x:auto" }, gridTable()),
    s.view === "draft" && s.draft ? [publishPanel(), h("div#diff.card")] : null,
  );
  paintFloor();
  if (s.view === "draft") drawDiff();
  setSaveState();
}

function shownGrid() {
  return state.view === "draft" ? state.draft : state.published;
}

function gridTable() {
  const s = state;
  const cells = shownCells();
  const editing = s.view === "draft" && !!s.draft;
  const used = new Set(cells.map((c) => c.category));
  const categories = Object.keys(CATEGORIES).filter((c) => used.has(c) || (editing && s.extraRows && s.extraRows.has(c)));
  const byKey = new Map(cells.map((c) => [keyOf(c), c]));
  const rows = categories.map((category) =>
    h(
      "tr",
      h("th", CATEGORIES[category], h("div.muted", h("code", category))),
      s.zones.map((zone) => {
        const key = `${category}|${zone.code}`;
        const cell = byKey.get(key);
        if (!cell) {
          return h(
            "td.absent",
            { dataset: { key } },
            editing ? h("button.small.add-cell", { onclick: () => addCell(category, zone.code) }, "+ add") : "—",
          );
        }
        return editing ? editableCell(cell, key) : readCell(cell, key);
      }),
    ),
  );
  const addRow = editing
    ? h(
        "tr",
        h(
          "th",
          h(
            "select#add-category",
            {
              onchange: (event) => {
                if (!event.target.value) return;
                s.extraRows = s.extraRows || new Set();
                s.extraRows.add(event.target.value);
                draw();
              },
            },
            h("option", { value: "" }, "+ a category…"),
            Object.keys(CATEGORIES)
              .filter((c) => !categories.includes(c))
              .map((c) => h("option", { value: c }, CATEGORIES[c])),
          ),
        ),
        s.zones.map(() => h("td")),
      )
    : null;
  return h(
    "table.grid#grid-table",
    { dataset: { mode: editing ? "draft" : "published" } },
    h("thead", h("tr", h("th", "category \\ zone"), s.zones.map((z) => h("th.zone", z.name, h("div.muted", h("code", z.code)))))),
    h("tbody", rows.length ? rows : h("tr", h("td.empty", { colSpan: s.zones.length + 1 }, "no cells"))),
    addRow ? h("tfoot", addRow) : null,
  );
}

function readCell(cell, key) {
  const payout = Math.round(cell.hourly_rate_cents * (1 - Number(cell.commission_rate)));
  return h(
    "td.cell",
    { dataset: { key } },
    h("div.summary", h("b", perHour(cell.hourly_rate_cents)), " ", h("span.muted", `− ${trim(Number(cell.commission_rate) * 100)} %`)),
    h("div.muted", `payout ${perHour(payout)} · min ${cell.min_billable_min} min`),
    h("div.muted", `travel ${euros(cell.travel_fee_cents)} / ${cell.avg_travel_min} min`),
  );
}

function editableCell(cell, key) {
  const s = state;
  const before = publishedCell(key);
  const changed = !before || FIELDS.some((f) => !same(before[f.key], cell[f.key], f.key));
  const td = h(
    "td.cell",
    { dataset: { key }, class: [changed ? "changed" : "", s.refused.has(key) ? "refused" : ""].join(" ") },
    h("button.small.remove", { title: "remove this cell", onclick: () => removeCell(key) }, "×"),
    h(
      "div.fields",
      FIELDS.map((field) =>
        h(
          "label",
          field.label,
          h("input", {
            value: field.read(cell[field.key]),
            inputMode: "decimal",
            dataset: { field: field.key },
            class: s.invalid.has(`${key}|${field.key}`) ? "invalid" : "",
            oninput: (event) => onEdit(key, field, event.target),
          }),
        ),
      ),
    ),
    h("div.net.muted", "checking…"),
  );
  return td;
}

function onEdit(key, field, input) {
  const s = state;
  const cell = s.draft.cells.find((c) => keyOf(c) === key);
  const value = field.write(input.value);
  const id = `${key}|${field.key}`;
  if (Number.isNaN(value)) {
    s.invalid.add(id);
    input.classList.add("invalid");
    setSaveState("not saved: fix the marked field");
    return;
  }
  s.invalid.delete(id);
  input.classList.remove("invalid");
  cell[field.key] = value;
  if (s.refused.delete(key)) {
    // the refusal was about the cells as they were: drop what this edit answers
    const result = document.getElementById("publish-result");
    const item = result && result.querySelector(`li[data-key="${CSS.escape(key)}"]`);
    if (item) item.remove();
    if (result && !s.refused.size) clear(result);
  }
  const td = input.closest("td");
  td.classList.remove("refused");
  const before = publishedCell(key);
  td.classList.toggle("changed", !before || FIELDS.some((f) => !same(before[f.key], cell[f.key], f.key)));
  s.dirty = true;
  setSaveState();
  s.save();
}

function setSaveState(text) {
  const node = document.getElementById("save-state");
  if (!node || !state) return;
  if (text) node.textContent = text;
  else if (state.view !== "draft") node.textContent = "";
  else node.textContent = state.saving ? "saving…" : state.dirty ? "unsaved changes" : "all changes saved";
}

async function saveDraft() {
  const s = state;
  if (!s || !s.draft || s.invalid.size) return;
  if (s.saving) {
    await s.saving;
  }
  s.saving = (async () => {
    const errors = document.getElementById("grid-errors");
    try {
      s.dirty = false;
      setSaveState();
      const saved = await call("updateGrid", { grid_id: s.draft.id }, { cells: s.draft.cells });
      if (state !== s) return;
      s.draft.updated_at = saved.updated_at;
      clear(errors);
      await checkFloor();
    } catch (error) {
      if (state !== s) return;
      s.dirty = true;
      markServerFields(error);
      showError(error, errors);
    }
  })();
  try {
    await s.saving;
  } finally {
    s.saving = null;
    setSaveState();
  }
}

function markServerFields(error) {
  for (const item of error.detail || []) {
    const loc = item.loc || [];
    if (loc[0] === "body" && loc[1] === "cells" && loc.length >= 4) {
      const cell = state.draft.cells[Number(loc[2])];
      if (!cell) continue;
      const input = document.querySelector(`td[data-key="${CSS.escape(keyOf(cell))}"] input[data-field="${CSS.escape(loc[3])}"]`);
      if (input) input.classList.add("invalid");
    }
  }
}

async function checkFloor() {
  const s = state;
  if (!s.draft) return;
  s.floor = await call("floorCheck", { grid_id: s.draft.id });
  if (state !== s) return;
  paintFloor();
  drawDiff();
}

function paintFloor() {
  const s = state;
  const status = document.getElementById("floor-status");
  if (!status) return;
  if (s.view !== "draft" || !s.floor) return clear(status);
  const floor = s.floor.floor_cents_per_hour;
  const figures = new Map((s.floor.cells || []).map((c) => [keyOf(c), c]));
  for (const td of document.querySelectorAll("#grid-table td.cell")) {
    const figure = figures.get(td.dataset.key);
    const net = td.querySelector(".net");
    td.classList.toggle("below", !!(figure && figure.is_below_floor));
    if (!figure || !net) continue;
    net.className = `net ${figure.is_below_floor ? "bad" : "ok"}`;
    net.textContent = `net ${perHour(figure.net_hourly_cents)} ${figure.is_below_floor ? "<" : "≥"} floor ${perHour(floor)}`;
  }
  const below = s.floor.offending_cells.length;
  clear(
    status,
    below
      ? h("div.notice#floor-below", `${below} cell(s) pay less than the fair-pay floor of ${perHour(floor)} net of contributions (${(Number(s.floor.contribution_rate) * 100).toFixed(1)} %): the server will refuse to publish.`)
      : h("div.success#floor-ok", `Every cell pays at least the fair-pay floor of ${perHour(floor)} net of contributions, travel counted.`),
  );
}

function publishPanel() {
  const reason = h("input#publish-reason", { placeholder: "why (kept in the audit trail)", size: 50 });
  return h(
    "div.card",
    h("h2", "Publish this draft"),
    h(
      "form.inline",
      {
        onsubmit: (event) => {
          event.preventDefault();
          guard(() => publish(reason.value));
        },
      },
      h("label", "Reason", reason),
      h("button.primary#publish", { type: "submit" }, "Publish"),
    ),
    h("p.muted", "A version that lowers a payout takes effect after the notice period; the server decides and says when."),
    h("div#publish-result"),
  );
}

async function publish(reason) {
  const s = state;
  s.save.cancel();
  if (s.invalid.size) throw new Error("fix the marked fields first");
  await saveDraft();
  const result = document.getElementById("publish-result");
  try {
    const grid = await call("publishGrid", { grid_id: s.draft.id }, { reason });
    toast(`Published version ${grid.version}`, "ok");
    s.refused = new Set();
    await load();
    s.view = "published";
    draw();
    const status = document.getElementById("floor-status");
    clear(status, h("div.success#published", `Published as version ${grid.version}, in force from ${when(grid.effective_at)}.`));
  } catch (error) {
    const offending = (error.detail || []).flatMap((d) => d.offending_cells || []);
    if (!offending.length) return showError(error, result);
    s.refused = new Set(offending.map(keyOf));
    for (const td of document.querySelectorAll("#grid-table td.cell")) td.classList.toggle("refused", s.refused.has(td.dataset.key));
    clear(
      result,
      h(
        "div.error#refusal",
        h("b", "Refused by the server: "),
        error.detail[0].msg,
        h(
          "ul.refusal",
          offending.map((c) =>
            h(
              "li",
              { dataset: { key: keyOf(c) } },
              `${CATEGORIES[c.category] || c.category} × ${c.zone}: net ${perHour(c.net_hourly_cents)}, floor ${perHour(c.floor_cents_per_hour)} — short by ${perHour(c.shortfall_cents_per_hour)}`,
            ),
          ),
        ),
      ),
    );
  }
}

async function drawDiff() {
  const s = state;
  const box = document.getElementById("diff");
  if (!box || !s.draft) return;
  const rows = [];
  const draftKeys = new Set(s.draft.cells.map(keyOf));
  for (const cell of s.draft.cells) {
    const key = keyOf(cell);
    const before = publishedCell(key);
    if (!before) {
      rows.push(h("tr", h("td", cell.category), h("td", cell.zone), h("td", badge("added", "info")), h("td", "—"), h("td", perHour(cell.hourly_rate_cents))));
      continue;
    }
    for (const field of FIELDS) {
      if (!same(before[field.key], cell[field.key], field.key)) {
        rows.push(h("tr", h("td", cell.category), h("td", cell.zone), h("td", field.label), h("td", field.read(before[field.key])), h("td", h("b", field.read(cell[field.key])))));
      }
    }
  }
  for (const cell of s.published ? s.published.cells : []) {
    if (!draftKeys.has(keyOf(cell))) {
      rows.push(h("tr", h("td", cell.category), h("td", cell.zone), h("td", badge("removed", "bad")), h("td", perHour(cell.hourly_rate_cents)), h("td", "—")));
    }
  }
  const title = s.published ? `Draft against published version ${s.published.version}` : "Draft (nothing published yet)";
  clear(
    box,
    h("h2", title),
    rows.length
      ? h("table#diff-table", h("thead", h("tr", ["category", "zone", "field", "published", "draft"].map((x) => h("th", x)))), h("tbody", rows))
      : h("p.muted#diff-none", "No difference with the published version."),
    h("div#payout-changes"),
  );
  if (!s.published || !rows.length) return;
  try {
    const changes = await call("payoutChanges", { grid_id: s.draft.id });
    const moved = changes.cells.filter((c) => c.old_payout_cents_per_hour !== c.new_payout_cents_per_hour);
    const target = document.getElementById("payout-changes");
    if (!target || !moved.length) return;
    clear(
      target,
      h("h3", "Provider payout per hour"),
      h(
        "table",
        h("tbody", moved.map((c) => h("tr", h("td", c.category), h("td", c.zone), h("td", perHour(c.old_payout_cents_per_hour)), h("td", "→ ", h("b", perHour(c.new_payout_cents_per_hour))), h("td", c.is_decrease ? badge("decrease: notice period", "warn") : badge("increase", "ok"))))),
      ),
    );
  } catch (error) {
    showError(error, document.getElementById("payout-changes"));
  }
}

async function newDraft() {
  const s = state;
  const body = s.published
    ? { name: `Draft from version ${s.published.version}`, from_version: s.published.version }
    : { name: "New grid", cells: [] };
  const grid = await call("createGrid", {}, body);
  toast(`Draft “${grid.name}” created`, "ok");
  await load(grid.id);
}

function addCell(category, zone) {
  const s = state;
  const model = s.draft.cells.find((c) => c.category === category) || s.draft.cells[0] || DEFAULT_CELL;
  s.draft.cells.push({ ...structuredClone(model), category, zone });
  s.dirty = true;
  draw();
  saveDraft();
}

function removeCell(key) {
  const s = state;
  s.draft.cells = s.draft.cells.filter((c) => keyOf(c) !== key);
  s.dirty = true;
  draw();
  saveDraft();
}

async function importCsv(file) {
  if (!file) return;
  const text = await file.text();
  const name = file.name.replace(/\.csv$/i, "") || "imported grid";
  const grid = await call("importGridCsv", { name }, text, { contentType: "text/csv; charset=utf-8" });
  toast(`Imported ${grid.cells.length} cells as draft “${grid.name}”`, "ok");
  await load(grid.id);
}

async function exportCsv() {
  const grid = shownGrid();
  const text = await call("exportGridCsv", { grid_id: grid.id }, undefined, { as: "text" });
  const link = h("a", {
    href: URL.createObjectURL(new Blob([text], { type: "text/csv" })),
    download: `grid-${grid.version ? "v" + grid.version : grid.name.replace(/\W+/g, "-")}.csv`,
  });
  document.body.append(link);
  link.click();
  link.remove();
}

async function guard(action) {
  try {
    await action();
  } catch (error) {
    showError(error, document.getElementById("grid-errors"));
  }
}
