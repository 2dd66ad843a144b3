// prisma-client-py's GraphQL requests -> the query engine's JSON protocol, and the answers back.
//
// The two protocols carry the same operations; they differ in spelling and in how a few values
// are typed. What needs care (each has a test in tests/gateway/prisma_engine):
// - a string given to a Json field is JSON *text* in GraphQL but a JSON *string* in the JSON
//   protocol, so Json values are tagged {"$type": "Json"} from the schema's field types, through
//   where filters and nested writes;
// - answers come back typed ({"$type": "DateTime", ...}) and are untyped to what the GraphQL
//   engine returned (Json fields as JSON text, which prisma-client-py's models parse);
// - raw-query rows come back as {columns, types, rows}; prisma-client-py before 0.15 expects one
//   object per row with {prisma__type, prisma__value} cells.
// Anything this does not know how to translate raises TranslationError: a clear error for the
// client, never a guess.

import { EnumValue, NumberValue, parseDocument } from './graphql.mjs';

export class TranslationError extends Error {}

const MODEL_ACTIONS = [
  'findUnique', 'findFirst', 'findMany', 'createOne', 'createMany', 'updateOne', 'updateMany',
  'deleteOne', 'deleteMany', 'upsertOne', 'aggregate', 'groupBy',
];
const OR_THROW = new Set(['findUnique', 'findFirst']);
const RAW_ACTIONS = new Set(['queryRaw', 'executeRaw']);
const NULL_ENUMS = new Set(['DbNull', 'JsonNull', 'AnyNull']);
const JSON_FILTER_VALUES = new Set(['equals', 'not', 'array_contains', 'array_starts_with', 'array_ends_with']);
const NESTED_WHERE_OPS = new Set(['connect', 'disconnect', 'set', 'delete', 'deleteMany']);

/** A GraphQL request body ({query, variables}) -> {request: JSON-protocol query, answer: how to translate back}. */
export function translateRequest(body, schema) {
  if (body === null || typeof body !== 'object' || typeof body.query !== 'string') {
    throw new TranslationError('expected a GraphQL request {"query": "...", "variables": {}}');
  }
  if (body.variables && Object.keys(body.variables).length > 0) {
    throw new TranslationError('GraphQL variables are not supported (prisma-client-py inlines every value)');
  }
  const document = parseDocument(body.query);
  if (document.fields.length !== 1) {
    throw new TranslationError(`expected one root field, got ${document.fields.length}`);
  }
  const root = document.fields[0];
  const alias = root.alias ?? root.name;
  if (RAW_ACTIONS.has(root.name)) {
    const args = plainObject(root.args ?? {});
    if (typeof args.query !== 'string') throw new TranslationError(`${root.name} needs a query string`);
    return {
      request: { action: root.name, query: { arguments: args, selection: {} } },
      answer: { alias, raw: root.name },
    };
  }
  const { action, modelName } = splitOperation(root.name, schema);
  return {
    request: {
      modelName,
      action,
      query: {
        arguments: convertArguments(schema, modelName, root.args ?? {}, action),
        selection: convertSelection(schema, modelName, root.selection ?? [], root.name),
      },
    },
    answer: { alias },
  };
}

function splitOperation(name, schema) {
  for (const prefix of MODEL_ACTIONS) {
    if (!name.startsWith(prefix)) continue;
    let model = name.slice(prefix.length);
    let action = prefix;
    if (OR_THROW.has(prefix) && model.endsWith('OrThrow') && !schema.models.has(model)) {
      model = model.slice(0, -'OrThrow'.length);
      action = `${prefix}OrThrow`;
    }
    if (schema.models.has(model)) return { action, modelName: model };
  }
  throw new TranslationError(`unknown operation ${JSON.stringify(name)}: not <action><Model> for a model of the schema`);
}

function modelFields(schema, model) {
  return model ? schema.models.get(model) : undefined;
}

function convertSelection(schema, model, fields, where) {
  const out = {};
  const known = modelFields(schema, model);
  for (const field of fields) {
    if (field.alias) throw new TranslationError(`aliases inside a selection are not supported (${field.alias}: ${field.name} in ${where})`);
    if (field.selection === null) {
      if (field.args) throw new TranslationError(`arguments on the scalar ${field.name} in ${where}`);
      out[field.name] = true;
      continue;
    }
    const info = known?.get(field.name);
    const target = info?.kind === 'relation' ? info.type : null;
    const nested = { selection: convertSelection(schema, target, field.selection, `${where}.${field.name}`) };
    if (field.args) nested.arguments = convertArguments(schema, target, field.args, 'findMany');
    out[field.name] = nested;
  }
  return out;
}

