/**
 * The document shell every page shares.
 *
 * - `<!doctype html>`, `<html lang="en">`, UTF-8, a responsive viewport, `noindex`; the one stylesheet linked by
 *   its hashed URL; no script of any kind, no inline style, no event-handler attribute (CSP `default-src 'none'`).
 * - Landmarks: a skip link to `<main id="main">`, a `<header>` with the product name and, for a signed-in user,
 *   the account `<nav>` (current page marked `aria-current="page"`) and a sign-out form (`POST /logout`, CSRF).
 * - A sign-out form is only rendered with a CSRF token: the types require `csrfToken` whenever `user` is given.
 * - Without a user the main area is a narrow centred column (sign-in pages); with one, the wide account area.
 * - A flash message is shown at the top of main in a `role="status"` region.
 */
import { csrfField, type Flash, nameOf, statusMessage, type UiUser } from "./components.js";
import { html, type SafeHtml } from "./html.js";
import { stylesheetHref } from "./styles.js";

export type { Flash, UiUser } from "./components.js";

/** Which account page is showing, for `aria-current`. */
export type AccountSection = "account" | "sessions" | "security" | "apps" | "tokens" | "password";

/** Signed in (a sign-out form needs the CSRF token) or anonymous. */
export type LayoutAuth = { user: UiUser; csrfToken: string } | { user?: null; csrfToken?: string };

export type LayoutOptions = LayoutAuth & {
  /** The page's own title; " · Tessera" is appended. */
  title: string;
  body: SafeHtml;
  flash?: Flash | null;
  /** Marks the matching nav entry as the current page. */
  section?: AccountSection;
};

export const PRODUCT_NAME = "Tessera";

const NAV: readonly { section: AccountSection; href: string; text: string }[] = [
  { section: "account", href: "/account", text: "Account" },
  { section: "sessions", href: "/account/sessions", text: "Sessions" },
  { section: "security", href: "/account/security", text: "Security" },
  { section: "apps", href: "/account/apps", text: "Connected apps" },
  { section: "tokens", href: "/account/tokens", text: "API tokens" },
  { section: "password", href: "/account/password", text: "Password" },
];

/** The mark: four tiles of a mosaic (a tessera is one tile). Decorative, hidden from assistive technology. */
const LOGO = html`<svg class="brand-mark" width="28" height="28" viewBox="0 0 28 28" aria-hidden="true" focusable="false">
<rect x="2" y="2" width="11" height="11" rx="2.5" fill="currentColor"/>
<rect x="15" y="2" width="11" height="11" rx="2.5" fill="currentColor" fill-opacity="0.55"/>
<rect x="2" y="15" width="11" height="11" rx="2.5" fill="currentColor" fill-opacity="0.55"/>
<rect x="15" y="15" width="11" height="11" rx="2.5" fill="currentColor" fill-opacity="0.3"/>
</svg>`;

/** The same mark as a data: URL favicon (CSP `img-src 'self' data:`), so browsers do not ask for /favicon.ico. */
const FAVICON = `data:image/svg+xml,${encodeURIComponent(
  '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 28 28">' +
    '<rect x="2" y="2" width="11" height="11" rx="2.5" fill="#1d4ed8"/>' +
    '<rect x="15" y="2" width="11" height="11" rx="2.5" fill="#1d4ed8" fill-opacity=".55"/>' +
    '<rect x="2" y="15" width="11" height="11" rx="2.5" fill="#1d4ed8" fill-opacity=".55"/>' +
    '<rect x="15" y="15" width="11" height="11" rx="2.5" fill="#1d4ed8" fill-opacity=".3"/></svg>',
)}`;

function header(user: UiUser | null | undefined, csrfToken: string | undefined, section?: AccountSection) {
  const signedIn = user && csrfToken !== undefined ? { user, csrfToken } : null;
  return html`<header class="site-header">
<div class="site-header-inner">
<a class="brand" href="${signedIn ? "/account" : "/login"}">${LOGO}<span>${PRODUCT_NAME}</span></a>
${
  signedIn
    ? html`<nav class="site-nav" aria-label="Account">
<ul>
${NAV.map(
  (item) =>
    html`<li><a href="${item.href}"${item.section === section ? html` aria-current="page"` : null}>${item.text}</a></li>
`,
)}</ul>
</nav>
<div class="session-info">
<span class="session-user">Signed in as ${nameOf(signedIn.user)}</span>
<form method="post" action="/logout">
${csrfField(signedIn.csrfToken)}
<button class="button button--secondary button--small" type="submit">Sign out</button>
</form>
</div>`
    : null
}
</div>
</header>`;
}

/** A complete HTML document around `body`. */
export function layout(options: LayoutOptions): string {
  const { user, csrfToken, flash } = options;
  const doc = html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<meta name="robots" content="noindex, nofollow">
<title>${options.title} · ${PRODUCT_NAME}</title>
<link rel="stylesheet" href="${stylesheetHref()}">
<link rel="icon" href="${FAVICON}" type="image/svg+xml">
</head>
<body>
<a class="skip-link" href="#main">Skip to main content</a>
${header(user, csrfToken, options.section)}
<main class="main ${user ? "main--app" : "main--auth"}" id="main" tabindex="-1">
${flash ? statusMessage(flash, "flash") : null}${options.body}
</main>
</body>
</html>
`;
  return doc.toString();
}
