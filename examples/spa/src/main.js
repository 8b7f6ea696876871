/**
 * The example single-page application: a browser front end that never holds a token.
 *
 * - Every call goes to the BFF on this page's own origin (`/bff/...`); the BFF keeps the tokens server-side and
 *   the browser holds only its HttpOnly session cookie, which this code cannot read.
 * - Every call carries `x-bff-csrf: 1`: a header a cross-site page cannot add without a CORS preflight the BFF
 *   never grants; the BFF refuses state-changing requests without it (403 `{error:"csrf"}`).
 * - 401 (`/bff/user` without a session, `{error:"login_required"}` once the refresh token is dead) shows "Sign
 *   in", which navigates to `/bff/login?returnTo=<this page>`; the BFF runs the code flow and brings us back.
 * - "Sign out" posts `/bff/logout` and then navigates to the `logoutUrl` it answers (RP-initiated logout at
 *   Tessera, which returns to this page).
 * - Nothing is written to localStorage, sessionStorage or cookies; text from the server goes into the page as
 *   text (`textContent`), never as HTML.
 */
import "./style.css";

const $ = (id) => /** @type {HTMLElement} */ (document.getElementById(id));

class SignedOut extends Error {}

/** Calls the BFF with the CSRF header; a 401 means "no (more) session": the page offers to sign in. */
async function bff(path, init = {}) {
  const response = await fetch(path, {
    ...init,
    credentials: "same-origin",
    headers: { accept: "application/json", "x-bff-csrf": "1", ...(init.headers ?? {}) },
  });
  if (response.status === 401) throw new SignedOut();
  const body = response.headers.get("content-type")?.includes("json") ? await response.json() : undefined;
  if (!response.ok) {
    const reason = body?.error_description ?? body?.error ?? response.statusText;
    throw new Error(`${init.method ?? "GET"} ${path}: ${response.status} ${reason}`);
  }
  return body;
}

function showError(error) {
  $("error").textContent = error instanceof Error ? error.message : String(error);
  $("error").hidden = false;
}

function showSignedOut() {
  $("status").textContent = "You are signed out.";
  $("user-name").hidden = true;
  $("sign-out").hidden = true;
  $("orders-section").hidden = true;
  $("sign-in").hidden = false;
}

function renderOrders(orders) {
  const list = $("orders");
  list.replaceChildren(
    ...orders.map((order) => {
      const item = document.createElement("li");
      item.dataset.id = String(order.id);
      item.textContent = `#${order.id} ${order.item} × ${order.quantity}`;
      return item;
    }),
  );
}

async function loadOrders() {
  const { orders } = await bff("/bff/api/orders");
  renderOrders(orders);
}

async function start() {
  let user;
  try {
    user = await bff("/bff/user");
  } catch (error) {
    if (error instanceof SignedOut) return showSignedOut();
    throw error;
  }
  $("user-name").textContent = user.name ?? user.preferred_username ?? user.sub;
  $("user-name").hidden = false;
  $("sign-out").hidden = false;
  $("sign-in").hidden = true;
  $("orders-section").hidden = false;
  $("status").textContent = "Signed in.";
  await loadOrders();
}

/** Runs an action; a lost session switches the page to "signed out", anything else is shown. */
async function guarded(action) {
  $("error").hidden = true;
  try {
    await action();
  } catch (error) {
    if (error instanceof SignedOut) showSignedOut();
    else showError(error);
  }
}

$("sign-in").addEventListener("click", () => {
  const returnTo = `${location.pathname}${location.search}`;
  location.assign(`/bff/login?returnTo=${encodeURIComponent(returnTo)}`);
});

$("sign-out").addEventListener("click", () =>
  guarded(async () => {
    const { logoutUrl } = await bff("/bff/logout", { method: "POST" });
    location.assign(logoutUrl);
  }),
);

$("order-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const form = /** @type {HTMLFormElement} */ (event.currentTarget);
  const item = /** @type {HTMLInputElement} */ ($("item")).value.trim();
  const quantity = Number(/** @type {HTMLInputElement} */ ($("quantity")).value);
  guarded(async () => {
    await bff("/bff/api/orders", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ item, quantity }),
    });
    form.reset();
    await loadOrders();
    $("status").textContent = `Ordered ${quantity} × ${item}.`;
  });
});

guarded(start);
