//! Parsers for numeric options that refuse impossible values at parse time
//! (`--expect-fps 0`, `-j 0`, a negative tolerance), with the usage error
//! naming the option.

/// A finite number above zero.
pub fn positive(text: &str) -> Result<f64, String> {
    let value = number(text)?;
    if value > 0.0 { Ok(value) } else { Err(format!("must be above 0, got {value}")) }
}

/// A finite number, zero or above.
pub fn non_negative(text: &str) -> Result<f64, String> {
    let value = number(text)?;
    if value >= 0.0 { Ok(value) } else { Err(format!("must not be negative, got {value}")) }
}

/// A whole number from 1.
pub fn count(text: &str) -> Result<usize, String> {
    match text.trim().parse::<i128>() {
        Ok(n) if n >= 1 => usize::try_from(n).map_err(|_| format!("{n} is too large")),
        Ok(n) => Err(format!("must be 1 or more, got {n}")),
        Err(_) => Err(format!("{text:?} is not a whole number")),
    }
}

/// A whole number from 1, as u64.
pub fn count_u64(text: &str) -> Result<u64, String> {
    count(text).map(|n| n as u64)
}

fn number(text: &str) -> Result<f64, String> {
    let value: f64 = text.trim().parse().map_err(|_| format!("{text:?} is not a number"))?;
    if value.is_finite() { Ok(value) } else { Err(format!("must be a finite number, got {text}")) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn impossible_values_are_refused() {
        assert!(positive("0").is_err());
        assert!(positive("-1").is_err());
        assert!(positive("nan").is_err());
        assert!(positive("inf").is_err());
        assert_eq!(positive("23.976"), Ok(23.976));
        assert!(non_negative("-0.5").is_err());
        assert_eq!(non_negative("0"), Ok(0.0));
        assert!(count("0").is_err());
        assert!(count("-3").is_err());
        assert_eq!(count("4"), Ok(4));
    }
}
