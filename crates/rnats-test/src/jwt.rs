//! Operator mode for tests (feature `jwt`): operator, account and user keys with their JWTs,
//! signed as `nsc` would sign them, `.creds` documents, and a server in operator mode with
//! the account preloaded in a memory resolver.

use std::time::{SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use nkeys::KeyPair;

use crate::NatsServer;

/// Operator, account and user keys, with their JWTs, as `nsc` would make them.
pub struct Operator {
    /// The operator's JWT (self-signed), for the server's `operator` setting.
    pub jwt: String,
    /// The account's keys: they sign its users' JWTs.
    pub account: KeyPair,
    /// The account's JWT, signed by the operator, preloaded in the server's resolver.
    pub account_jwt: String,
}

impl Default for Operator {
    fn default() -> Self {
        Self::new()
    }
}

/// Seconds since the Unix epoch (for `exp` claims).
pub fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("the clock is after 1970")
        .as_secs()
}

/// RFC 4648 base32 without padding (the `jti` of NATS JWTs).
fn base32(data: &[u8]) -> String {
    const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut out = String::new();
    let (mut buffer, mut bits) = (0u32, 0u32);
    for &b in data {
        buffer = (buffer << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(ALPHABET[((buffer >> bits) & 31) as usize] as char);
        }
    }
    if bits > 0 {
        out.push(ALPHABET[((buffer << (5 - bits)) & 31) as usize] as char);
    }
    out
}

/// Encodes and signs a JWT per spec AUTH-5: `jti` is the base32 SHA-256 of the claims with
/// an empty `jti`.
fn encode_jwt(issuer: &KeyPair, mut claims: serde_json::Value) -> String {
    claims["iss"] = issuer.public_key().into();
    claims["iat"] = now().into();
    claims["jti"] = "".into();
    let digest = ring::digest::digest(&ring::digest::SHA256, claims.to_string().as_bytes());
    claims["jti"] = base32(digest.as_ref()).into();
    let header = URL_SAFE_NO_PAD.encode(r#"{"typ":"JWT","alg":"ed25519-nkey"}"#);
    let body = URL_SAFE_NO_PAD.encode(claims.to_string());
    let signed = format!("{header}.{body}");
    let sig = issuer
        .sign(signed.as_bytes())
        .expect("a key pair with a seed signs");
    format!("{signed}.{}", URL_SAFE_NO_PAD.encode(sig))
}

impl Operator {
    /// New operator and account keys, and their JWTs.
    pub fn new() -> Self {
        let operator = KeyPair::new_operator();
        let account = KeyPair::new_account();
        let jwt = encode_jwt(
            &operator,
            serde_json::json!({
                "name": "rnats-test-operator",
                "sub": operator.public_key(),
                "nats": { "type": "operator", "version": 2 }
            }),
        );
        let account_jwt = encode_jwt(
            &operator,
            serde_json::json!({
                "name": "rnats-test-account",
                "sub": account.public_key(),
                "nats": {
                    "type": "account", "version": 2,
                    "limits": { "subs": -1, "data": -1, "payload": -1, "imports": -1,
                                "exports": -1, "wildcards": true, "conn": -1, "leaf": -1 }
                }
            }),
        );
        Self {
            jwt,
            account,
            account_jwt,
        }
    }

    /// A user JWT for `user`, signed by `account`, expiring at `exp` if given.
    pub fn user_jwt(account: &KeyPair, user: &KeyPair, exp: Option<u64>) -> String {
        let mut claims = serde_json::json!({
            "name": "rnats-test-user",
            "sub": user.public_key(),
            "nats": { "type": "user", "version": 2, "pub": {}, "sub": {},
                      "subs": -1, "data": -1, "payload": -1 }
        });
        if let Some(exp) = exp {
            claims["exp"] = exp.into();
        }
        encode_jwt(account, claims)
    }

    /// A `.creds` document for a new user of this account.
    pub fn creds(&self) -> String {
        let user = KeyPair::new_user();
        creds_text(
            &Self::user_jwt(&self.account, &user, None),
            &user.seed().expect("a new user key has a seed"),
        )
    }

    /// A server in operator mode with this account preloaded in a memory resolver.
    pub fn server(&self) -> NatsServer {
        NatsServer::builder()
            .file("operator.jwt", &self.jwt)
            .config(&format!(
                "operator: \"operator.jwt\"\nresolver: MEMORY\nresolver_preload: {{ {}: {:?} }}\n",
                self.account.public_key(),
                self.account_jwt
            ))
            .start()
    }
}

/// The standard `.creds` layout.
pub fn creds_text(jwt: &str, seed: &str) -> String {
    format!(
        "-----BEGIN NATS USER JWT-----\n{jwt}\n------END NATS USER JWT------\n\n\
         ************************* IMPORTANT *************************\n\
         NKEY Seed printed below can be used to sign and prove identity.\n\
         NKEYs are sensitive and should be treated as secrets.\n\n\
         -----BEGIN USER NKEY SEED-----\n{seed}\n------END USER NKEY SEED------\n\n\
         *************************************************************\n"
    )
}
