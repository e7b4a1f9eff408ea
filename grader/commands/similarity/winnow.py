"""Winnowing: a few fingerprints per document that every copy of a long enough passage shares.

Schleimer, Wilkerson and Aiken, "Winnowing: Local Algorithms for Document Fingerprinting" (SIGMOD 2003), the
method behind MOSS. Every k consecutive tokens (a k-gram) get a hash; of every `window` consecutive k-gram
hashes the smallest is kept (the rightmost one on ties). Two documents that share a passage of at least
`window + k - 1` tokens therefore share at least one kept hash, whatever surrounds the passage, and a document
keeps only about 2 / (window + 1) of its k-grams. Passages shorter than k tokens are never seen: that is the
noise threshold.

Hashes are deterministic (the same text gives the same fingerprints in every process and run), so a report is
reproducible. Everything is numpy over whole token streams: linear in the stream's length.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np

_MULTIPLIER = np.uint64(0x9E3779B97F4A7C15)  # odd: multiplication by it is a bijection mod 2**64
_MIX_1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX_2 = np.uint64(0x94D049BB133111EB)
_token_ids: dict[str, int] = {}
_MAX_CACHED = 1 << 20


def token_id(token: str) -> int:
    """A stable 63-bit number for a token's text (the same in every process, unlike hash(str))."""
    found = _token_ids.get(token)
    if found is None:
        found = int.from_bytes(hashlib.blake2b(token.encode("utf-8", "surrogatepass"), digest_size=8).digest(),
                               "little") >> 1
        if len(_token_ids) < _MAX_CACHED:
            _token_ids[token] = found
    return found


def kgram_hashes(ids: Sequence[int] | np.ndarray, k: int) -> np.ndarray:
    """The hash of every k-gram of `ids` (a uint64 array of length max(0, len(ids) - k + 1))."""
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    values = np.asarray(ids, dtype=np.uint64)
    count = len(values) - k + 1
    if count <= 0:
        return np.zeros(0, dtype=np.uint64)
    hashes = np.zeros(count, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for offset in range(k):  # a polynomial in the multiplier, wrapping mod 2**64
            hashes = hashes * _MULTIPLIER + values[offset:offset + count]
        # splitmix64's finaliser: the polynomial's low bits are poorly mixed, and winnowing keeps minima.
        hashes ^= hashes >> np.uint64(30)
        hashes *= _MIX_1
        hashes ^= hashes >> np.uint64(27)
        hashes *= _MIX_2
        hashes ^= hashes >> np.uint64(31)
    return hashes


def winnow(hashes: np.ndarray, window: int) -> np.ndarray:
    """Positions of the hashes winnowing keeps: the rightmost minimum of every `window` consecutive hashes.

    A stream shorter than one window keeps its rightmost minimum. Positions are sorted and unique.
    """
    if window < 1:
        raise ValueError(f"window must be at least 1, got {window}")
    count = len(hashes)
    if count == 0:
        return np.zeros(0, dtype=np.int64)
    if count <= window:
        return np.array([count - 1 - int(np.argmin(hashes[::-1]))], dtype=np.int64)
    windows = np.lib.stride_tricks.sliding_window_view(hashes, window)
    # argmin finds the first minimum; over the reversed window that is the rightmost one.
    rightmost = window - 1 - np.argmin(windows[:, ::-1], axis=1)
    return np.unique(np.arange(len(windows), dtype=np.int64) + rightmost)
