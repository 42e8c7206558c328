//! Dates and times (`yaql/standard_library/date_time.py`): `datetime`,
//! `timespan`, `now`, `localtz`, `utctz`, properties (`.year`, `.days`,
//! ...), arithmetic, `replace`, `format`. Datetimes are always aware (a
//! datetime without an offset is UTC, as yaql makes it); timespans are
//! microseconds.

use chrono::{
    DateTime, Datelike, Duration, FixedOffset, Local, NaiveDate, NaiveDateTime, Offset, TimeZone,
    Timelike, Utc,
};

use super::{o, ov, p, Kind::*, Ov, Ty::*, D};
use crate::expr::yaql::error::{self, Error, R};
use crate::expr::yaql::value::{Num, V};

const DAY: i64 = 86_400_000_000;

/// The overloads of this module.
pub static OVERLOADS: &[Ov] = &[
    ov(
        "datetime",
        F,
        &[
            p("year", Int),
            p("month", Int),
            p("day", Int),
            o("hour", Int, D::I(0)),
            o("minute", Int, D::I(0)),
            o("second", Int, D::I(0)),
            o("microsecond", Int, D::I(0)),
            o("offset", TimeSpan, D::Ts0),
        ],
        |_, a| {
            let off = offset_of(a.v(7))?;
            build(
                [
                    a.int(0),
                    a.int(1),
                    a.int(2),
                    a.int(3),
                    a.int(4),
                    a.int(5),
                    a.int(6),
                ],
                off,
            )
            .map(V::DateTime)
        },
    ),
    ov(
        "datetime",
        F,
        &[p("string", Str), o("format", StrN, D::Null)],
        |_, a| parse(a.s(0).unwrap_or(""), a.s(1)).map(V::DateTime),
    ),
    ov(
        "datetime",
        F,
        &[p("timestamp", Num), o("offset", TimeSpan, D::Ts0)],
        |_, a| {
            let off = offset_of(a.v(1))?;
            let secs = a.v(0).num().map_or(0.0, Num::f);
            let micros = (secs * 1e6).round();
            if !micros.is_finite() || micros.abs() > 2.5e17 {
                return Err(Error::new("OverflowError", "timestamp out of range"));
            }
            let utc = DateTime::<Utc>::UNIX_EPOCH + Duration::microseconds(micros as i64);
            Ok(V::DateTime(utc.with_timezone(&off)))
        },
    ),
    ov(
        "timespan",
        F,
        &[
            o("days", Int, D::I(0)),
            o("hours", Int, D::I(0)),
            o("minutes", Int, D::I(0)),
            o("seconds", Integer, D::I(0)),
            o("milliseconds", Integer, D::I(0)),
            o("microseconds", Integer, D::I(0)),
        ],
        |_, a| {
            let parts = [
                (a.int(0), DAY),
                (a.int(1), 3_600_000_000),
                (a.int(2), 60_000_000),
                (a.int(3), 1_000_000),
                (a.int(4), 1_000),
                (a.int(5), 1),
            ];
            let mut total: i64 = 0;
            for (n, unit) in parts {
                total = n
                    .checked_mul(unit)
                    .and_then(|x| total.checked_add(x))
                    .ok_or_else(error::overflow)?;
            }
            timespan(total)
        },
    ),
    ov("now", F, &[o("offset", TimeSpanN, D::Ts0)], |_, a| {
        let off = offset_of(a.v(0))?;
        Ok(V::DateTime(Utc::now().with_timezone(&off)))
    }),
    ov("localtz", F, &[], |_, _| {
        let secs = Local::now().offset().fix().local_minus_utc();
        Ok(V::TimeSpan(i64::from(secs) * 1_000_000))
    }),
    ov("utctz", F, &[], |_, _| Ok(V::TimeSpan(0))),
    ov(
        "replace",
        M,
        &[
            p("dt", DateTime),
            o("year", IntN, D::Null),
            o("month", IntN, D::Null),
            o("day", IntN, D::Null),
            o("hour", IntN, D::Null),
            o("minute", IntN, D::Null),
            o("second", IntN, D::Null),
            o("microsecond", IntN, D::Null),
            o("offset", TimeSpanN, D::Null),
        ],
        |_, a| {
            let V::DateTime(dt) = a.v(0) else {
                return Err(error::no_matching_method("replace", ""));
            };
            let pick = |i: usize, cur: i64| if a.v(i).is_null() { cur } else { a.int(i) };
            let parts = [
                pick(1, i64::from(dt.year())),
                pick(2, i64::from(dt.month())),
                pick(3, i64::from(dt.day())),
                pick(4, i64::from(dt.hour())),
                pick(5, i64::from(dt.minute())),
                pick(6, i64::from(dt.second())),
                pick(7, i64::from(dt.nanosecond() / 1000)),
            ];
            let off = if a.v(8).is_null() {
                *dt.offset()
            } else {
                offset_of(a.v(8))?
            };
            build(parts, off).map(V::DateTime)
        },
    ),
    ov(
        "format",
        M,
        &[p("dt", DateTime), p("format", Str)],
        |_, a| {
            let V::DateTime(dt) = a.v(0) else {
                return Err(error::no_matching_method("format", ""));
            };
            strftime(dt, a.s(1).unwrap_or(""))
        },
    ),
    ov("isDatetime", F, &[p("value", Any)], |_, a| {
        Ok(V::Bool(matches!(a.v(0), V::DateTime(_))))
    }),
    ov("isTimespan", F, &[p("value", Any)], |_, a| {
        Ok(V::Bool(matches!(a.v(0), V::TimeSpan(_))))
    }),
];

