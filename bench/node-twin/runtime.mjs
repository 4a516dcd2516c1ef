// A minimal Lambda runtime client for Node, as the managed Node runtime runs a handler: import
// the handler module (its top level is the cold start), then loop on the Runtime API:
// GET next, call the handler, POST its response (or the error). The bench's emulator is the
// Runtime API; AWS_LAMBDA_RUNTIME_API names it, TWIN_HANDLER the module.
import http from "node:http";

const [host, port] = process.env.AWS_LAMBDA_RUNTIME_API.split(":");
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
const base = "/2018-06-01/runtime";

function call(method, path, body) {
  return new Promise((resolve, reject) => {
    const request = http.request({ host, port, method, path: base + path, agent, headers: body ? { "content-type": "application/json" } : {} }, (response) => {
      const chunks = [];
      response.on("data", (c) => chunks.push(c));
      response.on("end", () => resolve({ headers: response.headers, body: Buffer.concat(chunks).toString() }));
    });
    request.on("error", reject);
    request.end(body);
  });
}

let handler;
try {
  ({ handler } = await import(process.env.TWIN_HANDLER));
} catch (e) {
  await call("POST", "/init/error", JSON.stringify({ errorType: e.name, errorMessage: e.message }));
  process.exit(1);
}
for (;;) {
  const next = await call("GET", "/invocation/next");
  const id = next.headers["lambda-runtime-aws-request-id"];
  try {
    const result = await handler(JSON.parse(next.body));
    await call("POST", `/invocation/${id}/response`, JSON.stringify(result));
  } catch (e) {
    await call("POST", `/invocation/${id}/error`, JSON.stringify({ errorType: e.name, errorMessage: e.message }));
  }
}
