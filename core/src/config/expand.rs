//! Python's `%` formatting of a string against a dict, as Supervisor uses it
//! for `%(name)s` expansions: named keys, flags (`#0- +`), width,
//! precision, the length modifiers Python ignores (`h l L`), the
//! conversions `d i u o x X e E f F g G c r s a` and `%%`. The error texts
//! are Python's (`incomplete format`, `unsupported format character ...`),
//! because the reference prints them inside its own message. This module
//! knows no option names and no file; callers add where the value was.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::pyrepr::py_repr;

/// A value that can be expanded: Supervisor's expansions are strings,
/// except `process_num` and `numprocs`, which are integers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExpValue {
    /// A text value (`here`, `program_name`, `ENV_HOME`, ...).
    Str(String),
    /// An integer value (`process_num`, `numprocs`).
    Int(i64),
}

/// The names available to one expansion.
pub type Expansions = BTreeMap<String, ExpValue>;

/// Why a template could not be expanded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExpandError {
    /// `%(name)s` names something not available.
    UnknownName(String),
    /// Any other formatting error, with Python's text.
    BadFormat(String),
}

/// Expand `template` as Python's `template % names` would.
pub fn expand(template: &str, names: &Expansions) -> Result<String, ExpandError> {
    expand_layers(template, &[names])
}

/// Expand against several maps at once, as if merged with the later ones
/// winning, without building the merged map: the loader expands every
/// option of every process against the environment plus a few names.
pub fn expand_layers(template: &str, layers: &[&Expansions]) -> Result<String, ExpandError> {
    if !template.contains('%') {
        return Ok(template.to_string());
    }
    let chars: Vec<char> = template.chars().collect();
    let mut out = String::with_capacity(template.len() + 16);
    // Python hands the whole dict to the first unnamed specifier.
    let mut dict_used = false;
    // After a named specifier, Python has no positional argument left.
    let mut named_seen = false;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c != '%' {
            out.push(c);
            i += 1;
            continue;
        }
        i += 1;
        let bad = |msg: &str| ExpandError::BadFormat(msg.to_string());
        if i >= chars.len() {
            return Err(bad("incomplete format"));
        }
        if chars[i] == '%' {
            out.push('%');
            i += 1;
            continue;
        }
        let mut key: Option<String> = None;
        if chars[i] == '(' {
            let mut depth = 1;
            let start = i + 1;
            i += 1;
            while i < chars.len() && depth > 0 {
                match chars[i] {
                    '(' => depth += 1,
                    ')' => depth -= 1,
                    _ => {}
                }
                i += 1;
            }
            if depth > 0 {
                return Err(bad("incomplete format key"));
            }
            key = Some(chars[start..i - 1].iter().collect());
        }
        let mut spec = Spec::default();
        while i < chars.len() {
            match chars[i] {
                '-' => spec.left = true,
                '+' => spec.plus = true,
                ' ' => spec.space = true,
                '#' => spec.alt = true,
                '0' => spec.zero = true,
                _ => break,
            }
            i += 1;
        }
        if i < chars.len() && chars[i] == '*' {
            // `*` takes its width from the next positional argument.
            return Err(bad(if key.is_some() || dict_used || named_seen {
                "not enough arguments for format string"
            } else {
                "* wants int"
            }));
        }
        spec.width = read_number(&chars, &mut i);
        if i < chars.len() && chars[i] == '.' {
            i += 1;
            if i < chars.len() && chars[i] == '*' {
                return Err(bad(if key.is_some() || dict_used || named_seen {
                    "not enough arguments for format string"
                } else {
                    "* wants int"
                }));
            }
            spec.precision = Some(read_number(&chars, &mut i).unwrap_or(0));
        }
        while i < chars.len() && matches!(chars[i], 'h' | 'l' | 'L') {
            i += 1;
        }
        if i >= chars.len() {
            return Err(bad("incomplete format"));
        }
        let conversion = chars[i];
        let index = i;
        i += 1;
        let value = match &key {
            Some(k) => match layers.iter().rev().find_map(|names| names.get(k)) {
                Some(v) => {
                    named_seen = true;
                    Arg::Value(v)
                }
                None => return Err(ExpandError::UnknownName(k.clone())),
            },
            None => {
                if dict_used || named_seen {
                    return Err(bad("not enough arguments for format string"));
                }
                dict_used = true;
                Arg::Dict
            }
        };
        if conversion == '%' {
            return Err(ExpandError::BadFormat(format!(
                "unsupported format character '%' (0x25) at index {index}"
            )));
        }
        format_one(&mut out, conversion, index, &spec, value, layers)?;
    }
    Ok(out)
}

