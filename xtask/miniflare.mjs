// Serves one function's Workers build (build/index.js + its Wasm) with miniflare 4 on
// 127.0.0.1, with local D1 state that `wrangler d1 migrations apply --persist-to` prepared.
// `cargo xtask load --miniflare` runs it; wrangler dev's own proxy is too slow to measure.
//
//   node miniflare.mjs <tools dir> <function dir> <port> <persist dir> <d1 json> <vars json> <date> [<more json>]
//
// <d1 json> maps binding names to database ids ({"food": "0000...f00d"}), as in wrangler.toml.
// <more json> (optional, `cargo xtask soak`): further functions served by the same workerd,
// [{"dir": <function dir>, "routes": ["*/payments/*"], "d1": <d1 json>}]; requests matching
// none of their routes go to the first function. Functions that bind the same database id
// share its one D1 object, as on Cloudflare.
import { createRequire } from "node:module";
import path from "node:path";

const [tools, dir, port, persist, d1, vars, compatibilityDate, more = "[]"] = process.argv.slice(2);
const require = createRequire(path.join(tools, "package.json"));
const { Miniflare } = require("miniflare");

const worker = (dir, d1, routes) => ({
  name: path.basename(dir),
  modules: true,
  modulesRoot: dir,
  scriptPath: path.join(dir, "build/index.js"),
  modulesRules: [{ type: "CompiledWasm", include: ["**/*.wasm"] }],
  compatibilityDate,
  d1Databases: JSON.parse(d1),
  bindings: JSON.parse(vars),
  ...(routes ? { routes } : {}),
});
const others = JSON.parse(more);

const shared = { d1Persist: path.join(persist, "v3/d1"), host: "127.0.0.1", port: Number(port) };
const mf = new Miniflare(
  others.length === 0
    ? { ...worker(dir, d1), ...shared }
    : {
        workers: [worker(dir, d1), ...others.map((o) => worker(o.dir, JSON.stringify(o.d1), o.routes))],
        ...shared,
      },
);
const url = await mf.ready;
console.log(`Ready on ${url}`);
const stop = async () => {
  await mf.dispose();
  process.exit(0);
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
