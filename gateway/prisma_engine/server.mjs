// A stand-in for Prisma's native `query-engine` binary, as prisma-client-py spawns it:
//
//   query-engine -p <port> [--enable-metrics] [--enable-raw-queries] [--enable-playground]
//   query-engine --version
//
// It runs Prisma's own query engine compiled to WebAssembly (@prisma/query-engine-wasm) over
// @prisma/adapter-pg, and translates prisma-client-py's GraphQL to the engine's JSON protocol
// (translate.mjs). Environment, as for the native binary: PRISMA_DML_PATH (the schema), the
// datasource URL from the variable the schema names (DATABASE_URL) or OVERWRITE_DATASOURCES.
// Exits on SIGINT/SIGTERM, and on its own when the process that started it is gone.

import { readFile } from 'node:fs/promises';
import { appendFileSync, existsSync, readFileSync } from 'node:fs';
import http from 'node:http';
import { createRequire } from 'node:module';
import path from 'node:path';

import { parseSchema } from './schema.mjs';
import { translateAnswer, translateRequest, TranslationError } from './translate.mjs';
import { GraphQLSyntaxError } from './graphql.mjs';

// The engine build this server runs (package.json pins the matching @prisma/query-engine-wasm).
export const ENGINE_COMMIT = '393aa359c9ad4a4bb28630fb5613f9c281cde053';
const HOST = '127.0.0.1';
const PARENT_POLL_MS = 500;
const STOP_GRACE_MS = 3000;
const SIGTERM_GRACE_MS = 20000;

function log(level, message, fields = {}) {
  process.stderr.write(`${JSON.stringify({ level, message, component: 'prisma-engine', timestamp: new Date().toISOString(), ...fields })}\n`);
}

function usage(message) {
  process.stderr.write(`query-engine (gateway/prisma_engine): ${message}\n`);
  process.exit(2);
}

function parseArgs(argv) {
  const options = { port: null, version: false };
  for (let i = 0; i < argv.length; i += 1) {
    const arg = argv[i];
    if (arg === '--version' || arg === '-V' || arg === 'version') options.version = true;
    else if (arg === '-p' || arg === '--port') {
      const value = argv[i + 1];
      if (!/^\d+$/.test(value ?? '')) usage(`${arg} needs a port number, got ${JSON.stringify(value)}`);
      options.port = Number(value);
      i += 1;
    } else if (['--enable-metrics', '--enable-raw-queries', '--enable-playground', '--enable-open-telemetry'].includes(arg)) {
      // Accepted as the native binary accepts them: raw queries and metrics are always served.
    } else usage(`unknown argument ${JSON.stringify(arg)} (allowed: -p PORT, --enable-metrics, --enable-raw-queries, --version)`);
  }
  return options;
}

/** Which raw-query row format the spawning prisma-client-py parses: read from its own source. */
function rawFormatFor(dmlPath) {
  const override = process.env.PRISMA_ENGINE_RAW_FORMAT;
  if (override) {
    if (override !== 'cells' && override !== 'columns') usage(`PRISMA_ENGINE_RAW_FORMAT must be cells or columns, got ${override}`);
    return override;
  }
  const source = path.join(path.dirname(dmlPath), '_raw_query.py');
  if (!existsSync(source)) return 'cells';
  return /\['columns'\]|\["columns"\]/.test(readFileSync(source, 'utf8')) ? 'columns' : 'cells';
}

function datasourceUrl(schema) {
  const overwrite = process.env.OVERWRITE_DATASOURCES;
  if (overwrite) {
    let list;
    try {
      list = JSON.parse(overwrite);
    } catch {
      usage('OVERWRITE_DATASOURCES is not JSON');
    }
    const first = Array.isArray(list) ? list[0] : null;
    if (!first?.url) usage('OVERWRITE_DATASOURCES holds no datasource with a url');
    return first.url;
  }
  if (schema.datasourceUrl) return schema.datasourceUrl;
  const name = schema.datasourceEnv;
  if (!name) usage('the schema names no datasource url');
  const url = process.env[name];
  if (!url) usage(`the schema reads the datasource url from ${name}, which is not set`);
  return url;
}

