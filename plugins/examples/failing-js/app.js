// A JavaScript processor that fails on purpose, to show (and test) how a
// failure reaches the run record: it reads a table it never declared and
// does not catch the refusal. The SDK turns the uncaught `ReadFailed` into
// a `process-error` (kind `plugin`) whose message is the exception's type
// and text, and logs the stack through the host's `log`: never a trap.

import { Declaration, defineProcessor, readColumnBatch } from 'slate-sdk';
import schema from './schema.json';

const DECLARATION = new Declaration({
  name: 'FailingJavaScriptProcessor',
  phase: 'analytics',
  version: '0.1.0',
  outputTable: 'slate_examples.failing_javascript',
  schema,
  partitionColumn: 'game_date',
  keyColumns: ['home_team'],
  inputs: ['nba_raw.schedule'],
});

/** Reads a table this processor never declared: the host refuses. */
function teamsPlaying(analysisDate) {
  const boxScores = readColumnBatch('nba_raw.box_scores', analysisDate, analysisDate, ['team_abbr']);
  return [...new Set(boxScores.column('team_abbr'))].sort();
}

export const processor = defineProcessor(DECLARATION, (analysisDate) =>
  teamsPlaying(analysisDate).map((team) => ({ game_date: analysisDate, home_team: team })),
);
