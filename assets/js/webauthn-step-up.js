/*
 * /login/step-up: confirm a sensitive action with a security key or passkey.
 * Markup: <form id="webauthn-form" data-csrf="…" data-return-to="/…"> with <button id="webauthn-step-up"> and
 * <p id="webauthn-step-up-status">. POST /login/step-up/webauthn/options → navigator.credentials.get →
 * POST /login/step-up/webauthn/verify { response, returnTo }, then follow the `redirect` of the answer.
 */

(() => {
  const form = document.getElementById("webauthn-form");
  const button = document.getElementById("webauthn-step-up");
  const status = document.getElementById("webauthn-step-up-status");
  if (!form || !button) return;
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
    if (error && error.name === "NotAllowedError")
      return "The request was cancelled or timed out. Try again.";
    return error?.message || "Something went wrong. Please try again.";
  }

  button.addEventListener("click", async () => {
    const browser = window.SimpleWebAuthnBrowser;
    if (!browser?.browserSupportsWebAuthn()) {
      say("This browser cannot use security keys. Confirm another way.");
      return;
    }
    button.disabled = true;
    say("Follow your browser's instructions to use your security key or passkey.");
    try {
      const start = await post("/login/step-up/webauthn/options", {});
      if (!start) return;
      const response = await browser.startAuthentication({ optionsJSON: start.options });
      say("Checking…");
      await post("/login/step-up/webauthn/verify", { response, returnTo: form.dataset.returnTo || "" });
    } catch (error) {
      say(explain(error));
    } finally {
      button.disabled = false;
    }
  });
})();
