// Render TeX to SVG at build time, for docs/hooks.py (the site then needs neither JavaScript nor a network
// for its equations). Reads a JSON list of {"tex": "...", "display": true|false} on stdin and writes
// {"css": "...", "svg": ["<mjx-container ...><svg ...></svg></mjx-container>", ...]} on stdout, in order.
// A TeX error (an unknown macro, unbalanced braces) exits with status 1 and a one-line message naming the
// formula, so that the build fails instead of publishing a red error box.
// MathJax 3 (npm package mathjax-full, pinned in package.json / package-lock.json; setup.sh runs npm ci).
"use strict";
const {mathjax} = require("mathjax-full/js/mathjax.js");
const {TeX} = require("mathjax-full/js/input/tex.js");
const {SVG} = require("mathjax-full/js/output/svg.js");
const {liteAdaptor} = require("mathjax-full/js/adaptors/liteAdaptor.js");
const {RegisterHTMLHandler} = require("mathjax-full/js/handlers/html.js");
const {AllPackages} = require("mathjax-full/js/input/tex/AllPackages.js");

const adaptor = liteAdaptor();
RegisterHTMLHandler(adaptor);
const tex = new TeX({
  packages: AllPackages,
  tags: "none",  // \tag{n} numbers an equation as the paper does; nothing is numbered automatically
  formatError: (jax, err) => { throw err; },
});
// fontCache "local": each formula carries the glyph paths it uses, so it renders wherever it is placed
const svg = new SVG({fontCache: "local"});
const doc = mathjax.document("", {InputJax: tex, OutputJax: svg});

let input = "";
process.stdin.setEncoding("utf8");
process.stdin.on("data", (chunk) => { input += chunk; });
process.stdin.on("end", () => {
  const out = [];
  for (const {tex: source, display} of JSON.parse(input)) {
    try {
      out.push(adaptor.outerHTML(doc.convert(source, {display: Boolean(display)})));
    } catch (err) {
      const shortTex = source.replace(/\s+/g, " ").slice(0, 80);
      process.stderr.write(`TeX error in "${shortTex}": ${err.message}\n`);
      process.exit(1);
    }
  }
  process.stdout.write(JSON.stringify({css: adaptor.textContent(svg.styleSheet(doc)), svg: out}));
});
