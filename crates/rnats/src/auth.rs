//! Authentication: what the client proves to the server in `CONNECT`.
//!
//! User/password and tokens go as they are; NKeys and JWTs sign the server's nonce (INFO
//! `nonce`) with an Ed25519 seed (spec AUTH-3: `sig` is base64url without padding over the
//! nonce's UTF-8 bytes). Secrets live in [`Secret`] / [`Seed`], which never print and are
//! wiped from memory when dropped.

use std::fmt;
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use rnats_proto::ConnectInfo;
use zeroize::{Zeroize, Zeroizing};

use crate::addr::ServerAddr;
use crate::error::{Error, ErrorKind};
use crate::options::ConnectOptions;

/// The error a user callback may return.
pub(crate) type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;
type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

/// Asked for a token before every connect and reconnect.
pub(crate) type TokenCallback = Arc<dyn Fn() -> BoxFuture<Result<String, BoxError>> + Send + Sync>;
/// Asked for the user name and password before every connect and reconnect.
pub(crate) type UserPasswordCallback =
    Arc<dyn Fn() -> BoxFuture<Result<(String, String), BoxError>> + Send + Sync>;
/// Asked for the user JWT before every connect and reconnect.
pub(crate) type JwtCallback = Arc<dyn Fn() -> BoxFuture<Result<String, BoxError>> + Send + Sync>;
/// Signs the server nonce: raw nonce bytes in, raw Ed25519 signature out.
pub(crate) type SignCallback =
    Arc<dyn Fn(Vec<u8>) -> BoxFuture<Result<Vec<u8>, BoxError>> + Send + Sync>;

/// A secret string (password, token, JWT): never shown by `Debug`, wiped when dropped.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Secret(String);

impl Secret {
    pub(crate) fn new(s: impl Into<String>) -> Self {
        Self(s.into())
    }
    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl Drop for Secret {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// Where the token comes from.
#[derive(Clone)]
pub(crate) enum TokenSource {
    Static(Secret),
    Callback(TokenCallback),
}

impl fmt::Debug for TokenSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TokenSource::Static(s) => fmt::Debug::fmt(s, f),
            TokenSource::Callback(_) => f.write_str("<token callback>"),
        }
    }
}

/// Key-based authentication: at most one is configured (the last builder call wins), so
/// `nkey` and `jwt` are never both sent.
#[derive(Clone)]
pub(crate) enum KeyAuth {
    /// A bare NKey: send the public key and a signature.
    Nkey(SeedSource),
    /// A user JWT and a signer of the nonce.
    Jwt {
        jwt: JwtSource,
        signer: SignCallback,
    },
    /// A `.creds` document: JWT plus seed.
    Creds(CredsSource),
}

impl fmt::Debug for KeyAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeyAuth::Nkey(SeedSource::Seed(_)) => f.write_str("Nkey(<redacted seed>)"),
            KeyAuth::Nkey(SeedSource::File(p)) => write!(f, "NkeyFile({})", p.display()),
            KeyAuth::Jwt { jwt, .. } => match jwt {
                JwtSource::Static(_) => f.write_str("Jwt(<redacted>, <signer>)"),
                JwtSource::Callback(_) => f.write_str("Jwt(<jwt callback>, <signer>)"),
            },
            KeyAuth::Creds(CredsSource::Text(_)) => f.write_str("Credentials(<redacted>)"),
            KeyAuth::Creds(CredsSource::File(p)) => {
                write!(f, "CredentialsFile({})", p.display())
            }
        }
    }
}

/// An NKey seed, given as a string or read from a file at each connect.
#[derive(Clone)]
pub(crate) enum SeedSource {
    Seed(Secret),
    File(PathBuf),
}

/// A user JWT, given or asked for at each connect.
#[derive(Clone)]
pub(crate) enum JwtSource {
    Static(Secret),
    Callback(JwtCallback),
}

