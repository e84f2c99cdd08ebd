// A processor's two exports from a declaration and a `run` function:
// `info()` from the declaration, `process()` from `run`, with every failure
// turned into a `process-error` whose message is the exception's type and
// text, and the stack logged through the host's `log`. An exception never
// escapes as a trap.

import { OutputRows, loadSchema } from './values.js';
import { ReadFailed, table } from './batch.js';
import { describeValue, fromWit } from './dates.js';
import * as host from './host.js';

const PHASES = ['analytics', 'precompute', 'predictions'];
const UPSTREAM_POLICIES = ['block', 'proceed-if-data-present'];
const GAP_POLICIES = ['block', 'flag'];
const BAD_ROW_POLICIES = ['fail-run', 'quarantine'];
const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error'];

function oneOf(choices, text, what) {
  if (!choices.includes(text)) {
    throw new RangeError(`${what} ${describeValue(text)} is none of: ${choices.join(', ')}`);
  }
  return text;
}

/**
 * Throw it to fail the run with `internal` and this message. Its subclasses
 * name other `process-error` cases; each error's `name` is its class's.
 */
export class ProcessFailed extends Error {
  constructor(message) {
    super(message);
    this.name = new.target.name;
  }

  /** The WIT `process-error` case. */
  get kind() {
    return 'internal';
  }
}

/** Throw it when the inputs are present but wrong: `invalid-input`. */
export class InvalidInput extends ProcessFailed {
  get kind() {
    return 'invalid-input';
  }
}

/** Throw it when inputs the processor needs are absent: `missing-data`. */
export class MissingData extends ProcessFailed {
  get kind() {
    return 'missing-data';
  }
}

/** No lookback: only the analysis date. */
export function none() {
  return { tag: 'none' };
}

/** A lookback of `count` calendar days. */
export function days(count) {
  return { tag: 'days', val: count };
}

/** A lookback of `count` games. */
export function games(count) {
  return { tag: 'games', val: count };
}

/**
 * Reads of `upstreams` over the season to date, from the latest `start`
 * (`{ month, day }`, e.g. `{ month: 10, day: 1 }`) before the analysis date:
 * a declaration's `season`, which the host checks back to the season's
 * start for gaps (contract 0.1.2). The other upstreams keep `lookback`.
 */
export function seasonToDate(start, upstreams) {
  const { month, day } = start ?? {};
  const within = (n, most) => Number.isInteger(n) && n >= 1 && n <= most;
  if (!within(month, 12) || !within(day, 31)) {
    throw new RangeError(
      `a season starts on a { month, day } of whole numbers, month 1 to 12 and day 1 to 31, not ${describeValue(start)}`,
    );
  }
  if (typeof upstreams === 'string' || typeof upstreams?.[Symbol.iterator] !== 'function') {
    throw new TypeError(`the upstreams read over the season are a list of names, not ${describeValue(upstreams)}`);
  }
  return { start: { month, day }, upstreams: [...upstreams] };
}

/** Where `defineProcessor` keeps the declaration, out of the WIT's sight. */
const DECLARED = Symbol('slate-sdk declaration');

/**
 * Everything `info()` says, in plain JS. `schema` is the output table's
 * BigQuery JSON schema, as `import schema from './schema.json'` gives it;
 * tables are `'dataset.table'`; policies and the phase are their WIT names
 * (`'block'`, `'proceed-if-data-present'`, `'flag'`, `'fail-run'`,
 * `'quarantine'`; `'analytics'`, `'precompute'`, `'predictions'`).
 * Throws naming a bad phase, policy, table or schema field.
 */
export class Declaration {
  constructor({
    name,
    phase,
    version,
    outputTable,
    schema,
    partitionColumn,
    keyColumns = [],
    inputs = [],
    upstream = [],
    lookback = none(),
    season = undefined,
    upstreamPolicy = 'block',
    gapPolicy = 'block',
    badRowPolicy = 'fail-run',
  }) {
    this.name = name;
    this.phase = oneOf(PHASES, phase, 'phase');
    this.version = version;
    this.outputTable = outputTable;
    this.fields = loadSchema(schema);
    this.partitionColumn = partitionColumn;
    this.keyColumns = [...keyColumns];
    this.inputs = [...inputs];
    this.upstream = [...upstream];
    this.lookback = lookback;
    this.season = season;
    this.upstreamPolicy = oneOf(UPSTREAM_POLICIES, upstreamPolicy, 'upstream policy');
    this.gapPolicy = oneOf(GAP_POLICIES, gapPolicy, 'gap policy');
    this.badRowPolicy = oneOf(BAD_ROW_POLICIES, badRowPolicy, 'bad row policy');
    table(outputTable);
    this.inputs.forEach(table);
  }