#[derive(Debug, Default)]
struct Spec {
    left: bool,
    plus: bool,
    space: bool,
    alt: bool,
    zero: bool,
    width: Option<usize>,
    precision: Option<usize>,
}

enum Arg<'a> {
    Value(&'a ExpValue),
    /// An unnamed specifier receives the whole dict.
    Dict,
}

fn read_number(chars: &[char], i: &mut usize) -> Option<usize> {
    let start = *i;
    while *i < chars.len() && chars[*i].is_ascii_digit() {
        *i += 1;
    }
    if *i == start {
        return None;
    }
    chars[start..*i].iter().collect::<String>().parse().ok()
}

/// Python's repr of the expansion dict, for the odd `'%s' % dict`.
fn dict_repr(layers: &[&Expansions]) -> String {
    let mut names = Expansions::new();
    for layer in layers {
        names.extend(layer.iter().map(|(k, v)| (k.clone(), v.clone())));
    }
    let mut out = String::from("{");
    for (n, (k, v)) in names.iter().enumerate() {
        if n > 0 {
            out.push_str(", ");
        }
        out.push_str(&py_repr(k));
        out.push_str(": ");
        match v {
            ExpValue::Str(s) => out.push_str(&py_repr(s)),
            ExpValue::Int(i) => {
                let _ = write!(out, "{i}");
            }
        }
    }
    out.push('}');
    out
}

fn type_name(arg: &Arg<'_>) -> &'static str {
    match arg {
        Arg::Value(ExpValue::Str(_)) => "str",
        Arg::Value(ExpValue::Int(_)) => "int",
        Arg::Dict => "dict",
    }
}

fn format_one(
    out: &mut String,
    conversion: char,
    index: usize,
    spec: &Spec,
    arg: Arg<'_>,
    layers: &[&Expansions],
) -> Result<(), ExpandError> {
    let bad = |msg: String| Err(ExpandError::BadFormat(msg));
    match conversion {
        's' | 'r' | 'a' => {
            let mut text = match (&arg, conversion) {
                (Arg::Value(ExpValue::Str(s)), 's') => s.clone(),
                (Arg::Value(ExpValue::Str(s)), _) => {
                    let r = py_repr(s);
                    if conversion == 'a' {
                        ascii_escape(&r)
                    } else {
                        r
                    }
                }
                (Arg::Value(ExpValue::Int(i)), _) => i.to_string(),
                (Arg::Dict, _) => dict_repr(layers),
            };
            if let Some(p) = spec.precision {
                text = text.chars().take(p).collect();
            }
            pad(out, &text, spec, false);
        }
        'd' | 'i' | 'u' | 'o' | 'x' | 'X' => {
            let Arg::Value(ExpValue::Int(n)) = arg else {
                let kind = if matches!(conversion, 'd' | 'i' | 'u') {
                    "a real number"
                } else {
                    "an integer"
                };
                return bad(format!(
                    "%{conversion} format: {kind} is required, not {}",
                    type_name(&arg)
                ));
            };
            let magnitude = n.unsigned_abs();
            let mut digits = match conversion {
                'o' => format!("{magnitude:o}"),
                'x' => format!("{magnitude:x}"),
                'X' => format!("{magnitude:X}"),
                _ => magnitude.to_string(),
            };
            if let Some(p) = spec.precision {
                while digits.len() < p {
                    digits.insert(0, '0');
                }
            }
            let prefix = match (spec.alt, conversion) {
                (true, 'o') => "0o",
                (true, 'x') => "0x",
                (true, 'X') => "0X",
                _ => "",
            };
            let sign = sign_of(*n < 0, spec);
            pad_number(out, sign, prefix, &digits, spec);
        }
        'e' | 'E' | 'f' | 'F' | 'g' | 'G' => {
            let Arg::Value(ExpValue::Int(n)) = arg else {
                return bad(format!("must be real number, not {}", type_name(&arg)));
            };
            let value = *n as f64;
            let precision = spec.precision.unwrap_or(6);
            let body = float_body(value.abs(), conversion, precision, spec.alt);
            let sign = sign_of(value < 0.0, spec);
            pad_number(out, sign, "", &body, spec);
        }
        'c' => {
            let text = match arg {
                Arg::Value(ExpValue::Int(n)) => {
                    match u32::try_from(*n).ok().and_then(char::from_u32) {
                        Some(c) => c.to_string(),
                        None => return bad("%c arg not in range(0x110000)".to_string()),
                    }
                }
                Arg::Value(ExpValue::Str(s)) if s.chars().count() == 1 => s.clone(),
                _ => return bad("%c requires int or char".to_string()),
            };
            pad(out, &text, spec, false);
        }
        other => {
            return bad(format!(
                "unsupported format character {} (0x{:x}) at index {index}",
                py_repr(&other.to_string()),
                other as u32
            ));
        }
    }
    Ok(())
}

fn ascii_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        let code = c as u32;
        if code < 0x80 {
            out.push(c);
        } else if code <= 0xff {
            let _ = write!(out, "\\x{code:02x}");
        } else if code <= 0xffff {
            let _ = write!(out, "\\u{code:04x}");
        } else {
            let _ = write!(out, "\\U{code:08x}");
        }
    }
    out
}

