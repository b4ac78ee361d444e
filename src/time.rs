//! Time as accord records it: UTC seconds since the Unix epoch.
//!
//! A DATE given by a user is `YYYY-MM-DD` or an RFC 3339 timestamp with an offset. A date
//! alone is the start of that day (midnight UTC) for a moment ([`parse_date`]: `status --at`,
//! `--compromised-since`), and its end for an expiry ([`parse_expiry`]: a pledge that
//! `--expires 2027-12-31` holds all that day, and expires at 2028-01-01T00:00:00Z). Output is
//! always RFC 3339 in UTC (`2026-11-23T04:00:00Z`).

/// Seconds since 1970-01-01T00:00:00Z, UTC; what statements and entries carry.
pub type Seconds = i64;

/// A DATE that could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid date {input:?}: {reason}")]
pub struct TimeError {
    /// What the user gave (cut to 64 characters).
    pub input: String,
    /// What is wrong with it.
    pub reason: &'static str,
}

const EXPECTED: &str = "expected YYYY-MM-DD or an RFC 3339 time such as 2027-01-31T12:00:00Z";

/// Reads a DATE: `YYYY-MM-DD` (taken as midnight UTC) or an RFC 3339 timestamp.
///
/// # Errors
/// [`TimeError`] when the text is neither form.
pub fn parse_date(input: &str) -> Result<Seconds, TimeError> {
    let why = |reason| TimeError {
        input: input.chars().take(64).collect(),
        reason,
    };
    let err = || why(EXPECTED);
    if input.len() > 64 {
        return Err(err());
    }
    if input.len() == 10 {
        let date: jiff::civil::Date = input.parse().map_err(|_| err())?;
        let ts = date
            .to_zoned(jiff::tz::TimeZone::UTC)
            .map_err(|_| err())?
            .timestamp();
        return Ok(ts.as_second());
    }
    let ts: jiff::Timestamp = input.parse().map_err(|_| err())?;
    // Statements carry whole seconds: a fraction would be dropped, and a leap second (which
    // the parser reads as the second before it) moved, so neither is taken silently.
    if ts.subsec_nanosecond() != 0 {
        return Err(why(
            "statements carry whole seconds; give the time without a fraction",
        ));
    }
    let seconds_field = input.find(['T', 't', ' ']).and_then(|t| input.get(t + 7..t + 9));
    if seconds_field == Some("60") {
        return Err(why(
            "a leap second (:60) is not a time accord records; give :59 or the next minute",
        ));
    }
    Ok(ts.as_second())
}

/// Whether `input` is a date alone (`YYYY-MM-DD`), not a time.
pub fn is_plain_date(input: &str) -> bool {
    input.len() == 10 && input.parse::<jiff::civil::Date>().is_ok()
}

/// Reads an expiry DATE: `YYYY-MM-DD` is the END of that day in UTC, that is the first second
/// of the next day (an attestation is live while `expires` > now: all of 2027-12-31 for
/// `2027-12-31`, which gives 2028-01-01T00:00:00Z); an RFC 3339 time is taken exactly.
///
/// # Errors
/// [`TimeError`] when the text is neither form (or the day has no next day).
pub fn parse_expiry(input: &str) -> Result<Seconds, TimeError> {
    if input.len() == 10 {
        let err = || TimeError {
            input: input.to_string(),
            reason: EXPECTED,
        };
        let date: jiff::civil::Date = input.parse().map_err(|_| err())?;
        let next = date.tomorrow().map_err(|_| err())?;
        let ts = next
            .to_zoned(jiff::tz::TimeZone::UTC)
            .map_err(|_| err())?
            .timestamp();
        return Ok(ts.as_second());
    }
    parse_date(input)
}

/// Formats seconds as RFC 3339 UTC; values outside jiff's range print as plain seconds.
pub fn format(seconds: Seconds) -> String {
    match jiff::Timestamp::from_second(seconds) {
        Ok(ts) => ts.strftime("%Y-%m-%dT%H:%M:%SZ").to_string(),
        Err(_) => format!("@{seconds}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fractions_and_leap_seconds_are_refused_not_moved() {
        assert_eq!(parse_date("2027-01-31T12:00:00Z"), Ok(1_801_396_800));
        for bad in [
            "2027-01-31T12:00:00.5Z",
            "2027-01-31T12:00:00.999999999Z",
            "2016-12-31T23:59:60Z",
            "2016-12-31 23:59:60Z",
        ] {
            let e = parse_date(bad).unwrap_err();
            assert_ne!(e.reason, EXPECTED, "{bad}");
            assert!(parse_expiry(bad).is_err(), "{bad}");
        }
        assert!(parse_date("2027-01-31T12:00:00.000Z").is_ok());
    }

    #[test]
    fn parses_plain_dates_as_utc_midnight() {
        assert_eq!(parse_date("1970-01-02"), Ok(86_400));
        assert_eq!(parse_date("2027-01-01"), Ok(1_798_761_600));
    }

    #[test]
    fn parses_rfc3339_with_offsets() {
        assert_eq!(parse_date("1970-01-01T01:00:00+01:00"), Ok(0));
        assert_eq!(parse_date("1970-01-01T00:00:10Z"), Ok(10));
    }

    #[test]
    fn refuses_other_forms() {
        for bad in [
            "",
            "2027-13-01",
            "2027-02-30",
            "tomorrow",
            "2027-01-01T00:00:00",
            "1700000000",
        ] {
            assert!(parse_date(bad).is_err(), "{bad:?} accepted");
        }
        let long = "9".repeat(1_000_000);
        assert_eq!(parse_date(&long).unwrap_err().input.len(), 64);
    }

    #[test]
    fn a_plain_expiry_date_is_the_end_of_that_day() {
        assert_eq!(parse_expiry("2027-12-31"), Ok(1_830_297_600));
        assert_eq!(format(1_830_297_600), "2028-01-01T00:00:00Z");
        assert_eq!(
            parse_expiry("2027-12-31T12:00:00Z"),
            parse_date("2027-12-31T12:00:00Z")
        );
        assert!(parse_expiry("2027-02-30").is_err());
        assert!(parse_expiry("9999-12-31").is_err());
        assert!(is_plain_date("2027-12-31"));
        assert!(!is_plain_date("2027-12-31T00:00:00Z"));
    }

    #[test]
    fn formats_round_trip() {
        let t = 1_798_761_600;
        assert_eq!(format(t), "2027-01-01T00:00:00Z");
        assert_eq!(parse_date(&format(t)), Ok(t));
    }
}
