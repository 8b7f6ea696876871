/**
 * Vite configuration of the example single-page application. `npx vite build examples/spa` (from the repository
 * root) writes the static files to `examples/spa/dist`, which `serve.mjs` serves next to the BFF.
 */
import { defineConfig } from "vite";

export default defineConfig({
  base: "/",
  build: { outDir: "dist", emptyOutDir: true, sourcemap: false },
  // `npx vite examples/spa` (development) forwards /bff/* to a running serve.mjs, so the page and the BFF share
  // one origin there too (the session cookie is SameSite=Strict and the BFF checks Origin).
  server: { proxy: { "/bff": { target: "http://127.0.0.1:3000", changeOrigin: false } } },
});
