//! The pipeline phases a processor belongs to, as declarations give them
//! and run history records them.

use std::fmt;

use serde::Serialize;

/// The pipeline phase a processor belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum Phase {
    /// Phase 3: analytics.
    Analytics = 3,
    /// Phase 4: precompute.
    Precompute = 4,
    /// Phase 5: predictions.
    Predictions = 5,
}

impl Phase {
    /// The phase numbered `number` (3, 4 or 5), as run history stores it.
    pub fn from_number(number: i64) -> Option<Self> {
        match number {
            3 => Some(Phase::Analytics),
            4 => Some(Phase::Precompute),
            5 => Some(Phase::Predictions),
            _ => None,
        }
    }

    /// Its number: 3, 4 or 5.
    pub fn number(self) -> i64 {
        self as i64
    }
}

/// As listings and phase events name it: "4 precompute".
impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self {
            Phase::Analytics => "analytics",
            Phase::Precompute => "precompute",
            Phase::Predictions => "predictions",
        };
        write!(f, "{} {name}", *self as u8)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_phase_reads_back_from_its_number_and_nothing_else_does() {
        for phase in [Phase::Analytics, Phase::Precompute, Phase::Predictions] {
            assert_eq!(Phase::from_number(phase.number()), Some(phase));
        }
        assert_eq!(Phase::from_number(6), None);
        assert_eq!(Phase::Precompute.to_string(), "4 precompute");
    }
}
