// The parts of a Prisma schema the translation needs: which fields are Json, which are relations
// (and to which model), and where the datasource URL comes from. Not a full schema parser: the
// query engine itself validates the schema; this only reads model and enum blocks line by line.

const SCALARS = new Set([
  'String', 'Boolean', 'Int', 'BigInt', 'Float', 'Decimal', 'DateTime', 'Json', 'Bytes',
]);

export function parseSchema(text) {
  const models = new Map();
  const enums = new Set();
  let datasourceEnv = null;
  let datasourceUrl = null;
  let block = null; // {kind, name}
  for (const rawLine of text.split('\n')) {
    const line = rawLine.replace(/\/\/.*$/, '').trim();
    if (!line) continue;
    const opening = line.match(/^(model|enum|datasource|generator|view|type)\s+(\w+)\s*\{$/);
    if (opening) {
      block = { kind: opening[1], name: opening[2] };
      if (block.kind === 'model' || block.kind === 'view') models.set(block.name, new Map());
      if (block.kind === 'enum') enums.add(block.name);
      continue;
    }
    if (line === '}') {
      block = null;
      continue;
    }
    if (block === null) continue;
    if (block.kind === 'datasource') {
      const fromEnv = line.match(/^url\s*=\s*env\(\s*"([^"]+)"\s*\)/);
      const literal = line.match(/^url\s*=\s*"([^"]+)"/);
      if (fromEnv) datasourceEnv = fromEnv[1];
      if (literal) datasourceUrl = literal[1];
      continue;
    }
    if (block.kind !== 'model' && block.kind !== 'view') continue;
    if (line.startsWith('@@')) continue;
    const field = line.match(/^(\w+)\s+(\w+)(\[\])?(\?)?/);
    if (!field) continue;
    models.get(block.name).set(field[1], { name: field[1], type: field[2], isList: Boolean(field[3]) });
  }
  // Classify once every model is known (a relation may point at a model declared later).
  for (const fields of models.values()) {
    for (const field of fields.values()) {
      if (field.type === 'Json') field.kind = 'json';
      else if (models.has(field.type)) field.kind = 'relation';
      else if (enums.has(field.type)) field.kind = 'enum';
      else if (SCALARS.has(field.type)) field.kind = 'scalar';
      else field.kind = 'unknown';
    }
  }
  return { models, enums, datasourceEnv, datasourceUrl };
}
