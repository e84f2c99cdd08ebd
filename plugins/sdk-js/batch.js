// Reading declared tables through the host, and column batches decoded into
// plain JS arrays: text cut at its UTF-8 byte offsets, DATE columns as
// `Date`s at midnight UTC (or day numbers), INT64 and TIMESTAMP as
// `number`s (or `bigint`s), nulls as `null`.

import { describeValue, fromDays, fromWit, toWit } from './dates.js';
import * as host from './host.js';

/**
 * A read the host refused. `readCase` is the WIT `read-error`'s case
 * (`undeclared-table`, `unknown-table`, `invalid-range`, `limit-exceeded`,
 * `storage`) and `detail` its message. Uncaught, it fails the run with a
 * `process-error`, never a trap (`unknown-table` as `missing-data`, the
 * rest as `internal`).
 */
export class ReadFailed extends Error {
  constructor(readCase, detail) {
    super(`${readCase}: ${detail}`);
    this.name = 'ReadFailed';
    this.readCase = readCase;
    this.detail = detail;
  }
}

/**
 * `dataset.table` as a WIT `table-ref`; throws a `TypeError` for a name
 * without exactly one dot between two non-empty parts.
 */
export function table(name) {
  const parts = String(name).split('.');
  if (parts.length !== 2 || !parts[0] || !parts[1]) {
    throw new TypeError(`table name ${describeValue(name)} is not dataset.table`);
  }
  return { dataset: parts[0], table: parts[1] };
}

/** Calls a host read, turning its `read-error` into `ReadFailed`. */
function read(call, ...args) {
  try {
    return call(...args);
  } catch (error) {
    const payload = error?.payload;
    if (payload && typeof payload.tag === 'string') throw new ReadFailed(payload.tag, String(payload.val));
    throw error;
  }
}

/**
 * The named `columns` of declared table `name` (`dataset.table`) from
 * `start` to `end`, both inclusive (a `Date`, `YYYY-MM-DD` or a WIT date),
 * packed by column: a `Batch`. Throws `ReadFailed`.
 */
export function readColumnBatch(name, start, end, columns) {
  return new Batch(read(host.readColumnBatch, table(name), toWit(start), toWit(end), [...columns]));
}

/**
 * Like `readColumnBatch`, with the STRING columns named in `coded` coded
 * (contract 0.1.1): `batch.codes(name)` is each row's index into
 * `batch.dictionary(name)`, so rows group by number; `batch.column(name)`
 * still gives the texts. Throws `ReadFailed`.
 */
export function readCodedColumnBatch(name, start, end, columns, coded) {
  const answer = read(host.readCodedColumnBatch, table(name), toWit(start), toWit(end), [...columns], [...coded]);
  return new Batch(answer.batch, answer.coded);
}

/**
 * The named `columns` of declared table `name` from `start` to `end` as one
 * object per row. For many rows prefer `readColumnBatch` and its columns:
 * it builds no object per row.
 */
export function readColumns(name, start, end, columns) {
  return [...readColumnBatch(name, start, end, columns).rows()];
}

/**
 * A column batch; each column is decoded once, when first asked for. Coded
 * columns also come as their codes and dictionary.
 */
export class Batch {
  /**
   * `packed` is the WIT `column-batch` the host returned; `coded`, the
   * `coded-column`s of a coded read.
   */
  constructor(packed, coded = []) {
    this.rowCount = packed.rowCount;
    this.packed = new Map(packed.columns.map((column) => [column.name, column]));
    this.coded = new Map(coded.map((column) => [column.name, column]));
    this.names = [...this.packed.keys(), ...[...this.coded.keys()].filter((name) => !this.packed.has(name))];
    this.decoded = new Map();
  }

  /** How many rows the batch holds. */
  get length() {
    return this.rowCount;
  }

  /** The packed WIT column `name`; throws a `RangeError` naming it and the batch's columns. */
  packedColumn(name) {
    const column = this.packed.get(name);
    if (!column) {
      throw new RangeError(`the batch has no column \`${name}\` (it has ${this.names.join(', ')})`);
    }
    return column;
  }

  /**
   * Column `name`, one JS value per row (`null` when null). With
   * `{ bigint: true }` INT64 and TIMESTAMP values come as `bigint`s;
   * otherwise as `number`s, and a value past 2^53 throws a `RangeError`
   * naming the column and the row.
   */
  column(name, { bigint = false } = {}) {
    const key = `${bigint ? 'n' : 'f'}:${name}`;
    if (!this.decoded.has(key)) {
      if (!this.packed.has(name) && this.coded.has(name)) {
        const texts = this.dictionary(name);
        this.decoded.set(key, this.codes(name).map((code) => (code === null ? null : texts[code])));
      } else {
        this.decoded.set(key, decodeColumn(this.packedColumn(name), this.rowCount, { bigint }));
      }
    }
    return this.decoded.get(key);
  }

  /** The WIT `coded-column` `name`; throws a `RangeError` naming it and the batch's columns. */
  codedColumn(name) {
    const column = this.coded.get(name);
    if (!column) {
      throw new RangeError(`the batch has no column \`${name}\` coded (it has ${this.names.join(', ')})`);
    }
    return column;
  }

