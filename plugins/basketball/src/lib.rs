//! The basketball vocabulary every processor shares: the court zones a box
//! score splits shots into, attempts and makes in one zone, the box score
//! columns that hold them, and the first day of a season. A library, not a
//! component: processors link it in.

use slate_sdk::{Column, ColumnBatch, Date, ProcessError, ReadError, table};

/// The court zones, in box score order: restricted area, paint (outside the
/// restricted area), mid-range, corner three, above-the-break three.
pub const ZONES: [&str; 5] = ["ra", "paint", "mid", "corner3", "atb3"];

/// Shot attempts and makes in one zone.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ZoneShots {
    /// Field goals attempted.
    pub attempts: i64,
    /// Field goals made.
    pub makes: i64,
}

/// `columns` followed by each zone's attempts and makes columns,
/// `<prefix><zone>_fga` and `<prefix><zone>_fgm` in [`ZONES`] order: what
/// to read of a table to get these columns and every zone's shots.
pub fn with_zone_shot_columns(columns: &[&str], prefix: &str) -> Vec<String> {
    let zones = ZONES
        .iter()
        .flat_map(|zone| [format!("{prefix}{zone}_fga"), format!("{prefix}{zone}_fgm")]);
    columns.iter().map(|c| c.to_string()).chain(zones).collect()
}

/// The zone shot columns of a batch, found by name once.
pub struct ZoneShotColumns<'b>(Vec<[&'b Column; 2]>);

impl<'b> ZoneShotColumns<'b> {
    /// Finds each zone's `<prefix><zone>_fga` and `<prefix><zone>_fgm` in
    /// `batch`, or a `missing-data` error naming the first absent one.
    pub fn of(batch: &'b ColumnBatch, prefix: &str) -> Result<Self, ProcessError> {
        let mut found = Vec::with_capacity(ZONES.len());
        for zone in ZONES {
            let (attempts, makes) = (format!("{prefix}{zone}_fga"), format!("{prefix}{zone}_fgm"));
            found.push([batch.column(&attempts)?, batch.column(&makes)?]);
        }
        Ok(ZoneShotColumns(found))
    }

    /// Row `row`'s shots in every zone, in [`ZONES`] order.
    pub fn read(&self, row: usize) -> Result<[ZoneShots; 5], ProcessError> {
        let mut zones = [ZoneShots::default(); 5];
        for (zone, [attempts, makes]) in zones.iter_mut().zip(&self.0) {
            *zone = ZoneShots {
                attempts: attempts.int64(row)?,
                makes: makes.int64(row)?,
            };
        }
        Ok(zones)
    }
}

/// The first day of the season `date` belongs to: seasons start on the
/// first of October, so January belongs to the season of the October before.
pub fn season_start(date: Date) -> Date {
    let year = if date.month >= 10 {
        date.year
    } else {
        date.year - 1
    };
    Date {
        year,
        month: 10,
        day: 1,
    }
}

/// The season so far as of `date`: from the season's first day to the day
/// before `date`, or `None` on the season's first day, when nothing came
/// before.
pub fn season_so_far(date: Date) -> Option<(Date, Date)> {
    let (start, end) = (season_start(date), date.add_days(-1));
    (start <= end).then_some((start, end))
}

/// `columns` of `table` over the [`season_so_far`] as of `date`, through
/// the host; on the season's first day no read, and an empty batch with
/// those columns.
pub fn read_season_so_far<S: AsRef<str>>(
    table_name: &str,
    date: Date,
    columns: &[S],
) -> Result<ColumnBatch, ReadError> {
    match season_so_far(date) {
        Some((start, end)) => slate_sdk::read_column_batch(&table(table_name), start, end, columns),
        None => Ok(ColumnBatch::empty(columns)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(year: i32, month: u8, day: u8) -> Date {
        Date { year, month, day }
    }

    #[test]
    fn zone_shot_columns_come_after_the_named_columns_in_zone_order() {
        let columns = with_zone_shot_columns(&["game_id"], "opp_");
        assert_eq!(columns.len(), 11);
        assert_eq!(columns[..3], ["game_id", "opp_ra_fga", "opp_ra_fgm"]);
        assert_eq!(columns[10], "opp_atb3_fgm");
    }

    #[test]
    fn the_season_so_far_ends_the_day_before_and_is_none_on_the_first_day() {
        assert_eq!(
            season_so_far(date(2026, 1, 11)),
            Some((date(2025, 10, 1), date(2026, 1, 10)))
        );
        assert_eq!(
            season_so_far(date(2025, 10, 2)),
            Some((date(2025, 10, 1), date(2025, 10, 1)))
        );
        assert_eq!(season_so_far(date(2025, 10, 1)), None);
    }

    #[test]
    fn the_season_starts_on_the_first_of_october() {
        assert_eq!(season_start(date(2026, 1, 11)), date(2025, 10, 1));
        assert_eq!(season_start(date(2025, 10, 21)), date(2025, 10, 1));
        assert_eq!(season_start(date(2025, 10, 1)), date(2025, 10, 1));
        assert_eq!(season_start(date(2026, 9, 30)), date(2025, 10, 1));
    }
}
