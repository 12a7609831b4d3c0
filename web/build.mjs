// web/build.mjs — bundles src/main.ts and src/style.css into dist/assets/
// (fingerprinted names: kura-server lets browsers keep them) and writes
// dist/index.html pointing at them. No inline script or style: the pages run
// under kura-server's `script-src 'self'; style-src 'self'`. Type-checks first
// (tsc --noEmit) unless KURA_WEB_NO_CHECK is set.
import { build } from "esbuild";
import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, rmSync, writeFileSync, copyFileSync } from "node:fs";
import { dirname, join, basename } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const dist = join(here, "dist");
if (!process.env.KURA_WEB_NO_CHECK) {
  try {
    execFileSync(process.execPath, [join(here, "node_modules/typescript/bin/tsc"), "--noEmit", "-p", here], {
      stdio: "inherit",
    });
  } catch {
    console.error("web: the TypeScript does not type-check (above)");
    process.exit(1);
  }
}
rmSync(dist, { recursive: true, force: true });
mkdirSync(join(dist, "assets"), { recursive: true });
const result = await build({
  entryPoints: { app: join(here, "src/main.ts"), style: join(here, "src/style.css") },
  bundle: true,
  format: "esm",
  target: "es2022",
  minify: true,
  sourcemap: false,
  legalComments: "linked",
  outdir: join(dist, "assets"),
  entryNames: "[name]-[hash]",
  metafile: true,
  logLevel: "warning",
});
const outs = Object.keys(result.metafile.outputs).map((p) => basename(p));
const js = outs.find((f) => /^app-.*\.js$/.test(f));
const css = outs.find((f) => /^style-.*\.css$/.test(f));
const html = readFileSync(join(here, "index.html"), "utf8")
  .replace("%APP_JS%", `/assets/${js}`)
  .replace("%APP_CSS%", `/assets/${css}`);
writeFileSync(join(dist, "index.html"), html);
copyFileSync(join(here, "favicon.svg"), join(dist, "favicon.svg"));
console.log(`web: built dist/ (${js}, ${css})`);
