"""Reading an ``ssl.SSLContext`` for the rustls-based core.

rnats does TLS in Rust (rustls), so a context is honoured by what can be read back from it:
its CA certificates (``get_ca_certs(binary_form=True)``), ``verify_mode`` and
``check_hostname``. The client certificate given to ``load_cert_chain`` cannot be read back
from an ``SSLContext``; so, when :mod:`rnats` is imported, it wraps
``ssl.SSLContext.load_cert_chain`` to record the file names (never the key or its password)
on the context, and marks every context created from then on. A context created *before*
``import rnats`` cannot be known to be without a client certificate: connecting with it
raises an error unless the certificate is given explicitly (``tls_cert_file=``/
``tls_key_file=``), so a client certificate is never silently dropped.

Not honoured (OpenSSL-only): cipher lists, ``options``/``verify_flags``, min/max versions
(rustls speaks TLS 1.2 and 1.3), callbacks, CAs loaded lazily from a ``capath`` directory
(a context listing no CA at all verifies against the system roots, as OpenSSL's default
paths would), encrypted private keys (``password=``: an error).
"""

import os
import ssl
from typing import Any, List, Optional, Tuple

_CHAIN = "_rnats_cert_chain"  # (certfile, keyfile or None, has_password)
_SEEN = "_rnats_seen"  # created after the hooks were installed


def _install() -> None:
    cls = ssl.SSLContext
    if getattr(cls.load_cert_chain, "_rnats_hook", False):
        return
    original_new = cls.__new__
    original_load = cls.load_cert_chain

    def __new__(klass, *args: Any, **kwargs: Any):  # noqa: N807 - wraps SSLContext.__new__
        ctx = original_new(klass, *args, **kwargs)
        try:
            setattr(ctx, _SEEN, True)
        except AttributeError:  # a subclass with __slots__: treated as unknown
            pass
        return ctx

    def load_cert_chain(self, certfile, keyfile=None, password=None):  # type: ignore[no-untyped-def]
        original_load(self, certfile, keyfile, password)
        try:
            setattr(
                self,
                _CHAIN,
                (os.fsdecode(certfile), None if keyfile is None else os.fsdecode(keyfile), password is not None),
            )
        except AttributeError:
            pass

    load_cert_chain.__doc__ = original_load.__doc__
    load_cert_chain._rnats_hook = True  # type: ignore[attr-defined]
    cls.__new__ = staticmethod(__new__)  # type: ignore[assignment]
    cls.load_cert_chain = load_cert_chain  # type: ignore[method-assign]


_install()

TlsArgs = Tuple[List[bytes], bool, bool, Optional[Tuple[str, Optional[str]]]]


def read_context(
    ctx: ssl.SSLContext, cert_file: Optional[str] = None, key_file: Optional[str] = None
) -> TlsArgs:
    """``(CA certificates in DER, verify, check_hostname, (cert file, key file) or None)``
    for ``ctx``; ``cert_file``/``key_file`` win over what ``load_cert_chain`` recorded.

    Raises ``ValueError`` when a client certificate could be lost: the context was created
    before ``import rnats`` (nothing recorded), or its key needs a password."""
    from . import errors

    if not isinstance(ctx, ssl.SSLContext):
        raise TypeError(f"tls must be an ssl.SSLContext, not {type(ctx).__name__}")
    client: Optional[Tuple[str, Optional[str]]] = None
    if cert_file is not None:
        client = (os.fsdecode(cert_file), None if key_file is None else os.fsdecode(key_file))
    elif key_file is not None:
        raise ValueError("tls_key_file needs tls_cert_file")
    else:
        chain = getattr(ctx, _CHAIN, None)
        if chain is not None:
            certfile, keyfile, has_password = chain
            if has_password:
                raise errors.SecureConnFailedError(
                    "rnats cannot use a password-protected private key from load_cert_chain(password=...): "
                    "give an unencrypted key (tls_cert_file=/tls_key_file=)"
                )
            client = (certfile, keyfile)
        elif not getattr(ctx, _SEEN, False):
            raise errors.SecureConnFailedError(
                "this ssl.SSLContext was created before rnats was imported, so rnats cannot tell whether "
                "load_cert_chain() gave it a client certificate: create the context after importing rnats, "
                "or pass tls_cert_file=/tls_key_file= explicitly"
            )
    cas = [bytes(c) for c in ctx.get_ca_certs(binary_form=True)]
    verify = ctx.verify_mode != ssl.CERT_NONE
    return cas, verify, bool(ctx.check_hostname) and verify, client
