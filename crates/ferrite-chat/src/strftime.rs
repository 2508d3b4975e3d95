//! `strftime_now(format)`: the current time through C's `strftime` codes, as
//! transformers exposes it (`datetime.now().strftime(format)`). Ferrite uses
//! UTC where Python uses the local zone; they agree on machines set to UTC.

use std::fmt::Write;
use std::time::{SystemTime, UNIX_EPOCH};

const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];
const DAYS: [&str; 7] = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];

/// A broken-down UTC time.
struct Civil {
    year: i64,
    month: u32,   // 1..=12
    day: u32,     // 1..=31
    weekday: u32, // 0 = Monday
    yday: u32,    // 1..=366
    hour: u32,
    minute: u32,
    second: u32,
}

fn civil(t: SystemTime) -> Civil {
    let secs = match t.duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_secs() as i64,
        Err(e) => -(e.duration().as_secs() as i64),
    };
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400) as u32;
    // Howard Hinnant's days-to-civil: exact for the proleptic Gregorian calendar.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    let before = [0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334][month as usize - 1];
    Civil {
        year,
        month,
        day,
        weekday: (days + 3).rem_euclid(7) as u32, // 1970-01-01 was a Thursday
        yday: before + day + u32::from(leap && month > 2),
        hour: rem / 3600,
        minute: rem / 60 % 60,
        second: rem % 60,
    }
}

/// Formats `t` (UTC) with the `strftime` codes templates use; an unknown code
/// is kept as written, as glibc does.
pub(crate) fn strftime(format: &str, t: SystemTime) -> String {
    let c = civil(t);
    let mut out = String::new();
    let mut chars = format.chars();
    while let Some(ch) = chars.next() {
        if ch != '%' {
            out.push(ch);
            continue;
        }
        // glibc's `%-d` drops the padding.
        let mut spec = chars.next();
        let unpadded = spec == Some('-');
        if unpadded {
            spec = chars.next();
        }
        let num = |out: &mut String, n: u32, width: usize| {
            let _ = if unpadded {
                write!(out, "{n}")
            } else {
                write!(out, "{n:0width$}")
            };
        };
        let h12 = if c.hour.is_multiple_of(12) {
            12
        } else {
            c.hour % 12
        };
        match spec {
            Some('Y') => {
                let _ = write!(out, "{}", c.year);
            }
            Some('y') => num(&mut out, c.year.rem_euclid(100) as u32, 2),
            Some('m') => num(&mut out, c.month, 2),
            Some('d') => num(&mut out, c.day, 2),
            Some('e') => {
                let _ = write!(out, "{:2}", c.day);
            }
            Some('j') => num(&mut out, c.yday, 3),
            Some('H') => num(&mut out, c.hour, 2),
            Some('I') => num(&mut out, h12, 2),
            Some('M') => num(&mut out, c.minute, 2),
            Some('S') => num(&mut out, c.second, 2),
            Some('p') => out.push_str(if c.hour < 12 { "AM" } else { "PM" }),
            Some('B') => out.push_str(MONTHS[c.month as usize - 1]),
            Some('b') | Some('h') => out.push_str(&MONTHS[c.month as usize - 1][..3]),
            Some('A') => out.push_str(DAYS[c.weekday as usize]),
            Some('a') => out.push_str(&DAYS[c.weekday as usize][..3]),
            Some('u') => num(&mut out, c.weekday + 1, 1),
            Some('w') => num(&mut out, (c.weekday + 1) % 7, 1),
            Some('F') => {
                let _ = write!(out, "{}-{:02}-{:02}", c.year, c.month, c.day);
            }
            Some('T') => {
                let _ = write!(out, "{:02}:{:02}:{:02}", c.hour, c.minute, c.second);
            }
            Some('Z') => out.push_str("UTC"),
            Some('z') => out.push_str("+0000"),
            Some('%') => out.push('%'),
            Some(other) => {
                out.push('%');
                if unpadded {
                    out.push('-');
                }
                out.push(other);
            }
            None => out.push('%'),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn formats_a_known_time() {
        // 2024-03-07 09:05:00 UTC, a Thursday, day 67 of a leap year.
        let t = UNIX_EPOCH + Duration::from_secs(1_709_802_300);
        assert_eq!(strftime("%d %b %Y", t), "07 Mar 2024");
        assert_eq!(strftime("%B %d, %Y", t), "March 07, 2024");
        assert_eq!(
            strftime("%Y-%m-%d %H:%M:%S %A %j %-d %I%p %%", t),
            "2024-03-07 09:05:00 Thursday 067 7 09AM %"
        );
        assert_eq!(strftime("%F", UNIX_EPOCH), "1970-01-01");
        assert_eq!(strftime("%a %q", UNIX_EPOCH), "Thu %q");
    }
}
