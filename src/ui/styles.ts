/**
 * The one stylesheet of the sign-in and account pages, served from `STYLESHEET_PATH`.
 *
 * - Self-contained: no `@import`, no `url(...)` (CSP `style-src 'self'`, `img-src 'self' data:`; nothing is
 *   fetched from another host).
 * - Colours live in custom properties, light by default and dark under `prefers-color-scheme: dark`; every text
 *   pair meets WCAG AA (4.5:1) and controls and focus rings 3:1 (test/ui/styles.test.ts computes the ratios).
 * - Focus is always visible (`:focus-visible` ring); touch targets are at least 44 px high; mobile first, with a
 *   centred card for sign-in pages and two columns for the account overview from 48rem up.
 * - `stylesheetHref()` adds a content hash so a long cache lifetime is safe: a changed stylesheet is a new URL.
 */
import { createHash } from "node:crypto";

export const STYLESHEET_PATH = "/assets/tessera.css";

export const STYLESHEET = `:root {
  color-scheme: light dark;
  --bg: #f6f7f9;
  --surface: #ffffff;
  --surface-muted: #f6f7f9;
  --text: #1f2328;
  --muted: #59636e;
  --border: #d8dee4;
  --control-border: #8a939d;
  --accent: #1d4ed8;
  --accent-hover: #1e40af;
  --on-accent: #ffffff;
  --focus: #1d4ed8;
  --danger-text: #b42318;
  --danger-bg: #fef3f2;
  --danger-border: #f3b6ae;
  --success-text: #0a6b3d;
  --success-bg: #ecfdf3;
  --success-border: #a6e3c4;
  --info-text: #1e3a8a;
  --info-bg: #eff4ff;
  --info-border: #b7c9f5;
  --shadow: 0 1px 2px rgba(16, 24, 40, 0.06), 0 1px 3px rgba(16, 24, 40, 0.1);
  --radius: 0.5rem;
  --font: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, "Noto Sans", "Liberation Sans",
    sans-serif, "Apple Color Emoji", "Segoe UI Emoji";
}

@media (prefers-color-scheme: dark) {
  :root {
    --bg: #0f1115;
    --surface: #171a21;
    --surface-muted: #1d2129;
    --text: #e6e8eb;
    --muted: #9aa4b2;
    --border: #2d333d;
    --control-border: #7b8594;
    --accent: #8ab4ff;
    --accent-hover: #a8c7ff;
    --on-accent: #0b1020;
    --focus: #8ab4ff;
    --danger-text: #ffb4a9;
    --danger-bg: #2a1513;
    --danger-border: #6e2b24;
    --success-text: #7ee2b8;
    --success-bg: #0f2a1f;
    --success-border: #245c43;
    --info-text: #c7d7ff;
    --info-bg: #16223d;
    --info-border: #2f4577;
    --shadow: 0 1px 2px rgba(0, 0, 0, 0.4);
  }
}

*,
*::before,
*::after {
  box-sizing: border-box;
}

html {
  -webkit-text-size-adjust: 100%;
  text-size-adjust: 100%;
}

body {
  margin: 0;
  min-height: 100vh;
  background: var(--bg);
  color: var(--text);
  font-family: var(--font);
  font-size: 1rem;
  line-height: 1.5;
}

h1,
h2,
h3 {
  line-height: 1.25;
  margin: 0 0 0.75rem;
}

h1 {
  font-size: 1.5rem;
  font-weight: 650;
}

h2 {
  font-size: 1.125rem;
  font-weight: 650;
}

p {
  margin: 0 0 1rem;
}

a {
  color: var(--accent);
  text-underline-offset: 0.15em;
}

a:hover {
  color: var(--accent-hover);
}

:focus-visible {
  outline: 3px solid var(--focus);
  outline-offset: 2px;
}

.visually-hidden {
  position: absolute !important;
  width: 1px;
  height: 1px;
  padding: 0;
  margin: -1px;
  overflow: hidden;
  clip: rect(0 0 0 0);
  white-space: nowrap;
  border: 0;
}

.skip-link {
  position: absolute;
  left: 0.75rem;
  top: -4rem;
  z-index: 10;
  padding: 0.625rem 1rem;
  border-radius: var(--radius);
  background: var(--accent);
  color: var(--on-accent);
  font-weight: 600;
  text-decoration: none;
}

.skip-link:focus {
  top: 0.75rem;
  color: var(--on-accent);
}

/* Header */

.site-header {
  background: var(--surface);
  border-bottom: 1px solid var(--border);
}

.site-header-inner {
  max-width: 64rem;
  margin: 0 auto;
  padding: 0.75rem 1rem;
  display: flex;
  flex-wrap: wrap;
  align-items: center;
  gap: 0.5rem 1.5rem;
}

.brand {
  display: inline-flex;
  align-items: center;
  gap: 0.5rem;
  color: var(--text);
  font-size: 1.125rem;
  font-weight: 700;
  letter-spacing: -0.01em;
  text-decoration: none;
}

.brand:hover {
  color: var(--text);
}

.brand-mark {
  color: var(--accent);
  flex: none;
}

.site-nav {
  order: 3;
  flex-basis: 100%;
}

.site-nav ul {
  list-style: none;
  margin: 0;
  padding: 0;
  display: flex;
  flex-wrap: wrap;
  gap: 0.25rem;
}

.site-nav a {
  display: inline-flex;
  align-items: center;
  min-height: 2.75rem;
  padding: 0 0.75rem;
  border-radius: var(--radius);
  color: var(--muted);
  font-weight: 500;
  text-decoration: none;
}

.site-nav a:hover {
  color: var(--text);
  background: var(--surface-muted);
}

.site-nav a[aria-current="page"] {
  color: var(--text);
  background: var(--surface-muted);
  box-shadow: inset 0 -2px 0 var(--accent);
}

.session-info {
  margin-left: auto;
  display: flex;
  align-items: center;
  gap: 0.75rem;
}

.session-user {
  color: var(--muted);
  font-size: 0.875rem;
  max-width: 14rem;
  overflow: hidden;
  text-overflow: ellipsis;
  white-space: nowrap;
}

.session-info form {
  margin: 0;
}

@media (min-width: 48rem) {
  .site-nav {
    order: 0;
    flex-basis: auto;
  }
}

@media (max-width: 30rem) {
  .session-user {
    display: none;
  }
}

/* Main areas */

.main {
  display: block;
  padding: 1.5rem 1rem 3rem;
}

.main:focus {
  outline: none;
}

.main--auth {
  max-width: 28rem;
  margin: 0 auto;
}

.main--app {
  max-width: 64rem;
  margin: 0 auto;
}

@media (min-width: 40rem) {
  .main--auth {
    padding-top: 4rem;
  }

  .main--app {
    padding-top: 2rem;
  }
}

.page-intro {
  margin-bottom: 1.5rem;
}

.page-intro p {
  color: var(--muted);
  margin: 0;
}

.card {
  background: var(--surface);
  border: 1px solid var(--border);
  border-radius: var(--radius);
  box-shadow: var(--shadow);
  padding: 1.5rem;
  margin-bottom: 1.5rem;
}

.card > :last-child {
  margin-bottom: 0;
}

@media (min-width: 40rem) {
  .main--auth .card {
    padding: 2rem;
  }
}

.card-footer {
  text-align: center;
  color: var(--muted);
  margin: 0;
}

.eyebrow {
  color: var(--muted);
  font-size: 0.875rem;
  font-weight: 600;
  letter-spacing: 0.04em;
  text-transform: uppercase;
  margin-bottom: 0.5rem;
}

.grid {
  display: grid;
  gap: 1.5rem;
  align-items: start;
}

.grid .card {
  margin-bottom: 0;
}

@media (min-width: 48rem) {
  .grid--two {
    grid-template-columns: minmax(0, 3fr) minmax(0, 2fr);
  }
}

.stack > * + * {
  margin-top: 1.5rem;
}

.muted {
  color: var(--muted);
}

.narrow {
  max-width: 32rem;
}

/* Definition lists and plain lists */

.details {
  margin: 0;
  display: grid;
  gap: 0.25rem 1rem;
}

.details dt {
  color: var(--muted);
  font-size: 0.875rem;
}

.details dd {
  margin: 0 0 0.75rem;
  overflow-wrap: anywhere;
}

@media (min-width: 36rem) {
  .details {
    grid-template-columns: 10rem minmax(0, 1fr);
  }

  .details dd {
    margin-bottom: 0.5rem;
  }
}

.plain-list {
  list-style: none;
  margin: 0;
  padding: 0;
}

.plain-list li + li {
  margin-top: 0.25rem;
}

.link-list {
  list-style: none;
  margin: 0;
  padding: 0;
}

.link-list li {
  border-top: 1px solid var(--border);
  padding: 0.75rem 0;
}

.link-list li:last-child {
  padding-bottom: 0;
}

.link-list .muted {
  display: block;
  font-size: 0.875rem;
}

/* Forms */

form {
  margin: 0;
}

.field {
  margin-bottom: 1.25rem;
}

.field label {
  display: block;
  font-weight: 600;
  margin-bottom: 0.375rem;
}

.hint {
  color: var(--muted);
  font-size: 0.875rem;
  margin: -0.125rem 0 0.5rem;
}

.input {
  display: block;
  width: 100%;
  min-height: 2.75rem;
  padding: 0.5rem 0.75rem;
  border: 1px solid var(--control-border);
  border-radius: var(--radius);
  background: var(--surface);
  color: var(--text);
  font: inherit;
}

.input:focus-visible {
  outline: 3px solid var(--focus);
  outline-offset: 1px;
  border-color: var(--focus);
}

.check {
  display: flex;
  align-items: flex-start;
  gap: 0.625rem;
  margin-bottom: 1.25rem;
}

.check input {
  flex: none;
  width: 1.25rem;
  height: 1.25rem;
  margin: 0.125rem 0 0;
  accent-color: var(--accent);
}

.check label {
  font-weight: 400;
}

.actions {
  display: flex;
  flex-wrap: wrap;
  align-items: center;
  gap: 0.75rem 1rem;
}

/* Buttons */

.button {
  display: inline-flex;
  align-items: center;
  justify-content: center;
  min-height: 2.75rem;
  padding: 0.5rem 1.125rem;
  border: 1px solid transparent;
  border-radius: var(--radius);
  background: var(--accent);
  color: var(--on-accent);
  font: inherit;
  font-weight: 600;
  line-height: 1.25;
  text-decoration: none;
  cursor: pointer;
}

.button:hover {
  background: var(--accent-hover);
  color: var(--on-accent);
}

.button--block {
  width: 100%;
}

.button--secondary {
  background: var(--surface);
  border-color: var(--control-border);
  color: var(--text);
}

.button--secondary:hover {
  background: var(--surface-muted);
  color: var(--text);
}

.button--danger {
  background: var(--surface);
  border-color: var(--danger-text);
  color: var(--danger-text);
}

.button--danger:hover {
  background: var(--danger-bg);
  color: var(--danger-text);
}

.button--small {
  min-height: 2.75rem;
  padding: 0.25rem 0.75rem;
  font-size: 0.875rem;
}

/* Messages */

.alert {
  border: 1px solid;
  border-left-width: 4px;
  border-radius: var(--radius);
  padding: 0.75rem 1rem;
  margin-bottom: 1.25rem;
}

.alert > :last-child {
  margin-bottom: 0;
}

.alert-title {
  font-weight: 650;
  margin-bottom: 0.25rem;
}

.alert--error {
  background: var(--danger-bg);
  border-color: var(--danger-border);
  border-left-color: var(--danger-text);
  color: var(--danger-text);
}

.alert--success {
  background: var(--success-bg);
  border-color: var(--success-border);
  border-left-color: var(--success-text);
  color: var(--success-text);
}

.alert--info {
  background: var(--info-bg);
  border-color: var(--info-border);
  border-left-color: var(--info-text);
  color: var(--info-text);
}

.badge {
  display: inline-block;
  padding: 0.0625rem 0.5rem;
  border: 1px solid var(--info-border);
  border-radius: 999px;
  background: var(--info-bg);
  color: var(--info-text);
  font-size: 0.75rem;
  font-weight: 600;
  line-height: 1.5;
  vertical-align: middle;
  white-space: nowrap;
}

/* Tables */

.table-wrap {
  overflow-x: auto;
  margin: 0 -1.5rem 1.5rem;
  padding: 0 1.5rem;
}

.table {
  width: 100%;
  min-width: 40rem;
  border-collapse: collapse;
  font-size: 0.9375rem;
}

.table caption {
  text-align: left;
  font-size: 1.125rem;
  font-weight: 650;
  padding-bottom: 0.75rem;
}

.table th,
.table td {
  padding: 0.75rem 0.75rem 0.75rem 0;
  border-bottom: 1px solid var(--border);
  text-align: left;
  vertical-align: top;
}

.table thead th {
  color: var(--muted);
  font-size: 0.8125rem;
  font-weight: 600;
}

.table tbody th {
  font-weight: 600;
}

.table .cell-action {
  text-align: right;
  padding-right: 0;
}

.table .cell-note {
  display: block;
  color: var(--muted);
  font-size: 0.8125rem;
  font-weight: 400;
}

@media (forced-colors: active) {
  .button,
  .badge,
  .alert {
    border: 1px solid CanvasText;
  }
}

@media print {
  .site-header,
  .skip-link {
    display: none;
  }
}

.button-row {
  display: flex;
  flex-wrap: wrap;
  gap: 0.75rem;
  margin-top: 1.25rem;
}

.consent-list,
.app-item ul {
  margin: 0.75rem 0 1rem;
  padding-left: 1.25rem;
}

.consent-list li,
.app-item li {
  margin: 0.35rem 0;
}

.app-list {
  list-style: none;
  margin: 0;
  padding: 0;
}

.app-item + .app-item {
  border-top: 1px solid var(--control-border);
  margin-top: 1.25rem;
  padding-top: 1.25rem;
}

.app-name {
  font-size: 1.1rem;
  margin: 0 0 0.25rem;
}
`;

let cachedHref: string | undefined;

/** The stylesheet URL with a short content hash (`?v=`), so a long cache lifetime never serves a stale file. */
export function stylesheetHref(): string {
  cachedHref ??= `${STYLESHEET_PATH}?v=${createHash("sha256").update(STYLESHEET).digest("hex").slice(0, 12)}`;
  return cachedHref;
}
