//! Numbers for people: thousands grouped, and no more decimals than a reader uses
//! (hours over 100 are whole hours, averages over 1 keep one decimal).

/// `value` with its thousands grouped by commas and `decimals` decimals:
/// `grouped(-1234567.46, 1)` is "-1,234,567.5".
pub fn grouped(value: f64, decimals: usize) -> String {
    let text = format!("{:.*}", decimals, value.abs());
    let (whole, fraction) = match text.split_once('.') {
        Some((whole, fraction)) => (whole, Some(fraction)),
        None => (text.as_str(), None),
    };
    let mut out = String::new();
    if value < 0.0 && text.chars().any(|c| c.is_ascii_digit() && c != '0') {
        out.push('-');
    }
    for (i, digit) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(digit);
    }
    if let Some(fraction) = fraction {
        out.push('.');
        out.push_str(fraction);
    }
    out
}

/// A number as a warehouse returned it (`1234567`, `73.3333`), for a person: whole
/// numbers grouped; others to 0 decimals from 100 on, 1 from 1 on, else 2. Text that
/// is not a number is returned as it is.
pub fn for_people(text: &str) -> String {
    let Ok(value) = text.parse::<f64>() else {
        return text.to_string();
    };
    if !value.is_finite() {
        return text.to_string();
    }
    let decimals = if value.fract() == 0.0 || value.abs() >= 100.0 {
        0
    } else if value.abs() >= 1.0 {
        1
    } else {
        2
    };
    grouped(value, decimals)
}

/// Whether a column holds numbers to format for people: not an identifier (Helix's
/// ids are digits, and `41002873` is no quantity) nor a signed change (`+3`).
pub fn is_quantity(column: &str) -> bool {
    !(column.ends_with("_id") || column == "id" || column.ends_with("_change"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_are_grouped_and_signs_kept() {
        assert_eq!(grouped(1_234_567.4, 0), "1,234,567");
        assert_eq!(grouped(12.0, 0), "12");
        assert_eq!(grouped(-123.0, 0), "-123");
        assert_eq!(grouped(-1_234_567.46, 1), "-1,234,567.5");
        assert_eq!(grouped(-0.04, 1), "0.0");
        assert_eq!(grouped(999_999.96, 1), "1,000,000.0");
    }

    #[test]
    fn decimals_follow_the_size_of_the_number() {
        assert_eq!(for_people("1234567"), "1,234,567");
        assert_eq!(for_people("55443.25"), "55,443");
        assert_eq!(for_people("73.3333"), "73.3");
        assert_eq!(for_people("0.214286"), "0.21");
        assert_eq!(for_people("-90"), "-90");
        assert_eq!(for_people("2026-12-01"), "2026-12-01");
        assert_eq!(for_people("new"), "new");
        assert_eq!(for_people("NaN"), "NaN");
    }
}
