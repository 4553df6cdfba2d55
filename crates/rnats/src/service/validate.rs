//! The naming rules of ADR-32: service and endpoint names, SemVer versions, group prefixes
//! and endpoint subjects. Every refusal is an [`ErrorKind::InvalidArgument`] error that names
//! the rule broken.

use crate::{Error, ErrorKind};

/// True for a name of `A-Z`, `a-z`, `0-9`, `-` and `_`, at least one character.
fn is_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// A service's name (`^[A-Za-z0-9\-_]+$`).
pub(crate) fn service_name(name: &str) -> Result<(), Error> {
    if is_name(name) {
        Ok(())
    } else {
        Err(Error::new(
            ErrorKind::InvalidArgument,
            format!(
                "invalid service name {name:?}: it must be one or more of A-Z, a-z, 0-9, '-' and '_'"
            ),
        ))
    }
}

/// An endpoint's name (`^[A-Za-z0-9\-_]+$`, as the micro v1 schemas require).
pub(crate) fn endpoint_name(name: &str) -> Result<(), Error> {
    if is_name(name) {
        Ok(())
    } else {
        Err(Error::new(
            ErrorKind::InvalidArgument,
            format!(
                "invalid endpoint name {name:?}: it must be one or more of A-Z, a-z, 0-9, '-' and '_'"
            ),
        ))
    }
}

/// A service's version: SemVer 2.0.0, the grammar of semver.org's suggested regular
/// expression.
pub(crate) fn version(version: &str) -> Result<(), Error> {
    match semver_problem(version) {
        None => Ok(()),
        Some(problem) => Err(Error::new(
            ErrorKind::InvalidArgument,
            format!(
                "invalid service version {version:?}: not SemVer (MAJOR.MINOR.PATCH[-PRERELEASE][+BUILD]): {problem}"
            ),
        )),
    }
}

/// What breaks SemVer in `v`, or `None` when it is valid.
fn semver_problem(v: &str) -> Option<&'static str> {
    let (rest, build) = match v.split_once('+') {
        Some((rest, build)) => (rest, Some(build)),
        None => (v, None),
    };
    let (core, pre) = match rest.split_once('-') {
        Some((core, pre)) => (core, Some(pre)),
        None => (rest, None),
    };
    let parts: Vec<&str> = core.split('.').collect();
    if parts.len() != 3 {
        return Some("the version core must be three numbers separated by dots");
    }
    for part in parts {
        if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) {
            return Some("MAJOR, MINOR and PATCH must be numbers");
        }
        if part.len() > 1 && part.starts_with('0') {
            return Some("MAJOR, MINOR and PATCH must not have leading zeros");
        }
    }
    if let Some(pre) = pre {
        for id in pre.split('.') {
            if id.is_empty() || !id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
                return Some("pre-release identifiers must be non-empty [0-9A-Za-z-]");
            }
            if id.len() > 1 && id.starts_with('0') && id.bytes().all(|b| b.is_ascii_digit()) {
                return Some("numeric pre-release identifiers must not have leading zeros");
            }
        }
    }
    if let Some(build) = build {
        for id in build.split('.') {
            if id.is_empty() || !id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
                return Some("build identifiers must be non-empty [0-9A-Za-z-]");
            }
        }
    }
    None
}

/// A group's name: a subject prefix, so no `>` and no whitespace, and not empty.
pub(crate) fn group_name(name: &str) -> Result<(), Error> {
    if name.is_empty()
        || name.contains('>')
        || name.bytes().any(|b| b.is_ascii_whitespace())
        || name.split('.').any(str::is_empty)
    {
        return Err(Error::new(
            ErrorKind::InvalidArgument,
            format!(
                "invalid group name {name:?}: it is a subject prefix, so it must be non-empty tokens separated by dots, without whitespace or '>'"
            ),
        ));
    }
    Ok(())
}

/// The discovery prefix (`$SRV` by default): literal subject tokens, no wildcards.
pub(crate) fn api_prefix(prefix: &str) -> Result<(), Error> {
    if prefix.is_empty()
        || prefix
            .split('.')
            .any(|t| t.is_empty() || t == "*" || t == ">")
        || prefix.bytes().any(|b| b.is_ascii_whitespace())
    {
        return Err(Error::new(
            ErrorKind::InvalidArgument,
            format!(
                "invalid discovery prefix {prefix:?}: it must be non-empty literal subject tokens separated by dots, without wildcards or whitespace"
            ),
        ));
    }
    Ok(())
}

/// An endpoint's subject (after the group prefix): `^[^ >]*[>]?$` as in nats.go, plus the
/// subscription rules the server enforces (checked when subscribing).
pub(crate) fn endpoint_subject(subject: &str) -> Result<(), Error> {
    let body = subject.strip_suffix('>').unwrap_or(subject);
    if subject.is_empty() || body.contains('>') || subject.bytes().any(|b| b.is_ascii_whitespace())
    {
        return Err(Error::new(
            ErrorKind::InvalidArgument,
            format!(
                "invalid endpoint subject {subject:?}: it must be non-empty, without whitespace, and '>' only as its last token"
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn semver_accepts_and_refuses() {
        for ok in [
            "0.0.0",
            "1.0.0",
            "10.20.30",
            "1.1.2-prerelease+meta",
            "1.0.0-alpha",
            "1.0.0-alpha.beta.1",
            "1.0.0-alpha.0valid",
            "1.0.0-rc.1+build.1",
            "1.2.3----RC-SNAPSHOT.12.9.1--.12+788",
            "2.0.0+build.1848",
            "1.0.0-0A.is.legal",
        ] {
            assert!(version(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "1",
            "1.2",
            "1.2.3.4",
            "01.1.1",
            "1.01.1",
            "1.1.01",
            "1.2.3-0123",
            "1.2.3-",
            "1.2.3+",
            "1.2.3-a..b",
            "1.2.3+a..b",
            "1.2.3-a$",
            "v1.2.3",
            " 1.2.3",
            "1.2.x",
            "1.2.3+meta+meta",
        ] {
            let err = version(bad).expect_err(bad);
            assert!(err.is_invalid_argument());
            assert!(err.to_string().contains("not SemVer"), "{err}");
        }
    }

    #[test]
    fn names() {
        assert!(service_name("demo-svc_1").is_ok());
        for bad in ["", "a b", "a.b", "a*", "ä"] {
            let err = service_name(bad).expect_err(bad);
            assert!(err.to_string().contains("A-Z, a-z, 0-9"), "{err}");
        }
        assert!(endpoint_name("x").is_ok());
        assert!(endpoint_name("x.y").is_err());
        assert!(group_name("a.b").is_ok());
        for bad in ["", "a.>", "a b", "a..b", ".a"] {
            assert!(group_name(bad).is_err(), "{bad}");
        }
        assert!(api_prefix("$SRV").is_ok());
        assert!(api_prefix("$Custom.Srv").is_ok());
        for bad in ["", "a.*", ">", "a..b", "a b"] {
            assert!(api_prefix(bad).is_err(), "{bad}");
        }
        assert!(endpoint_subject("a.*.b").is_ok());
        assert!(endpoint_subject("a.>").is_ok());
        for bad in ["", "a.>.b", "a b"] {
            assert!(endpoint_subject(bad).is_err(), "{bad}");
        }
    }
}