fn timespan<'a>(micros: i64) -> R<V<'a>> {
    // Python's timedelta holds at most 999999999 days.
    if micros.abs() / DAY > 999_999_999 {
        return Err(Error::new(
            "OverflowError",
            "days must have magnitude <= 999999999",
        ));
    }
    Ok(V::TimeSpan(micros))
}

fn offset_of(v: &V<'_>) -> R<FixedOffset> {
    let micros = match v {
        V::TimeSpan(t) => *t,
        _ => 0,
    };
    let secs = micros / 1_000_000;
    if micros % 1_000_000 != 0 || secs.abs() >= 86_400 {
        return Err(error::value_error(
            "offset must be a timedelta strictly between -timedelta(hours=24) and timedelta(hours=24)",
        ));
    }
    FixedOffset::east_opt(secs as i32).ok_or_else(|| error::value_error("invalid offset"))
}

fn build(parts: [i64; 7], off: FixedOffset) -> R<DateTime<FixedOffset>> {
    let [y, mo, d, h, mi, s, us] = parts;
    let range = |v: i64, lo: i64, hi: i64, what: &str| {
        if v < lo || v > hi {
            Err(error::value_error(format!("{what} must be in {lo}..{hi}")))
        } else {
            Ok(v as u32)
        }
    };
    range(y, 1, 9999, "year")?;
    let mo = range(mo, 1, 12, "month")?;
    let date = NaiveDate::from_ymd_opt(y as i32, mo, range(d, 1, 31, "day")?)
        .ok_or_else(|| error::value_error("day is out of range for month"))?;
    let naive = date
        .and_hms_micro_opt(
            range(h, 0, 23, "hour")?,
            range(mi, 0, 59, "minute")?,
            range(s, 0, 59, "second")?,
            range(us, 0, 999_999, "microsecond")?,
        )
        .ok_or_else(|| error::value_error("invalid time"))?;
    off.from_local_datetime(&naive)
        .single()
        .ok_or_else(|| error::value_error("invalid datetime"))
}

/// Python's strftime/strptime directives in chrono's terms (`%f` is
/// microseconds in Python).
fn directives(format: &str) -> String {
    format.replace("%f", "%6f")
}

fn strftime<'a>(dt: &DateTime<FixedOffset>, format: &str) -> R<V<'a>> {
    use std::fmt::Write;
    let mut out = String::new();
    let fmt = directives(format);
    let items = chrono::format::StrftimeItems::new(&fmt);
    write!(out, "{}", dt.format_with_items(items))
        .map_err(|_| error::value_error(format!("invalid format string {format:?}")))?;
    Ok(V::string(out))
}

