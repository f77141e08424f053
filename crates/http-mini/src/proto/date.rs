//! The IMF-fixdate format of the `Date` header (RFC 9110 §5.6.7).

use std::time::{SystemTime, UNIX_EPOCH};

const DAYS: [&[u8; 3]; 7] = [b"Sun", b"Mon", b"Tue", b"Wed", b"Thu", b"Fri", b"Sat"];
const MONTHS: [&[u8; 3]; 12] = [
    b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov", b"Dec",
];
/// `9999-12-31T23:59:59Z`, the last instant with a four-digit year.
const MAX_SECS: u64 = 253_402_300_799;

/// Formats `time` as an IMF-fixdate, such as `Sun, 06 Nov 1994 08:49:37 GMT`.
///
/// Times before 1970 are formatted as the Unix epoch and times after the
/// year 9999 as its last second, so the result is always 29 bytes. A server
/// formats this at most once per second and caches it.
///
/// ```
/// use std::time::{Duration, UNIX_EPOCH};
/// use eventide_http_mini::proto::encode::http_date;
///
/// let t = UNIX_EPOCH + Duration::from_secs(784_111_777);
/// assert_eq!(&http_date(t), b"Sun, 06 Nov 1994 08:49:37 GMT");
/// ```
pub fn http_date(time: SystemTime) -> [u8; 29] {
    let secs = time
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
        .min(MAX_SECS);
    let days = secs / 86_400;
    let rem = secs % 86_400;
    let (year, month, day) = civil_from_days(days);
    // 1970-01-01 was a Thursday.
    let weekday = DAYS[((days + 4) % 7) as usize];

    let mut out = *b"Thu, 01 Jan 1970 00:00:00 GMT";
    out[..3].copy_from_slice(weekday);
    two_digits(&mut out[5..7], day);
    out[8..11].copy_from_slice(MONTHS[(month - 1) as usize]);
    two_digits(&mut out[12..14], year / 100);
    two_digits(&mut out[14..16], year % 100);
    two_digits(&mut out[17..19], rem / 3600);
    two_digits(&mut out[20..22], rem / 60 % 60);
    two_digits(&mut out[23..25], rem % 60);
    out
}

fn two_digits(dst: &mut [u8], n: u64) {
    dst[0] = b'0' + (n / 10 % 10) as u8;
    dst[1] = b'0' + (n % 10) as u8;
}

/// (year, month 1..=12, day 1..=31) of a day count since 1970-01-01, by
/// Howard Hinnant's `civil_from_days` for the proleptic Gregorian calendar.
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn at(secs: u64) -> String {
        String::from_utf8(http_date(UNIX_EPOCH + Duration::from_secs(secs)).to_vec()).unwrap()
    }

    #[test]
    fn known_dates() {
        // Values checked with `date -u -d @SECS '+%a, %d %b %Y %H:%M:%S GMT'`.
        assert_eq!(at(0), "Thu, 01 Jan 1970 00:00:00 GMT");
        assert_eq!(at(784_111_777), "Sun, 06 Nov 1994 08:49:37 GMT");
        assert_eq!(at(951_782_400), "Tue, 29 Feb 2000 00:00:00 GMT");
        assert_eq!(at(978_307_199), "Sun, 31 Dec 2000 23:59:59 GMT");
        assert_eq!(at(1_709_210_096), "Thu, 29 Feb 2024 12:34:56 GMT");
        assert_eq!(at(4_107_542_400), "Mon, 01 Mar 2100 00:00:00 GMT");
        assert_eq!(at(MAX_SECS), "Fri, 31 Dec 9999 23:59:59 GMT");
        assert_eq!(at(u64::MAX / 4), "Fri, 31 Dec 9999 23:59:59 GMT");
    }

    #[test]
    fn before_epoch_is_clamped() {
        let t = UNIX_EPOCH - Duration::from_secs(10);
        assert_eq!(&http_date(t), b"Thu, 01 Jan 1970 00:00:00 GMT");
    }
}
