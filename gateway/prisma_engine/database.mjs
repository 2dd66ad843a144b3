// The PostgreSQL side: a `pg` pool behind @prisma/adapter-pg, from a Prisma-style URL.
//
// @prisma/adapter-pg 5.17 refuses raw-query columns of some system types (name, char, interval,
// regclass ...) with "Unsupported column type"; LiteLLM's start-up view check selects a name[]
// column. Those columns are handed to the adapter as text (or text[]), as the native engine did.

import pg from 'pg';
import { parse as parseArray } from 'postgres-array';
import { PrismaPg } from '@prisma/adapter-pg';
import { bindAdapter } from '@prisma/driver-adapter-utils';

const TEXT = 25;
const TEXT_ARRAY = 1009;
// oid -> what the adapter gets instead. Scalars: the server's text form. Arrays: text[].
const AS_TEXT = new Map([
  [18, TEXT], [19, TEXT], [24, TEXT], [1186, TEXT], [2202, TEXT], [2203, TEXT], [2204, TEXT],
  [2205, TEXT], [2206, TEXT], [4089, TEXT], [4096, TEXT], [4191, TEXT], [3734, TEXT], [3769, TEXT],
  [1003, TEXT_ARRAY], [1187, TEXT_ARRAY], [2210, TEXT_ARRAY], [2211, TEXT_ARRAY],
]);
// Prisma's connection-string parameters that are not libpq's: they configure the pool instead.
const PRISMA_PARAMETERS = ['connection_limit', 'pool_timeout', 'connect_timeout', 'schema', 'pgbouncer',
  'statement_cache_size', 'socket_timeout', 'sslaccept', 'sslidentity', 'sslpassword', 'application_name'];

export function poolOptions(url) {
  let parsed;
  try {
    parsed = new URL(url);
  } catch {
    throw new Error('the datasource URL is not a URL (postgresql://user:password@host:port/database)');
  }
  if (parsed.protocol !== 'postgresql:' && parsed.protocol !== 'postgres:') {
    throw new Error(`the datasource URL's scheme is ${parsed.protocol}; only postgresql:// is served`);
  }
  const params = parsed.searchParams;
  const options = {};
  const limit = params.get('connection_limit');
  if (limit !== null) options.max = Number(limit);
  const poolTimeout = params.get('pool_timeout');
  if (poolTimeout !== null) options.connectionTimeoutMillis = Number(poolTimeout) * 1000;
  const connectTimeout = params.get('connect_timeout');
  if (connectTimeout !== null && options.connectionTimeoutMillis === undefined) {
    options.connectionTimeoutMillis = Number(connectTimeout) * 1000;
  }
  const applicationName = params.get('application_name');
  if (applicationName) options.application_name = applicationName;
  const schema = params.get('schema') || undefined;
  for (const name of PRISMA_PARAMETERS) params.delete(name);
  options.connectionString = parsed.toString();
  return { options, schema };
}

function retype(result) {
  for (const field of result?.fields ?? []) {
    const as = AS_TEXT.get(field.dataTypeID);
    if (as !== undefined) field.dataTypeID = as;
  }
  return result;
}

function castUnsupported(query) {
  return function castingQuery(config, values, callback) {
    if (!config || typeof config !== 'object' || !config.types) return query.call(this, config, values, callback);
    const { getTypeParser } = config.types;
    const types = {
      getTypeParser: (oid, format) => {
        const as = AS_TEXT.get(oid);
        if (as === TEXT) return (text) => text;
        if (as === TEXT_ARRAY) return (text) => parseArray(text);
        return getTypeParser(oid, format);
      },
    };
    const cast = { ...config, types };
    // pg's Pool.query passes a callback; the adapter's transactions await a promise.
    if (typeof callback === 'function') {
      return query.call(this, cast, values, (err, result) => callback(err, err ? result : retype(result)));
    }
    if (typeof values === 'function') {
      return query.call(this, cast, (err, result) => values(err, err ? result : retype(result)));
    }
    return query.call(this, cast, values).then(retype);
  };
}

/** The pool and the bound adapter the WebAssembly engine queries through. */
export function openDatabase(url, { onError }) {
  const { options, schema } = poolOptions(url);
  const pool = new pg.Pool(options);
  pool.on('connect', (client) => {
    client.query = castUnsupported(client.query);
  });
  // An idle client's connection dropped (e.g. PostgreSQL restarted): the pool discards it.
  pool.on('error', (err) => onError(err));
  const adapter = bindAdapter(new PrismaPg(pool, { schema }));
  return { pool, adapter };
}