/// `datetime(string)`: ISO 8601 forms (dateutil's parser accepts more);
/// with a format, Python's `strptime`.
fn parse(s: &str, format: Option<&str>) -> R<DateTime<FixedOffset>> {
    let utc = FixedOffset::east_opt(0).unwrap_or_else(|| Utc.fix());
    if let Some(f) = format {
        // Python's %f reads 1 to 6 digits.
        let f = f.replace(".%f", "%.f").replace("%f", "%6f");
        if let Ok(dt) = DateTime::parse_from_str(s, &f) {
            return Ok(dt);
        }
        if let Ok(n) = NaiveDateTime::parse_from_str(s, &f) {
            return Ok(utc.from_utc_datetime(&n));
        }
        if let Ok(d) = NaiveDate::parse_from_str(s, &f) {
            return Ok(utc.from_utc_datetime(&d.and_hms_opt(0, 0, 0).unwrap_or_default()));
        }
        return Err(error::value_error(format!(
            "time data {s:?} does not match format {f:?}"
        )));
    }
    let t = s.trim();
    if let Ok(dt) = DateTime::parse_from_rfc3339(t) {
        return Ok(dt);
    }
    for f in [
        "%Y-%m-%dT%H:%M:%S%.f%:z",
        "%Y-%m-%d %H:%M:%S%.f%:z",
        "%Y-%m-%dT%H:%M:%S%.f%z",
        "%Y-%m-%d %H:%M:%S%.f%z",
    ] {
        if let Ok(dt) = DateTime::parse_from_str(t, f) {
            return Ok(dt);
        }
    }
    let t2 = t.strip_suffix('Z').unwrap_or(t);
    for f in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M",
        "%Y%m%dT%H%M%S",
    ] {
        if let Ok(n) = NaiveDateTime::parse_from_str(t2, f) {
            return Ok(utc.from_utc_datetime(&n));
        }
    }
    for f in [
        "%Y-%m-%d",
        "%Y%m%d",
        "%Y/%m/%d",
        "%m/%d/%Y",
        "%b %d %Y",
        "%B %d %Y",
        "%b %d, %Y",
        "%B %d, %Y",
        "%d %b %Y",
        "%d %B %Y",
        "%a %b %d %Y",
    ] {
        if let Ok(d) = NaiveDate::parse_from_str(t2, f) {
            return Ok(utc.from_utc_datetime(&d.and_hms_opt(0, 0, 0).unwrap_or_default()));
        }
    }
    Err(Error::new(
        "ParserError",
        format!("Unknown string format: {s} (ISO 8601 dates and times are supported; give a format for others)"),
    ))
}

/// `obj.name` on a value that is not a dict or a collection: the
/// datetime and timespan properties, as yaql's `#property#name`.
pub fn property<'a>(v: &V<'a>, name: &str) -> R<V<'a>> {
    let fname = format!("#property#{name}");
    match (v, name) {
        (V::DateTime(d), _) => Ok(match name {
            "year" => V::Int(i64::from(d.year())),
            "month" => V::Int(i64::from(d.month())),
            "day" => V::Int(i64::from(d.day())),
            "hour" => V::Int(i64::from(d.hour())),
            "minute" => V::Int(i64::from(d.minute())),
            "second" => V::Int(i64::from(d.second())),
            "microsecond" => V::Int(i64::from(d.nanosecond() / 1000)),
            "weekday" => V::Int(i64::from(d.weekday().num_days_from_monday())),
            "date" => V::DateTime(build(
                [
                    i64::from(d.year()),
                    i64::from(d.month()),
                    i64::from(d.day()),
                    0,
                    0,
                    0,
                    0,
                ],
                *d.offset(),
            )?),
            "time" => {
                let midnight = build(
                    [
                        i64::from(d.year()),
                        i64::from(d.month()),
                        i64::from(d.day()),
                        0,
                        0,
                        0,
                        0,
                    ],
                    *d.offset(),
                )?;
                V::TimeSpan(micros_between(d, &midnight))
            }
            "utc" => {
                let off = i64::from(d.offset().local_minus_utc());
                V::DateTime(*d - Duration::seconds(off))
            }
            "offset" => V::TimeSpan(i64::from(d.offset().local_minus_utc()) * 1_000_000),
            "timestamp" => V::Float(d.timestamp_micros() as f64 / 1e6),
            _ => return Err(unknown_property(&fname)),
        }),
        (V::TimeSpan(t), _) => Ok(match name {
            "microseconds" => V::Int(*t),
            "milliseconds" => V::Float(*t as f64 / 1000.0),
            "seconds" => V::Float(*t as f64 / 1e6),
            "minutes" => V::Float(*t as f64 / 6e7),
            "hours" => V::Float(*t as f64 / 3.6e9),
            "days" => V::Float(*t as f64 / 8.64e10),
            _ => return Err(unknown_property(&fname)),
        }),
        _ if is_property(name) => Err(error::no_matching_function(&fname)),
        _ => Err(error::no_function(&fname)),
    }
}

