"""Authentication and TLS against real nats-server processes configured by files written to a
temp dir: user/password, tokens (and a token callable asked again on every reconnect), NKey
seeds, JWT/creds in operator mode (keys and JWTs made here), signature_cb + user_jwt_cb, TLS
with a CA made here (server-only, mutual, handshake first, verification failures), and
secrets never showing in repr, options, exceptions or logs. Also the connection properties.
"""

import asyncio
import base64
import datetime
import hashlib
import ipaddress
import json
import logging
import ssl
import time

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

import nats
import rnats
from rnats import errors
from rnats.aio.client import RawCredentials, ServerVersion


def w(aw, timeout=5.0):
    """Every await in these tests is bounded."""
    return asyncio.wait_for(aw, timeout)


async def round_trip(nc) -> None:
    sub = await w(nc.subscribe("auth.check"))
    await w(nc.publish("auth.check", b"hi"))
    msg = await w(sub.next_msg(timeout=2))
    assert msg.data == b"hi"
    await w(sub.unsubscribe())


def server_with(make_server, tmp_path, config: str, files=None, port: int = 0):
    """A server started with ``config`` (and ``files``) written to ``tmp_path``."""
    for name, text in (files or {}).items():
        (tmp_path / name).write_text(text)
    conf = tmp_path / f"server-{time.monotonic_ns()}.conf"
    conf.write_text(config)
    return make_server("-c", str(conf), port=port)


async def refused(server_url: str, **opts) -> Exception:
    """Connects expecting a failure (in bounded time) and returns the exception."""
    with pytest.raises(Exception) as info:
        await w(rnats.connect(server_url, allow_reconnect=False, connect_timeout=2, **opts))
    return info.value


# ---------------------------------------------------------------------------- NKeys and JWTs

_PREFIX = {"seed": 18 << 3, "operator": 14 << 3, "account": 0, "user": 20 << 3}


def _crc16(data: bytes) -> int:
    crc = 0
    for b in data:
        crc ^= b << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else (crc << 1)
            crc &= 0xFFFF
    return crc


def _b32(raw: bytes) -> str:
    return base64.b32encode(raw + _crc16(raw).to_bytes(2, "little")).decode().rstrip("=")


