/*
 * /account/security/keys/new: register a security key or passkey under a name.
 * Markup: <form id="webauthn-register" data-csrf="…"> with <input name="name">, a submit button and
 * <p id="webauthn-register-status">. POST /account/security/keys/options → navigator.credentials.create (via
 * SimpleWebAuthnBrowser) → POST /account/security/keys { name, response }, then follow the `redirect` of the answer.
 */

(() => {
  const form = document.getElementById("webauthn-register");
  const status = document.getElementById("webauthn-register-status");
  if (!form) return;
  const button = form.querySelector('button[type="submit"]');
  const say = (text) => {
    if (status) status.textContent = text;
  };

  async function post(url, body) {
    const response = await fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "content-type": "application/json", "x-tessera-csrf": form.dataset.csrf || "" },
      body: JSON.stringify(body),
    });
    const data = await response.json().catch(() => ({}));
    if (data.redirect) {
      window.location.assign(data.redirect);
      return undefined;
    }
    if (!response.ok) throw new Error(data.error_description || "Something went wrong. Please try again.");
    return data;
  }

  function explain(error) {
    if (error && error.name === "InvalidStateError") return "This security key is already registered.";
    if (error && error.name === "NotAllowedError")
      return "The request was cancelled or timed out. Try again.";
    return error?.message || "Something went wrong. Please try again.";
  }

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
      const start = await post("/account/security/keys/options", {});
      if (!start) return;
      const response = await browser.startRegistration({ optionsJSON: start.options });
      say("Saving…");
      await post("/account/security/keys", { name: form.elements.name.value, response });
    } catch (error) {
      say(explain(error));
    } finally {
      if (button) button.disabled = false;
    }
  });
})();
