//! Parsing and formatting helpers: durations, sizes, headers, body templates.

use std::time::Duration;

use rnats::HeaderMap;
use time::OffsetDateTime;

use crate::error::{usage, Result};

/// Parses `250ms`, `5s`, `2m`, `1h`, `1h30m`, `1.5s` or a bare number of seconds.
pub(crate) fn parse_duration(text: &str) -> std::result::Result<Duration, String> {
    let text = text.trim();
    let bad = || format!("invalid duration {text:?} (examples: 500ms, 5s, 2m, 1h30m)");
    if text.is_empty() {
        return Err(bad());
    }
    if let Ok(secs) = text.parse::<f64>() {
        return Duration::try_from_secs_f64(secs).map_err(|_| bad());
    }
    let mut total = 0f64;
    let mut rest = text;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(bad)?;
        if num_len == 0 {
            return Err(bad());
        }
        let value: f64 = rest[..num_len].parse().map_err(|_| bad())?;
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let scale = match &rest[..unit_len] {
            "ns" => 1e-9,
            "us" | "µs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            "d" => 86400.0,
            _ => return Err(bad()),
        };
        total += value * scale;
        rest = &rest[unit_len..];
    }
    Duration::try_from_secs_f64(total).map_err(|_| bad())
}

/// Parses a byte size: `512`, `1KB`/`1KiB`/`1K` (1024), `10MB`, `2GB`, `1TB`.
pub(crate) fn parse_size(text: &str) -> std::result::Result<u64, String> {
    let t = text.trim();
    let bad = || format!("invalid size {text:?} (examples: 128, 1KB, 10MiB, 2G)");
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let value: u64 = t[..split].parse().map_err(|_| bad())?;
    let scale: u64 = match t[split..].trim().to_ascii_uppercase().as_str() {
        "" | "B" => 1,
        "K" | "KB" | "KIB" => 1 << 10,
        "M" | "MB" | "MIB" => 1 << 20,
        "G" | "GB" | "GIB" => 1 << 30,
        "T" | "TB" | "TIB" => 1 << 40,
        _ => return Err(bad()),
    };
    value.checked_mul(scale).ok_or_else(bad)
}