  /** The WIT `processor-info`. */
  info() {
    return {
      name: this.name,
      phase: this.phase,
      version: this.version,
      outputTable: table(this.outputTable),
      schema: this.fields,
      partitionColumn: this.partitionColumn,
      keyColumns: this.keyColumns,
      inputs: this.inputs.map(table),
      upstream: this.upstream,
      lookback: this.lookback,
      upstreamPolicy: this.upstreamPolicy,
      gapPolicy: this.gapPolicy,
      badRowPolicy: this.badRowPolicy,
    };
  }

  /**
   * What the `season` export answers: the `season-reads` record of
   * `season`, or `undefined` (none) without one.
   */
  readsOverSeason() {
    return this.season;
  }

  /** Empty output rows under this declaration's schema. */
  output() {
    return new OutputRows(this.fields);
  }
}

/**
 * Writes `message` to the host's log at `level` (`'trace'`, `'debug'`,
 * `'info'`, `'warn'`, `'error'`).
 */
export function log(level, message) {
  host.log(oneOf(LOG_LEVELS, level, 'log level'), String(message));
}

/**
 * An exception's type and text, as a `process-error` carries it:
 * `TypeError: x is not a function`. A thrown value that is not an `Error`
 * is named by its type: `string: boom`.
 */
export function describeError(error) {
  if (error instanceof Error) return `${error.name}: ${error.message}`;
  const kind = error !== null && typeof error === 'object' ? error.constructor?.name ?? 'object' : typeof error;
  return `${kind}: ${String(error)}`;
}

/**
 * The WIT `process-error` an exception becomes: a `ProcessFailed` its own
 * kind; a read the host refused `missing-data` for an unknown table and
 * `internal` otherwise; anything else `internal`. Every message is led by
 * the exception's type.
 */
export function processError(error) {
  const message = describeError(error);
  if (error instanceof ProcessFailed) return { tag: error.kind, val: message };
  if (error instanceof ReadFailed && error.readCase === 'unknown-table') return { tag: 'missing-data', val: message };
  return { tag: 'internal', val: message };
}

function rowSet(declaration, result) {
  if (result instanceof OutputRows) return result.finish();
  if (result && typeof result.then === 'function') {
    throw new TypeError('run returned a Promise: a processor runs synchronously');
  }
  if (result && Array.isArray(result.columns) && Array.isArray(result.rows)) return result;
  if (result && typeof result[Symbol.iterator] === 'function') return declaration.output().extend(result).finish();
  throw new TypeError(`run returned ${describeValue(result)}: return OutputRows, a row-set or an iterable of row objects`);
}

/**
 * The component's `processor` export: `export const processor =
 * defineProcessor(DECLARATION, run)`. `run(analysisDate)` gets the date as
 * a `Date` at midnight UTC and returns the finished `OutputRows`, a WIT
 * `row-set`, or an iterable of row objects. Whatever it throws becomes a
 * `process-error` (see `processError`); the stack goes to the host's log.
 */
export function defineProcessor(declaration, run) {
  if (!(declaration instanceof Declaration)) throw new TypeError('defineProcessor needs a Declaration');
  if (typeof run !== 'function') throw new TypeError('defineProcessor needs a run(analysisDate) function');
  return {
    [DECLARED]: declaration,
    info() {
      return declaration.info();
    },
    process(analysisDate) {
      try {
        return rowSet(declaration, run(fromWit(analysisDate)));
      } catch (error) {
        try {
          const stack = error instanceof Error && error.stack ? `\n${error.stack}` : '';
          host.log('error', `${describeError(error)}${stack}`);
        } catch {
          // The log budget may be spent; the error still goes back.
        }
        // The bindings turn a thrown object's `payload` into `err(payload)`.
        throw { payload: processError(error) };
      }
    },
  };
}

/**
 * The `season` export of a processor made by `defineProcessor`: it answers
 * the declaration's `season`. `slate build` exports it for an app that
 * exports no `season` of its own.
 */
export function seasonOf(processor) {
  return {
    readsOverSeason() {
      return processor?.[DECLARED]?.readsOverSeason();
    },
  };
}
