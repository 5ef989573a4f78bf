// The console shell: sign-in with a pasted ops token, hash routes to the pages.
import { call, session } from "./api.js";
import { clear, h, showError } from "./ui.js";

const PAGES = {
  grids: () => import("./pages/grids.js"),
  training: () => import("./pages/training.js"),
  vetting: () => import("./pages/vetting.js"),
  dispatch: () => import("./pages/dispatch.js"),
  providers: () => import("./pages/providers.js"),
};

const root = document.getElementById("page");
let current = null; // the page module shown, to stop its timers when leaving

function signInView(message) {
  document.getElementById("nav").hidden = true;
  clear(document.getElementById("who"));
  const input = h("textarea#token", { rows: 5, placeholder: "eyJhbGciOi…", autocomplete: "off", spellcheck: false });
  const problem = h("div#signin-error");
  const form = h(
    "form.card.signin",
    {
      onsubmit: async (event) => {
        event.preventDefault();
        const token = input.value.trim();
        if (!token) return;
        session.signIn(token);
        try {
          await call("vettingQueue"); // any ops-only read: proves the token is an ops token
          location.hash = location.hash && location.hash !== "#/signin" ? location.hash : "#/grids";
          route();
        } catch (error) {
          session.signOut();
          const why = error.status === 403 ? "This token is valid but is not an ops token." : error.message;
          showError({ message: `Sign-in refused: ${why}` }, problem);
        }
      },
    },
    h("h1", "Sign in"),
    h("p.muted", "Paste an ops bearer token (e.g. ", h("code", "dispatch token --role ops --subject you"), "). It is kept in this tab only."),
    input,
    problem,
    h("button.primary", { type: "submit" }, "Sign in"),
  );
  clear(root, message ? h("div.error", message) : null, form);
  input.focus();
}

function header() {
  const claims = session.claims() || {};
  document.getElementById("nav").hidden = false;
  clear(
    document.getElementById("who"),
    h("span.muted", `${claims.sub || "?"} · ${claims.role || "?"}`),
    h("button.link#signout", { onclick: () => { session.signOut(); signInView(); } }, "Sign out"),
  );
}

async function route() {
  if (current && current.stop) current.stop();
  current = null;
  if (!session.token()) return signInView();
  header();
  const [name = "grids", ...params] = location.hash.replace(/^#\/?/, "").split("/").map(decodeURIComponent);
  const load = PAGES[name] || PAGES.grids;
  for (const link of document.querySelectorAll("#nav a")) {
    link.classList.toggle("active", link.dataset.page === (PAGES[name] ? name : "grids"));
  }
  // each visit draws into its own container: a page still loading from an earlier visit
  // draws into a detached node and never over the page shown now
  const container = h("div.view", h("p.muted", "Loading…"));
  clear(root, container);
  try {
    const page = await load();
    if (!container.isConnected) return;
    current = page;
    await page.render(container, params);
  } catch (error) {
    if (container.isConnected) showError(error, container);
  }
}

window.addEventListener("hashchange", route);
window.addEventListener("console:unauthorized", () => {
  session.signOut();
  signInView("Your token was refused (expired or invalid): sign in again.");
});
route();
