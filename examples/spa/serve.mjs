/**
 * The example's server: the BFF (`tessera/bff`) and the built single-page application on one origin.
 *
 * - One origin for page and BFF: the BFF's session cookie (HttpOnly, SameSite=Strict) is sent with the page's
 *   own `fetch` calls, and the BFF's CSRF rule (allowed `Origin` or `Sec-Fetch-Site: same-origin`, plus the
 *   `x-bff-csrf` header) holds for the page and for nobody else.
 * - Static files come from `examples/spa/dist` (build it first: `npx vite build examples/spa`), read once at
 *   start-up into memory: a request can only ever get one of those files, never a path outside `dist/`.
 * - `/assets/*` (names carry a content hash) are cached for a year; `index.html` is revalidated and is also the
 *   answer for any other path outside `/bff/` (client-side routes). Unknown `/bff/*` paths are 404.
 * - Pages carry a strict Content-Security-Policy: scripts, styles and `fetch` only from this origin.
 *
 * Configuration: the BFF's environment (`BFF_ISSUER`, `BFF_CLIENT_ID`, `BFF_CLIENT_SECRET`, `BFF_PUBLIC_URL`,
 * `BFF_SCOPE`, `BFF_RESOURCE`, `BFF_UPSTREAMS`, `BFF_MASTER_KEY`, `BFF_DATABASE_URL`, … see docs/bff.md), `PORT`
 * and `HOST`, and `SPA_DIST` (another folder of built files) and `LOG_LEVEL`.
 *
 * Run (after `npm run build` and `npx vite build examples/spa` in the repository root):
 * `node examples/spa/serve.mjs`. See examples/README.md for the whole setup.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { extname, join, relative, sep } from "node:path";
import { fileURLToPath } from "node:url";
import Fastify from "fastify";
import { bffPlugin, loadBffConfig } from "tessera/bff";

const CONTENT_TYPES = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".json": "application/json",
  ".txt": "text/plain; charset=utf-8",
};

const PAGE_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "connect-src 'self'",
  "img-src 'self' data:",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join("; ");

/** Every file under `dir`, by URL path (`/index.html`, `/assets/index-1a2b.js`). */
function readBuiltFiles(dir) {
  /** @type {Map<string, { body: Buffer, type: string }>} */
  const files = new Map();
  const walk = (folder) => {
    for (const name of readdirSync(folder)) {
      const path = join(folder, name);
      if (statSync(path).isDirectory()) walk(path);
      else {
        const type = CONTENT_TYPES[/** @type {keyof typeof CONTENT_TYPES} */ (extname(name))];
        if (type)
          files.set(`/${relative(dir, path).split(sep).join("/")}`, { body: readFileSync(path), type });
      }
    }
  };
  try {
    walk(dir);
  } catch (error) {
    throw new Error(`cannot read the built SPA in ${dir} (run \`npx vite build examples/spa\` first)`, {
      cause: error,
    });
  }
  if (!files.has("/index.html")) throw new Error(`${dir} has no index.html: build the SPA first`);
  return files;
}

/**
 * Builds the SPA + BFF application (not listening). `options` go to the BFF plugin as they are (tests pass a
 * clock there).
 * @param {Record<string, string | undefined>} [env]
 * @param {Record<string, unknown>} [options]
 */
export async function buildApp(env = process.env, options = {}) {
  const config = loadBffConfig(env);
  const files = readBuiltFiles(env.SPA_DIST ?? fileURLToPath(new URL("./dist", import.meta.url)));
  const app = Fastify({
    logger: { level: env.LOG_LEVEL ?? "info" },
    ...(config.tlsCert && config.tlsKey
      ? { https: { cert: readFileSync(config.tlsCert), key: readFileSync(config.tlsKey) } }
      : {}),
  });
  await app.register(bffPlugin, { config, ...options });

  app.get("/*", async (request, reply) => {
    const path = new URL(request.url, "http://x").pathname;
    if (path === "/bff" || path.startsWith("/bff/")) {
      return reply.code(404).send({ error: "not_found" });
    }
    const file = files.get(path) ?? (path.startsWith("/assets/") ? undefined : files.get("/index.html"));
    if (file === undefined) return reply.code(404).type("text/plain; charset=utf-8").send("not found");
    reply
      .header("content-type", file.type)
      .header("x-content-type-options", "nosniff")
      .header("referrer-policy", "same-origin")
      .header(
        "cache-control",
        path.startsWith("/assets/") ? "public, max-age=31536000, immutable" : "no-cache",
      );
    if (file.type.startsWith("text/html")) reply.header("content-security-policy", PAGE_POLICY);
    return reply.send(file.body);
  });
  return app;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const env = process.env;
  const app = await buildApp(env);
  await app.listen({ port: Number(env.PORT ?? 3000), host: env.HOST ?? "127.0.0.1" });
  for (const signal of ["SIGINT", "SIGTERM"]) process.once(signal, () => void app.close());
}
