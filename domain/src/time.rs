//! ISO-8601 timestamps without a clock or a date library: the export
//! writer stamps manifests with them, and tests generate S3 event times.
//! The responder turns a manifest's time into `Last-Modified`.

/// `1970-01-01T00:00:00.000Z` for milliseconds since the Unix epoch.
pub fn iso8601_millis(ms: u64) -> String {
    let secs = (ms / 1000) as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        ms % 1000
    )
}

/// Milliseconds since the Unix epoch of a UTC time as [`iso8601_millis`]
/// writes it (`YYYY-MM-DDTHH:MM:SS[.fff]Z`); `None` for anything else.
pub fn parse_iso8601_millis(s: &str) -> Option<u64> {
    let b = s.as_bytes();
    let num = |from: usize, len: usize| -> Option<i64> {
        let part = s.get(from..from + len)?;
        part.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| part.parse().ok())?
    };
    if b.len() < 20
        || b[4] != b'-'
        || b[7] != b'-'
        || b[10] != b'T'
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let (year, month, day) = (num(0, 4)?, num(5, 2)?, num(8, 2)?);
    let (hour, minute, second) = (num(11, 2)?, num(14, 2)?, num(17, 2)?);
    let millis = match &s[19..] {
        "Z" => 0,
        rest => {
            let digits = rest.strip_prefix('.')?.strip_suffix('Z')?;
            if digits.is_empty() || digits.len() > 9 || !digits.bytes().all(|c| c.is_ascii_digit())
            {
                return None;
            }
            format!("{digits:0<3}")[..3].parse::<i64>().ok()?
        }
    };
    if !(1..=12).contains(&month)
        || !(1..=31).contains(&day)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    // Days since 1970-01-01 from the civil date (Howard Hinnant's algorithm).
    let y = year - i64::from(month <= 2);
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = days * 86_400 + hour * 3600 + minute * 60 + second;
    u64::try_from(secs * 1000 + millis).ok()
}

/// An HTTP date (`Last-Modified`) for milliseconds since the Unix epoch.
pub fn http_date(ms: u64) -> String {
    httpdate::fmt_http_date(std::time::UNIX_EPOCH + std::time::Duration::from_millis(ms))
}

#[cfg(test)]
mod tests {
    #[test]
    fn known_instants() {
        assert_eq!(super::iso8601_millis(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(
            super::iso8601_millis(951_782_400_123),
            "2000-02-29T00:00:00.123Z"
        );
        assert_eq!(
            super::iso8601_millis(1_700_000_000_000),
            "2023-11-14T22:13:20.000Z"
        );
    }

    #[test]
    fn parsing_inverts_writing_and_refuses_the_rest() {
        for ms in [0, 951_782_400_123, 1_700_000_000_000, 4_102_444_799_999] {
            let s = super::iso8601_millis(ms);
            assert_eq!(super::parse_iso8601_millis(&s), Some(ms), "{s}");
        }
        assert_eq!(
            super::parse_iso8601_millis("2026-11-24T10:00:00Z"),
            Some(1_795_514_400_000)
        );
        for bad in [
            "",
            "2026-11-24",
            "2026-13-01T00:00:00Z",
            "2026-11-24T10:00:00+01:00",
            "2026-11-24T10:00:00.Z",
            "٢٠٢٦-11-24T10:00:00Z",
        ] {
            assert_eq!(super::parse_iso8601_millis(bad), None, "{bad}");
        }
        assert_eq!(
            super::http_date(1_700_000_000_000),
            "Tue, 14 Nov 2023 22:13:20 GMT"
        );
    }
}