fn sign_of(negative: bool, spec: &Spec) -> &'static str {
    if negative {
        "-"
    } else if spec.plus {
        "+"
    } else if spec.space {
        " "
    } else {
        ""
    }
}

fn float_body(value: f64, conversion: char, precision: usize, alt: bool) -> String {
    match conversion {
        'f' | 'F' => format!("{value:.precision$}"),
        'e' | 'E' => {
            let s = python_exp(value, precision);
            if conversion == 'E' {
                s.to_uppercase()
            } else {
                s
            }
        }
        _ => {
            // %g: exponent form when the exponent is < -4 or >= precision,
            // the exponent of the value rounded to `p` digits (Python's
            // rule). Read from the formatted digits, not with log10: that
            // keeps libm (half a megabyte resident once loaded) out of the
            // daemon.
            let p = precision.max(1);
            let exponent = format!("{value:.prec$e}", prec = p - 1)
                .split_once('e')
                .and_then(|(_, exp)| exp.parse::<i64>().ok())
                .unwrap_or(0);
            let mut s = if exponent < -4 || exponent >= p as i64 {
                python_exp(value, p - 1)
            } else {
                let decimals = (p as i64 - 1 - exponent).max(0) as usize;
                format!("{value:.decimals$}")
            };
            if !alt {
                s = strip_g_zeros(&s);
            }
            if conversion == 'G' {
                s.to_uppercase()
            } else {
                s
            }
        }
    }
}

fn python_exp(value: f64, precision: usize) -> String {
    let s = format!("{value:.precision$e}");
    match s.split_once('e') {
        Some((mantissa, exp)) => {
            let (sign, digits) = match exp.strip_prefix('-') {
                Some(d) => ('-', d),
                None => ('+', exp),
            };
            format!("{mantissa}e{sign}{digits:0>2}")
        }
        None => s,
    }
}

fn strip_g_zeros(s: &str) -> String {
    let (mantissa, exponent) = match s.find('e') {
        Some(at) => (&s[..at], &s[at..]),
        None => (s, ""),
    };
    let mantissa = if mantissa.contains('.') {
        mantissa.trim_end_matches('0').trim_end_matches('.')
    } else {
        mantissa
    };
    format!("{mantissa}{exponent}")
}

fn pad(out: &mut String, text: &str, spec: &Spec, _numeric: bool) {
    let len = text.chars().count();
    let width = spec.width.unwrap_or(0);
    if len >= width {
        out.push_str(text);
    } else if spec.left {
        out.push_str(text);
        out.extend(std::iter::repeat_n(' ', width - len));
    } else {
        out.extend(std::iter::repeat_n(' ', width - len));
        out.push_str(text);
    }
}

