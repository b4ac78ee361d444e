//! The clock: the one place the library reads the time of day. Formats and rules never read
//! it; the caller passes the time in (`Ledger::append(.., now, ..)`).

use crate::time::Seconds;

/// The current time, in whole UTC seconds.
pub fn now() -> Seconds {
    jiff::Timestamp::now().as_second()
}
