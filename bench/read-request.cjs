// autocannon's per-request hook for bench/read-path.ts: CommonJS, because autocannon require()s
// it in its worker thread. The requests go round the workspaces of BENCH_READ_TARGETS (a JSON
// list of {path, authorization}): the API's rate limits are per workspace and per credential.
const targets = JSON.parse(process.env.BENCH_READ_TARGETS || "[]");
let next = 0;

module.exports = function setupRequest(request) {
  const target = targets[next++ % targets.length];
  request.path = target.path;
  request.headers = { ...request.headers, authorization: target.authorization };
  return request;
};