function convertArguments(schema, model, args, action) {
  const out = {};
  for (const [key, value] of Object.entries(args)) {
    if (key === 'where' || key === 'cursor') out[key] = convertWhere(schema, model, value);
    else if (key === 'data') out[key] = convertData(schema, model, value);
    else if (key === 'create' || key === 'update') {
      if (action !== 'upsertOne') throw new TranslationError(`argument ${key} is only known on upsertOne, not ${action}`);
      out[key] = convertData(schema, model, value);
    } else out[key] = plain(value);
  }
  return out;
}

/** A where filter: Json filter values tagged, relation filters followed into their model. */
function convertWhere(schema, model, where) {
  if (Array.isArray(where)) return where.map((item) => convertWhere(schema, model, item));
  if (!isObject(where)) return plain(where);
  const fields = modelFields(schema, model);
  const out = {};
  for (const [key, value] of Object.entries(where)) {
    const field = fields?.get(key);
    if (key === 'AND' || key === 'OR' || key === 'NOT') out[key] = convertWhere(schema, model, value);
    else if (field?.kind === 'json') out[key] = convertJsonFilter(value, `${model}.${key}`);
    else if (field?.kind === 'relation') {
      out[key] = isObject(value)
        ? Object.fromEntries(Object.entries(value).map(([op, inner]) => [
          op,
          ['some', 'every', 'none', 'is', 'isNot'].includes(op)
            ? convertWhere(schema, field.type, inner)
            : convertWhere(schema, field.type, { [op]: inner })[op],
        ]))
        : plain(value);
    } else out[key] = plain(value);
  }
  return out;
}

function convertJsonFilter(filter, where) {
  if (!isObject(filter)) {
    throw new TranslationError(`a Json field takes a filter object ({equals: ...}), got ${describe(filter)} for ${where}`);
  }
  const out = {};
  for (const [op, value] of Object.entries(filter)) {
    out[op] = JSON_FILTER_VALUES.has(op) ? jsonValue(value, where) : plain(value);
  }
  return out;
}

/** Data of a create or update: Json values tagged, nested writes followed into their model. */
function convertData(schema, model, data) {
  if (Array.isArray(data)) return data.map((item) => convertData(schema, model, item));
  if (!isObject(data)) throw new TranslationError(`data for ${model} must be an object, got ${describe(data)}`);
  const fields = modelFields(schema, model);
  const out = {};
  for (const [key, value] of Object.entries(data)) {
    const field = fields?.get(key);
    if (field?.kind === 'json') {
      out[key] = field.isList ? convertJsonList(value, `${model}.${key}`) : jsonValue(value, `${model}.${key}`);
    } else if (field?.kind === 'relation') out[key] = convertNestedWrite(schema, field.type, value, `${model}.${key}`);
    else out[key] = plain(value);
  }
  return out;
}

function convertJsonList(value, where) {
  if (Array.isArray(value)) return value.map((item) => jsonValue(item, where));
  if (isObject(value)) {
    return Object.fromEntries(Object.entries(value).map(([op, inner]) => [
      op,
      Array.isArray(inner) ? inner.map((item) => jsonValue(item, where)) : jsonValue(inner, where),
    ]));
  }
  return jsonValue(value, where);
}

function convertNestedWrite(schema, target, ops, where) {
  if (!isObject(ops)) throw new TranslationError(`a relation write takes an object of operations, got ${describe(ops)} for ${where}`);
  const each = (value, fn) => (Array.isArray(value) ? value.map(fn) : fn(value));
  const out = {};
  for (const [op, value] of Object.entries(ops)) {
    if (op === 'create') out[op] = convertData(schema, target, value);
    else if (op === 'createMany') {
      out[op] = { ...plainObject(value), data: convertData(schema, target, value.data) };
    } else if (op === 'connectOrCreate') {
      out[op] = each(value, (item) => ({ where: convertWhere(schema, target, item.where), create: convertData(schema, target, item.create) }));
    } else if (op === 'upsert') {
      out[op] = each(value, (item) => {
        const converted = { create: convertData(schema, target, item.create), update: convertData(schema, target, item.update) };
        if (item.where !== undefined) converted.where = convertWhere(schema, target, item.where);
        return converted;
      });
    } else if (op === 'update' || op === 'updateMany') {
      out[op] = each(value, (item) => {
        const fields = modelFields(schema, target);
        const wrapped = isObject(item) && 'data' in item && !fields?.has('data')
          && Object.keys(item).every((k) => k === 'data' || k === 'where');
        if (!wrapped) return convertData(schema, target, item);
        const converted = { data: convertData(schema, target, item.data) };
        if (item.where !== undefined) converted.where = convertWhere(schema, target, item.where);
        return converted;
      });
    } else if (NESTED_WHERE_OPS.has(op)) out[op] = typeof value === 'boolean' ? value : convertWhere(schema, target, value);
    else throw new TranslationError(`unknown nested write ${JSON.stringify(op)} on ${where}`);
  }
  return out;
}

