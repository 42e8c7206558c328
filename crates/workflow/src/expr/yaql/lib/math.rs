//! Numbers and conversions (`yaql/standard_library/math.py`,
//! `boolean.py`): `int`, `float`, `bool`, `abs`, `pow`, `round`, `sign`,
//! `max`/`min` of two values, bitwise functions, `random`, `isInteger`,
//! `isNumber`, `isBoolean`.

use rand::Rng;

use super::ops::compare;
use super::{o, ov, p, Kind::*, Ov, Ty::*, D};
use crate::expr::yaql::error::{self, Error, R};
use crate::expr::yaql::value::{Num, V};

/// The overloads of this module.
pub static OVERLOADS: &[Ov] = &[
    ov("abs", F, &[p("op", Num)], |_, a| match a.v(0) {
        V::Int(i) => i.checked_abs().map(V::Int).ok_or_else(error::overflow),
        V::Float(f) => Ok(V::Float(f.abs())),
        _ => Err(error::no_matching_function("abs")),
    }),
    ov("int", F, &[p("value", Any)], |_, a| to_int(a.v(0))),
    ov("float", F, &[p("value", Any)], |_, a| to_float(a.v(0))),
    ov("bool", F, &[p("value", Any)], |_, a| {
        Ok(V::Bool(a.v(0).truthy()))
    }),
    ov("isBoolean", F, &[p("value", Any)], |_, a| {
        Ok(V::Bool(matches!(a.v(0), V::Bool(_))))
    }),
    ov("isInteger", F, &[p("value", Any)], |_, a| {
        Ok(V::Bool(matches!(a.v(0), V::Int(_))))
    }),
    ov("isNumber", F, &[p("value", Any)], |_, a| {
        Ok(V::Bool(matches!(a.v(0), V::Int(_) | V::Float(_))))
    }),
    ov("random", F, &[], |_, _| {
        Ok(V::Float(rand::thread_rng().gen::<f64>()))
    }),
    ov(
        "random",
        F,
        &[p("from", Any), p("to", Any)],
        |_, a| match (a.v(0).num(), a.v(1).num()) {
            (Some(Num::I(x)), Some(Num::I(y))) => {
                if x > y {
                    return Err(error::value_error(format!(
                        "empty range in randrange({x}, {})",
                        y + 1
                    )));
                }
                Ok(V::Int(rand::thread_rng().gen_range(x..=y)))
            }
            _ => Err(error::type_error("randint() needs two integers")),
        },
    ),
    ov(
        "bitwiseAnd",
        F,
        &[p("left", Int), p("right", Int)],
        |_, a| Ok(V::Int(a.int(0) & a.int(1))),
    ),
    ov(
        "bitwiseOr",
        F,
        &[p("left", Int), p("right", Int)],
        |_, a| Ok(V::Int(a.int(0) | a.int(1))),
    ),
    ov(
        "bitwiseXor",
        F,
        &[p("left", Int), p("right", Int)],
        |_, a| Ok(V::Int(a.int(0) ^ a.int(1))),
    ),
    ov("bitwiseNot", F, &[p("arg", Int)], |_, a| {
        Ok(V::Int(!a.int(0)))
    }),
    ov(
        "shiftBitsLeft",
        F,
        &[p("value", Int), p("bitsNumber", Int)],
        |_, a| {
            let (v, n) = (a.int(0), a.int(1));
            if n < 0 {
                return Err(error::value_error("negative shift count"));
            }
            if v == 0 {
                return Ok(V::Int(0));
            }
            match v.checked_shl(n.min(63) as u32) {
                Some(r) if n < 63 && r >> n == v => Ok(V::Int(r)),
                _ => Err(error::overflow()),
            }
        },
    ),
    ov(
        "shiftBitsRight",
        F,
        &[p("value", Int), p("bitsNumber", Int)],
        |_, a| {
            let (v, n) = (a.int(0), a.int(1));
            if n < 0 {
                return Err(error::value_error("negative shift count"));
            }
            Ok(V::Int(v >> n.min(63)))
        },
    ),
    ov("max", F, &[p("a", Any), p("b", Any)], |_, a| {
        if compare(">", a.v(1), a.v(0))? {
            Ok(a.v(1).clone())
        } else {
            Ok(a.v(0).clone())
        }
    }),
    ov("min", F, &[p("a", Any), p("b", Any)], |_, a| {
        if compare(">", a.v(1), a.v(0))? {
            Ok(a.v(0).clone())
        } else {
            Ok(a.v(1).clone())
        }
    }),
    ov(
        "pow",
        F,
        &[p("a", Num), p("b", Num), o("c", NumN, D::Null)],
        |_, a| pow(a.v(0), a.v(1), a.v(2)),
    ),
    ov("sign", F, &[p("num", Num)], |_, a| {
        let f = a.v(0).num().map_or(0.0, Num::f);
        Ok(V::Int(if f > 0.0 {
            1
        } else if f < 0.0 {
            -1
        } else {
            0
        }))
    }),
    ov(
        "round",
        F,
        &[p("number", Num), o("ndigits", Int, D::I(0))],
        |_, a| round(a.v(0), a.int(1)),
    ),
];

