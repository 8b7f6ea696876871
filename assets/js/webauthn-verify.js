/*
 * /login/verify: "Use your security key or passkey" as the second factor after the password.
 * Markup: <div id="webauthn-form" data-csrf="…"> with <button id="webauthn-verify"> and <p id="webauthn-verify-status">.
 * POST /login/webauthn/options → navigator.credentials.get (via SimpleWebAuthnBrowser) → POST /login/webauthn/verify,
 * then follow the `redirect` of the answer (webauthn-common.js).
 */

(() => {
  const holder = document.getElementById("webauthn-form");
  const button = document.getElementById("webauthn-verify");
  if (!holder || !button || !window.TesseraWebAuthn) return;
  const { post, explain, speaker } = window.TesseraWebAuthn;
  const say = speaker(document.getElementById("webauthn-verify-status"));

  button.addEventListener("click", async () => {
    const browser = window.SimpleWebAuthnBrowser;
    if (!browser?.browserSupportsWebAuthn()) {
      say("This browser cannot use security keys. Use another way to verify.");
      return;
    }
    button.disabled = true;
    say("Follow your browser's instructions to use your security key or passkey.");
    try {
      const start = await post(holder, "/login/webauthn/options", {});
      if (!start) return;
      const response = await browser.startAuthentication({ optionsJSON: start.options });
      say("Checking…");
      await post(holder, "/login/webauthn/verify", { response });
    } catch (error) {
      say(explain(error));
    } finally {
      button.disabled = false;
    }
  });
})();
