// Slate's JavaScript SDK: what a processor built with componentize-js needs
// beside the WIT imports. `slate build` bundles it with the processor.
//
// - `values.js`: cells and rows, built from plain JS values and a schema.
// - `dates.js`: the WIT `date`, `Date`s, `YYYY-MM-DD` text and day numbers.
// - `batch.js`: reading tables, and column batches decoded into JS arrays.
// - `processor.js`: `Declaration`, and `defineProcessor`, which turns a
//   declaration and a `run` function into the `processor` export with every
//   exception a `process-error`.
//
// A processor module is `export const processor = defineProcessor(DECLARATION,
// run)`; see plugins/README.md, "Processors in JavaScript".

export { addDays, fromDays, fromWit, isoDate, toDate, toDays, toWit } from './dates.js';
export { OutputRows, loadSchema, scalar, value } from './values.js';
export {
  Batch,
  ReadFailed,
  decodeColumn,
  decodeText,
  readCodedColumnBatch,
  readColumnBatch,
  readColumns,
  table,
} from './batch.js';
export {
  Declaration,
  InvalidInput,
  MissingData,
  ProcessFailed,
  days,
  defineProcessor,
  describeError,
  games,
  log,
  none,
  processError,
  seasonOf,
  seasonToDate,
} from './processor.js';
