//! `to_human_time_from_seconds` (`st2common/expressions/functions/time.py`).
//!
//! StackStorm adds the seconds to `datetime(1, 1, 1)` and prints the year
//! and the day *of the month* minus one, then hours, minutes and seconds,
//! from the first part that is not zero: so 40 days print as `9d0h0m0s`
//! (the month is dropped). This keeps that arithmetic.

/// Days from 0001-01-01 to a (year, month, day) in the proleptic Gregorian
/// calendar, inverted: the date `days` after 0001-01-01.
fn date_from_days(days: i64) -> (i64, i64) {
    // Algorithm from "civil_from_days" (days since 1970-01-01).
    let z = days - 719_162 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    (y, d)
}

/// Python's `round()` for floats (half to even), as an integer.
fn round_half_even(f: f64) -> f64 {
    let r = f.round();
    if (f - f.trunc()).abs() == 0.5 {
        2.0 * (f / 2.0).round()
    } else {
        r
    }
}

/// Formats `seconds` as StackStorm does; `Err` for values Python's
/// `datetime` cannot hold (beyond year 9999).
pub fn human_time(seconds: f64, is_int: bool, text: &str) -> Result<String, String> {
    if seconds == 0.0 {
        return Ok("0s".into());
    }
    if seconds < 1.0 {
        return Ok(format!("{text}\u{3bc}s"));
    }
    let secs = if is_int {
        seconds
    } else {
        round_half_even(seconds)
    };
    if secs >= 315_537_897_600.0 {
        return Err("date value out of range".into());
    }
    let secs = secs as i64;
    let days = secs / 86_400;
    let rem = secs % 86_400;
    let (year, day) = date_from_days(days);
    let parts = [year - 1, day - 1, rem / 3600, (rem % 3600) / 60, rem % 60];
    let Some(first) = parts.iter().position(|p| *p != 0) else {
        return Ok("0s".into());
    };
    let units = ["y", "d", "h", "m", "s"];
    let shown = &parts[first..];
    // StackStorm's format strings pair the parts from the right with
    // `y d h m s`; with fewer parts they end at `...m s` / `s`.
    let names = &units[units.len() - shown.len()..];
    Ok(shown
        .iter()
        .zip(names)
        .map(|(v, u)| format!("{v}{u}"))
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_like_stackstorm() {
        assert_eq!(human_time(12345.0, true, "12345").unwrap(), "3h25m45s");
        assert_eq!(human_time(40.0 * 86_400.0, true, "").unwrap(), "9d0h0m0s");
        assert_eq!(human_time(0.5, false, "0.5").unwrap(), "0.5\u{3bc}s");
        assert_eq!(human_time(59.5, false, "").unwrap(), "1m0s");
    }
}
