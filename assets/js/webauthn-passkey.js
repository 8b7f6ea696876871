/*
 * /login: sign in with a passkey, without a password.
 * Markup: the user-name input has autocomplete="username webauthn" (the browser then offers passkeys in its
 * autofill: "conditional UI"), and <div id="webauthn-form" data-csrf="…" data-return-to="/…"> holds
 * <button id="passkey-sign-in"> and <p id="passkey-sign-in-status">.
 * POST /login/passkey/options → navigator.credentials.get (autofill, or modal from the button) →
 * POST /login/passkey/verify { response, returnTo }, then follow the `redirect` of the answer (webauthn-common.js).
 */

(() => {
  const form = document.getElementById("webauthn-form");
  const button = document.getElementById("passkey-sign-in");
  const status = document.getElementById("passkey-sign-in-status");
  if (!form || !window.TesseraWebAuthn) return;
  const { post: postWith, explain, speaker } = window.TesseraWebAuthn;
  const say = speaker(status);
  const post = (url, body) => postWith(form, url, body);

  /** One ceremony: autofill (conditional UI) or modal. Each asks for a fresh, single-use challenge. */
  async function signIn(browser, autofill) {
    const start = await post("/login/passkey/options", {});
    if (!start) return;
    const response = await browser.startAuthentication({
      optionsJSON: start.options,
      useBrowserAutofill: autofill,
    });
    say("Checking…");
    await post("/login/passkey/verify", { response, returnTo: form.dataset.returnTo || "" });
  }

  // The autofill request is re-armed after a failure (an expired challenge, a refused passkey), a few times at most.
  let autofillRequests = 0;
  const aborted = (error) =>
    error && (error.name === "AbortError" || error.code === "ERROR_CEREMONY_ABORTED");

  async function offerAutofill(browser) {
    if (autofillRequests >= 3 || !(await browser.browserSupportsWebAuthnAutofill())) return;
    autofillRequests += 1;
    try {
      await signIn(browser, true);
    } catch (error) {
      // Aborted: the button started a modal request instead.
      if (aborted(error)) return;
      if (error && error.name !== "NotAllowedError")
        say(error.message || "Something went wrong. Please try again.");
      offerAutofill(browser);
    }
  }

  function start() {
    const browser = window.SimpleWebAuthnBrowser;
    if (!browser?.browserSupportsWebAuthn()) {
      if (button) button.hidden = true;
      return;
    }
    if (button) {
      button.addEventListener("click", async () => {
        button.disabled = true;
        say("Follow your browser's instructions to use your passkey.");
        try {
          await signIn(browser, false);
        } catch (error) {
          say(explain(error));
          offerAutofill(browser);
        } finally {
          button.disabled = false;
        }
      });
    }
    offerAutofill(browser);
  }

  // The library may be loaded after this script: start once both are there.
  if (window.SimpleWebAuthnBrowser || document.readyState === "complete") start();
  else window.addEventListener("load", start, { once: true });
})();
