// PlayerDailyCacheProcessor in JavaScript: the Rust processor of
// `plugins/player-daily-cache`, written again with the JavaScript SDK. One
// row per active player per analysis date, with rolling form as of that
// date; only games strictly before the date are used. It passes the Rust
// processor's golden test byte for byte.

import { Declaration, defineProcessor, fromDays, readColumnBatch, seasonToDate, toDays } from 'slate-sdk';
import schema from './schema.json';

const GAME_SUMMARIES = 'nba_analytics.player_game_summary';
const SCHEDULE = 'nba_raw.schedule';

export const DECLARATION = new Declaration({
  name: 'PlayerDailyCacheProcessor',
  phase: 'precompute',
  version: '0.1.0',
  outputTable: 'nba_precompute.player_daily_cache',
  schema,
  partitionColumn: 'cache_date',
  keyColumns: ['player_lookup', 'cache_date'],
  inputs: [GAME_SUMMARIES, SCHEDULE],
  upstream: ['PlayerGameSummaryProcessor'],
  season: seasonToDate({ month: 10, day: 1 }, ['PlayerGameSummaryProcessor']),
  upstreamPolicy: 'proceed-if-data-present',
  gapPolicy: 'flag',
});

/** A season starts on the first of October: its first day, as a day number. */
function seasonStart(day) {
  const date = fromDays(day);
  const year = date.getUTCMonth() + 1 >= 10 ? date.getUTCFullYear() : date.getUTCFullYear() - 1;
  return toDays(`${String(year).padStart(4, '0')}-10-01`);
}

/** The mean, summed in order as the Rust processor sums (0 if empty). */
function mean(values) {
  let total = 0;
  for (const value of values) total += value;
  return values.length ? total / values.length : 0;
}

/**
 * The cache rows for day number `today`, in player order: one per player
 * whose latest team plays that day. `pastGames` are {player, day, team,
 * points, minutes}; `schedule` {home, away} pairs.
 */
export function buildCache(today, pastGames, schedule) {
  const byPlayer = new Map();
  for (const game of pastGames) {
    if (game.day < today) {
      if (!byPlayer.has(game.player)) byPlayer.set(game.player, []);
      byPlayer.get(game.player).push(game);
    }
  }
  const rows = [];
  for (const player of [...byPlayer.keys()].sort()) {
    const played = byPlayer.get(player).sort((a, b) => b.day - a.day);
    const latest = played[0];
    const team = latest.team;
    const game = schedule.find(({ home, away }) => home === team || away === team);
    if (!game) continue;
    const isHome = game.home === team;
    const count = played.length;
    const issues = [5, 10].filter((window) => count < window).map((window) => `only ${count} games played, fewer than ${window}`);
    const daysRest = today - latest.day - 1;
    const points = played.map((g) => g.points);
    const minutes = played.map((g) => g.minutes);
    rows.push({
      player_lookup: player,
      cache_date: fromDays(today),
      team_abbr: team,
      opponent_abbr: isHome ? game.away : game.home,
      is_home: isHome,
      games_played: count,
      points_avg_last_5: mean(points.slice(0, 5)),
      points_avg_last_10: mean(points.slice(0, 10)),
      minutes_avg_last_5: mean(minutes.slice(0, 5)),
      minutes_avg_last_10: mean(minutes.slice(0, 10)),
      points_avg_season: mean(points),
      minutes_avg_season: mean(minutes),
      games_in_last_7_days: played.filter((g) => g.day >= today - 7).length,
      days_rest: daysRest,
      back_to_back: daysRest === 0,
      last_game_date: fromDays(latest.day),
      data_quality_issues: issues,
    });
  }
  return rows;
}

function run(analysisDate) {
  const today = toDays(analysisDate);
  const start = seasonStart(today);
  const pastGames = [];
  if (start <= today - 1) {
    const summaries = readColumnBatch(GAME_SUMMARIES, fromDays(start), fromDays(today - 1), [
      'player_lookup',
      'game_date',
      'team_abbr',
      'points',
      'minutes',
    ]);
    const [player, team, points, minutes] = summaries.columns('player_lookup', 'team_abbr', 'points', 'minutes');
    const day = summaries.days('game_date');
    for (let row = 0; row < summaries.length; row += 1) {
      pastGames.push({ player: player[row], day: day[row], team: team[row], points: points[row], minutes: minutes[row] });
    }
  }
  const games = readColumnBatch(SCHEDULE, analysisDate, analysisDate, ['home_team', 'away_team']);
  const [home, away] = games.columns('home_team', 'away_team');
  const schedule = home.map((team, row) => ({ home: team, away: away[row] }));
  return DECLARATION.output().extend(buildCache(today, pastGames, schedule));
}

export const processor = defineProcessor(DECLARATION, run);
