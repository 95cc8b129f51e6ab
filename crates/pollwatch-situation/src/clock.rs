//! Local time in the election's zone, and the opening hours in it.

use jiff::civil::Date;
use jiff::tz::TimeZone;
use pollwatch_domain::Timestamp;
use pollwatch_domain::forms::OpeningHours;

/// An IANA zone name the bundled database does not know.
#[derive(Debug, thiserror::Error)]
#[error("unknown time zone {0:?}: use an IANA name like Europe/Moscow or Asia/Almaty")]
pub struct UnknownZone(pub String);

/// The election's zone and the stations' opening hours in it.
#[derive(Debug, Clone)]
pub struct ElectionClock {
    zone: TimeZone,
    name: String,
    hours: OpeningHours,
}

const MINUTE: i64 = 60_000;

impl ElectionClock {
    pub fn new(zone: &str, hours: OpeningHours) -> Result<Self, UnknownZone> {
        let tz = jiff::tz::db()
            .get(zone)
            .map_err(|_| UnknownZone(zone.to_owned()))?;
        Ok(Self {
            zone: tz,
            name: zone.to_owned(),
            hours,
        })
    }

    pub fn zone_name(&self) -> &str {
        &self.name
    }

    pub fn hours(&self) -> OpeningHours {
        self.hours
    }

    fn date_of(&self, t: Timestamp) -> Option<Date> {
        let ts = jiff::Timestamp::from_millisecond(t.0).ok()?;
        Some(ts.to_zoned(self.zone.clone()).date())
    }

    fn at(&self, d: Date, minutes: u32) -> Option<i64> {
        let h = i8::try_from(minutes / 60).ok()?;
        let m = i8::try_from(minutes % 60).ok()?;
        let z = d.at(h, m, 0, 0).to_zoned(self.zone.clone()).ok()?;
        Some(z.timestamp().as_millisecond())
    }

    /// "2026-03-15 14:05" in the election's zone.
    pub fn local(&self, t: Timestamp) -> String {
        match jiff::Timestamp::from_millisecond(t.0) {
            Ok(ts) => ts
                .to_zoned(self.zone.clone())
                .strftime("%Y-%m-%d %H:%M")
                .to_string(),
            Err(_) => t.0.to_string(),
        }
    }

    /// "14:05" in the election's zone.
    pub fn local_time(&self, t: Timestamp) -> String {
        match jiff::Timestamp::from_millisecond(t.0) {
            Ok(ts) => ts.to_zoned(self.zone.clone()).strftime("%H:%M").to_string(),
            Err(_) => t.0.to_string(),
        }
    }

    /// The moment at which `minutes` of opening hours will have passed since
    /// `since`, looking at most three local days ahead (an observer silent
    /// since the day before is not "silent for an hour of voting" on a day
    /// that has none).
    pub fn after_open_minutes(&self, since: Timestamp, minutes: u32) -> Option<Timestamp> {
        let mut left = i64::from(minutes) * MINUTE;
        let mut day = self.date_of(since)?;
        for _ in 0..3 {
            let opens = self.at(day, self.hours.opens)?;
            let closes = self.at(day, self.hours.closes)?;
            let start = opens.max(since.0);
            if closes > start {
                let span = closes - start;
                if span > left {
                    return Some(Timestamp(start + left));
                }
                left -= span;
            }
            day = day.tomorrow().ok()?;
        }
        None
    }

    /// Whether `t` falls within the opening hours of its local day.
    pub fn is_open(&self, t: Timestamp) -> bool {
        let Some(day) = self.date_of(t) else {
            return false;
        };
        match (
            self.at(day, self.hours.opens),
            self.at(day, self.hours.closes),
        ) {
            (Some(o), Some(c)) => o <= t.0 && t.0 < c,
            _ => false,
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn clock() -> ElectionClock {
        ElectionClock::new(
            "Asia/Almaty",
            OpeningHours {
                opens: 8 * 60,
                closes: 20 * 60,
            },
        )
        .unwrap()
    }

    /// 2026-03-15 at hh:mm in Almaty (UTC+5 since 2024).
    fn almaty(h: i64, m: i64) -> Timestamp {
        let midnight_utc = 1_773_532_800_000; // 2026-03-15T00:00Z
        Timestamp(midnight_utc + ((h - 5) * 60 + m) * MINUTE)
    }

    #[test]
    fn local_times_are_in_the_election_zone() {
        assert_eq!(clock().local(almaty(14, 5)), "2026-03-15 14:05");
        assert_eq!(clock().local_time(almaty(7, 59)), "07:59");
        assert!(!clock().is_open(almaty(7, 59)));
        assert!(clock().is_open(almaty(8, 0)));
        assert!(!clock().is_open(almaty(20, 0)));
    }

    #[test]
    fn silence_counts_only_opening_hours() {
        let c = clock();
        assert_eq!(c.after_open_minutes(almaty(10, 0), 60), Some(almaty(11, 0)));
        // Checked in at 07:00: the hour starts at 08:00.
        assert_eq!(c.after_open_minutes(almaty(7, 0), 60), Some(almaty(9, 0)));
        // Last heard at 19:30: half an hour today, half tomorrow morning.
        assert_eq!(
            c.after_open_minutes(almaty(19, 30), 60),
            Some(Timestamp(almaty(8, 30).0 + 24 * 60 * MINUTE))
        );
        assert!(ElectionClock::new("Mars/Olympus", c.hours()).is_err());
    }
}