/** A value for a Json field. In GraphQL a string is JSON text; an object literal is taken as the JSON it spells. */
function jsonValue(value, where) {
  if (typeof value === 'string') {
    try {
      JSON.parse(value);
    } catch {
      throw new TranslationError(`${where} is a Json field and ${JSON.stringify(value.slice(0, 60))} is not JSON text`);
    }
    return { $type: 'Json', value };
  }
  if (value === null) return { $type: 'Enum', value: 'DbNull' };
  if (value instanceof EnumValue) {
    if (NULL_ENUMS.has(value.name)) return { $type: 'Enum', value: value.name };
    throw new TranslationError(`${where} is a Json field; the bare name ${value.name} is not a value for it`);
  }
  return { $type: 'Json', value: JSON.stringify(plain(value)) };
}

/** A value with no schema-dependent typing: enum literals become strings, numbers JSON numbers. */
function plain(value) {
  if (value instanceof EnumValue) return NULL_ENUMS.has(value.name) ? { $type: 'Enum', value: value.name } : value.name;
  if (value instanceof NumberValue) return numberValue(value.text);
  if (Array.isArray(value)) return value.map(plain);
  if (isObject(value)) return plainObject(value);
  return value;
}

function plainObject(object) {
  return Object.fromEntries(Object.entries(object).map(([k, v]) => [k, plain(v)]));
}

function numberValue(text) {
  const number = Number(text);
  if (/^-?\d+$/.test(text) && !Number.isSafeInteger(number)) return { $type: 'BigInt', value: text };
  return number;
}

function isObject(value) {
  return value !== null && typeof value === 'object' && !Array.isArray(value)
    && !(value instanceof EnumValue) && !(value instanceof NumberValue);
}

function describe(value) {
  if (value instanceof EnumValue) return `the name ${value.name}`;
  if (value instanceof NumberValue) return `the number ${value.text}`;
  return JSON.stringify(value)?.slice(0, 60) ?? String(value);
}

// ------------------------------------------------------------------ answers

/** The engine's JSON-protocol answer -> the GraphQL answer prisma-client-py parses. */
export function translateAnswer(answer, how, rawFormat) {
  if (answer.errors) return { errors: answer.errors };
  if (!answer.data || typeof answer.data !== 'object') {
    throw new TranslationError(`the engine answered without data or errors: ${JSON.stringify(answer).slice(0, 200)}`);
  }
  const keys = Object.keys(answer.data);
  if (keys.length !== 1) throw new TranslationError(`expected one result in the engine's answer, got ${keys.length}`);
  const result = answer.data[keys[0]];
  let value;
  if (how.raw === 'queryRaw') value = rawRows(result, rawFormat);
  else if (how.raw === 'executeRaw') value = result;
  else value = untag(result);
  return { data: { [how.alias]: value } };
}

const UNTAG = {
  DateTime: (v) => v,
  Json: (v) => v, // JSON text: prisma-client-py's models parse Json fields from text
  Decimal: (v) => v,
  Bytes: (v) => v,
  BigInt: (v) => (Number.isSafeInteger(Number(v)) ? Number(v) : v),
};

function untag(value) {
  if (Array.isArray(value)) return value.map(untag);
  if (value === null || typeof value !== 'object') return value;
  if (typeof value.$type === 'string' && Object.keys(value).length === 2 && 'value' in value) {
    const convert = UNTAG[value.$type];
    if (!convert) throw new TranslationError(`the engine answered a value of type ${value.$type}, which this server cannot translate`);
    return convert(value.value);
  }
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, untag(v)]));
}

/**
 * Raw-query rows in the format the client parses. `columns` (prisma-client-py >= 0.15): the
 * engine's {columns, types, rows} as is. `cells` (before 0.15): [{column: {prisma__type, prisma__value}}].
 */
export function rawRows(result, format) {
  if (!result || !Array.isArray(result.columns) || !Array.isArray(result.types) || !Array.isArray(result.rows)) {
    throw new TranslationError(`unexpected raw-query answer: ${JSON.stringify(result).slice(0, 200)}`);
  }
  if (format === 'columns') return result;
  if (format !== 'cells') throw new TranslationError(`unknown raw row format ${format}`);
  return result.rows.map((row) => Object.fromEntries(result.columns.map((column, i) => [column, cell(result.types[i], row[i])])));
}

function cell(type, value) {
  if (value === null || value === undefined) return { prisma__type: 'null', prisma__value: null };
  if (type.endsWith('-array')) {
    if (!Array.isArray(value)) throw new TranslationError(`a ${type} column held ${describe(value)}`);
    const element = type.slice(0, -'-array'.length);
    return { prisma__type: 'array', prisma__value: value.map((item) => cell(element, item)) };
  }
  return { prisma__type: type, prisma__value: value };
}
