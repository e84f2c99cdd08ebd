// Cells and rows: plain JS values in, WIT `value`s out, typed by the output
// schema, so that an integer meant as FLOAT64 crosses as a float and one
// meant as INT64 as a 64-bit integer. Nothing here touches the host.

import { describeValue, toWit } from './dates.js';

const TYPES = {
  STRING: 'string',
  INT64: 'int64',
  INTEGER: 'int64',
  FLOAT64: 'float64',
  FLOAT: 'float64',
  NUMERIC: 'numeric',
  BOOL: 'bool',
  BOOLEAN: 'bool',
  DATE: 'date',
  TIMESTAMP: 'timestamp',
  JSON: 'json',
};
const MODES = { NULLABLE: 'nullable', REQUIRED: 'required', REPEATED: 'repeated' };
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

/**
 * A BigQuery JSON schema (the array `bq mk --schema` reads, e.g. `import
 * schema from './schema.json'`, which `slate build` bundles) as WIT fields.
 * Throws a `TypeError` naming the entry and what is wrong with it: no
 * name, or a type or mode it does not know (listing those it knows).
 */
export function loadSchema(entries) {
  if (!Array.isArray(entries)) throw new TypeError('a schema is an array of fields');
  return entries.map((entry) => {
    const name = entry?.name;
    const kind = TYPES[String(entry?.type ?? '').toUpperCase()];
    const mode = MODES[String(entry?.mode ?? 'NULLABLE').toUpperCase()];
    const problem = !name
      ? 'it has no name'
      : !kind
        ? `type ${JSON.stringify(entry?.type ?? null)} is none of ${Object.keys(TYPES).join(', ')}`
        : !mode
          ? `mode ${JSON.stringify(entry?.mode)} is none of ${Object.keys(MODES).join(', ')}`
          : null;
    if (problem) {
      throw new TypeError(`schema.json: unusable field ${JSON.stringify(entry)}: ${problem}`);
    }
    return {
      name,
      fieldType: kind,
      mode,
      allowNonFinite: Boolean(entry.allow_non_finite),
      description: entry.description ?? '',
    };
  });
}

function int64(cell) {
  let big;
  if (typeof cell === 'bigint') big = cell;
  else if (typeof cell === 'number' && Number.isSafeInteger(cell)) big = BigInt(cell);
  else return undefined;
  return big >= INT64_MIN && big <= INT64_MAX ? big : undefined;
}

function timestamp(cell) {
  if (cell instanceof Date && !Number.isNaN(cell.getTime())) return BigInt(cell.getTime()) * 1000n;
  return int64(cell);
}

function date(cell) {
  if (cell instanceof Date || typeof cell === 'string') {
    try {
      return toWit(cell);
    } catch {
      return undefined;
    }
  }
  return undefined;
}

/**
 * `cell` as a WIT scalar of `fieldType` (`'string'`, `'int64'`, ...): an
 * INT64 from an integer `number` or a `bigint`, a FLOAT64 from a `number`,
 * a NUMERIC from text, an integer or a `bigint`, a DATE from a `Date` or
 * `YYYY-MM-DD` text, a TIMESTAMP from microseconds or a `Date`, a JSON from
 * text or any value (serialised). Throws a `TypeError` naming the type
 * when the cell cannot be one.
 */
export function scalar(fieldType, cell) {
  let val;
  let tag = fieldType;
  switch (fieldType) {
    case 'string':
      if (typeof cell === 'string') val = cell;
      break;
    case 'int64':
      val = int64(cell);
      break;
    case 'float64':
      if (typeof cell === 'number') val = cell;
      break;
    case 'numeric':
      if (typeof cell === 'string' || typeof cell === 'bigint' || Number.isSafeInteger(cell)) val = String(cell);
      break;
    case 'bool':
      tag = 'boolean';
      if (typeof cell === 'boolean') val = cell;
      break;
    case 'date':
      val = date(cell);
      break;
    case 'timestamp':
      val = timestamp(cell);
      break;
    case 'json':
      val = typeof cell === 'string' ? cell : JSON.stringify(cell);
      break;
    default:
      throw new TypeError(`unknown field type ${describeValue(fieldType)}`);
  }
  if (val === undefined) throw new TypeError(`${describeValue(cell)} is not a ${fieldType.toUpperCase()}`);
  return { tag, val };
}

/**
 * `cell` as the WIT value of a column described by `field`: `null` or
 * `undefined` is null, an array is a REPEATED column's values.
 */
export function value(field, cell) {
  if (cell === null || cell === undefined) return { tag: 'null' };
  if (field.mode === 'repeated') {
    if (!Array.isArray(cell)) throw new TypeError(`${describeValue(cell)} is not an array for a REPEATED column`);
    return { tag: 'repeated', val: cell.map((item) => scalar(field.fieldType, item)) };
  }
  return { tag: 'scalar', val: scalar(field.fieldType, cell) };
}

/** Output rows under a schema's columns, added as plain objects by column name. */
export class OutputRows {
  /** Empty rows under `schema`, WIT fields (see `loadSchema`). */
  constructor(schema) {
    this.schema = schema;
    this.names = new Set(schema.map((field) => field.name));
    this.rows = [];
  }

  /**
   * Adds `row`, an object from column name to JS value. A column the
   * object leaves out is null; a key that is not a column, or a value of
   * the wrong type, throws a `TypeError` naming the column.
   */
  add(row) {
    const unknown = Object.keys(row).filter((key) => !this.names.has(key));
    if (unknown.length > 0) {
      throw new TypeError(`row has columns the schema does not: ${unknown.sort().join(', ')}`);
    }
    this.rows.push(
      this.schema.map((field) => {
        try {
          return value(field, row[field.name]);
        } catch (error) {
          throw new TypeError(`column \`${field.name}\`: ${error.message}`);
        }
      }),
    );
    return this;
  }

  /** Adds every row of `rows` (any iterable), as `add` does. */
  extend(rows) {
    for (const row of rows) this.add(row);
    return this;
  }

  /** How many rows were added. */
  get length() {
    return this.rows.length;
  }

  /** The rows as the WIT `row-set` that `process` returns. */
  finish() {
    return { columns: this.schema.map((field) => field.name), rows: this.rows };
  }
}
