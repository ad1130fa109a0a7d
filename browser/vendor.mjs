// Copy the files package.json lists under `vendor`, from the packages `npm ci` installed
// at the versions package-lock.json pins, into service/consoles/web/vendor/<package>/,
// and write MANIFEST.json there: each package's version, licence and files.
// Run by `make vendor`; the copies are committed, so serving needs neither npm nor a network.
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const out = path.resolve(here, "../service/consoles/web/vendor");
const wanted = JSON.parse(fs.readFileSync(path.join(here, "package.json"), "utf8")).vendor;

fs.rmSync(out, { recursive: true, force: true });
const manifest = {};
for (const [name, files] of Object.entries(wanted)) {
  const root = path.join(here, "node_modules", name);
  const meta = JSON.parse(fs.readFileSync(path.join(root, "package.json"), "utf8"));
  fs.mkdirSync(path.join(out, name), { recursive: true });
  for (const file of files) {
    fs.copyFileSync(path.join(root, file), path.join(out, name, path.basename(file)));
  }
  manifest[name] = {
    version: meta.version,
    license: meta.license,
    files: files.map((f) => path.basename(f)),
  };
  console.log(`vendored ${name} ${meta.version} (${meta.license}): ${files.length} files`);
}
fs.writeFileSync(path.join(out, "MANIFEST.json"), JSON.stringify(manifest, null, 2) + "\n");
