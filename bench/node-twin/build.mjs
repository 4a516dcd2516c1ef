// The bundled variant, as one would deploy it: each handler and the runtime client in one ES
// module, minified, with the AWS SDK inside (not the runtime's copy). argon2 is native: it
// stays external and loads from node_modules.
import { build } from "esbuild";

for (const name of ["register", "login", "profile"]) {
  await build({
    entryPoints: [`src/${name}.mjs`],
    outfile: `dist/${name}.mjs`,
    bundle: true,
    minify: true,
    platform: "node",
    target: "node20",
    format: "esm",
    external: ["argon2"],
    banner: { js: "import { createRequire } from 'module'; const require = createRequire(import.meta.url);" },
    logLevel: "warning",
  });
}