/// A `.creds` document, given or read from a file at each connect (so rotated files are
/// picked up on reconnect).
#[derive(Clone)]
pub(crate) enum CredsSource {
    Text(Secret),
    File(PathBuf),
}

/// Fills the credentials of `ci` for a connection to `addr` whose INFO carried `nonce`.
///
/// Explicit options win over credentials in the URL. Called on every connect and reconnect,
/// so token callbacks, JWT callbacks and files are consulted each time.
pub(crate) async fn fill(
    options: &ConnectOptions,
    addr: &ServerAddr,
    nonce: Option<&str>,
    ci: &mut ConnectInfo,
) -> Result<(), Error> {
    if let Some(f) = &options.user_password_callback {
        let (user, pass) = f().await.map_err(|e| {
            Error::with_source(
                ErrorKind::Authorization,
                "the user/password callback failed",
                e,
            )
        })?;
        ci.user = Some(user);
        ci.pass = Some(pass);
    } else if let (Some(user), Some(pass)) = (&options.user, &options.password) {
        ci.user = Some(user.clone());
        ci.pass = Some(pass.expose().to_owned());
    } else if let Some(token) = &options.token {
        ci.auth_token = Some(match token {
            TokenSource::Static(t) => t.expose().to_owned(),
            TokenSource::Callback(f) => f().await.map_err(|e| {
                Error::with_source(ErrorKind::Authorization, "the token callback failed", e)
            })?,
        });
    } else if options.auth.is_none() {
        if let (Some(user), Some(pass)) = (addr.username(), addr.password()) {
            ci.user = Some(user.to_owned());
            ci.pass = Some(pass.to_owned());
        } else if let Some(token) = addr.username() {
            ci.auth_token = Some(token.to_owned());
        }
    }
    let Some(auth) = &options.auth else {
        return Ok(());
    };
    let nonce = nonce.ok_or_else(|| {
        Error::new(
            ErrorKind::Authorization,
            "the server sent no nonce to sign: it does not support NKey or JWT authentication",
        )
    })?;
    match auth {
        KeyAuth::Nkey(source) => {
            let seed = match source {
                SeedSource::Seed(s) => Zeroizing::new(s.expose().to_owned()),
                SeedSource::File(path) => read_secret_file(path, "NKey seed").await?,
            };
            let seed = seed.trim();
            let (public, sig) = sign_with_seed(seed, nonce.as_bytes())?;
            ci.nkey = Some(public);
            ci.sig = Some(sig);
        }
        KeyAuth::Jwt { jwt, signer } => {
            let jwt = match jwt {
                JwtSource::Static(j) => j.expose().to_owned(),
                JwtSource::Callback(f) => f().await.map_err(|e| {
                    Error::with_source(ErrorKind::Authorization, "the JWT callback failed", e)
                })?,
            };
            let sig = signer(nonce.as_bytes().to_vec()).await.map_err(|e| {
                Error::with_source(ErrorKind::Authorization, "the signing callback failed", e)
            })?;
            ci.jwt = Some(jwt);
            ci.sig = Some(URL_SAFE_NO_PAD.encode(sig));
        }
        KeyAuth::Creds(source) => {
            let text = match source {
                CredsSource::Text(t) => Zeroizing::new(t.expose().to_owned()),
                CredsSource::File(path) => read_secret_file(path, "credentials").await?,
            };
            let creds = parse_creds(&text)?;
            let (_, sig) = sign_with_seed(&creds.seed, nonce.as_bytes())?;
            ci.jwt = Some(creds.jwt.to_string());
            ci.sig = Some(sig);
        }
    }
    Ok(())
}