fn is_property(name: &str) -> bool {
    matches!(
        name,
        "year"
            | "month"
            | "day"
            | "hour"
            | "minute"
            | "second"
            | "microsecond"
            | "weekday"
            | "date"
            | "time"
            | "utc"
            | "offset"
            | "timestamp"
            | "microseconds"
            | "milliseconds"
            | "seconds"
            | "minutes"
            | "hours"
            | "days"
    )
}

fn unknown_property(fname: &str) -> Error {
    if is_property(fname.trim_start_matches("#property#")) {
        error::no_matching_function(fname)
    } else {
        error::no_function(fname)
    }
}

fn micros_between(a: &DateTime<FixedOffset>, b: &DateTime<FixedOffset>) -> i64 {
    (*a - *b).num_microseconds().unwrap_or(i64::MAX)
}

fn shift<'a>(d: &DateTime<FixedOffset>, micros: i64) -> R<V<'a>> {
    d.checked_add_signed(Duration::microseconds(micros))
        .filter(|r| (1..=9999).contains(&r.year()))
        .map(V::DateTime)
        .ok_or_else(|| Error::new("OverflowError", "date value out of range"))
}

/// `datetime + timespan`, `timespan + timespan`.
pub fn add<'a>(a: &V<'a>, b: &V<'a>) -> R<V<'a>> {
    match (a, b) {
        (V::DateTime(d), V::TimeSpan(t)) => shift(d, *t),
        (V::TimeSpan(x), V::TimeSpan(y)) => {
            timespan(x.checked_add(*y).ok_or_else(error::overflow)?)
        }
        _ => Err(error::no_matching_function("#operator_+")),
    }
}

/// `datetime - datetime`, `datetime - timespan`, `timespan - timespan`.
pub fn sub<'a>(a: &V<'a>, b: &V<'a>) -> R<V<'a>> {
    match (a, b) {
        (V::DateTime(x), V::DateTime(y)) => timespan(micros_between(x, y)),
        (V::DateTime(d), V::TimeSpan(t)) => shift(d, t.checked_neg().ok_or_else(error::overflow)?),
        (V::TimeSpan(x), V::TimeSpan(y)) => {
            timespan(x.checked_sub(*y).ok_or_else(error::overflow)?)
        }
        _ => Err(error::no_matching_function("#operator_-")),
    }
}

/// Python's `timedelta(microseconds=x)`: rounds half to even.
fn round_micros(x: f64) -> R<i64> {
    if !x.is_finite() || x.abs() > 8.64e19 {
        return Err(Error::new("OverflowError", "timedelta out of range"));
    }
    let r = x.round();
    let r = if (x - x.trunc()).abs() == 0.5 {
        2.0 * (x / 2.0).round()
    } else {
        r
    };
    Ok(r as i64)
}

/// `timespan * number`.
pub fn scale<'a>(ts: &V<'a>, n: &V<'a>) -> R<V<'a>> {
    let (V::TimeSpan(t), Some(n)) = (ts, n.num()) else {
        return Err(error::no_matching_function("#operator_*"));
    };
    match n {
        Num::I(i) => timespan(t.checked_mul(i).ok_or_else(error::overflow)?),
        Num::F(f) => timespan(round_micros(*t as f64 * f)?),
    }
}

/// `timespan / number` and `timespan / timespan`.
pub fn div<'a>(a: &V<'a>, b: &V<'a>) -> R<V<'a>> {
    match (a, b) {
        (V::TimeSpan(x), V::TimeSpan(y)) => {
            if *y == 0 {
                return Err(Error::new("ZeroDivisionError", "float division by zero"));
            }
            Ok(V::Float(*x as f64 / *y as f64))
        }
        (V::TimeSpan(x), n) => {
            let n = n.num().map_or(0.0, Num::f);
            if n == 0.0 {
                return Err(Error::new("ZeroDivisionError", "float division by zero"));
            }
            timespan(round_micros(*x as f64 / n)?)
        }
        _ => Err(error::no_matching_function("#operator_/")),
    }
}
