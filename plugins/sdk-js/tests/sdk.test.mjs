// The JavaScript SDK under Node, against a stand-in host
// (`host-double.mjs`): column decoding, dates, rows, declarations and the
// mapping of exceptions to `process-error`s.
//
//     node --import ./tests/fake-host.mjs --test tests/     (in plugins/sdk-js)
import { test } from 'node:test';
import assert from 'node:assert/strict';

import * as slate from '../index.js';
import * as host from './host-double.mjs';

const utc = (text) => new Date(`${text}T00:00:00Z`);
const SCHEMA = [
  { name: 'game_date', type: 'DATE', mode: 'REQUIRED' },
  { name: 'points', type: 'INT64', mode: 'REQUIRED' },
  { name: 'points_avg', type: 'FLOAT64', mode: 'REQUIRED' },
  { name: 'is_home', type: 'BOOL', mode: 'REQUIRED' },
  { name: 'issues', type: 'STRING', mode: 'REPEATED' },
  { name: 'note', type: 'STRING', mode: 'NULLABLE' },
];
const declaration = (overrides = {}) =>
  new slate.Declaration({
    name: 'TestProcessor',
    phase: 'analytics',
    version: '0.1.0',
    outputTable: 'nba_analytics.test',
    schema: SCHEMA,
    partitionColumn: 'game_date',
    keyColumns: ['points'],
    inputs: ['nba_raw.schedule'],
    ...overrides,
  });

test('packed ASCII text is cut at its offsets', () => {
  assert.deepEqual(slate.decodeText({ text: 'LACDALBOS', ends: new Uint32Array([3, 6, 9]) }), ['LAC', 'DAL', 'BOS']);
  assert.deepEqual(slate.decodeText({ text: '', ends: new Uint32Array([0, 0]) }), ['', '']);
});

