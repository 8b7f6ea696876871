/*
 * What the WebAuthn page scripts share (loaded before each of them): `window.TesseraWebAuthn`.
 * - post(holder, url, body): JSON POST with the CSRF token of `holder` (its data-csrf) in `x-tessera-csrf`; an
 *   answer with `redirect` navigates there (and resolves undefined); an error answer throws its description.
 * - explain(error, messages): the text to show for a failed ceremony (`messages` by error name first).
 * - speaker(element): a function that writes a status line into `element` (a role="status" paragraph).
 */

(() => {
  const GENERIC = "Something went wrong. Please try again.";

  async function post(holder, url, body) {
    const response = await fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "content-type": "application/json", "x-tessera-csrf": holder.dataset.csrf || "" },
      body: JSON.stringify(body),
    });
    const data = await response.json().catch(() => ({}));
    if (data.redirect) {
      window.location.assign(data.redirect);
      return undefined;
    }
    if (!response.ok) throw new Error(data.error_description || GENERIC);
    return data;
  }

  function explain(error, messages = {}) {
    if (error && messages[error.name]) return messages[error.name];
    if (error && error.name === "NotAllowedError")
      return "The request was cancelled or timed out. Try again.";
    return error?.message || GENERIC;
  }

  const speaker = (element) => (text) => {
    if (element) element.textContent = text;
  };

  window.TesseraWebAuthn = { post, explain, speaker };
})();
