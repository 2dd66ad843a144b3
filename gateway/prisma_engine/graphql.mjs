// A parser for the GraphQL subset prisma-client-py writes (its builder.py): one operation, an
// aliased root field, arguments of JSON-like values, nested selection sets. Commas are white space
// in GraphQL and prisma-client-py separates list items with ",\n": the tokenizer skips them.
// Anything outside the subset (fragments, variables, directives, block strings) is an error.

export class GraphQLSyntaxError extends Error {}

/** An enum literal (a bare name in value position), kept apart from strings. */
export class EnumValue {
  constructor(name) {
    this.name = name;
  }
}

/** A number literal, kept as written so that integers past 2^53 are not rounded. */
export class NumberValue {
  constructor(text) {
    this.text = text;
  }
}

const PUNCTUATORS = new Set(['{', '}', '(', ')', '[', ']', ':']);
const NAME = /[_A-Za-z][_0-9A-Za-z]*/y;
const NUMBER = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y;

export function tokenize(source) {
  const tokens = [];
  let i = 0;
  while (i < source.length) {
    const c = source[i];
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r' || c === ',' || c === '\ufeff') {
      i += 1;
    } else if (c === '#') {
      while (i < source.length && source[i] !== '\n') i += 1;
    } else if (PUNCTUATORS.has(c)) {
      tokens.push({ kind: c, at: i });
      i += 1;
    } else if (c === '"') {
      if (source.startsWith('"""', i)) throw new GraphQLSyntaxError(`block strings are not supported (at ${i})`);
      let j = i + 1;
      while (j < source.length && source[j] !== '"') j += source[j] === '\\' ? 2 : 1;
      if (j >= source.length) throw new GraphQLSyntaxError(`unterminated string (at ${i})`);
      let value;
      try {
        value = JSON.parse(source.slice(i, j + 1)); // GraphQL's escapes are JSON's
      } catch (err) {
        throw new GraphQLSyntaxError(`bad string literal at ${i}: ${err.message}`);
      }
      tokens.push({ kind: 'string', value, at: i });
      i = j + 1;
    } else if (c === '-' || (c >= '0' && c <= '9')) {
      NUMBER.lastIndex = i;
      const m = NUMBER.exec(source);
      if (!m) throw new GraphQLSyntaxError(`bad number at ${i}: ${source.slice(i, i + 12)}`);
      tokens.push({ kind: 'number', value: m[0], at: i });
      i += m[0].length;
    } else {
      NAME.lastIndex = i;
      const m = NAME.exec(source);
      if (!m) throw new GraphQLSyntaxError(`unexpected character ${JSON.stringify(c)} at ${i}`);
      tokens.push({ kind: 'name', value: m[0], at: i });
      i += m[0].length;
    }
  }
  return tokens;
}

/**
 * Parse a document into {operation, fields}; each field is
 * {alias, name, args: object|null, selection: field[]|null}.
 */
export function parseDocument(source) {
  const tokens = tokenize(source);
  let pos = 0;
  const peek = () => tokens[pos];
  const fail = (what) => {
    const t = tokens[pos];
    throw new GraphQLSyntaxError(`expected ${what} but found ${t ? `${t.kind} ${t.value ?? ''} at ${t.at}` : 'the end'}`);
  };
  const expect = (kind) => {
    const t = tokens[pos];
    if (!t || t.kind !== kind) fail(kind);
    pos += 1;
    return t;
  };

  function value() {
    const t = peek();
    if (!t) fail('a value');
    if (t.kind === 'string') {
      pos += 1;
      return t.value;
    }
    if (t.kind === 'number') {
      pos += 1;
      return new NumberValue(t.value);
    }
    if (t.kind === 'name') {
      pos += 1;
      if (t.value === 'true') return true;
      if (t.value === 'false') return false;
      if (t.value === 'null') return null;
      return new EnumValue(t.value);
    }
    if (t.kind === '[') {
      pos += 1;
      const items = [];
      while (peek() && peek().kind !== ']') items.push(value());
      expect(']');
      return items;
    }
    if (t.kind === '{') {
      pos += 1;
      const object = {};
      while (peek() && peek().kind !== '}') {
        const key = expect('name').value;
        expect(':');
        if (Object.hasOwn(object, key)) throw new GraphQLSyntaxError(`duplicate key ${key} at ${t.at}`);
        object[key] = value();
      }
      expect('}');
      return object;
    }
    return fail('a value');
  }

  function args() {
    expect('(');
    const out = {};
    while (peek() && peek().kind !== ')') {
      const key = expect('name').value;
      expect(':');
      out[key] = value();
    }
    expect(')');
    return out;
  }

  function selectionSet() {
    expect('{');
    const fields = [];
    while (peek() && peek().kind !== '}') {
      let name = expect('name').value;
      let alias = null;
      if (peek() && peek().kind === ':') {
        pos += 1;
        alias = name;
        name = expect('name').value;
      }
      const fieldArgs = peek() && peek().kind === '(' ? args() : null;
      const selection = peek() && peek().kind === '{' ? selectionSet() : null;
      fields.push({ alias, name, args: fieldArgs, selection });
    }
    expect('}');
    return fields;
  }

  let operation = 'query';
  if (peek() && peek().kind === 'name') {
    operation = peek().value;
    if (operation !== 'query' && operation !== 'mutation') fail('query or mutation');
    pos += 1;
  }
  const fields = selectionSet();
  if (pos !== tokens.length) fail('the end of the document');
  return { operation, fields };
}
