// Bundles the browser UI (src/ui) with esbuild into dist/ui: one ES module, its stylesheet and the page.
import { copyFileSync, mkdirSync } from 'node:fs';
import { build } from 'esbuild';

const out = new URL('./dist/ui/', import.meta.url);
mkdirSync(out, { recursive: true });
await build({
  entryPoints: [new URL('./src/ui/main.ts', import.meta.url).pathname],
  bundle: true,
  format: 'esm',
  target: 'chrome110',
  minify: true,
  sourcemap: true,
  outfile: new URL('main.js', out).pathname,
  logLevel: 'warning',
});
for (const file of ['index.html', 'style.css']) copyFileSync(new URL(`./src/ui/${file}`, import.meta.url), new URL(file, out));
console.log('ui: dist/ui built');