/// Python's `int(value)` (null is 0, as in yaql).
pub fn to_int<'a>(v: &V<'a>) -> R<V<'a>> {
    match v {
        V::Null => Ok(V::Int(0)),
        V::Bool(b) => Ok(V::Int(i64::from(*b))),
        V::Int(i) => Ok(V::Int(*i)),
        V::Float(f) => {
            if f.is_nan() {
                return Err(error::value_error("cannot convert float NaN to integer"));
            }
            if f.is_infinite() {
                return Err(Error::new(
                    "OverflowError",
                    "cannot convert float infinity to integer",
                ));
            }
            let t = f.trunc();
            if t.abs() >= 9.223_372_036_854_776e18 {
                return Err(error::overflow());
            }
            Ok(V::Int(t as i64))
        }
        V::Str(s) => {
            let t = s.trim();
            let clean = t.replace('_', "");
            let valid = !t.starts_with('_') && !t.ends_with('_') && !t.contains("__");
            match clean.parse::<i64>() {
                Ok(i) if valid && !clean.is_empty() => Ok(V::Int(i)),
                _ if valid
                    && clean
                        .trim_start_matches(['+', '-'])
                        .chars()
                        .all(|c| c.is_ascii_digit())
                    && !clean.trim_start_matches(['+', '-']).is_empty() =>
                {
                    Err(error::overflow())
                }
                _ => Err(error::value_error(format!(
                    "invalid literal for int() with base 10: {}",
                    crate::expr::yaql::format::str_repr(s)
                ))),
            }
        }
        other => Err(error::type_error(format!(
            "int() argument must be a string, a bytes-like object or a real number, not '{}'",
            other.type_name()
        ))),
    }
}

/// Python's `float(value)` (null is 0.0, as in yaql).
pub fn to_float<'a>(v: &V<'a>) -> R<V<'a>> {
    match v {
        V::Null => Ok(V::Float(0.0)),
        V::Bool(b) => Ok(V::Float(if *b { 1.0 } else { 0.0 })),
        V::Int(i) => Ok(V::Float(*i as f64)),
        V::Float(f) => Ok(V::Float(*f)),
        V::Str(s) => {
            let t = s.trim().replace('_', "");
            let lower = t.to_ascii_lowercase();
            let parsed = match lower.trim_start_matches(['+', '-']) {
                "inf" | "infinity" | "nan" => lower.parse::<f64>().ok(),
                x if x.chars().any(|c| c.is_ascii_digit())
                    && x.chars()
                        .all(|c| c.is_ascii_digit() || matches!(c, '.' | 'e' | '+' | '-')) =>
                {
                    t.parse::<f64>().ok()
                }
                _ => None,
            };
            parsed.map(V::Float).ok_or_else(|| {
                error::value_error(format!(
                    "could not convert string to float: {}",
                    crate::expr::yaql::format::str_repr(s)
                ))
            })
        }
        other => Err(error::type_error(format!(
            "float() argument must be a string or a real number, not '{}'",
            other.type_name()
        ))),
    }
}

