//! Authentication against real servers, one per method: user/password, token, a token
//! callback rotating across a server restart, NKey, and JWT (operator, account and user made
//! here with the nkeys crate). Right credentials connect; wrong ones fail with the typed
//! error in bounded time. Last, secrets never show in `Debug`, `Display`, errors or events.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::StreamExt;
use nkeys::KeyPair;
use rnats::Event;
use rnats_test::jwt::{creds_text, now, Operator};
use rnats_test::NatsServer;

use crate::{next_msg, wait_event};

/// The public example seed of the spec's test vectors, and its public key.
const USER_SEED: &str = "SUAOY5JZ2WJKVR4UO2KJ2P3SW6FZFNWEOIMAXF4WZEUNVQXXUOKGM55CYE";
const USER_PUB: &str = "UDXB2VMLXPASAJ7ZDTKYNQ7QOCFWSGB4FOMYQQ25HQWSAF7ZQJEBSQSW";

/// Failing to authenticate must not take longer than this.
const BOUND: Duration = Duration::from_secs(5);

fn options() -> rnats::ConnectOptions {
    rnats::ConnectOptions::new()
        .connection_timeout(Duration::from_secs(3))
        .reconnect_delay(rnats::Backoff::new(
            Duration::from_millis(20),
            Duration::from_millis(100),
            Duration::from_millis(10),
        ))
}

/// Connects and checks a round trip works.
async fn works(opts: rnats::ConnectOptions, url: &str) -> rnats::Client {
    let client = tokio::time::timeout(BOUND, opts.connect(url))
        .await
        .expect("connect in bounded time")
        .unwrap_or_else(|e| panic!("connect failed: {e:?}"));
    let mut sub = client.subscribe("auth.check").await.unwrap();
    client.publish("auth.check", "hi").await.unwrap();
    assert_eq!(next_msg(&mut sub).await.payload, "hi");
    client
}

/// Connects, expects an auth error within [`BOUND`], returns it.
async fn refused(opts: rnats::ConnectOptions, url: &str) -> rnats::Error {
    let err = tokio::time::timeout(BOUND, opts.connect(url))
        .await
        .expect("refusal in bounded time")
        .expect_err("connect should fail");
    assert!(err.is_auth_error(), "{err:?}");
    err
}

