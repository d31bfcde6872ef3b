// Builds the console into pkg/console/dist, which is committed and embedded
// in the Go binary (so `make test` and `go build` need no Node).
//
//   node build.mjs           build
//   node build.mjs --watch   rebuild on every change
//   node build.mjs --check   fail when dist was not built from these sources
//
// Assets get their content's hash in their names (cached for good); index.html
// names them. dist/build.json records the hash of the sources, which
// pkg/console's test recomputes, so a forgotten rebuild fails CI.

import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, readdirSync, rmSync, watch, writeFileSync } from "node:fs";
import { dirname, join, relative, sep } from "node:path";
import { fileURLToPath } from "node:url";
import * as esbuild from "esbuild";

const here = dirname(fileURLToPath(import.meta.url));
const out = join(here, "..", "..", "pkg", "console", "dist");
const logo = join(here, "..", "img", "logo.svg");

// sourceFiles are the inputs of the build: the same rule as pkg/console's
// test (sourceFiles in console_test.go). dev/ is the mock, never shipped.
function sourceFiles() {
  const files = [logo, join(here, "build.mjs")];
  const walk = (dir) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) {
        if (e.name !== "node_modules" && e.name !== "dev" && !e.name.startsWith(".")) walk(p);
      } else if (/\.(ts|css|html)$/.test(e.name)) files.push(p);
    }
  };
  walk(here);
  return files.map((f) => relative(here, f).split(sep).join("/")).sort();
}

const sha256 = (data) => createHash("sha256").update(data).digest("hex");

// sourceHash: sha256 over "path\nsha256(content)\n" for each file, in order.
function sourceHash() {
  const h = createHash("sha256");
  for (const f of sourceFiles()) h.update(`${f}\n${sha256(readFileSync(join(here, f)))}\n`);
  return h.digest("hex");
}

async function build() {
  const common = { bundle: true, minify: true, write: false, logLevel: "warning", legalComments: "none" };
  const js = await esbuild.build({ ...common, entryPoints: [join(here, "app", "main.ts")], format: "esm", target: "es2022" });
  // The browsers that have light-dark() (2024 on) also have the CSS this uses.
  const css = await esbuild.build({ ...common, entryPoints: [join(here, "style.css")], target: ["chrome123", "firefox120", "safari17.5"] });
  const assets = {
    "console/app.js": js.outputFiles[0].contents,
    "console/app.css": css.outputFiles[0].contents,
    "console/logo.svg": readFileSync(logo),
  };
  let index = readFileSync(join(here, "index.html"), "utf8");
  const files = {};
  rmSync(out, { recursive: true, force: true });
  mkdirSync(join(out, "console"), { recursive: true });
  for (const [name, body] of Object.entries(assets)) {
    const hashed = name.replace(/\.(\w+)$/, `-${sha256(body).slice(0, 12)}.$1`);
    if (!index.includes(`"${name}"`)) throw new Error(`index.html does not name ${name}`);
    index = index.replaceAll(`"${name}"`, `"${hashed}"`);
    writeFileSync(join(out, hashed), body);
    files[hashed] = body.length;
  }
  // Indentation and comments are not worth sending.
  index = index.replace(/\n\s+/g, "\n").replace(/<!--[\s\S]*?-->/g, "");
  writeFileSync(join(out, "index.html"), index);
  files["index.html"] = Buffer.byteLength(index);
  const manifest = { sourceHash: sourceHash(), files };
  writeFileSync(join(out, "build.json"), JSON.stringify(manifest, null, 2) + "\n");
  const total = Object.values(files).reduce((a, b) => a + b, 0);
  console.log(`console: ${Object.keys(files).length} files, ${total} bytes in ${relative(process.cwd(), out) || "."}`);
}

function check() {
  let built = "";
  try {
    built = JSON.parse(readFileSync(join(out, "build.json"), "utf8")).sourceHash;
  } catch {
    // No build yet.
  }
  if (built !== sourceHash()) {
    console.error("pkg/console/dist is out of date: run `npm run build` in src/console and commit pkg/console/dist");
    process.exit(1);
  }
  console.log("pkg/console/dist matches the sources");
}

const arg = process.argv[2];
if (arg === "--check") check();
else {
  await build();
  if (arg === "--watch") {
    let timer;
    watch(here, { recursive: true }, (_, file) => {
      if (!file || file.includes("node_modules") || file.startsWith("dev")) return;
      clearTimeout(timer);
      timer = setTimeout(() => build().catch((e) => console.error(e.message)), 100);
    });
    watch(logo, () => build().catch((e) => console.error(e.message)));
    console.log("watching for changes (Ctrl-C stops)");
  }
}
