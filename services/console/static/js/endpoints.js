// Every call the console makes to the public API, in one place.
// access: "ops"    — ops only: the API must answer 403 to any other role (tests/console check it);
//         "shared" — a read other roles may also make (their own data); never a change;
//         "public" — no token needed.
// {name} in a path is filled from the call's parameters (URL-encoded).
export const ENDPOINTS = {
  // pricing: zones and grids
  listZones: { method: "GET", path: "/v1/zones?with_geometry=true", access: "public" },
  listGrids: { method: "GET", path: "/v1/price-grids", access: "shared" },
  currentGrid: { method: "GET", path: "/v1/price-grids/current", access: "shared" },
  getGrid: { method: "GET", path: "/v1/price-grids/{grid_id}", access: "shared" },
  createGrid: { method: "POST", path: "/v1/price-grids", access: "ops" },
  updateGrid: { method: "PUT", path: "/v1/price-grids/{grid_id}", access: "ops" },
  floorCheck: { method: "GET", path: "/v1/price-grids/{grid_id}/floor-check", access: "ops" },
  publishGrid: { method: "POST", path: "/v1/price-grids/{grid_id}/publish", access: "ops" },
  payoutChanges: { method: "GET", path: "/v1/price-grids/{grid_id}/payout-changes", access: "shared" },
  exportGridCsv: { method: "GET", path: "/v1/price-grids/{grid_id}/export?format=csv", access: "shared" },
  importGridCsv: { method: "POST", path: "/v1/price-grids/import?format=csv&name={name}", access: "ops" },
  // providers: training
  trainingCatalogue: { method: "GET", path: "/v1/trainings/modules", access: "shared" },
  createModule: { method: "POST", path: "/v1/trainings/modules", access: "ops" },
  updateModule: { method: "PATCH", path: "/v1/trainings/modules/{module_id}", access: "ops" },
  setRequirements: { method: "PUT", path: "/v1/trainings/requirements/{category}", access: "ops" },
  previewTrainingChange: { method: "POST", path: "/v1/trainings/preview", access: "ops" },
  // providers: vetting
  vettingQueue: { method: "GET", path: "/v1/vetting/queue", access: "ops" },
  vettingAudit: { method: "GET", path: "/v1/vetting/audit?provider_id={provider_id}", access: "ops" },
  recordCheck: { method: "POST", path: "/v1/vetting/{provider_id}/checks", access: "ops" },
  approveApplication: { method: "POST", path: "/v1/vetting/{provider_id}/approve", access: "ops" },
  rejectApplication: { method: "POST", path: "/v1/vetting/{provider_id}/reject", access: "ops" },
  // providers: one provider
  listProviders: { method: "GET", path: "/v1/providers", access: "ops" },
  getProvider: { method: "GET", path: "/v1/providers/{provider_id}", access: "shared" },
  providerChecks: { method: "GET", path: "/v1/providers/{provider_id}/checks", access: "shared" },
  providerTrainings: { method: "GET", path: "/v1/providers/{provider_id}/trainings", access: "shared" },
  providerReputation: { method: "GET", path: "/v1/providers/{provider_id}/reputation", access: "shared" },
  providerBonuses: { method: "GET", path: "/v1/providers/{provider_id}/bonuses", access: "shared" },
  providerTurnover: { method: "GET", path: "/v1/providers/{provider_id}/turnover-watch", access: "shared" },
  providerDependency: { method: "GET", path: "/v1/providers/{provider_id}/dependency-watch", access: "shared" },
  providerDecisions: { method: "GET", path: "/v1/providers/{provider_id}/decisions", access: "shared" },
  // matching: dispatch
  dispatchBoard: { method: "GET", path: "/v1/dispatch/board", access: "ops" },
  dispatchDecision: { method: "GET", path: "/v1/dispatch/decisions/{order_id}", access: "shared" },
  getWeights: { method: "GET", path: "/v1/dispatch/weights", access: "shared" },
  setWeights: { method: "PUT", path: "/v1/dispatch/weights", access: "ops" },
};
