"""The cached checkpoint only moves forward: a larger tree replaces it, and of one size the
note with more cosignatures; a writer that finishes late never rolls it back. In process,
and in Redis shared by every worker."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

import pytest

from api.accel import Accelerator, LocalAccelerator, RedisAccelerator
from ledger.checkpoint import Checkpoint, sign_checkpoint
from ledger.cosignature import attach, cosign
from ledger.signing import Ed25519Signer

LOG = Ed25519Signer.generate()
WITNESS = Ed25519Signer.generate()


def _note(size: int, cosigned: bool = False) -> str:
    checkpoint = Checkpoint("chemtrace.test/log", size, hashlib.sha256(b"%d" % size).digest())
    note = sign_checkpoint(checkpoint, checkpoint.origin, LOG)
    if cosigned:
        note = attach(note, [cosign(checkpoint.to_text(), "w.example", WITNESS, 1_800_000_000)])
    return note


@pytest.fixture(params=["local", pytest.param("redis", marks=pytest.mark.postgres)])
def accel(request: pytest.FixtureRequest) -> Iterator[Accelerator]:
    if request.param == "local":
        yield LocalAccelerator()
        return
    server = request.getfixturevalue("redis_server")
    redis = RedisAccelerator(server.url, namespace=f"cache{id(request)}")
    yield redis
    redis.client.delete(redis.key("checkpoint"))


def test_the_cache_never_goes_back(accel: Accelerator) -> None:
    accel.cache_checkpoint(_note(11))
    accel.cache_checkpoint(_note(10, cosigned=True))  # a witness round that finished late
    assert accel.cached_checkpoint() == _note(11)
    accel.cache_checkpoint(_note(11, cosigned=True))
    assert accel.cached_checkpoint() == _note(11, cosigned=True)
    accel.cache_checkpoint(_note(11))  # the plain note again: fewer lines, kept out
    assert accel.cached_checkpoint() == _note(11, cosigned=True)
    accel.cache_checkpoint(_note(12))
    assert accel.cached_checkpoint() == _note(12)