async function loadEngineModule() {
  const require = createRequire(import.meta.url);
  const base = path.dirname(require.resolve('@prisma/query-engine-wasm/package.json'));
  const bindings = await import(path.join(base, 'postgresql', 'query_engine_bg.js'));
  const bytes = await readFile(path.join(base, 'postgresql', 'query_engine_bg.wasm'));
  const { instance } = await WebAssembly.instantiate(bytes, { './query_engine_bg.js': bindings });
  bindings.__wbg_set_wasm(instance.exports);
  return bindings;
}

function errorBody(message, extra = {}) {
  return { errors: [{ error: message, user_facing_error: { is_panic: false, message, meta: {}, ...extra } }] };
}

function readBody(request) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    request.on('data', (chunk) => chunks.push(chunk));
    request.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    request.on('error', reject);
  });
}

function send(response, status, body, type = 'application/json') {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  response.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(text) });
  response.end(text);
}

async function main() {
  const options = parseArgs(process.argv.slice(2));
  if (options.version) {
    process.stdout.write(`query-engine ${ENGINE_COMMIT}\n`);
    return;
  }
  if (options.port === null) usage('-p PORT is required');
  const dmlPath = process.env.PRISMA_DML_PATH;
  if (!dmlPath) usage('PRISMA_DML_PATH (the schema file) is not set');
  const datamodel = readFileSync(dmlPath, 'utf8');
  const schema = parseSchema(datamodel);
  const rawFormat = rawFormatFor(dmlPath);
  const url = datasourceUrl(schema);

  const { openDatabase } = await import('./database.mjs');
  const { pool, adapter } = openDatabase(url, { onError: (err) => log('WARNING', `idle database connection lost: ${err.message}`) });
  const wasm = await loadEngineModule();
  const engineLog = (json) => {
    try {
      const event = JSON.parse(json);
      if (event.level === 'ERROR' || event.level === 'error') log('ERROR', event.message ?? json, { engine: event });
    } catch {
      log('ERROR', String(json));
    }
  };
  const engine = new wasm.QueryEngine({ datamodel, logLevel: 'error', logQueries: false }, engineLog, adapter);
  await engine.connect('{}');

  // PRISMA_ENGINE_CAPTURE=<file>: append every GraphQL request received (one JSON line each), to
  // collect the query shapes a client sends (tests/gateway/prisma_engine/queries.jsonl came from it).
  const capture = process.env.PRISMA_ENGINE_CAPTURE;
  const record = capture
    ? (body) => appendFileSync(capture, `${JSON.stringify({ ...body, transactionId: undefined })}\n`)
    : () => {};

  async function runQuery(body, txId) {
    record(body);
    if (Array.isArray(body.batch)) {
      const translated = body.batch.map((item) => translateRequest(item, schema));
      const request = { batch: translated.map((t) => t.request) };
      if (body.transaction) request.transaction = typeof body.transaction === 'object' ? body.transaction : {};
      const answer = JSON.parse(await engine.query(JSON.stringify(request), '{}', txId));
      if (answer.errors) return answer;
      if (!Array.isArray(answer.batchResult)) throw new TranslationError('the engine answered a batch without batchResult');
      return { batchResult: answer.batchResult.map((item, i) => translateAnswer(item, translated[i].answer, rawFormat)) };
    }
    const { request, answer: how } = translateRequest(body, schema);
    const answer = JSON.parse(await engine.query(JSON.stringify(request), '{}', txId));
    return translateAnswer(answer, how, rawFormat);
  }

  async function handle(request, response) {
    const { pathname, searchParams } = new URL(request.url, `http://${HOST}`);
    const text = await readBody(request);
    if (request.method === 'GET' && pathname === '/status') return send(response, 200, { status: 'ok' });
    if (request.method === 'POST' && pathname === '/') {
      let body;
      try {
        body = JSON.parse(text);
      } catch {
        return send(response, 400, errorBody('the request body is not JSON'));
      }
      const txId = request.headers['x-transaction-id'] || undefined;
      try {
        return send(response, 200, await runQuery(body, txId));
      } catch (err) {
        if (err instanceof TranslationError || err instanceof GraphQLSyntaxError) {
          log('ERROR', `cannot translate: ${err.message}`, { query: String(body.query ?? '').slice(0, 500) });
          return send(response, 200, errorBody(`gateway prisma engine cannot translate this query: ${err.message}`));
        }
        throw err;
      }
    }
    if (request.method === 'POST' && pathname === '/transaction/start') {
      return send(response, 200, await engine.startTransaction(text || '{}', '{}'));
    }
    const tx = pathname.match(/^\/transaction\/([^/]+)\/(commit|rollback)$/);
    if (request.method === 'POST' && tx) {
      const id = decodeURIComponent(tx[1]);
      const result = tx[2] === 'commit' ? await engine.commitTransaction(id, '{}') : await engine.rollbackTransaction(id, '{}');
      return send(response, 200, result || '{}');
    }
    if (request.method === 'GET' && pathname === '/metrics') {
      const format = searchParams.get('format') || 'prometheus';
      if (format !== 'json' && format !== 'prometheus') return send(response, 400, errorBody(`unknown metrics format ${format}: json or prometheus`));
      let globalLabels = {};
      if (text) globalLabels = JSON.parse(text);
      try {
        const metrics = await engine.metrics(JSON.stringify({ format, globalLabels }));
        return format === 'json' ? send(response, 200, metrics) : send(response, 200, metrics, 'text/plain');
      } catch (err) {
        return send(response, 501, errorBody(`metrics are not available from the WebAssembly engine: ${err.message ?? err}`));
      }
    }
    return send(response, 404, errorBody(`no route ${request.method} ${pathname}`));
  }

  const server = http.createServer((request, response) => {
    handle(request, response).catch((err) => {
      log('ERROR', `engine failure: ${err?.message ?? err}`, { stack: err?.stack });
      if (!response.headersSent) send(response, 500, errorBody(`query engine error: ${err?.message ?? err}`));
      // A panic leaves the WebAssembly instance unusable: exit, so that the client starts a new one.
      if (err instanceof WebAssembly.RuntimeError || /panicked|unreachable/.test(String(err?.message))) stop(`engine panic`, 101);
    });
  });
  server.keepAliveTimeout = 65000;

  let stopping = false;
  async function stop(why, code = 0) {
    if (stopping) return;
    stopping = true;
    log(code === 0 ? 'INFO' : 'ERROR', `stopping: ${why}`);
    setTimeout(() => process.exit(code), STOP_GRACE_MS).unref();
    server.close();
    server.closeAllConnections?.();
    try {
      await engine.disconnect('{}');
      await pool.end();
    } catch (err) {
      log('WARNING', `while disconnecting: ${err.message}`);
    }
    process.exit(code);
  }
  // SIGINT is how prisma-client-py stops its engine: stop now. SIGTERM reaches the engine with its
  // parent when a whole process group is stopped (the stack, ECS): keep serving while the parent
  // shuts down (LiteLLM writes its pending spend then), and stop when it is gone or after a while.
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => {
    log('INFO', `SIGTERM: serving until the parent exits (at most ${SIGTERM_GRACE_MS / 1000} s)`);
    setTimeout(() => stop('SIGTERM grace period over'), SIGTERM_GRACE_MS).unref();
  });
  // The native binary dies with its parent; so does this server (no orphan holding connections).
  const parent = process.ppid;
  setInterval(() => {
    if (process.ppid !== parent) stop(`parent process ${parent} exited`);
  }, PARENT_POLL_MS);

  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, HOST, resolve);
  });
}

main().catch((err) => {
  log('ERROR', `query engine failed to start: ${err?.message ?? err}`);
  process.exit(1);
});