fn pow<'a>(a: &V<'a>, b: &V<'a>, c: &V<'a>) -> R<V<'a>> {
    let (Some(x), Some(y)) = (a.num(), b.num()) else {
        return Err(error::no_matching_function("pow"));
    };
    if !c.is_null() {
        let (Num::I(base), Num::I(exp), Some(Num::I(m))) = (x, y, c.num()) else {
            return Err(error::type_error(
                "pow() 3rd argument not allowed unless all arguments are integers",
            ));
        };
        if m == 0 {
            return Err(error::value_error("pow() 3rd argument cannot be 0"));
        }
        if exp < 0 {
            return Err(error::value_error(
                "base is not invertible for the given modulus",
            ));
        }
        let m128 = i128::from(m);
        let mut result: i128 = 1;
        let mut b128 = i128::from(base).rem_euclid(m128);
        let mut e = exp;
        while e > 0 {
            if e & 1 == 1 {
                result = (result * b128).rem_euclid(m128);
            }
            b128 = (b128 * b128).rem_euclid(m128);
            e >>= 1;
        }
        // Python's result takes the modulus's sign.
        let r = result.rem_euclid(m128);
        let r = if m < 0 && r != 0 { r + m128 } else { r };
        return Ok(V::Int(r as i64));
    }
    match (x, y) {
        (Num::I(base), Num::I(exp)) if exp >= 0 => {
            let e = u32::try_from(exp).map_err(|_| error::overflow())?;
            base.checked_pow(e).map(V::Int).ok_or_else(error::overflow)
        }
        _ => {
            let (p, q) = (x.f(), y.f());
            if p == 0.0 && q < 0.0 {
                return Err(Error::new(
                    "ZeroDivisionError",
                    "0.0 cannot be raised to a negative power",
                ));
            }
            if p < 0.0 && q.fract() != 0.0 {
                return Err(error::value_error(
                    "a negative number to a fractional power is a complex number, which YAQL here does not support",
                ));
            }
            let r = p.powf(q);
            if r.is_infinite() && p.is_finite() && q.is_finite() {
                return Err(Error::new(
                    "OverflowError",
                    "(34, 'Numerical result out of range')",
                ));
            }
            Ok(V::Float(r))
        }
    }
}

/// Python's `round(number, ndigits)`: half to even on the exact binary
/// value; an int stays an int.
fn round<'a>(v: &V<'a>, ndigits: i64) -> R<V<'a>> {
    match v {
        V::Int(i) => {
            if ndigits >= 0 {
                return Ok(V::Int(*i));
            }
            if ndigits < -18 {
                return Ok(V::Int(0));
            }
            let p = 10i64.pow((-ndigits) as u32);
            let q = i.div_euclid(p);
            let r = i.rem_euclid(p);
            let twice = r * 2;
            let q = if twice > p || (twice == p && q % 2 != 0) {
                q + 1
            } else {
                q
            };
            q.checked_mul(p).map(V::Int).ok_or_else(error::overflow)
        }
        V::Float(f) => {
            if !f.is_finite() {
                return Ok(V::Float(*f));
            }
            if ndigits >= 0 {
                let nd = ndigits.min(330) as usize;
                let s = format!("{f:.nd$}");
                return Ok(V::Float(s.parse().unwrap_or(*f)));
            }
            if ndigits < -308 {
                return Ok(V::Float(0.0f64.copysign(*f)));
            }
            let p = 10f64.powi((-ndigits) as i32);
            let y = f / p;
            let z = y.round();
            let z = if (y - y.trunc()).abs() == 0.5 {
                2.0 * (y / 2.0).round()
            } else {
                z
            };
            Ok(V::Float(z * p))
        }
        _ => Err(error::no_matching_function("round")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::expr::yaql::format::float_repr;

    #[test]
    fn rounding_is_pythons() {
        let r = |f: f64, n: i64| match round(&V::Float(f), n).unwrap() {
            V::Float(x) => float_repr(x),
            _ => unreachable!(),
        };
        assert_eq!(r(2.5, 0), "2.0");
        assert_eq!(r(3.5, 0), "4.0");
        assert_eq!(r(2.675, 2), "2.67");
        assert_eq!(r(0.125, 2), "0.12");
        assert_eq!(r(1234.5, -2), "1200.0");
        assert!(matches!(round(&V::Int(15), -1).unwrap(), V::Int(20)));
        assert!(matches!(round(&V::Int(25), -1).unwrap(), V::Int(20)));
    }
}
