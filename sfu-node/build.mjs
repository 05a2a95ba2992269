// Bundles sfu-node (with schema/, jose, ws, valibot) into one CommonJS file for VMs and the container image.
// mediasoup stays external: it carries the native worker binary and finds it next to its own package.
import path from "node:path";
import { build } from "esbuild";

const here = import.meta.dirname;
await build({
  entryPoints: [path.join(here, "src/main.ts")],
  outfile: path.join(here, "dist/sfu-node.cjs"),
  bundle: true,
  platform: "node",
  target: "node22",
  format: "cjs",
  external: ["mediasoup"],
  logLevel: "warning",
});