#[tokio::test]
async fn user_password_from_url_and_options() {
    let _shared = crate::shared().await;
    let server = NatsServer::builder()
        .config(r#"authorization { user: "alice", password: "pw-right" }"#)
        .start();
    let port = server.port();
    works(
        options(),
        &format!("nats://alice:pw-right@127.0.0.1:{port}"),
    )
    .await;
    // Explicit options win over the URL.
    works(
        options().user_and_password("alice", "pw-right"),
        &format!("nats://alice:pw-wrong@127.0.0.1:{port}"),
    )
    .await;
    refused(
        options(),
        &format!("nats://alice:pw-wrong@127.0.0.1:{port}"),
    )
    .await;
}

#[tokio::test]
async fn user_password_callback_is_asked_on_every_connect() {
    let _shared = crate::shared().await;
    let server = NatsServer::builder()
        .config(r#"authorization { user: "alice", password: "pw-right" }"#)
        .start();
    let calls = Arc::new(Mutex::new(0));
    let opts = {
        let calls = calls.clone();
        options().user_and_password_callback(move || {
            *calls.lock().unwrap() += 1;
            async { Ok::<_, std::io::Error>(("alice".to_owned(), "pw-right".to_owned())) }
        })
    };
    // The callback wins over credentials in the URL.
    let url = format!("nats://alice:pw-wrong@127.0.0.1:{}", server.port());
    let client = works(opts, &url).await;
    assert_eq!(*calls.lock().unwrap(), 1);
    client.force_reconnect().await.unwrap();
    let mut sub = client.subscribe("after.reconnect").await.unwrap();
    client.publish("after.reconnect", "ok").await.unwrap();
    assert_eq!(next_msg(&mut sub).await.payload, "ok");
    assert_eq!(*calls.lock().unwrap(), 2);
    // A failing callback is an auth error that says so.
    let err = refused(
        options().user_and_password_callback(|| async {
            Err::<(String, String), _>(std::io::Error::other("vault down"))
        }),
        &server.url(),
    )
    .await;
    assert!(err.to_string().contains("user/password callback"), "{err}");
}

#[tokio::test]
async fn token() {
    let _shared = crate::shared().await;
    let server = NatsServer::builder()
        .config(r#"authorization { token: "tok-right" }"#)
        .start();
    let url = server.url();
    works(options().token("tok-right"), &url).await;
    works(
        options(),
        &format!("nats://tok-right@127.0.0.1:{}", server.port()),
    )
    .await;
    refused(options().token("tok-wrong"), &url).await;
    refused(options(), &url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_callback_is_asked_on_every_reconnect() {
    let _shared = crate::shared().await;
    let token_config = |t: &str| format!("authorization {{ token: {t:?} }}");
    let first = NatsServer::builder().config(&token_config("tok-1")).start();
    let port = first.port();
    let current = Arc::new(Mutex::new("tok-1".to_owned()));
    // Every token handed out, in order.
    let handed = Arc::new(Mutex::new(Vec::new()));
    let opts = {
        let current = current.clone();
        let handed = handed.clone();
        options().token_callback(move || {
            let token = current.lock().unwrap().clone();
            handed.lock().unwrap().push(token.clone());
            async move { Ok::<_, std::io::Error>(token) }
        })
    };
    let client = works(opts, &first.url()).await;
    assert_eq!(*handed.lock().unwrap(), ["tok-1"]);
    let mut events = client.events();

    // The server comes back with another token; the callback still hands out the old one:
    // every failed attempt is an auth error event, and the client keeps trying.
    first.stop();
    let second = NatsServer::builder()
        .port(port)
        .config(&token_config("tok-2"))
        .start();
    let e = wait_event(&mut events, 10, |e| matches!(e, Event::ServerError(_))).await;
    let Event::ServerError(err) = &e else {
        unreachable!()
    };
    assert!(err.is_auth_error(), "{err:?}");
    assert!(!format!("{e} {e:?}").contains("tok-1"), "{e:?}");

    // The token rotates: the next attempt asks the callback again and gets in. Attempts
    // already under way may still fail with the old token: each is an auth event, whose
    // Display and Debug never show the token.
    *current.lock().unwrap() = "tok-2".to_owned();
    let mut auth_failures = 1;
    tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            let e = events.next().await.expect("event stream ended");
            match &e {
                Event::Reconnected { .. } => break,
                Event::ServerError(err) => {
                    assert!(err.is_auth_error(), "{err:?}");
                    assert!(!format!("{e} {e:?}").contains("tok-"), "{e:?}");
                    auth_failures += 1;
                }
                _ => {}
            }
        }
    })
    .await
    .expect("reconnected with the rotated token");
    // Asked once per attempt that reached the server's INFO: the first connect, every
    // refused attempt, and the one that got in with the new token.
    let mut expected = vec!["tok-1"; 1 + auth_failures];
    expected.push("tok-2");
    assert_eq!(*handed.lock().unwrap(), expected);
    let mut sub = client.subscribe("after.rotation").await.unwrap();
    client.publish("after.rotation", "ok").await.unwrap();
    assert_eq!(next_msg(&mut sub).await.payload, "ok");
    drop(second);
}

#[tokio::test]
async fn nkey_seed_and_seed_file() {
    let _shared = crate::shared().await;
    let server = NatsServer::builder()
        .config(&format!(
            "authorization {{ users = [ {{ nkey: {USER_PUB:?} }} ] }}"
        ))
        .file("user.nk", format!("{USER_SEED}\n"))
        .start();
    let url = server.url();
    works(options().nkey(USER_SEED), &url).await;
    works(options().nkey_file(server.dir().join("user.nk")), &url).await;
    let stranger = KeyPair::new_user().seed().unwrap();
    refused(options().nkey(stranger), &url).await;
    // A seed that does not decode is the caller's error, found before anything is sent.
    let err = options()
        .nkey("SUnotaseed")
        .connect(url.as_str())
        .await
        .unwrap_err();
    assert!(err.is_invalid_argument(), "{err:?}");
    assert!(!format!("{err} {err:?}").contains("SUnotaseed"));
}

#[tokio::test]
async fn jwt_creds_text_file_and_signer_callback() {
    let _shared = crate::shared().await;
    let op = Operator::new();
    let server = op.server();
    let url = server.url();

    let creds = op.creds();
    works(options().credentials(creds.clone()), &url).await;
    let path = server.dir().join("user.creds");
    std::fs::write(&path, &creds).unwrap();
    works(options().credentials_file(&path), &url).await;

    let user = KeyPair::new_user();
    let jwt = Operator::user_jwt(&op.account, &user, None);
    let seed = user.seed().unwrap();
    works(
        options().jwt(jwt.clone(), move |nonce| {
            let seed = seed.clone();
            async move { KeyPair::from_seed(&seed)?.sign(&nonce) }
        }),
        &url,
    )
    .await;
    let user_jwt = jwt.clone();
    let seed = user.seed().unwrap();
    works(
        options().jwt_callback(
            move || {
                let jwt = user_jwt.clone();
                async move { Ok::<_, std::io::Error>(jwt) }
            },
            move |nonce| {
                let seed = seed.clone();
                async move { KeyPair::from_seed(&seed)?.sign(&nonce) }
            },
        ),
        &url,
    )
    .await;

    // The right JWT signed with the wrong key.
    let stranger = KeyPair::new_user();
    refused(
        options().jwt(jwt, move |nonce| {
            let kp = KeyPair::from_seed(&stranger.seed().unwrap()).unwrap();
            async move { kp.sign(&nonce) }
        }),
        &url,
    )
    .await;
    // A user of an account the server does not know.
    let other = Operator::new();
    refused(options().credentials(other.creds()), &url).await;
    // An expired user JWT.
    let user = KeyPair::new_user();
    let expired = creds_text(
        &Operator::user_jwt(&op.account, &user, Some(now() - 60)),
        &user.seed().unwrap(),
    );
    refused(options().credentials(expired), &url).await;
    // A missing creds file is the caller's error.
    let err = options()
        .credentials_file(server.dir().join("missing.creds"))
        .connect(url.as_str())
        .await
        .unwrap_err();
    assert!(err.is_invalid_argument(), "{err:?}");
}

/// Every options value and error that held a secret is printed, with `Debug` and
/// `Display`, and searched for the secret; so are the events of failed reconnects.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_never_leak_into_debug_display_errors_or_events() {
    let _shared = crate::shared().await;
    let op = Operator::new();
    let user = KeyPair::new_user();
    let user_seed = user.seed().unwrap();
    let user_jwt = Operator::user_jwt(&op.account, &user, None);
    let creds = creds_text(&user_jwt, &user_seed);
    // The secret parts of the JWT: its signature (the claims are public by design, but the
    // whole token is a bearer credential, so none of it may show).
    let jwt_sig = user_jwt.rsplit('.').next().unwrap().to_owned();
    let secrets = [
        "pw-hunter2",
        "tok-s3cr3t",
        "tok-right",
        "url-pass-xyz",
        USER_SEED,
        &user_seed,
        &jwt_sig,
    ];
    let check = |what: &str, text: String| {
        for s in &secrets {
            assert!(!text.contains(s), "{what} shows a secret: {text}");
        }
    };

    let all_options = [
        options().user_and_password("u", "pw-hunter2"),
        options().token("tok-s3cr3t"),
        options().token_callback(|| async { Ok::<_, std::io::Error>("tok-s3cr3t".into()) }),
        options().nkey(USER_SEED),
        options().nkey_file("/nonexistent/seed.nk"),
        options().credentials(creds.clone()),
        options().credentials_file("/nonexistent/user.creds"),
        options().jwt(
            user_jwt.clone(),
            |n| async move { Ok::<_, std::io::Error>(n) },
        ),
    ];
    for o in &all_options {
        check("options", format!("{o:?}"));
    }
    let addr: rnats::ServerAddr = "nats://u:url-pass-xyz@127.0.0.1:4222".parse().unwrap();
    check("address", format!("{addr:?} {addr}"));
    // Addresses with credentials that fail to parse: neither the error nor its causes show
    // the password (or a token in the user part).
    for bad in [
        "nats://u:url-pass-xyz@127.0.0.1:notaport",
        "nats://u:url-pass-xyz@",
        "http://u:url-pass-xyz@127.0.0.1:4222",
        "nats://u:url-pass-xyz@[::1:4222",
        "nats://tok-s3cr3t@127.0.0.1:99999",
        "127.0.0.1:4222, nats://u:url-pass-xyz@bad host:1",
    ] {
        let err = rnats::connect(bad).await.unwrap_err();
        assert!(err.is_invalid_argument(), "{bad}: {err:?}");
        check("address error", chain(&err));
        let err = bad.parse::<rnats::ServerAddr>().unwrap_err();
        check("address error", chain(&err));
    }

    // Errors of failed connects, with their whole source chain.
    let token_server = NatsServer::builder()
        .config(r#"authorization { token: "tok-right" }"#)
        .start();
    let op_server = op.server();
    let mut errors = Vec::new();
    for (opts, url) in [
        (options().token("tok-s3cr3t"), token_server.url()),
        (
            options().user_and_password("u", "pw-hunter2"),
            token_server.url(),
        ),
        (
            options(),
            format!("nats://u:url-pass-xyz@127.0.0.1:{}", token_server.port()),
        ),
        (options().nkey(USER_SEED), op_server.url()),
        (options().nkey(format!("{USER_SEED}x")), op_server.url()),
        (
            options().credentials(creds.replace(&user_jwt, "not.a.jwt")),
            op_server.url(),
        ),
        (
            options().credentials(format!("garbage {}", &creds[..40])),
            op_server.url(),
        ),
    ] {
        errors.push(opts.connect(url.as_str()).await.unwrap_err());
    }
    for err in &errors {
        check("error", chain(err));
    }

    // Auth callbacks that fail: the error says which callback failed and why, but shows
    // none of the other credentials (the URL's password, the JWT).
    let callback_failures = [
        (
            options().token_callback(|| async {
                Err::<String, _>(std::io::Error::other("vault unreachable"))
            }),
            format!("nats://u:url-pass-xyz@127.0.0.1:{}", token_server.port()),
            "the token callback failed",
        ),
        (
            options().jwt(user_jwt.clone(), |_| async {
                Err::<Vec<u8>, _>(std::io::Error::other("hsm offline"))
            }),
            op_server.url(),
            "the signing callback failed",
        ),
        (
            options().jwt_callback(
                || async { Err::<String, _>(std::io::Error::other("jwt service down")) },
                |n| async move { Ok::<_, std::io::Error>(n) },
            ),
            format!("nats://u:url-pass-xyz@127.0.0.1:{}", op_server.port()),
            "the JWT callback failed",
        ),
    ];
    for (opts, url, said) in callback_failures {
        let err = opts.connect(url.as_str()).await.unwrap_err();
        assert!(err.is_auth_error(), "{err:?}");
        let text = chain(&err);
        assert!(text.contains(said), "{text}");
        check("callback error", text);
    }

    // Events of reconnect attempts that fail on credentials.
    let seen = Arc::new(Mutex::new(String::new()));
    let client = {
        let seen = seen.clone();
        options()
            .token("tok-right")
            .event_callback(move |e| {
                let seen = seen.clone();
                async move {
                    seen.lock().unwrap().push_str(&format!("{e} {e:?}\n"));
                }
            })
            .connect(token_server.url())
            .await
            .unwrap()
    };
    let mut events = client.events();
    let port = token_server.port();
    token_server.stop();
    let _rotated = NatsServer::builder()
        .port(port)
        .config(r#"authorization { token: "tok-s3cr3t" }"#)
        .start();
    // Every failed attempt, not only the first, through the stream and the callback.
    let mut auth_events = 0;
    tokio::time::timeout(Duration::from_secs(10), async {
        while auth_events < 3 {
            let e = events.next().await.expect("event stream ended");
            check("event", format!("{e} {e:?}"));
            if let Event::ServerError(err) = &e {
                assert!(err.is_auth_error(), "{err:?}");
                auth_events += 1;
            }
        }
    })
    .await
    .expect("three failed reconnect attempts");
    tokio::time::timeout(Duration::from_secs(5), async {
        while seen.lock().unwrap().matches("server error").count() < 3 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("the event callback saw the three failures");
    check("events", seen.lock().unwrap().clone());
    check("client", format!("{client:?}"));
}

/// An error, its `Debug`, and every cause in its source chain, as text.
fn chain(err: &rnats::Error) -> String {
    let mut text = format!("{err} {err:?}");
    let mut source = std::error::Error::source(err);
    while let Some(s) = source {
        text.push_str(&format!(" {s} {s:?}"));
        source = s.source();
    }
    text
}
