// A stand-in for the host's imports in the SDK's unit tests: it records
// log lines and answers reads with what a test sets, throwing a read
// error the way componentize-js's bindings do (an error whose `payload`
// is the WIT `read-error`).

/** Every `log(level, message)` call, in order. */
export const logged = [];

let answer = () => {
  throw new Error('no read answer set');
};

/** Makes reads call `respond(table, start, end, columns)`. */
export function answerReads(respond) {
  answer = respond;
}

/** Makes reads fail with the WIT `read-error` `{ tag, val }`. */
export function refuseReads(tag, val) {
  answer = () => {
    const error = new Error(`${val} (see error.payload)`);
    Object.defineProperty(error, 'payload', { value: { tag, val } });
    throw error;
  };
}

export function log(level, message) {
  logged.push([level, message]);
}

export function readRows(table, start, end) {
  return answer(table, start, end, null);
}

export function readColumns(table, start, end, columns) {
  return answer(table, start, end, columns);
}

export function readColumnBatch(table, start, end, columns) {
  return answer(table, start, end, columns);
}

export function readCodedColumnBatch(table, start, end, columns, coded) {
  return answer(table, start, end, columns, coded);
}
