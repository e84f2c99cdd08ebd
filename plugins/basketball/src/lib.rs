//! The basketball vocabulary every processor shares: the court zones a box
//! score splits shots into, attempts and makes in one zone, and the first
//! day of a season. A library, not a component: processors link it in.

use slate_sdk::Date;

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

#[cfg(test)]
mod tests {
    use super::*;

    fn date(year: i32, month: u8, day: u8) -> Date {
        Date { year, month, day }
    }

    #[test]
    fn the_season_starts_on_the_first_of_october() {
        assert_eq!(season_start(date(2026, 1, 11)), date(2025, 10, 1));
        assert_eq!(season_start(date(2025, 10, 21)), date(2025, 10, 1));
        assert_eq!(season_start(date(2025, 10, 1)), date(2025, 10, 1));
        assert_eq!(season_start(date(2026, 9, 30)), date(2025, 10, 1));
    }
}
