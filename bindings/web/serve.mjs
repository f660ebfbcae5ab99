// A static file server for the demo and the tests: serves this package (demo/, dist/, node_modules/onnxruntime-web)
// and mounts bundle folders under /bundles/NAME/. It sends the cross-origin-isolation headers that let
// onnxruntime-web use WASM threads (SharedArrayBuffer).
//
//   node serve.mjs --bundle tiny=path/to/bundle [--port 8080]   then open http://localhost:8080/demo/?bundle=/bundles/tiny
import { createReadStream, promises as fs } from "node:fs";
import http from "node:http";
import path from "node:path";
import { fileURLToPath } from "node:url";

const PACKAGE_DIR = path.dirname(fileURLToPath(import.meta.url));
const TYPES = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript",
  ".mjs": "text/javascript",
  ".map": "application/json",
  ".json": "application/json",
  ".wasm": "application/wasm",
  ".css": "text/css",
  ".png": "image/png",
  ".jpg": "image/jpeg",
};

/** Starts the server; `bundles` maps a name to a folder. Resolves to {server, url}. */
export async function startServer({ bundles = {}, port = 0, host = "127.0.0.1" } = {}) {
  const server = http.createServer(async (request, response) => {
    const url = new URL(request.url, "http://localhost");
    let pathname = decodeURIComponent(url.pathname);
    if (pathname.endsWith("/")) pathname += "index.html";
    let file;
    const mount = pathname.match(/^\/bundles\/([^/]+)\/(.*)$/);
    if (mount) {
      const root = bundles[mount[1]];
      file = root ? path.join(root, mount[2]) : null;
      if (file && !path.resolve(file).startsWith(path.resolve(root) + path.sep)) file = null;
    } else {
      file = path.join(PACKAGE_DIR, pathname);
      if (!path.resolve(file).startsWith(PACKAGE_DIR + path.sep)) file = null;
    }
    const headers = {
      "Cross-Origin-Opener-Policy": "same-origin",
      "Cross-Origin-Embedder-Policy": "require-corp",
      "Cache-Control": "no-store",
    };
    try {
      if (!file || !(await fs.stat(file)).isFile()) throw new Error("not a file");
    } catch {
      response.writeHead(404, { ...headers, "Content-Type": "text/plain" });
      response.end("not found");
      return;
    }
    response.writeHead(200, { ...headers, "Content-Type": TYPES[path.extname(file)] ?? "application/octet-stream" });
    createReadStream(file).pipe(response);
  });
  await new Promise((resolve) => server.listen(port, host, resolve));
  return { server, url: `http://${host}:${server.address().port}` };
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const bundles = {};
  let port = 8080;
  for (let i = 2; i < process.argv.length; i++) {
    if (process.argv[i] === "--bundle") {
      const [name, folder] = process.argv[++i].split("=");
      bundles[name] = path.resolve(folder);
    } else if (process.argv[i] === "--port") {
      port = Number(process.argv[++i]);
    }
  }
  const { url } = await startServer({ bundles, port });
  console.log(`serving ${PACKAGE_DIR} on ${url}`);
  for (const name of Object.keys(bundles)) console.log(`  demo: ${url}/demo/?bundle=/bundles/${name}`);
}