test('multi-byte text is cut at UTF-8 byte offsets, not UTF-16 ones', () => {
  // "Dončić" is 6 characters and 8 bytes; the emoji 2 UTF-16 units and 4 bytes.
  assert.deepEqual(slate.decodeText({ text: 'DončićJokić🏀x', ends: [8, 14, 18, 19] }), ['Dončić', 'Jokić', '🏀', 'x']);
  assert.throws(() => slate.decodeText({ text: 'Dončić', ends: [4] }), /offset 4 of row 0 is not at a character's end/);
});

test('DATE columns become Dates or day numbers, and null bits become null', () => {
  const column = { name: 'game_date', nulls: new Uint8Array([0b10]), values: { tag: 'date', val: new Int32Array([20464, 0, 20465]) } };
  assert.deepEqual(slate.decodeColumn(column, 3), [utc('2026-01-11'), null, utc('2026-01-12')]);
  const batch = new slate.Batch({ rowCount: 3, columns: [column] });
  assert.deepEqual(batch.days('game_date'), [20464, null, 20465]);
});

test('INT64 columns become numbers, or bigints when asked, and a number too large is named', () => {
  const column = { name: 'points', nulls: new Uint8Array(), values: { tag: 'int64', val: new BigInt64Array([20n, 31n]) } };
  assert.deepEqual(slate.decodeColumn(column, 2), [20, 31]);
  assert.deepEqual(slate.decodeColumn(column, 2, { bigint: true }), [20n, 31n]);
  const huge = { ...column, values: { tag: 'int64', val: new BigInt64Array([2n ** 60n]) } };
  assert.throws(() => slate.decodeColumn(huge, 1), /column `points` row 0: 1152921504606846976 does not fit a JS number/);
});

test('a batch finds columns by name, names a missing one, and gives rows as objects', () => {
  const batch = new slate.Batch({
    rowCount: 2,
    columns: [
      { name: 'points', nulls: new Uint8Array(), values: { tag: 'int64', val: new BigInt64Array([20n, 31n]) } },
      { name: 'team', nulls: new Uint8Array(), values: { tag: 'string', val: { text: 'LACDAL', ends: new Uint32Array([3, 6]) } } },
    ],
  });
  assert.equal(batch.length, 2);
  assert.deepEqual(batch.columns('team', 'points'), [['LAC', 'DAL'], [20, 31]]);
  assert.deepEqual([...batch.rows()], [{ points: 20, team: 'LAC' }, { points: 31, team: 'DAL' }]);
  assert.throws(() => batch.column('minutes'), /the batch has no column `minutes` \(it has points, team\)/);
});

test('repeated and unpacked values become arrays and plain values', () => {
  const column = {
    name: 'tags',
    nulls: new Uint8Array(),
    values: {
      tag: 'values',
      val: [
        { tag: 'repeated', val: [{ tag: 'string', val: 'a' }, { tag: 'date', val: { year: 2026, month: 1, day: 11 } }] },
        { tag: 'null' },
        { tag: 'scalar', val: { tag: 'int64', val: 7n } },
      ],
    },
  };
  assert.deepEqual(slate.decodeColumn(column, 3), [['a', utc('2026-01-11')], null, 7]);
});

test('dates convert between Dates, YYYY-MM-DD, WIT dates and day numbers', () => {
  assert.equal(slate.toDays('2026-01-11'), 20464);
  assert.equal(slate.toDays(utc('2026-01-11')), 20464);
  assert.deepEqual(slate.fromDays(20464), utc('2026-01-11'));
  assert.deepEqual(slate.fromDays(-1), utc('1969-12-31'));
  assert.deepEqual(slate.toWit('2026-01-11'), { year: 2026, month: 1, day: 11 });
  assert.deepEqual(slate.fromWit({ year: 2026, month: 1, day: 11 }), utc('2026-01-11'));
  assert.equal(slate.isoDate(slate.addDays('2026-01-01', -1)), '2025-12-31');
  assert.deepEqual(slate.toWit({ year: 12, month: 3, day: 4 }), { year: 12, month: 3, day: 4 });
  assert.throws(() => slate.toWit('2026-02-30'), /"2026-02-30" is not a day written YYYY-MM-DD/);
  assert.throws(() => slate.toWit(20464), /number 20464 is not a Date/);
});

test('rows are typed by the schema; a left-out column is null', () => {
  const rows = declaration().output();
  rows.add({ game_date: '2026-01-11', points: 9, points_avg: 9, is_home: true, issues: ['short'] });
  rows.add({ game_date: utc('2026-01-12'), points: 10n, points_avg: 0.5, is_home: false, issues: [] });
  assert.equal(rows.length, 2);
  const finished = rows.finish();
  assert.deepEqual(finished.columns, ['game_date', 'points', 'points_avg', 'is_home', 'issues', 'note']);
  assert.deepEqual(finished.rows[0], [
    { tag: 'scalar', val: { tag: 'date', val: { year: 2026, month: 1, day: 11 } } },
    { tag: 'scalar', val: { tag: 'int64', val: 9n } },
    { tag: 'scalar', val: { tag: 'float64', val: 9 } },
    { tag: 'scalar', val: { tag: 'boolean', val: true } },
    { tag: 'repeated', val: [{ tag: 'string', val: 'short' }] },
    { tag: 'null' },
  ]);
  assert.deepEqual(finished.rows[1][1], { tag: 'scalar', val: { tag: 'int64', val: 10n } });
});

test('a schema field with no name, or a type or mode it does not know, is named with what is known', () => {
  const field = (entry) => () => slate.loadSchema([entry]);
  assert.throws(field({ type: 'STRING' }), /unusable field \{"type":"STRING"\}: it has no name/);
  assert.throws(
    field({ name: 'team', type: 'STRNG', mode: 'REQUIRED' }),
    /"name":"team".*: type "STRNG" is none of STRING, INT64, .*DATE/,
  );
  assert.throws(field({ name: 'team', type: 'STRING', mode: 'OPTIONAL' }), /mode "OPTIONAL" is none of NULLABLE, REQUIRED, REPEATED/);
  assert.equal(slate.loadSchema([{ name: 'team', type: 'string' }])[0].mode, 'nullable');
});

test('a wrong type or an unknown column is named', () => {
  const rows = declaration().output();
  assert.throws(
    () => rows.add({ game_date: '2026-01-11', points: 1.5, points_avg: 1, is_home: true }),
    /column `points`: number 1.5 is not a INT64/,
  );
  assert.throws(() => rows.add({ game_date: '2026-01-11', is_home: 1 }), /column `points`: undefined|column `is_home`/);
  assert.throws(() => rows.add({ team: 'LAC' }), /columns the schema does not: team/);
  assert.throws(() => slate.value({ name: 'x', fieldType: 'string', mode: 'repeated' }, 'a'), /not an array for a REPEATED column/);
});

test('a declaration answers info() in WIT terms and names a bad policy', () => {
  const info = declaration({ lookback: slate.games(10), gapPolicy: 'flag' }).info();
  assert.deepEqual(info.outputTable, { dataset: 'nba_analytics', table: 'test' });
  assert.deepEqual(info.inputs, [{ dataset: 'nba_raw', table: 'schedule' }]);
  assert.deepEqual(info.lookback, { tag: 'games', val: 10 });
  assert.deepEqual(info.schema[0], { name: 'game_date', fieldType: 'date', mode: 'required', allowNonFinite: false, description: '' });
  assert.throws(() => declaration({ gapPolicy: 'skip' }), /gap policy string "skip" is none of: block, flag/);
  assert.throws(() => declaration({ inputs: ['schedule'] }), /table name string "schedule" is not dataset.table/);
  assert.throws(() => declaration({ schema: [{ name: 'x', type: 'TEXT' }] }), /unusable field .*type "TEXT" is none of STRING/);
});

test('reads go to the host with WIT tables and dates, and a refusal becomes ReadFailed', () => {
  const asked = [];
  host.answerReads((table, start, end, columns) => {
    asked.push([table, start, end, columns]);
    return { rowCount: 1, columns: [{ name: 'home_team', nulls: new Uint8Array(), values: { tag: 'string', val: { text: 'LAC', ends: [3] } } }] };
  });
  assert.deepEqual(slate.readColumns('nba_raw.schedule', '2026-01-10', utc('2026-01-11'), ['home_team']), [{ home_team: 'LAC' }]);
  assert.deepEqual(asked, [
    [{ dataset: 'nba_raw', table: 'schedule' }, { year: 2026, month: 1, day: 10 }, { year: 2026, month: 1, day: 11 }, ['home_team']],
  ]);

  host.refuseReads('undeclared-table', 'X did not declare nba_raw.box_scores');
  assert.throws(
    () => slate.readColumnBatch('nba_raw.box_scores', '2026-01-11', '2026-01-11', ['team_abbr']),
    (error) => error instanceof slate.ReadFailed && error.readCase === 'undeclared-table' && error.message === 'undeclared-table: X did not declare nba_raw.box_scores',
  );
});

test('a coded read gives each row a code into its dictionary, and the texts through them', () => {
  host.answerReads((table, start, end, columns, coded) => {
    assert.deepEqual([columns, coded], [['points'], ['player']]);
    return {
      batch: { rowCount: 3, columns: [{ name: 'points', nulls: new Uint8Array(), values: { tag: 'int64', val: new BigInt64Array([20n, 31n, 12n]) } }] },
      coded: [{ name: 'player', nulls: new Uint8Array([0b10]), dictionary: { text: 'tatumDončić', ends: new Uint32Array([5, 13]) }, codes: new Uint32Array([1, 0, 1]) }],
    };
  });
  const batch = slate.readCodedColumnBatch('nba_analytics.player_game_summary', '2026-01-10', '2026-01-10', ['points'], ['player']);
  assert.deepEqual(batch.codes('player'), [1, null, 1]);
  assert.deepEqual(batch.dictionary('player'), ['tatum', 'Dončić']);
  assert.deepEqual(batch.column('player'), ['Dončić', null, 'Dončić']);
  assert.deepEqual([...batch.rows()][2], { points: 12, player: 'Dončić' });
  assert.throws(() => batch.codes('points'), /the batch has no column `points` coded \(it has points, player\)/);
});

test('exceptions become process-errors led by their type', () => {
  assert.deepEqual(slate.processError(new TypeError('x is not a function')), { tag: 'internal', val: 'TypeError: x is not a function' });
  assert.deepEqual(slate.processError(new slate.ProcessFailed('no model')), { tag: 'internal', val: 'ProcessFailed: no model' });
  assert.deepEqual(slate.processError(new slate.MissingData('no box scores')), { tag: 'missing-data', val: 'MissingData: no box scores' });
  assert.deepEqual(slate.processError(new slate.InvalidInput('minutes < 0')), { tag: 'invalid-input', val: 'InvalidInput: minutes < 0' });
  assert.deepEqual(slate.processError(new slate.ReadFailed('unknown-table', 'nba_raw.x')), { tag: 'missing-data', val: 'ReadFailed: unknown-table: nba_raw.x' });
  assert.deepEqual(slate.processError('boom'), { tag: 'internal', val: 'string: boom' });
});

test('process throws the error payload the bindings return, and logs the stack', () => {
  host.logged.length = 0;
  const processor = slate.defineProcessor(declaration(), () => {
    throw new RangeError('no such player');
  });
  assert.throws(
    () => processor.process({ year: 2026, month: 1, day: 11 }),
    (thrown) => !(thrown instanceof Error) && thrown.payload.tag === 'internal' && thrown.payload.val === 'RangeError: no such player',
  );
  assert.equal(host.logged.length, 1);
  assert.equal(host.logged[0][0], 'error');
  assert.match(host.logged[0][1], /^RangeError: no such player\n.*sdk\.test\.mjs/s);
});

test('process gives run the date as a Date and finishes what run returns', () => {
  let seen;
  const processor = slate.defineProcessor(declaration(), (date) => {
    seen = date;
    return [{ game_date: date, points: 1, points_avg: 1, is_home: true, issues: [] }];
  });
  const rows = processor.process({ year: 2026, month: 1, day: 11 });
  assert.deepEqual(seen, utc('2026-01-11'));
  assert.equal(rows.rows.length, 1);
  assert.equal(processor.info().name, 'TestProcessor');
  const asynchronous = slate.defineProcessor(declaration(), async () => []);
  assert.throws(() => asynchronous.process({ year: 2026, month: 1, day: 11 }), (thrown) => /run returned a Promise/.test(thrown.payload.val));
  // A run that forgets to return says so once ("undefined undefined" before).
  const forgetful = slate.defineProcessor(declaration(), () => {});
  assert.throws(
    () => forgetful.process({ year: 2026, month: 1, day: 11 }),
    (thrown) => /run returned undefined: return OutputRows/.test(thrown.payload.val),
  );
});

test('a declared season is what the season export answers, and none without one', () => {
  const reads = slate.seasonToDate({ month: 10, day: 1 }, ['PlayerGameSummaryProcessor']);
  const processor = slate.defineProcessor(declaration({ season: reads }), () => []);
  assert.deepEqual(slate.seasonOf(processor).readsOverSeason(), {
    start: { month: 10, day: 1 },
    upstreams: ['PlayerGameSummaryProcessor'],
  });
  assert.equal(slate.seasonOf(slate.defineProcessor(declaration(), () => [])).readsOverSeason(), undefined);
  assert.equal(slate.seasonOf({ info() {}, process() {} }).readsOverSeason(), undefined);
  assert.deepEqual(Object.keys(processor), ['info', 'process'], 'the WIT sees its two functions');
  assert.throws(() => slate.seasonToDate({ month: '10', day: 1 }, []), /whole numbers/);
  // Past 255 the contract's u8 would wrap: 257 would become the 1st.
  assert.throws(() => slate.seasonToDate({ month: 10, day: 257 }, []), /day 1 to 31, not/);
  assert.throws(() => slate.seasonToDate({ month: 0, day: 1 }, []), /month 1 to 12/);
  assert.throws(
    () => slate.seasonToDate({ month: 10, day: 1 }, 'PlayerGameSummaryProcessor'),
    /a list of names, not/,
  );
});