/// Reads a file holding a secret, off the async runtime's worker, into wiped memory.
async fn read_secret_file(path: &std::path::Path, what: &str) -> Result<Zeroizing<String>, Error> {
    let owned = path.to_path_buf();
    let read = tokio::task::spawn_blocking(move || std::fs::read_to_string(owned))
        .await
        .map_err(|e| Error::with_source(ErrorKind::InvalidArgument, "reading a file failed", e))?;
    read.map(Zeroizing::new).map_err(|e| {
        Error::with_source(
            ErrorKind::InvalidArgument,
            format!("reading the {what} file {} failed", path.display()),
            e,
        )
    })
}

/// Signs `nonce` with the NKey `seed`: the public key and the base64url (no padding)
/// signature. Errors never include the seed.
///
/// The seed is decoded by the `nkeys` crate, then kept only in wiped memory: the 32 seed
/// bytes in a `Zeroizing` array and the signing key in ed25519-dalek's `SigningKey`, which
/// wipes itself on drop (nkeys' own `KeyPair` does not, so it is not used here).
pub(crate) fn sign_with_seed(seed: &str, nonce: &[u8]) -> Result<(String, String), Error> {
    use ed25519_dalek::Signer as _;
    let (prefix, raw) = nkeys::decode_seed(seed).map_err(|_| {
        Error::new(
            ErrorKind::InvalidArgument,
            "invalid NKey seed: it does not decode as an NKey seed (the seed itself is not shown)",
        )
    })?;
    let raw = Zeroizing::new(raw);
    let key = ed25519_dalek::SigningKey::from_bytes(&raw);
    let sig = key.sign(nonce);
    let public = encode_public_key(prefix, key.verifying_key().as_bytes());
    Ok((public, URL_SAFE_NO_PAD.encode(sig.to_bytes())))
}

/// An NKey public key (spec AUTH-2): base32 (no padding) of prefix byte, key and CRC16
/// (XMODEM, little-endian).
fn encode_public_key(prefix: u8, key: &[u8; 32]) -> String {
    let mut raw = Vec::with_capacity(35);
    raw.push(prefix);
    raw.extend_from_slice(key);
    let crc = crc16(&raw);
    raw.extend_from_slice(&crc.to_le_bytes());
    base32_nopad(&raw)
}

/// CRC-16/XMODEM: polynomial 0x1021, initial value 0, no reflection.
fn crc16(data: &[u8]) -> u16 {
    let mut crc: u16 = 0;
    for &b in data {
        crc ^= u16::from(b) << 8;
        for _ in 0..8 {
            crc = if crc & 0x8000 != 0 {
                (crc << 1) ^ 0x1021
            } else {
                crc << 1
            };
        }
    }
    crc
}

/// RFC 4648 base32, standard alphabet, no padding.
fn base32_nopad(data: &[u8]) -> String {
    const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut out = String::with_capacity(data.len().div_ceil(5) * 8);
    let (mut buffer, mut bits) = (0u32, 0u32);
    for &b in data {
        buffer = (buffer << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(char::from(ALPHABET[((buffer >> bits) & 31) as usize]));
        }
    }
    if bits > 0 {
        out.push(char::from(ALPHABET[((buffer << (5 - bits)) & 31) as usize]));
    }
    out
}

/// The two parts of a `.creds` document.
pub(crate) struct Creds<'a> {
    pub(crate) jwt: &'a str,
    pub(crate) seed: Zeroizing<String>,
}

impl fmt::Debug for Creds<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Creds(<redacted>)")
    }
}

