/*
 * /account/security/keys/new: register a security key or passkey under a name.
 * Markup: <form id="webauthn-register" data-csrf="…"> with <input name="name">, a submit button and
 * <p id="webauthn-register-status">. POST /account/security/keys/options → navigator.credentials.create (via
 * SimpleWebAuthnBrowser) → POST /account/security/keys { name, response }, then follow the `redirect` of the answer (webauthn-common.js).
 */

(() => {
  const form = document.getElementById("webauthn-register");
  const status = document.getElementById("webauthn-register-status");
  if (!form || !window.TesseraWebAuthn) return;
  const button = form.querySelector('button[type="submit"]');
  const { post, explain, speaker } = window.TesseraWebAuthn;
  const say = speaker(status);
  const messages = { InvalidStateError: "This security key is already registered." };

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const browser = window.SimpleWebAuthnBrowser;
    if (!browser?.browserSupportsWebAuthn()) {
      say("This browser cannot register security keys.");
      return;
    }
    if (button) button.disabled = true;
    say("Follow your browser's instructions to register your security key or passkey.");
    try {
      const start = await post(form, "/account/security/keys/options", {});
      if (!start) return;
      const response = await browser.startRegistration({ optionsJSON: start.options });
      say("Saving…");
      await post(form, "/account/security/keys", { name: form.elements.name.value, response });
    } catch (error) {
      say(explain(error, messages));
    } finally {
      if (button) button.disabled = false;
    }
  });
})();
