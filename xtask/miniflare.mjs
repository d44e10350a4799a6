// Serves one function's Workers build (build/index.js + its Wasm) with miniflare 4 on
// 127.0.0.1, with local D1 state that `wrangler d1 migrations apply --persist-to` prepared.
// `cargo xtask load --miniflare` runs it; wrangler dev's own proxy is too slow to measure.
//
//   node miniflare.mjs <tools dir> <function dir> <port> <persist dir> <d1 json> <vars json> <date>
//
// <d1 json> maps binding names to database ids ({"food": "0000...f00d"}), as in wrangler.toml.
import { createRequire } from "node:module";
import path from "node:path";

const [tools, dir, port, persist, d1, vars, compatibilityDate] = process.argv.slice(2);
const require = createRequire(path.join(tools, "package.json"));
const { Miniflare } = require("miniflare");

const mf = new Miniflare({
  modules: true,
  modulesRoot: dir,
  scriptPath: path.join(dir, "build/index.js"),
  modulesRules: [{ type: "CompiledWasm", include: ["**/*.wasm"] }],
  compatibilityDate,
  d1Databases: JSON.parse(d1),
  d1Persist: path.join(persist, "v3/d1"),
  bindings: JSON.parse(vars),
  host: "127.0.0.1",
  port: Number(port),
});
const url = await mf.ready;
console.log(`Ready on ${url}`);
const stop = async () => {
  await mf.dispose();
  process.exit(0);
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