  /**
   * Coded column `name`: each row's index into its dictionary (`null` when
   * null). Two rows have the same text exactly when they have the same code.
   */
  codes(name) {
    const column = this.codedColumn(name);
    return withNulls(Array.from(column.codes), column, this.rowCount);
  }

  /** Coded column `name`'s texts, in code order; it may hold texts no row has. */
  dictionary(name) {
    return decodeText(this.codedColumn(name).dictionary);
  }

  /** Several columns at once, in the order named. */
  columns(...names) {
    return names.map((name) => this.column(name));
  }

  /**
   * DATE column `name` as day numbers (days since 1970-01-01; `null` when
   * null): cheaper than `Date`s to compare and subtract.
   */
  days(name) {
    const column = this.packedColumn(name);
    if (column.values.tag !== 'date') {
      throw new TypeError(`column \`${name}\` is ${column.values.tag}, not a packed DATE column`);
    }
    return withNulls(Array.from(column.values.val), column, this.rowCount);
  }

  /** Each row as an object from column name to value. */
  *rows() {
    const decoded = this.names.map((name) => [name, this.column(name)]);
    for (let row = 0; row < this.rowCount; row += 1) {
      const object = {};
      for (const [name, values] of decoded) object[name] = values[row];
      yield object;
    }
  }
}

function utf8Length(codePoint) {
  if (codePoint < 0x80) return 1;
  if (codePoint < 0x800) return 2;
  if (codePoint < 0x10000) return 3;
  return 4;
}

/**
 * The rows of a WIT `packed-text`: `ends` are UTF-8 byte offsets into
 * `text`, which arrives as a JS string (UTF-16). ASCII text (the usual
 * case, where both lengths agree) is cut as it is; other text is walked
 * code point by code point. Throws a `RangeError` for an offset inside a
 * character or past the text.
 */
export function decodeText({ text, ends }) {
  const rows = new Array(ends.length);
  const total = ends.length ? ends[ends.length - 1] : 0;
  let start = 0;
  if (total === text.length) {
    for (let row = 0; row < ends.length; row += 1) {
      const end = ends[row];
      if (end < start) throw new RangeError(`text offset ${end} of row ${row} is before ${start}`);
      rows[row] = text.slice(start, end);
      start = end;
    }
    return rows;
  }
  let unit = 0;
  let byte = 0;
  for (let row = 0; row < ends.length; row += 1) {
    const end = ends[row];
    while (byte < end && unit < text.length) {
      const codePoint = text.codePointAt(unit);
      byte += utf8Length(codePoint);
      unit += codePoint > 0xffff ? 2 : 1;
    }
    if (byte !== end) throw new RangeError(`text offset ${end} of row ${row} is not at a character's end`);
    rows[row] = text.slice(start, unit);
    start = unit;
  }
  return rows;
}

function integer(value, bigint, where) {
  if (bigint) return BigInt(value);
  const number = Number(value);
  if (!Number.isSafeInteger(number)) {
    throw new RangeError(`${where}: ${value} does not fit a JS number; read the column with { bigint: true }`);
  }
  return number;
}

function scalarValue(scalar, bigint, where) {
  switch (scalar.tag) {
    case 'date':
      return fromWit(scalar.val);
    case 'int64':
    case 'timestamp':
      return integer(scalar.val, bigint, where);
    default:
      return scalar.val;
  }
}

function cellValue(cell, bigint, where) {
  if (cell.tag === 'null') return null;
  if (cell.tag === 'repeated') return cell.val.map((item) => scalarValue(item, bigint, where));
  return scalarValue(cell.val, bigint, where);
}

function withNulls(values, column, rowCount) {
  if (values.length !== rowCount) {
    throw new RangeError(`column \`${column.name}\` holds ${values.length} values for ${rowCount} rows`);
  }
  const nulls = column.nulls;
  if (nulls && nulls.length > 0) {
    for (let row = 0; row < rowCount; row += 1) {
      if (nulls[row >> 3] & (1 << (row & 7))) values[row] = null;
    }
  }
  return values;
}

/**
 * One WIT `column` of a batch as an array of JS values: text as strings,
 * DATE as `Date`s, INT64 and TIMESTAMP (microseconds) as `number`s (or
 * `bigint`s with `{ bigint: true }`), NUMERIC as its decimal text, null rows
 * (bit `i % 8` of byte `i / 8` of `nulls`) as `null`.
 */
export function decodeColumn(column, rowCount, { bigint = false } = {}) {
  const { tag, val } = column.values;
  let values;
  switch (tag) {
    case 'string':
    case 'numeric':
    case 'json':
      values = decodeText(val);
      break;
    case 'date':
      values = Array.from(val, fromDays);
      break;
    case 'int64':
    case 'timestamp':
      values = Array.from(val, (item, row) => integer(item, bigint, `column \`${column.name}\` row ${row}`));
      break;
    case 'values':
      values = Array.from(val, (cell, row) => cellValue(cell, bigint, `column \`${column.name}\` row ${row}`));
      break;
    default:
      values = Array.from(val);
  }
  return withNulls(values, column, rowCount);
}
