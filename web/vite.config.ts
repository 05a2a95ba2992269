import { fileURLToPath } from "node:url";
import { defineConfig } from "vite";
import solid from "vite-plugin-solid";

const webRoot = fileURLToPath(new URL(".", import.meta.url));

/**
 * Builds the SolidJS app into web/dist, which wrangler serves as static assets (single-page fallback);
 * `/api/*`, `/sso` and friends reach the Worker first (see wrangler.toml `run_worker_first`).
 */
export default defineConfig({
  root: webRoot,
  plugins: [solid()],
  build: {
    outDir: fileURLToPath(new URL("./dist", import.meta.url)),
    emptyOutDir: true,
    target: "es2022",
  },
  server: {
    // `vite dev` proxies the API to a local `wrangler dev` so cookies stay same-origin.
    proxy: {
      "/api": "http://127.0.0.1:8787",
      "/sso": "http://127.0.0.1:8787",
      "/calendar/": "http://127.0.0.1:8787",
    },
  },
});
