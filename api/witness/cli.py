"""``chemtrace witness``: make a witness key, show its vkey, and serve a witness.

A witness is run by another party than the log, so nothing here reads the ledger's
database or keystore: the witness has its own key file, the log keys it is given, and its
own state folder. Exit code 2 means it could not run; the message says why.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    load_pem_private_key,
)

from api.witness.state import Witness, WitnessStateError
from ledger.cosignature import CosignerVerifier
from ledger.errors import LedgerError
from ledger.note import NoteVerifier, check_key_name, parse_vkey
from ledger.signing import Ed25519Signer
from ledger.store.files import fsync_folder

app = typer.Typer(
    help="A C2SP witness (c2sp.org/tlog-witness) run by another party than the log.",
    no_args_is_help=True,
    add_completion=False,
)

KeyOption = Annotated[
    Path, typer.Option("--key", help="The witness's Ed25519 private key (PKCS#8 PEM, mode 0600).")
]
NameOption = Annotated[
    str,
    typer.Option("--name", help="The witness (cosigner) name, e.g. witness.example.org/w1."),
]


def _fail(message: str) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(2)


def _vkey_path(key: Path) -> Path:
    return key.with_name(key.name + ".vkey")


def _write_new(path: Path, data: bytes, mode: int) -> None:
    """Create ``path`` (never replace it) and make it durable."""
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    fsync_folder(path.parent)


def _cosigner(name: str, signer: Ed25519Signer) -> CosignerVerifier:
    try:
        check_key_name(name)
        return CosignerVerifier.for_key(name, signer.public_key)
    except LedgerError as exc:
        _fail(f"bad witness name {name!r}: {exc.diagnostics()}")


def _load_key(path: Path) -> Ed25519Signer:
    if not path.is_file():
        _fail(f"no witness key at {path}: make one with `chemtrace witness keygen`")
    if path.stat().st_mode & 0o077:
        _fail(f"{path} is readable by others; chmod 600 it")
    try:
        loaded = load_pem_private_key(path.read_bytes(), password=None)
    except (ValueError, TypeError) as exc:
        _fail(f"{path} is not an unencrypted PKCS#8 PEM private key ({exc})")
    if not isinstance(loaded, Ed25519PrivateKey):
        _fail(f"{path} is not an Ed25519 key")
    return Ed25519Signer(loaded)


def _load_log_keys(paths: list[Path]) -> dict[str, list[NoteVerifier]]:
    """Origin to its trusted log keys: each file is one vkey, whose key name is the origin."""
    trusted: dict[str, list[NoteVerifier]] = {}
    for path in paths:
        try:
            verifier = parse_vkey(path.read_text(encoding="utf-8").strip())
        except OSError as exc:
            _fail(f"cannot read the log key {path}: {exc}")
        except LedgerError as exc:
            _fail(f"{path} is not a C2SP Ed25519 log vkey: {exc.diagnostics()}")
        keys = trusted.setdefault(verifier.name, [])
        if verifier not in keys:
            keys.append(verifier)
    return trusted


@app.command()
def keygen(
    out: Annotated[Path, typer.Option("--out", help="Where to write the new private key.")],
    name: NameOption,
) -> None:
    """Make a witness key: OUT (PKCS#8 PEM, 0600) and OUT.vkey; print the cosigner vkey.

    Refuses to overwrite either file: a witness key, once its vkey is published, is the
    witness's identity.
    """
    for path in (out, _vkey_path(out)):
        if path.exists():
            _fail(f"{path} exists; refusing to overwrite a key")
    key = Ed25519PrivateKey.generate()
    signer = Ed25519Signer(key)
    vkey = _cosigner(name, signer).vkey()
    pem = key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
    try:
        _write_new(out, pem, 0o600)
        _write_new(_vkey_path(out), f"{vkey}\n".encode(), 0o644)
    except OSError as exc:
        _fail(f"cannot write the key: {exc}")
    typer.echo(vkey)


@app.command()
def vkey(key: KeyOption, name: NameOption) -> None:
    """Print the cosigner vkey (type 0x04) of KEY under NAME: what verifiers pin."""
    typer.echo(_cosigner(name, _load_key(key)).vkey())


@app.command()
def serve(
    key: KeyOption,
    name: NameOption,
    log_key: Annotated[
        list[Path],
        typer.Option(
            "--log-key",
            help="A log's C2SP vkey file; its key name is the log's origin. Repeat it for "
            "more logs, or for several keys of one log (rotation).",
        ),
    ],
    state: Annotated[
        Path, typer.Option("--state", help="The witness's own state folder (one process each).")
    ],
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="TCP port to listen on.")] = 7380,
) -> None:
    """Serve add-checkpoint and the monitoring checkpoints (one process per state folder)."""
    import uvicorn

    from api.witness.app import create_app

    signer = _load_key(key)
    cosigner = _cosigner(name, signer)
    trusted = _load_log_keys(log_key)
    if not trusted:
        _fail("no --log-key given: a witness must follow at least one log")
    try:
        witness = Witness.open(state, name=name, signer=signer, trusted=trusted)
    except WitnessStateError as exc:
        _fail(str(exc))
    except OSError as exc:
        _fail(f"cannot open the state folder {state}: {exc}")
    typer.echo(
        f"witness {cosigner.vkey()} follows {', '.join(sorted(trusted))}; "
        f"state in {state}; listening on http://{host}:{port}",
        err=True,
    )
    try:
        uvicorn.run(create_app(witness), host=host, port=port, log_level="warning")
    finally:
        witness.close()