fn pad_number(out: &mut String, sign: &str, prefix: &str, digits: &str, spec: &Spec) {
    let len = sign.len() + prefix.len() + digits.len();
    let width = spec.width.unwrap_or(0);
    if len >= width {
        out.push_str(sign);
        out.push_str(prefix);
        out.push_str(digits);
    } else if spec.left {
        out.push_str(sign);
        out.push_str(prefix);
        out.push_str(digits);
        out.extend(std::iter::repeat_n(' ', width - len));
    } else if spec.zero {
        out.push_str(sign);
        out.push_str(prefix);
        out.extend(std::iter::repeat_n('0', width - len));
        out.push_str(digits);
    } else {
        out.extend(std::iter::repeat_n(' ', width - len));
        out.push_str(sign);
        out.push_str(prefix);
        out.push_str(digits);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names() -> Expansions {
        let mut n = Expansions::new();
        n.insert("a".into(), ExpValue::Str("x".into()));
        n.insert("n".into(), ExpValue::Int(42));
        n.insert("neg".into(), ExpValue::Int(-7));
        n
    }

    fn ok(t: &str) -> String {
        expand(t, &names()).unwrap()
    }

    fn err(t: &str) -> String {
        match expand(t, &names()).unwrap_err() {
            ExpandError::BadFormat(m) => m,
            ExpandError::UnknownName(n) => format!("unknown {n}"),
        }
    }

    // Expected values were produced by Python 3.11 (`t % d`).
    #[test]
    fn conversions_flags_width_precision() {
        assert_eq!(ok("%(n)05.2f"), "42.00");
        assert_eq!(ok("%(n)x"), "2a");
        assert_eq!(ok("%(n)02d"), "42");
        assert_eq!(ok("%(n)04d"), "0042");
        assert_eq!(ok("%(neg)04d"), "-007");
        assert_eq!(ok("%(n)c"), "*");
        assert_eq!(ok("%(a)c"), "x");
        assert_eq!(ok("%(a)r"), "'x'");
        assert_eq!(ok("%(n)#o"), "0o52");
        assert_eq!(ok("%(n)+d"), "+42");
        assert_eq!(ok("%(n)ld"), "42");
        assert_eq!(ok("%(a)-5s|"), "x    |");
        assert_eq!(ok("%(a)5s|"), "    x|");
        assert_eq!(ok("%(a).1s"), "x");
        assert_eq!(ok("%(n)e"), "4.200000e+01");
        assert_eq!(ok("%(n)g"), "42");
        assert_eq!(ok("%(n).1g"), "4e+01");
        assert_eq!(ok("%(n).2g|%(neg)g"), "42|-7");
        assert_eq!(ok("%(n)#.4G"), "42.00");
        assert_eq!(ok("%(n)s-%(n)r"), "42-42");
        assert_eq!(ok("100%% %(a)s"), "100% x");
        assert_eq!(ok("no percent"), "no percent");
    }

    #[test]
    fn errors_use_pythons_text() {
        assert_eq!(err("%(a)s%"), "incomplete format");
        assert_eq!(err("%(a"), "incomplete format key");
        assert_eq!(
            err("%(a)z"),
            "unsupported format character 'z' (0x7a) at index 4"
        );
        assert_eq!(
            err("%5%"),
            "unsupported format character '%' (0x25) at index 2"
        );
        assert_eq!(
            err("%(a)d"),
            "%d format: a real number is required, not str"
        );
        assert_eq!(
            err("%(a)i"),
            "%i format: a real number is required, not str"
        );
        assert_eq!(err("%(a)x"), "%x format: an integer is required, not str");
        assert_eq!(err("%(a)s %s"), "not enough arguments for format string");
        assert_eq!(err("%(n)*d"), "not enough arguments for format string");
        assert_eq!(err("%*d"), "* wants int");
        assert_eq!(err("%(nope)s"), "unknown nope");
    }

    #[test]
    fn unnamed_specifier_gets_the_whole_dict() {
        assert_eq!(ok("%s"), "{'a': 'x', 'n': 42, 'neg': -7}");
    }
}
