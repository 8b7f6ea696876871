/*
 * /login/step-up: confirm a sensitive action with a security key or passkey.
 * Markup: <div id="webauthn-form" data-csrf="…" data-return-to="/…"> with <button id="webauthn-step-up"> and
 * <p id="webauthn-step-up-status">. POST /login/step-up/webauthn/options → navigator.credentials.get →
 * POST /login/step-up/webauthn/verify { response, returnTo }, then follow the `redirect` (webauthn-common.js).
 */

(() => {
  const holder = document.getElementById("webauthn-form");
  const button = document.getElementById("webauthn-step-up");
  if (!holder || !button || !window.TesseraWebAuthn) return;
  const { post, explain, speaker } = window.TesseraWebAuthn;
  const say = speaker(document.getElementById("webauthn-step-up-status"));

  button.addEventListener("click", async () => {
    const browser = window.SimpleWebAuthnBrowser;
    if (!browser?.browserSupportsWebAuthn()) {
      say("This browser cannot use security keys. Confirm another way.");
      return;
    }
    button.disabled = true;
    say("Follow your browser's instructions to use your security key or passkey.");
    try {
      const start = await post(holder, "/login/step-up/webauthn/options", {});
      if (!start) return;
      const response = await browser.startAuthentication({ optionsJSON: start.options });
      say("Checking…");
      await post(holder, "/login/step-up/webauthn/verify", {
        response,
        returnTo: holder.dataset.returnTo || "",
      });
    } catch (error) {
      say(explain(error));
    } finally {
      button.disabled = false;
    }
  });
})();
