// {{processor}}: one row per game on the analysis date.
//
// Replace `run` with your processor's logic; keep `schema.json`, the
// declaration and the golden files in step with it.

import { Declaration, defineProcessor, readColumnBatch } from 'slate-sdk';
import schema from './schema.json';

const SCHEDULE = 'nba_raw.schedule';

const DECLARATION = new Declaration({
  name: '{{processor}}',
  phase: 'analytics',
  version: '0.1.0',
  outputTable: '{{table}}',
  schema,
  partitionColumn: 'game_date',
  keyColumns: ['home_team'],
  inputs: [SCHEDULE],
});

/** The rows for `analysisDate` (a `Date` at midnight UTC). */
function run(analysisDate) {
  const games = readColumnBatch(SCHEDULE, analysisDate, analysisDate, ['home_team', 'away_team']);
  const [home, away] = games.columns('home_team', 'away_team');
  const rows = DECLARATION.output();
  home.forEach((team, game) => rows.add({ game_date: analysisDate, home_team: team, away_team: away[game] }));
  return rows;
}

// The component's export: `info()` from the declaration, `process()` from
// `run`, any exception a `process-error`.
export const processor = defineProcessor(DECLARATION, run);