/// Parses a `.creds` document (spec AUTH-4): decorated blocks, the first holding the JWT,
/// the second the user seed; failing a seed block, the first line starting `SU`/`SA`/`SO`
/// is the seed. The seed must be a user seed (`SU`).
pub(crate) fn parse_creds(text: &str) -> Result<Creds<'_>, Error> {
    let invalid = |why: &str| {
        Error::new(
            ErrorKind::InvalidArgument,
            format!("invalid credentials: {why}"),
        )
    };
    let is_dashes = |l: &str| l.len() >= 6 && l.starts_with("---") && l.ends_with("---");
    let is_token = |l: &str| {
        !l.is_empty()
            && l.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b'='))
    };
    let lines: Vec<&str> = text.lines().map(str::trim).collect();
    let mut blocks = Vec::new();
    let mut i = 0;
    while i + 2 < lines.len() {
        if is_dashes(lines[i]) && is_token(lines[i + 1]) && is_dashes(lines[i + 2]) {
            blocks.push(lines[i + 1]);
            i += 3;
        } else {
            i += 1;
        }
    }
    let jwt = match blocks.first() {
        Some(jwt) => *jwt,
        None => {
            return Err(invalid(
                "no JWT block (-----BEGIN NATS USER JWT-----) found",
            ))
        }
    };
    let seed = match blocks.get(1) {
        Some(seed) => *seed,
        None => lines
            .iter()
            .find(|l| l.starts_with("SU") || l.starts_with("SA") || l.starts_with("SO"))
            .copied()
            .ok_or_else(|| invalid("no user seed block (-----BEGIN USER NKEY SEED-----) found"))?,
    };
    if !seed.starts_with("SU") {
        return Err(invalid(
            "the seed is not a user seed (it must start with SU)",
        ));
    }
    Ok(Creds {
        jwt,
        seed: Zeroizing::new(seed.to_owned()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEED: &str = "SUAOY5JZ2WJKVR4UO2KJ2P3SW6FZFNWEOIMAXF4WZEUNVQXXUOKGM55CYE";

    #[test]
    fn nonce_signature_matches_the_spec_vector() {
        let (public, sig) = sign_with_seed(SEED, b"test-nonce").unwrap();
        assert_eq!(
            public,
            "UDXB2VMLXPASAJ7ZDTKYNQ7QOCFWSGB4FOMYQQ25HQWSAF7ZQJEBSQSW"
        );
        assert_eq!(
            sig,
            "Xc3Gd5xjMDERw95iQfP8dsk-kGBiRl4RdRICbr1KnqazANmGj39TjVyXxX9C23zeetelsrvmPZr3hyL7zxe6Aw"
        );
    }

    #[test]
    fn crc16_check_value() {
        assert_eq!(crc16(b"123456789"), 0x31C3);
    }

    #[test]
    fn bad_seed_error_hides_the_seed() {
        let bad = "SUAOY5JZ2WJKVR4UO2KJ2P3SW6FZFNWEOIMAXF4WZEUNVQXXUOKGM55CYX";
        let err = sign_with_seed(bad, b"n").unwrap_err();
        assert!(err.is_invalid_argument());
        assert!(!format!("{err} {err:?}").contains(bad));
    }

    #[test]
    fn creds_parse() {
        let text = format!(
            "-----BEGIN NATS USER JWT-----\r\neyJ0.eyJ1.sig-_x\r\n------END NATS USER JWT------\r\n\r\n\
             ************************* IMPORTANT *************************\n\
             NKEY Seed printed below can be used to sign and prove identity.\n\n\
             -----BEGIN USER NKEY SEED-----\n{SEED}\n------END USER NKEY SEED------\n\n\
             *************************************************************\n"
        );
        let c = parse_creds(&text).unwrap();
        assert_eq!(c.jwt, "eyJ0.eyJ1.sig-_x");
        assert_eq!(c.seed.as_str(), SEED);
        // Fallback: a bare seed line.
        let text = format!(
            "-----BEGIN NATS USER JWT-----\nabc.def.ghi\n------END NATS USER JWT------\n{SEED}\n"
        );
        assert_eq!(parse_creds(&text).unwrap().seed.as_str(), SEED);
        // Not a user seed.
        let text = "---- JWT ----\na.b.c\n---- END ----\n---- SEED ----\nSAABC\n---- END ----\n";
        assert!(parse_creds(text).unwrap_err().is_invalid_argument());
        assert!(parse_creds("nothing here").is_err());
    }
}