/// `1,234,567`.
pub(crate) fn count(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `0 B`, `512 B`, `1.5 KiB`, `10 MiB`.
pub(crate) fn bytes(n: u64) -> String {
    const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// A limit that may be unlimited (`-1` or `0` by JetStream convention).
pub(crate) fn limit(n: i64, fmt: fn(u64) -> String) -> String {
    if n <= 0 {
        "unlimited".into()
    } else {
        fmt(n.unsigned_abs())
    }
}

/// `1.23ms`, `5s`, `2m30s`, `1h`, `3d4h`.
pub(crate) fn duration(d: Duration) -> String {
    let secs = d.as_secs();
    if d.is_zero() {
        return "0s".into();
    }
    if secs == 0 {
        let micros = d.as_secs_f64() * 1e6;
        return if micros < 1000.0 {
            format!("{micros:.0}µs")
        } else {
            format!("{:.2}ms", micros / 1000.0)
        };
    }
    if secs < 60 {
        let s = d.as_secs_f64();
        return if s.fract() < 0.005 {
            format!("{secs}s")
        } else {
            format!("{s:.2}s")
        };
    }
    let (days, hours, mins, s) = (secs / 86400, secs / 3600 % 24, secs / 60 % 60, secs % 60);
    let mut out = String::new();
    for (v, unit) in [(days, "d"), (hours, "h"), (mins, "m"), (s, "s")] {
        if v > 0 {
            out.push_str(&format!("{v}{unit}"));
        }
    }
    out
}

/// A duration limit where zero means none.
pub(crate) fn duration_limit(d: Duration) -> String {
    if d.is_zero() {
        "unlimited".into()
    } else {
        duration(d)
    }
}

/// RFC 3339 with seconds (`2024-01-02T03:04:05Z`).
pub(crate) fn timestamp(t: OffsetDateTime) -> String {
    let t = t.replace_nanosecond(0).unwrap_or(t);
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| t.to_string())
}

/// How long ago `t` was, or `never` for the zero time.
pub(crate) fn age(t: OffsetDateTime) -> String {
    if t.unix_timestamp() <= 0 {
        return "never".into();
    }
    let elapsed = OffsetDateTime::now_utc() - t;
    let d = Duration::try_from(elapsed).unwrap_or_default();
    format!("{} ago", duration(Duration::from_secs(d.as_secs())))
}

/// Parses `--header K:V` flags.
pub(crate) fn headers(flags: &[String]) -> Result<Option<HeaderMap>> {
    if flags.is_empty() {
        return Ok(None);
    }
    let mut map = HeaderMap::new();
    for flag in flags {
        let Some((k, v)) = flag.split_once(':') else {
            return Err(usage(
                format!("invalid header {flag:?}"),
                "write headers as NAME:VALUE",
            ));
        };
        let (k, v) = (k.trim(), v.trim());
        if k.is_empty() || k.contains(|c: char| c.is_whitespace() || c.is_control()) {
            return Err(usage(
                format!("invalid header name {k:?}"),
                "header names have no spaces",
            ));
        }
        if v.contains(['\r', '\n']) {
            return Err(usage(
                format!("invalid value for header {k:?}"),
                "header values are one line",
            ));
        }
        map.append(k, v);
    }
    Ok(Some(map))
}

/// Fills a body template: `{{Count}}` (the message's number, from 1), `{{Time}}` (HH:MM:SS),
/// `{{TimeStamp}}` (RFC 3339), `{{Unix}}`, `{{UnixNano}}`, `{{ID}}` (a random 22-character
/// id), `{{Random MIN MAX}}` (a number in that range), and for replies `{{Request}}`.
/// Anything else is left as written.
pub(crate) fn render(template: &[u8], count: u64, request: Option<&[u8]>) -> Vec<u8> {
    if !template.windows(2).any(|w| w == b"{{") {
        return template.to_vec();
    }
    let now = OffsetDateTime::now_utc();
    let mut out = Vec::with_capacity(template.len() + 16);
    let mut rest = template;
    while let Some(start) = find(rest, b"{{") {
        out.extend_from_slice(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = find(after, b"}}") else {
            out.extend_from_slice(&rest[start..]);
            return out;
        };
        let name = String::from_utf8_lossy(&after[..end]);
        let name = name.trim().trim_start_matches('.');
        let value: Option<Vec<u8>> = match name {
            "Count" | "Cnt" => Some(count.to_string().into_bytes()),
            "Time" => Some(
                format!("{:02}:{:02}:{:02}", now.hour(), now.minute(), now.second()).into_bytes(),
            ),
            "TimeStamp" => Some(
                now.format(&time::format_description::well_known::Rfc3339)
                    .unwrap_or_default()
                    .into_bytes(),
            ),
            "Unix" => Some(now.unix_timestamp().to_string().into_bytes()),
            "UnixNano" => Some(now.unix_timestamp_nanos().to_string().into_bytes()),
            "Request" => request.map(<[u8]>::to_vec),
            "ID" => {
                use rand::Rng;
                let id: String = rand::thread_rng()
                    .sample_iter(rand::distributions::Alphanumeric)
                    .take(22)
                    .map(char::from)
                    .collect();
                Some(id.into_bytes())
            }
            other => random(other),
        };
        match value {
            Some(v) => out.extend_from_slice(&v),
            None => out.extend_from_slice(&rest[start..start + 2 + end + 2]),
        }
        rest = &after[end + 2..];
    }
    out.extend_from_slice(rest);
    out
}

/// `Random MIN MAX`: a number from MIN to MAX inclusive (either order).
fn random(expr: &str) -> Option<Vec<u8>> {
    use rand::Rng;
    let mut parts = expr.split_whitespace();
    if parts.next() != Some("Random") {
        return None;
    }
    let a: i64 = parts.next()?.parse().ok()?;
    let b: i64 = parts.next()?.parse().ok()?;
    if parts.next().is_some() {
        return None;
    }
    let n = rand::thread_rng().gen_range(a.min(b)..=a.max(b));
    Some(n.to_string().into_bytes())
}

/// The first position of `needle` in `hay`.
fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// The payload as text for humans (invalid UTF-8 replaced).
pub(crate) fn text(payload: &[u8]) -> String {
    String::from_utf8_lossy(payload).into_owned()
}

/// The payload for JSON: a string when UTF-8, else base64 under `data_base64`.
pub(crate) fn json_payload(obj: &mut serde_json::Map<String, serde_json::Value>, payload: &[u8]) {
    use base64::Engine;
    match std::str::from_utf8(payload) {
        Ok(s) => {
            obj.insert("data".into(), s.into());
        }
        Err(_) => {
            obj.insert(
                "data_base64".into(),
                base64::engine::general_purpose::STANDARD
                    .encode(payload)
                    .into(),
            );
        }
    }
}

/// Headers as a JSON object of arrays.
pub(crate) fn json_headers(headers: Option<&HeaderMap>) -> serde_json::Value {
    let mut obj = serde_json::Map::new();
    if let Some(h) = headers {
        for (k, v) in h.iter() {
            let entry = obj
                .entry(k.to_owned())
                .or_insert_with(|| serde_json::Value::Array(Vec::new()));
            if let serde_json::Value::Array(a) = entry {
                a.push(v.into());
            }
        }
    }
    serde_json::Value::Object(obj)
}

/// Reads all of stdin.
pub(crate) async fn read_stdin() -> Result<Vec<u8>> {
    use tokio::io::AsyncReadExt;
    let mut buf = Vec::new();
    tokio::io::stdin().read_to_end(&mut buf).await?;
    Ok(buf)
}

/// The body given, or stdin when it is not a terminal, or nothing.
pub(crate) async fn body_or_stdin(body: Option<String>) -> Result<Vec<u8>> {
    use std::io::IsTerminal;
    match body {
        Some(b) => Ok(b.into_bytes()),
        None if !std::io::stdin().is_terminal() => read_stdin().await,
        None => Ok(Vec::new()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse() {
        assert_eq!(parse_duration("5s"), Ok(Duration::from_secs(5)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("2"), Ok(Duration::from_secs(2)));
        assert!(parse_duration("x").is_err());
        assert!(parse_duration("5 parsecs").is_err());
        assert!(parse_duration("-1").is_err());
    }

    #[test]
    fn sizes_parse() {
        assert_eq!(parse_size("128"), Ok(128));
        assert_eq!(parse_size("1KB"), Ok(1024));
        assert_eq!(parse_size("10MiB"), Ok(10 << 20));
        assert!(parse_size("1XB").is_err());
        assert!(parse_size("99999999999999999999").is_err());
    }

    #[test]
    fn formats() {
        assert_eq!(count(1_234_567), "1,234,567");
        assert_eq!(count(12), "12");
        assert_eq!(bytes(512), "512 B");
        assert_eq!(bytes(1536), "1.5 KiB");
        assert_eq!(duration(Duration::from_secs(90)), "1m30s");
        assert_eq!(duration(Duration::from_micros(1500)), "1.50ms");
    }

    #[test]
    fn templates() {
        assert_eq!(render(b"n={{Count}}", 7, None), b"n=7");
        assert_eq!(render(b"{{ .Count }}{{Nope}}", 1, None), b"1{{Nope}}");
        assert_eq!(render(b"echo {{Request}}", 1, Some(b"hi")), b"echo hi");
        assert_eq!(render(b"open {{", 1, None), b"open {{");
        assert_eq!(render(b"{{Random 7 7}}", 1, None), b"7");
        let n: i64 = String::from_utf8(render(b"{{ Random 10 1 }}", 1, None))
            .unwrap()
            .parse()
            .unwrap();
        assert!((1..=10).contains(&n));
        assert_eq!(render(b"{{Random x 1}}", 1, None), b"{{Random x 1}}");
        assert_eq!(render(b"{{ID}}", 1, None).len(), 22);
    }

    #[test]
    fn header_flags() {
        let h = headers(&["A: 1".into(), "A:2".into()]).unwrap().unwrap();
        assert_eq!(h.get_all("A").collect::<Vec<_>>(), ["1", "2"]);
        assert!(headers(&["nocolon".into()]).is_err());
    }
}
