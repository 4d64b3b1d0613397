"""What `hub up` and `hub serve` check before they start anything: the signing key, the TLS
files and the ports, each refused in one line (exit 2) rather than by every worker."""

from __future__ import annotations

import errno
import socket
from typing import TYPE_CHECKING

from hub.cli.common import fail

if TYPE_CHECKING:
    from hub.core.settings import Settings


def ready_to_sign(s: Settings) -> None:
    """Stop unless the log's signing key can be loaded (or, outside production, made)."""
    from hub.txlog.signing import Signer

    try:
        Signer.from_file(s.signing_key_file, create=s.env != "production")
    except FileNotFoundError:
        fail(
            f"HUB_SIGNING_KEY_FILE {s.signing_key_file} does not exist; in production the hub "
            "makes no new key (batches signed with it would not verify with the one you keep): "
            "point it at your key, or make one with `openssl genpkey -algorithm ed25519 -out "
            "FILE`",
            2,
        )
    except (OSError, ValueError) as exc:
        said = str(exc)  # most name the file already
        where = "" if s.signing_key_file in said else f"{s.signing_key_file}: "
        fail(f"HUB_SIGNING_KEY_FILE: cannot load the signing key: {where}{said}", 2)


def same_signing_key(s: Settings) -> None:
    """Warn when the log's last batch was signed by another key than the hub's.

    Every node on one database signs its batches into the one chain: a node given another
    key file started without a word, and its batches showed only at the next audit, as
    signed by a key the auditors' public key does not verify. A warning, not a refusal:
    a rotation (docs/security.md, "Rotating secrets") starts the new key this way.
    """
    from hub.cli.common import console, run
    from hub.txlog.signing import Signer

    last = run(_last_batch_key(s.database_url))
    mine = Signer.from_file(s.signing_key_file, create=False).key_id
    if last is None or last == mine:
        return
    console.print(
        f"warning: the log's last batch was signed by key {last}, and this hub signs with key "
        f"{mine} ({s.signing_key_file}): every node on one database signs with the same key. "
        "Unless you are rotating it, this node or the one that signed that batch has the "
        "wrong HUB_SIGNING_KEY_FILE; if you are, give every node the new key and keep the old "
        "public key for `hub audit verify --public-key`",
        style="yellow",
        soft_wrap=True,
    )


async def _last_batch_key(url: str) -> str | None:
    """The key id that signed the log's newest batch; None for none, or an unsigned one."""
    from sqlalchemy import select

    from hub.core.db import create_engine
    from hub.models import LogBatch

    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            newest = select(LogBatch.key_id).order_by(LogBatch.id.desc()).limit(1)
            return (await conn.execute(newest)).scalar()
    finally:
        await engine.dispose()


def usable_tls(certfile: str | None, keyfile: str | None, ca_certs: str | None) -> None:
    """Stop with one line unless the TLS files given can be loaded as the workers will.

    A key or CA bundle without a certificate was ignored (plain HTTP, no mutual TLS); a file
    that would not load said "cannot write the output: [SSL] PEM lib (_ssl.c:3905)", and with
    --workers 2 every worker failed on it and was started again, for ever, without a word.
    """
    import ssl

    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    if not certfile:
        if keyfile or ca_certs:
            fail(
                "--ssl-keyfile and --ssl-ca-certs need --ssl-certfile (the hub's certificate): "
                "without it the hub would serve plain HTTP",
                2,
            )
        return
    given = {"--ssl-certfile": certfile, "--ssl-keyfile": keyfile, "--ssl-ca-certs": ca_certs}
    read: dict[str, bytes] = {}
    for flag, path in given.items():
        if path is not None:
            try:
                with open(path, "rb") as f:
                    read[flag] = f.read()
            except OSError as exc:
                fail(f"{flag} {path}: {exc.strerror or exc}", 2)
    try:
        x509.load_pem_x509_certificates(read["--ssl-certfile"])
    except ValueError:
        fail(f"--ssl-certfile {certfile}: not a PEM certificate", 2)
    key_flag = "--ssl-keyfile" if keyfile else "--ssl-certfile"
    try:
        serialization.load_pem_private_key(read[key_flag], password=None)
    except TypeError:  # the hub has no way to be given its password
        fail(f"{key_flag} {given[key_flag]}: the private key is encrypted; give it decrypted", 2)
    except ValueError:
        if keyfile:
            fail(f"--ssl-keyfile {keyfile}: not a PEM private key", 2)
        fail(f"--ssl-certfile {certfile}: no private key in it; give it with --ssl-keyfile", 2)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    try:
        context.load_cert_chain(certfile, keyfile)
    except ssl.SSLError as exc:
        fail(f"--ssl-certfile {certfile}: {_ssl_reason(exc)}", 2)
    if ca_certs:
        try:
            context.load_verify_locations(ca_certs)
        except ssl.SSLError as exc:
            fail(f"--ssl-ca-certs {ca_certs}: {_ssl_reason(exc)}", 2)


def _ssl_reason(exc: Exception) -> str:
    # OpenSSL's reason code says more than its message with a line of _ssl.c.
    why = str(getattr(exc, "reason", None) or exc)
    return {
        "KEY_VALUES_MISMATCH": "the private key is not this certificate's",
        "NO_CERTIFICATE_OR_CRL_FOUND": "no PEM certificate in it",
    }.get(why, why.lower().replace("_", " "))


def listenable(host: str, ports: list[int], note: str = "", variable: str = "") -> None:
    """Stop with one line unless every port can be listened on at ``host``.

    uvicorn's own refusal was a log line with an errno, and exit 3; ``note`` says what
    else takes ports after the one given with --port, and ``variable`` the setting that
    gives the port without the flag (`make run` passes no flags).
    """
    alternative = f" or {variable}" if variable else ""
    for port in ports:
        problem = _bind_problem(host, port)
        if problem is None:
            continue
        if problem.errno == errno.EADDRINUSE:
            fail(
                f"port {port} on {host} is in use: stop what holds it, or pick another "
                f"with --port{alternative}{note}",
                2,
            )
        fail(f"cannot listen on {host} port {port}: {problem.strerror or problem}", 2)


def _bind_problem(host: str, port: int) -> OSError | None:
    # As uvicorn binds: IPv6 for a host with a colon, and SO_REUSEADDR, so that a port left
    # in TIME_WAIT by a stopped hub is free to use.
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            return exc
    return None


def redis_answers(s: Settings) -> None:
    """Warn when HUB_REDIS_URL does not answer now.

    A warning, not a refusal: a quota is worth less than the exchanges it would stop, so the
    hub counts in each process while Redis is away (docs/security.md, "Quotas"). But a typo
    in its host or port started the hub without a word, and the first exchange under a
    quota, perhaps hours later, was the first to say it.
    """
    if not s.redis_url:
        return
    import redis

    from hub.cli.common import console
    from hub.core.settings import masked_url

    client = redis.Redis.from_url(s.redis_url, socket_timeout=2, socket_connect_timeout=2)
    try:
        client.ping()
    except Exception as exc:  # whatever it is, the workers will fall back the same way
        shown = masked_url(s.redis_url)
        console.print(
            f"warning: HUB_REDIS_URL {shown} does not answer ({exc}): until it "
            "does, each process counts client quotas on its own, and a client may get its "
            'quota once per process (docs/security.md, "Quotas")',
            style="yellow",
            soft_wrap=True,
            highlight=False,
        )
    finally:
        client.close()