class NKey:
    """An Ed25519 NKey of one kind ("operator", "account", "user")."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.key = ed25519.Ed25519PrivateKey.generate()

    @property
    def public(self) -> str:
        raw = self.key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        return _b32(bytes([_PREFIX[self.kind]]) + raw)

    @property
    def seed(self) -> str:
        raw = self.key.private_bytes(
            serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
        )
        p = _PREFIX[self.kind]
        return _b32(bytes([_PREFIX["seed"] | (p >> 5), (p & 31) << 3]) + raw)

    def sign(self, data: bytes) -> bytes:
        return self.key.sign(data)


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def encode_jwt(issuer: NKey, claims: dict) -> str:
    """A NATS JWT: ``jti`` is the base32 SHA-256 of the claims with an empty ``jti``."""
    claims = dict(claims, iss=issuer.public, iat=int(time.time()), jti="")
    digest = hashlib.sha256(json.dumps(claims, separators=(",", ":")).encode()).digest()
    claims["jti"] = base64.b32encode(digest).decode().rstrip("=")
    signed = _b64url(b'{"typ":"JWT","alg":"ed25519-nkey"}') + "." + _b64url(json.dumps(claims).encode())
    return signed + "." + _b64url(issuer.sign(signed.encode()))


class Operator:
    """An operator, an account and its JWTs, for a server in operator mode."""

    def __init__(self) -> None:
        self.operator = NKey("operator")
        self.account = NKey("account")
        self.jwt = encode_jwt(
            self.operator,
            {"name": "op", "sub": self.operator.public, "nats": {"type": "operator", "version": 2}},
        )
        limits = {"subs": -1, "data": -1, "payload": -1, "imports": -1, "exports": -1,
                  "wildcards": True, "conn": -1, "leaf": -1}
        self.account_jwt = encode_jwt(
            self.operator,
            {"name": "acc", "sub": self.account.public,
             "nats": {"type": "account", "version": 2, "limits": limits}},
        )

    def user(self):
        """A new user: ``(key, user JWT)``."""
        user = NKey("user")
        jwt = encode_jwt(
            self.account,
            {"name": "user", "sub": user.public,
             "nats": {"type": "user", "version": 2, "pub": {}, "sub": {}, "subs": -1, "data": -1, "payload": -1}},
        )
        return user, jwt

    def server(self, make_server, tmp_path):
        (tmp_path / "operator.jwt").write_text(self.jwt)
        return server_with(
            make_server, tmp_path,
            f'operator: "{tmp_path / "operator.jwt"}"\nresolver: MEMORY\n'
            f'resolver_preload: {{ {self.account.public}: "{self.account_jwt}" }}\n',
        )


def creds_text(jwt: str, seed: str) -> str:
    return (
        f"-----BEGIN NATS USER JWT-----\n{jwt}\n------END NATS USER JWT------\n\n"
        "************************* IMPORTANT *************************\n"
        "NKEY Seed printed below can be used to sign and prove identity.\n\n"
        f"-----BEGIN USER NKEY SEED-----\n{seed}\n------END USER NKEY SEED------\n\n"
        "*************************************************************\n"
    )


# ---------------------------------------------------------------------------- certificates


class CA:
    """A certificate authority made for the test, writing PEM files to ``dir``."""

    def __init__(self, dir, name: str = "rnats test CA") -> None:
        self.dir = dir
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        now = datetime.datetime.now(datetime.timezone.utc)
        self.cert = (
            x509.CertificateBuilder()
            .subject_name(self.name).issuer_name(self.name)
            .public_key(self.key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(self.key.public_key()), critical=False)
            .sign(self.key, hashes.SHA256())
        )
        self.pem = dir / f"{name.replace(' ', '-')}.pem"
        self.pem.write_bytes(self.cert.public_bytes(serialization.Encoding.PEM))

    def issue(self, stem: str, names=(), client: bool = False):
        """Cert and key files for ``names`` (DNS names or IPs), a client certificate if ``client``."""
        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.timezone.utc)
        sans = []
        for n in names:
            try:
                sans.append(x509.IPAddress(ipaddress.ip_address(n)))
            except ValueError:
                sans.append(x509.DNSName(n))
        b = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, stem)]))
            .issuer_name(self.name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.ExtendedKeyUsage(
                [ExtendedKeyUsageOID.CLIENT_AUTH if client else ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            # Python 3.13's default contexts verify strictly (VERIFY_X509_STRICT): the
            # key identifiers must be there.
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        )
        if sans:
            b = b.add_extension(x509.SubjectAlternativeName(sans), critical=False)
        cert = b.sign(self.key, hashes.SHA256())
        cert_file, key_file = self.dir / f"{stem}-cert.pem", self.dir / f"{stem}-key.pem"
        cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        key_file.write_bytes(key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
        return cert_file, key_file


def tls_server(make_server, tmp_path, ca: CA, names=("nats.test",), extra: str = ""):
    cert, key = ca.issue("server", names)
    return server_with(
        make_server, tmp_path,
        f'tls {{ cert_file: "{cert}"\n key_file: "{key}"\n ca_file: "{ca.pem}"\n timeout: 2\n {extra} }}\n',
    )


def tls_url(server) -> str:
    return f"tls://127.0.0.1:{server.port}"


# ---------------------------------------------------------------------------- user, password, token


async def test_user_password_strings_and_callables(make_server, tmp_path):
    server = server_with(make_server, tmp_path, 'authorization { user: "alice", password: "pw-right" }')
    nc = await w(rnats.connect(server.url, user="alice", password="pw-right"))
    await round_trip(nc)
    assert "pw-right" not in repr(nc) and "pw-right" not in repr(nc.options)
    await w(nc.close())
    calls = []

    def password():
        calls.append(1)
        return "pw-right"

    nc = await w(rnats.connect(server.url, user=lambda: "alice", password=password))
    await round_trip(nc)
    assert calls == [1]
    await w(nc.force_reconnect())
    await round_trip(nc)
    assert len(calls) == 2, "the password callable is asked again on reconnect"
    await w(nc.close())


async def test_wrong_password_is_an_authorization_error_as_in_nats_py(make_server, tmp_path, caplog):
    server = server_with(make_server, tmp_path, 'authorization { user: "alice", password: "pw-right" }')
    caplog.set_level(logging.DEBUG)
    err = await refused(server.url, user="alice", password="pw-WRONG-secret")
    assert isinstance(err, errors.AuthorizationError), repr(err)
    assert "pw-WRONG-secret" not in f"{err} {err!r}"
    # nats-py raises its base Error with the server's text for the same call; rnats raises
    # the more precise subclass, so `except errors.Error` catches both, and the text agrees.
    with pytest.raises(nats.errors.Error) as theirs:
        await w(nats.connect(server.url, user="alice", password="pw-WRONG-secret", allow_reconnect=False))
    assert isinstance(err, errors.Error)
    assert "authorization violation" in str(theirs.value).lower()
    assert "authorization violation" in str(err).lower(), str(err)
    assert "pw-WRONG-secret" not in caplog.text


async def test_token_string_and_wrong_token(make_server, tmp_path, caplog):
    server = server_with(make_server, tmp_path, 'authorization { token: "tok-right" }')
    caplog.set_level(logging.DEBUG)
    nc = await w(rnats.connect(server.url, token="tok-right", reconnect_time_wait=0.05))
    await round_trip(nc)
    assert "tok-right" not in repr(nc) + repr(nc.options) + str(nc.servers)
    # The server comes back wanting another token: the refusals are logged (no error_cb),
    # never with the token.
    server.stop()
    other = server_with(make_server, tmp_path, 'authorization { token: "tok-other" }', port=server.port)
    deadline = time.monotonic() + 10
    while "authorization" not in caplog.text.lower():
        assert time.monotonic() < deadline, caplog.text
        await asyncio.sleep(0.02)
    assert "tok-right" not in caplog.text
    await w(nc.close())
    other.stop()
    server.start()
    err = await refused(server.url, token="tok-wrong")
    assert isinstance(err, errors.AuthorizationError)
    assert "tok-wrong" not in f"{err} {err!r}"


async def test_token_callable_is_asked_again_across_a_server_restart(make_server, tmp_path):
    config = 'authorization {{ token: "{}" }}'
    first = server_with(make_server, tmp_path, config.format("tok-1"))
    current = ["tok-1"]
    handed = []

    def token():
        handed.append(current[0])
        return current[0]

    reconnected = asyncio.Event()
    errs = []

    async def on_reconnect():
        reconnected.set()

    async def on_error(e):
        errs.append(e)

    nc = await w(rnats.connect(first.url, token=token, reconnect_time_wait=0.05, max_reconnect_attempts=-1,
                               reconnected_cb=on_reconnect, error_cb=on_error))
    await round_trip(nc)
    assert handed == ["tok-1"]
    # The server comes back on the same port wanting another token; the callable now
    # hands it out, and the next attempt asks for it.
    first.stop()
    current[0] = "tok-2"
    second = server_with(make_server, tmp_path, config.format("tok-2"), port=first.port)
    await w(reconnected.wait(), 10)
    await round_trip(nc)
    assert handed[0] == "tok-1" and handed[-1] == "tok-2", handed
    assert all("tok-" not in f"{e} {e!r}" for e in errs)
    await w(nc.close())
    second.stop()


async def test_a_raising_credential_callable_is_a_clear_error(make_server, tmp_path):
    server = server_with(make_server, tmp_path, 'authorization { token: "tok" }')

    def token():
        raise RuntimeError("vault unreachable")

    err = await refused(server.url, token=token)
    assert isinstance(err, errors.AuthorizationError), repr(err)
    assert "token callable raised RuntimeError: vault unreachable" in str(err)
    # On reconnect, the failure reaches error_cb with the same explanation.
    calls = []
    reported = asyncio.Queue()

    def rotating():
        calls.append(1)
        if len(calls) > 1:
            raise RuntimeError("rotated out")
        return "tok"

    async def on_error(e):
        await reported.put(e)

    nc = await w(rnats.connect(server.url, token=rotating, error_cb=on_error, reconnect_time_wait=0.05))
    server.stop()
    server.start()
    while True:
        e = await w(reported.get(), 10)
        if isinstance(e, errors.AuthorizationError):
            break
    assert "token callable raised RuntimeError: rotated out" in str(e), str(e)
    await w(nc.close())
    err = await refused(server.url, token=lambda: 42)
    assert isinstance(err, errors.AuthorizationError) and "must return str" in str(err)
    with pytest.raises(TypeError):
        await w(rnats.connect(server.url, token=42))


# ---------------------------------------------------------------------------- NKeys, JWT


async def test_nkey_seed_file_and_string(make_server, tmp_path):
    user = NKey("user")
    server = server_with(make_server, tmp_path, f'authorization {{ users = [ {{ nkey: "{user.public}" }} ] }}')
    seed_file = tmp_path / "user.nk"
    seed_file.write_text(user.seed + "\n")
    for opts in ({"nkeys_seed": str(seed_file)}, {"nkeys_seed_str": user.seed}):
        nc = await w(rnats.connect(server.url, **opts))
        await round_trip(nc)
        assert user.seed not in repr(nc.options)
        await w(nc.close())
    err = await refused(server.url, nkeys_seed_str=NKey("user").seed)
    assert isinstance(err, errors.AuthorizationError)
    err = await refused(server.url, nkeys_seed_str="SUnotaseed")
    assert "SUnotaseed" not in f"{err} {err!r}"


async def test_jwt_creds_file_raw_tuple_and_callbacks(make_server, tmp_path):
    op = Operator()
    server = op.server(make_server, tmp_path)
    user, jwt = op.user()
    creds = creds_text(jwt, user.seed)
    creds_file = tmp_path / "user.creds"
    creds_file.write_text(creds)
    jwt_file, seed_file = tmp_path / "user.jwt", tmp_path / "user.seed"
    jwt_file.write_text(jwt + "\n")
    seed_file.write_text(user.seed + "\n")
    nonces = []

    def signature_cb(nonce: str) -> bytes:
        nonces.append(nonce)
        return base64.b64encode(user.sign(nonce.encode()))

    for opts in (
        {"user_credentials": str(creds_file)},
        {"user_credentials": creds_file},  # a Path
        {"user_credentials": RawCredentials(creds)},
        {"user_credentials": (str(jwt_file), str(seed_file))},
        {"user_jwt_cb": lambda: bytearray(jwt.encode()), "signature_cb": signature_cb},
    ):
        nc = await w(rnats.connect(server.url, **opts))
        await round_trip(nc)
        text = repr(nc) + repr(nc.options)
        assert user.seed not in text and jwt not in text
        await w(nc.close())
    assert len(nonces) == 1 and nonces[0]
    assert "SU" not in repr(RawCredentials(creds))
    # A user of another account (signed by a stranger) is refused.
    stranger = NKey("account")
    other = NKey("user")
    bad_jwt = encode_jwt(stranger, {"name": "x", "sub": other.public,
                                    "nats": {"type": "user", "version": 2}})
    err = await refused(server.url, user_credentials=RawCredentials(creds_text(bad_jwt, other.seed)))
    assert isinstance(err, errors.AuthorizationError), repr(err)
    with pytest.raises(ValueError):
        await w(rnats.connect(server.url, signature_cb=signature_cb))

    # Raising callables: a clear auth error naming the callable, never the JWT or seed.
    def no_jwt():
        raise KeyError("jwt store")

    err = await refused(server.url, user_jwt_cb=no_jwt, signature_cb=signature_cb)
    assert isinstance(err, errors.AuthorizationError) and "user_jwt_cb callable raised KeyError" in str(err)
    err = await refused(server.url, user_jwt_cb=lambda: jwt.encode(), signature_cb=lambda nonce: 1 / 0)
    assert isinstance(err, errors.AuthorizationError)
    assert "signature_cb callable raised ZeroDivisionError" in str(err) and jwt not in str(err)
    err = await refused(server.url, user_jwt_cb=lambda: jwt.encode(), signature_cb=lambda nonce: b"not base64!")
    assert isinstance(err, errors.AuthorizationError) and "base64" in str(err)


# ---------------------------------------------------------------------------- TLS


async def test_tls_with_a_ca_signed_certificate(make_server, tmp_path):
    ca = CA(tmp_path)
    server = tls_server(make_server, tmp_path, ca, names=("nats.test",))
    ctx = ssl.create_default_context(cafile=str(ca.pem))
    # The certificate is for nats.test: verified under that name.
    nc = await w(rnats.connect(tls_url(server), tls=ctx, tls_hostname="nats.test"))
    await round_trip(nc)
    assert nc.ssl_context is ctx
    assert nc.options["tls_hostname"] == "nats.test"
    await w(nc.close())
    # Under the URL's host (127.0.0.1) the name does not match.
    err = await refused(tls_url(server), tls=ctx)
    assert isinstance(err, ssl.SSLCertVerificationError) and isinstance(err, ssl.SSLError), repr(err)
    assert isinstance(err, errors.SecureConnFailedError)
    # A nats:// URL to a server that requires TLS is upgraded, with the context.
    nc = await w(rnats.connect(server.url, tls=ctx, tls_hostname="nats.test"))
    await round_trip(nc)
    await w(nc.close())
    # check_hostname off: the chain is still verified, the name is not.
    ctx2 = ssl.create_default_context(cafile=str(ca.pem))
    ctx2.check_hostname = False
    nc = await w(rnats.connect(tls_url(server), tls=ctx2))
    await round_trip(nc)
    await w(nc.close())


async def test_tls_verification_failures_and_cert_none(make_server, tmp_path):
    ca = CA(tmp_path)
    server = tls_server(make_server, tmp_path, ca, names=("127.0.0.1",))
    other = CA(tmp_path, "other CA")
    err = await refused(tls_url(server), tls=ssl.create_default_context(cafile=str(other.pem)))
    assert isinstance(err, ssl.SSLCertVerificationError), repr(err)
    # nats-py raises the same class for the same call.
    with pytest.raises(ssl.SSLCertVerificationError):
        await w(nats.connect(tls_url(server), tls=ssl.create_default_context(cafile=str(other.pem)),
                             allow_reconnect=False))
    try:
        await w(rnats.connect(tls_url(server), tls=ssl.create_default_context(), allow_reconnect=False))
    except ssl.SSLError:
        pass  # the system roots do not know the test CA: `except ssl.SSLError` catches it
    else:
        pytest.fail("a certificate from an unknown CA was accepted")
    # A tls:// URL with no context: the default verification, which fails the same way.
    err = await refused(tls_url(server))
    assert isinstance(err, ssl.SSLError), repr(err)
    # CERT_NONE: no verification at all.
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    nc = await w(rnats.connect(tls_url(server), tls=ctx))
    await round_trip(nc)
    await w(nc.close())
    # A default context plus the test CA.
    ctx = ssl.create_default_context()
    ctx.load_verify_locations(cafile=str(ca.pem))
    nc = await w(rnats.connect(tls_url(server), tls=ctx))
    await round_trip(nc)
    await w(nc.close())


async def test_mutual_tls(make_server, tmp_path):
    ca = CA(tmp_path)
    server = tls_server(make_server, tmp_path, ca, names=("127.0.0.1",), extra="verify: true")
    cert, key = ca.issue("client", client=True)
    ctx = ssl.create_default_context(cafile=str(ca.pem))
    ctx.load_cert_chain(str(cert), str(key))
    nc = await w(rnats.connect(tls_url(server), tls=ctx))
    await round_trip(nc)
    await w(nc.close())
    # The recording wrapper leaves the context working for OpenSSL users (nats-py here).
    theirs = await w(nats.connect(tls_url(server), tls=ctx, allow_reconnect=False))
    await w(theirs.close())
    # The same certificate given explicitly.
    bare = ssl.create_default_context(cafile=str(ca.pem))
    nc = await w(rnats.connect(tls_url(server), tls=bare, tls_cert_file=str(cert), tls_key_file=str(key)))
    await round_trip(nc)
    await w(nc.close())
    # Without a client certificate the server refuses.
    err = await refused(tls_url(server), tls=bare)
    assert isinstance(err, ssl.SSLError) and isinstance(err, errors.SecureConnFailedError), repr(err)
    assert "CertificateRequired" in str(err)
    # A context rnats cannot vouch for (made before rnats was imported: nothing recorded)
    # is refused rather than connecting without its certificate.
    unknown = ssl.create_default_context(cafile=str(ca.pem))
    del unknown._rnats_seen
    with pytest.raises(errors.SecureConnFailedError, match="created before rnats was imported"):
        await w(rnats.connect(tls_url(server), tls=unknown))
    # An encrypted key cannot be used by rustls: a clear error, not a connection without it.
    enc = tmp_path / "client-key-enc.pem"
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    k = load_pem_private_key(key.read_bytes(), None)
    enc.write_bytes(k.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.BestAvailableEncryption(b"pw")))
    ctx = ssl.create_default_context(cafile=str(ca.pem))
    ctx.load_cert_chain(str(cert), str(enc), password="pw")
    with pytest.raises(errors.SecureConnFailedError, match="password-protected"):
        await w(rnats.connect(tls_url(server), tls=ctx))


async def test_tls_handshake_first(make_server, tmp_path):
    ca = CA(tmp_path)
    server = tls_server(make_server, tmp_path, ca, names=("127.0.0.1",), extra="handshake_first: true")
    ctx = ssl.create_default_context(cafile=str(ca.pem))
    nc = await w(rnats.connect(tls_url(server), tls=ctx, tls_handshake_first=True))
    await round_trip(nc)
    assert nc.options["tls_handshake_first"] is True
    await w(nc.close())
    # Without it the client waits for an INFO that a handshake-first server never sends.
    with pytest.raises(errors.NoServersError):
        await w(rnats.connect(tls_url(server), tls=ctx, allow_reconnect=False, connect_timeout=0.5))


# ---------------------------------------------------------------------------- properties


async def test_connection_properties(server):
    nc = rnats.NATS()
    assert nc.is_connecting is False
    assert repr(nc.connected_server_version) == "<nats server v0.0.0-unknown>"
    task = asyncio.ensure_future(nc.connect(server.url))
    await asyncio.sleep(0)
    assert nc.is_connecting is True
    await w(task)
    assert nc.is_connecting is False
    v = nc.connected_server_version
    assert isinstance(v, ServerVersion) and v.major >= 2 and v.minor >= 0 and v.patch >= 0
    assert isinstance(v.dev, str)
    assert nc.max_payload == 1024 * 1024
    assert isinstance(nc.client_id, int) and nc.client_id > 0
    assert nc.client_ip == "127.0.0.1"
    assert nc.discovered_servers == []
    assert nc.pending_data_size == 0
    assert set(nc.stats) >= {"in_msgs", "out_msgs", "in_bytes", "out_bytes", "reconnects", "errors_received"}
    assert isinstance(nc.ssl_context, ssl.SSLContext)
    await w(nc.close())
    sv = ServerVersion("2.10.4-beta.1+build.7")
    assert (sv.major, sv.minor, sv.patch, sv.prerelease, sv.build, sv.dev) == (
        2, 10, 4, "beta.1", "build.7", "beta.1+build.7")
