//! Names people type (display names, device names): what the server stores and shows others;
//! and the one way times are written for people ([`iso8601`]).
//!
//! A name is shown in the console, in audit exports and in breach reports, so it must not be
//! able to hide or reorder text around it: control characters (NUL, newlines, escapes) and the
//! Unicode bidirectional embedding/override/isolate controls (the "Trojan Source" characters)
//! are refused. Letters of every script, marks, and the plain left-to-right/right-to-left marks
//! that names in Arabic or Hebrew use stay allowed.

/// Longest name, in bytes of UTF-8.
pub const MAX_NAME_BYTES: usize = 200;

/// Why a name is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    /// Empty after trimming (when a name is required).
    #[error("must not be empty")]
    Empty,
    /// Longer than [`MAX_NAME_BYTES`].
    #[error("must be at most {MAX_NAME_BYTES} bytes")]
    TooLong,
    /// A control or bidirectional-override character.
    #[error("must not contain control or bidirectional-override characters (found U+{0:04X})")]
    Forbidden(u32),
}

fn forbidden(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
        || matches!(c, '\u{FFF9}'..='\u{FFFB}')
}

/// The trimmed name, or why it is refused. `required`: empty is refused.
pub fn clean_name(s: &str, required: bool) -> Result<&str, NameError> {
    let t = s.trim();
    if required && t.is_empty() {
        return Err(NameError::Empty);
    }
    if t.len() > MAX_NAME_BYTES {
        return Err(NameError::TooLong);
    }
    if let Some(c) = t.chars().find(|c| forbidden(*c)) {
        return Err(NameError::Forbidden(u32::from(c)));
    }
    Ok(t)
}

/// UTC ISO 8601 of a time in ms (days-from-civil inverse, proleptic Gregorian).
pub fn iso8601(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        ms.rem_euclid(1000)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_of_every_script_pass_and_hiding_characters_do_not() {
        for ok in ["Dr. Ana Müller", "محمد\u{200F} العلي", "李小龍", "  Zoë  "] {
            assert!(clean_name(ok, true).is_ok(), "{ok:?}");
        }
        assert_eq!(clean_name("  Zoë ", true), Ok("Zoë"));
        assert_eq!(clean_name(" ", true), Err(NameError::Empty));
        assert_eq!(clean_name("", false), Ok(""));
        assert_eq!(clean_name(&"x".repeat(201), true), Err(NameError::TooLong));
        for (bad, cp) in [
            ("Ann\0a", 0),
            ("Ann\na", 0x0A),
            ("evil\u{202E}gpj.exe", 0x202E),
            ("a\u{2066}b", 0x2066),
            ("a\u{1B}[31m", 0x1B),
            ("a\u{85}b", 0x85),
        ] {
            assert_eq!(
                clean_name(bad, true),
                Err(NameError::Forbidden(cp)),
                "{bad:?}"
            );
        }
    }
}
