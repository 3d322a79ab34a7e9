//! Durations on the command line: an integer followed by a unit, such as `500ms`, `30s`, `2m` or `1h`.
//!
//! A tiny parser instead of the `humantime` crate: four units cover every timeout the CLI takes, and the
//! parser is shorter than the dependency's review.

use std::time::Duration;

/// Parses `500ms`, `30s`, `2m`, `1h` (an integer and one unit; no unit, fractions or sign).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let expected = "expected an integer and a unit: ms, s, m or h (e.g. 500ms, 30s, 2m)";
    if number.is_empty() {
        return Err(format!("invalid duration `{text}`: {expected}"));
    }
    let n: u64 = number
        .parse()
        .map_err(|_| format!("invalid duration `{text}`: the number is too large"))?;
    let per_unit = match unit {
        "ms" => 1,
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        _ => return Err(format!("invalid duration `{text}`: {expected}")),
    };
    n.checked_mul(per_unit)
        .map(Duration::from_millis)
        .ok_or_else(|| format!("invalid duration `{text}`: too long"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_each_unit() {
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse_duration("0s"), Ok(Duration::ZERO));
    }

    #[test]
    fn rejects_what_is_not_a_duration() {
        for bad in [
            "",
            "s",
            "30",
            "1.5s",
            "-1s",
            "10 parsecs",
            "3d",
            "99999999999999999999s",
        ] {
            let err = parse_duration(bad).unwrap_err();
            assert!(err.starts_with("invalid duration"), "{bad}: {err}");
        }
        assert!(
            parse_duration("18446744073709551615h")
                .unwrap_err()
                .contains("too long")
        );
    }
}
