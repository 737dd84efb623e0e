"""archiver/log/merkle.py is RFC 6962 (section 2.1) stored in tlog's hash layout.

Every result is compared with a plain reference written straight from the RFC's
recursive definitions (MTH, PATH, SUBPROOF) over a list of leaf hashes; the stored-hash
layout is compared with the values golang.org/x/mod/sumdb/tlog documents.
"""

from __future__ import annotations

import functools
import hashlib
import math
from collections.abc import Callable, Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from archiver.log.merkle import (
    EMPTY_ROOT,
    BatchHasher,
    prove_consistency,
    prove_inclusion,
    root_of,
    stored_hash_count,
    stored_hash_index,
    stored_hashes_for_record,
    tree_hash,
    verify_consistency,
    verify_inclusion,
)

# --- reference: RFC 6962 section 2.1, over the list of leaf hashes D[0:n] -------------


def _largest_power_of_two_below(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def ref_mth(d: Sequence[bytes]) -> bytes:
    """MTH(D[n]): the leaves here are already leaf hashes SHA-256(0x00 || d)."""
    return _mth(tuple(d))


@functools.cache
def _mth(d: tuple[bytes, ...]) -> bytes:  # cached only to keep the exhaustive tests fast
    n = len(d)
    if n == 0:
        return hashlib.sha256(b"").digest()
    if n == 1:
        return d[0]
    k = _largest_power_of_two_below(n)
    return hashlib.sha256(b"\x01" + ref_mth(d[:k]) + ref_mth(d[k:])).digest()


def ref_path(m: int, d: Sequence[bytes]) -> list[bytes]:
    """PATH(m, D[n]), RFC 6962 2.1.1."""
    n = len(d)
    if n == 1:
        return []
    k = _largest_power_of_two_below(n)
    if m < k:
        return ref_path(m, d[:k]) + [ref_mth(d[k:])]
    return ref_path(m - k, d[k:]) + [ref_mth(d[:k])]


def ref_subproof(m: int, d: Sequence[bytes], b: bool) -> list[bytes]:
    """SUBPROOF(m, D[n], b), RFC 6962 2.1.2."""
    n = len(d)
    if m == n:
        return [] if b else [ref_mth(d)]
    k = _largest_power_of_two_below(n)
    if m <= k:
        return ref_subproof(m, d[:k], b) + [ref_mth(d[k:])]
    return ref_subproof(m - k, d[k:], False) + [ref_mth(d[:k])]


def ref_proof(m: int, d: Sequence[bytes]) -> list[bytes]:
    """PROOF(m, D[n]) = SUBPROOF(m, D[n], true)."""
    return ref_subproof(m, d, True)


# --- helpers --------------------------------------------------------------------------


def leaves(n: int, salt: bytes = b"") -> list[bytes]:
    return [hashlib.sha256(b"\x00" + salt + i.to_bytes(8, "big")).digest() for i in range(n)]


class Store:
    """A dict of stored hashes that refuses reads beyond a given tree size and counts reads."""

    def __init__(self) -> None:
        self.hashes: dict[int, bytes] = {}
        self.reads = 0
        self.limit: int | None = None

    def read(self, indexes: Sequence[int]) -> list[bytes]:
        self.reads += len(indexes)
        for i in indexes:
            assert i >= 0
            assert self.limit is None or i < self.limit, f"read of index {i} beyond the tree"
        return [self.hashes[i] for i in indexes]

    def reader_for_size(self, n: int) -> Callable[[Sequence[int]], list[bytes]]:
        def read(indexes: Sequence[int]) -> list[bytes]:
            for i in indexes:
                assert i < stored_hash_count(n), f"read of index {i}, tree of {n} stores fewer"
            return self.read(indexes)

        return read


def build_one_at_a_time(ls: Sequence[bytes]) -> Store:
    """Append with stored_hashes_for_record, checking each record adds exactly the next indexes."""
    store = Store()
    for n, leaf in enumerate(ls):
        new = stored_hashes_for_record(n, leaf, store.reader_for_size(n))
        assert len(store.hashes) == stored_hash_count(n)
        for h in new:
            store.hashes[len(store.hashes)] = h
        assert list(store.hashes) == list(range(stored_hash_count(n + 1)))
    return store


def build_batched(ls: Sequence[bytes], cuts: Sequence[int]) -> Store:
    store = Store()
    bounds = [0, *sorted(set(c for c in cuts if 0 < c < len(ls))), len(ls)]
    for lo, hi in zip(bounds, bounds[1:], strict=False):
        batch = BatchHasher(lo, store.reader_for_size(lo))
        for leaf in ls[lo:hi]:
            batch.add(leaf)
        assert sorted(batch.new) == list(range(stored_hash_count(lo), stored_hash_count(hi)))
        store.hashes.update(batch.new)
    return store


N_BIG = 200
BIG_LEAVES = leaves(N_BIG)


@pytest.fixture(scope="module")
def big() -> Store:
    return build_one_at_a_time(BIG_LEAVES)


def flip_bit(h: bytes, bit: int) -> bytes:
    b = bytearray(h)
    b[bit // 8] ^= 1 << (bit % 8)
    return bytes(b)


# --- layout ---------------------------------------------------------------------------


def test_empty_root_is_sha256_of_nothing() -> None:
    assert hashlib.sha256(b"").digest() == EMPTY_ROOT
    assert tree_hash(0, Store().read) == EMPTY_ROOT
    assert root_of([]) == EMPTY_ROOT


@pytest.mark.parametrize(("n", "index"), list(enumerate([0, 1, 3, 4, 7, 8, 10, 11])))
def test_level_zero_hashes_sit_where_tlog_documents(n: int, index: int) -> None:
    assert stored_hash_index(0, n) == index


@pytest.mark.parametrize(("level", "n", "index"),
                         [(1, 0, 2), (1, 1, 5), (1, 2, 9), (1, 3, 12), (2, 0, 6), (2, 1, 13),
                          (3, 0, 14)])
def test_interior_hashes_sit_after_the_leaf_that_completes_them(level: int, n: int,
                                                                index: int) -> None:
    assert stored_hash_index(level, n) == index


@pytest.mark.parametrize(("n", "count"), [(0, 0), (1, 1), (2, 3), (3, 4), (4, 7), (5, 8),
                                          (7, 11), (8, 15), (16, 31)])
def test_stored_hash_count_is_the_number_of_complete_subtrees(n: int, count: int) -> None:
    assert stored_hash_count(n) == count


def test_stored_hash_index_is_a_bijection_onto_the_dense_prefix() -> None:
    n = 64
    seen = sorted(stored_hash_index(level, k)
                  for level in range(7) for k in range(n >> level))
    assert seen == list(range(stored_hash_count(n)))


def test_each_stored_hash_is_the_mth_of_its_complete_subtree(big: Store) -> None:
    for level in range(8):
        size = 1 << level
        for k in range(N_BIG // size):
            subtree = BIG_LEAVES[k * size:(k + 1) * size]
            assert big.hashes[stored_hash_index(level, k)] == ref_mth(subtree), (level, k)


def test_appending_records_fills_indexes_zero_to_count_in_order(big: Store) -> None:
    # build_one_at_a_time asserts it after every append; here, the end state.
    assert list(big.hashes) == list(range(stored_hash_count(N_BIG)))


# --- roots ----------------------------------------------------------------------------


@pytest.mark.parametrize("n", range(1, N_BIG + 1))
def test_tree_hash_is_rfc6962_mth(big: Store, n: int) -> None:
    assert tree_hash(n, big.reader_for_size(n)) == ref_mth(BIG_LEAVES[:n])


@pytest.mark.parametrize("n", [255, 256, 257, 511, 1000, 1025])
def test_tree_hash_is_rfc6962_mth_for_larger_trees(n: int) -> None:
    ls = leaves(n, b"large")
    store = build_batched(ls, [n // 3, n // 2])
    assert tree_hash(n, store.read) == ref_mth(ls)


@pytest.mark.parametrize("n", range(0, 70))
def test_root_of_is_rfc6962_mth(n: int) -> None:
    ls = leaves(n, b"root_of")
    assert root_of(ls) == ref_mth(ls)


@settings(max_examples=60, deadline=None)
@given(st.integers(min_value=1, max_value=400), st.lists(st.integers(0, 400), max_size=8))
def test_batches_with_any_split_store_the_same_hashes_as_one_at_a_time(
        n: int, cuts: list[int]) -> None:
    ls = leaves(n, b"batch")
    expected = build_one_at_a_time(ls).hashes
    assert build_batched(ls, cuts).hashes == expected


def test_batch_reader_gives_the_root_including_the_batch() -> None:
    ls = leaves(37, b"batch-root")
    store = build_one_at_a_time(ls[:20])
    batch = BatchHasher(20, store.read)
    for leaf in ls[20:]:
        batch.add(leaf)
    assert tree_hash(37, batch.read) == ref_mth(ls)


def test_batch_reads_the_store_o_log_n_times_not_per_record() -> None:
    ls = leaves(1000, b"batch-reads")
    store = build_one_at_a_time(ls[:500])
    store.reads = 0
    batch = BatchHasher(500, store.read)
    for leaf in ls[500:]:
        batch.add(leaf)
    assert store.reads <= 2 * math.ceil(math.log2(1000))


# --- inclusion proofs -----------------------------------------------------------------


@pytest.mark.parametrize("n", range(1, N_BIG + 1))
def test_inclusion_proof_is_rfc6962_path_for_every_index(big: Store, n: int) -> None:
    d = BIG_LEAVES[:n]
    read = big.reader_for_size(n)
    for m in range(n):
        assert prove_inclusion(n, m, read) == ref_path(m, d), m


@pytest.mark.parametrize(("n", "index"), [(0, 0), (5, 5), (5, -1), (1, 1)])
def test_inclusion_proof_of_an_index_outside_the_tree_is_refused(big: Store, n: int,
                                                                 index: int) -> None:
    with pytest.raises(ValueError):
        prove_inclusion(n, index, big.read)


@pytest.mark.parametrize("n", range(1, 65))
def test_verify_inclusion_accepts_every_reference_path(n: int) -> None:
    d = BIG_LEAVES[:n]
    root = ref_mth(d)
    for m in range(n):
        assert verify_inclusion(d[m], m, n, ref_path(m, d), root), m


@pytest.mark.parametrize("n", [1, 2, 3, 5, 8, 13, 31, 32, 33])
def test_verify_inclusion_rejects_any_flipped_bit_in_the_path_the_leaf_or_the_root(
        n: int) -> None:
    d = BIG_LEAVES[:n]
    root = ref_mth(d)
    for m in range(n):
        path = ref_path(m, d)
        for j in range(len(path)):
            for bit in range(256):
                bad = path[:j] + [flip_bit(path[j], bit)] + path[j + 1:]
                assert not verify_inclusion(d[m], m, n, bad, root), (m, j, bit)
        for bit in range(0, 256, 7):
            assert not verify_inclusion(flip_bit(d[m], bit), m, n, path, root)
            assert not verify_inclusion(d[m], m, n, path, flip_bit(root, bit))


@pytest.mark.parametrize("n", range(2, 33))
def test_verify_inclusion_rejects_a_wrong_index(n: int) -> None:
    d = BIG_LEAVES[:n]
    root = ref_mth(d)
    for m in range(n):
        path = ref_path(m, d)
        for other in [*range(-1, m), *range(m + 1, n + 1)]:
            assert not verify_inclusion(d[m], other, n, path, root), (m, other)


@pytest.mark.parametrize("n", range(1, 33))
def test_verify_inclusion_rejects_a_proof_for_another_tree_size(n: int) -> None:
    # The size and root come together from a checkpoint; a path made for a tree of
    # n records does not verify against any other checkpoint (size, root).
    d = BIG_LEAVES[:n]
    for m in range(n):
        path = ref_path(m, d)
        for other in range(m + 1, 40):
            if other != n:
                assert not verify_inclusion(d[m], m, other, path, ref_mth(BIG_LEAVES[:other]))


def test_verify_inclusion_rejects_a_size_of_zero_or_an_index_at_the_size() -> None:
    d = BIG_LEAVES[:4]
    assert not verify_inclusion(d[0], 0, 0, ref_path(0, d), ref_mth(d))
    assert not verify_inclusion(d[3], 4, 4, ref_path(3, d), ref_mth(d))


@pytest.mark.parametrize("n", range(1, 33))
def test_verify_inclusion_rejects_a_truncated_or_extended_path(n: int) -> None:
    d = BIG_LEAVES[:n]
    root = ref_mth(d)
    for m in range(n):
        path = ref_path(m, d)
        for cut in range(len(path)):
            assert not verify_inclusion(d[m], m, n, path[:cut], root), (m, cut)
        assert not verify_inclusion(d[m], m, n, [*path, path[-1] if path else root], root)
        assert not verify_inclusion(d[m], m, n, [*path, EMPTY_ROOT], root)


# --- consistency proofs ---------------------------------------------------------------


@pytest.mark.parametrize("n", range(1, 65))
def test_consistency_proof_is_rfc6962_subproof_for_every_old_size(big: Store, n: int) -> None:
    d = BIG_LEAVES[:n]
    read = big.reader_for_size(n)
    for m in range(1, n + 1):
        assert prove_consistency(m, n, read) == ref_proof(m, d), m


@settings(max_examples=80, deadline=None)
@given(st.data())
def test_consistency_proof_is_rfc6962_subproof_up_to_200(big: Store, data: st.DataObject) -> None:
    n = data.draw(st.integers(65, N_BIG))
    m = data.draw(st.integers(1, n))
    assert prove_consistency(m, n, big.reader_for_size(n)) == ref_proof(m, BIG_LEAVES[:n])


@pytest.mark.parametrize(("m", "n"), [(0, 5), (6, 5), (0, 0), (-1, 3)])
def test_consistency_proof_outside_1_to_new_size_is_refused(big: Store, m: int, n: int) -> None:
    with pytest.raises(ValueError):
        prove_consistency(m, n, big.read)


@pytest.mark.parametrize("n", range(1, 65))
def test_verify_consistency_accepts_every_reference_proof(n: int) -> None:
    d = BIG_LEAVES[:n]
    for m in range(1, n + 1):
        assert verify_consistency(m, n, ref_mth(d[:m]), ref_mth(d), ref_proof(m, d)), m


@pytest.mark.parametrize("n", [2, 3, 4, 5, 7, 8, 9, 16, 17, 31])
def test_verify_consistency_rejects_any_flipped_bit_in_the_proof_or_the_roots(n: int) -> None:
    d = BIG_LEAVES[:n]
    new_root = ref_mth(d)
    for m in range(1, n):
        old_root = ref_mth(d[:m])
        proof = ref_proof(m, d)
        for j in range(len(proof)):
            for bit in range(256):
                bad = proof[:j] + [flip_bit(proof[j], bit)] + proof[j + 1:]
                assert not verify_consistency(m, n, old_root, new_root, bad), (m, j, bit)
        for bit in range(0, 256, 5):
            assert not verify_consistency(m, n, flip_bit(old_root, bit), new_root, proof)
            assert not verify_consistency(m, n, old_root, flip_bit(new_root, bit), proof)


@pytest.mark.parametrize("n", range(2, 33))
def test_verify_consistency_rejects_a_proof_for_other_sizes(n: int) -> None:
    d = BIG_LEAVES[:n]
    for m in range(1, n):
        proof = ref_proof(m, d)
        for m2 in range(1, 34):
            for n2 in range(m2, 34):
                if (m2, n2) == (m, n):
                    continue
                old_root, new_root = ref_mth(BIG_LEAVES[:m2]), ref_mth(BIG_LEAVES[:n2])
                assert not verify_consistency(m2, n2, old_root, new_root, proof), (m, n, m2, n2)


@pytest.mark.parametrize("n", range(2, 33))
def test_verify_consistency_rejects_a_truncated_or_extended_proof(n: int) -> None:
    d = BIG_LEAVES[:n]
    new_root = ref_mth(d)
    for m in range(1, n):
        old_root = ref_mth(d[:m])
        proof = ref_proof(m, d)
        for cut in range(len(proof)):
            assert not verify_consistency(m, n, old_root, new_root, proof[:cut]), (m, cut)
        assert not verify_consistency(m, n, old_root, new_root, [*proof, proof[-1]])
        assert not verify_consistency(m, n, old_root, new_root, [*proof, EMPTY_ROOT])


def test_verify_consistency_of_equal_sizes_needs_equal_roots_and_an_empty_proof() -> None:
    d = BIG_LEAVES[:9]
    root = ref_mth(d)
    assert verify_consistency(9, 9, root, root, [])
    assert not verify_consistency(9, 9, root, ref_mth(BIG_LEAVES[:10]), [])
    assert not verify_consistency(9, 9, root, root, [root])


def test_verify_consistency_rejects_sizes_below_one_or_shrinking() -> None:
    assert not verify_consistency(0, 3, EMPTY_ROOT, ref_mth(BIG_LEAVES[:3]), [])
    assert not verify_consistency(4, 3, ref_mth(BIG_LEAVES[:4]), ref_mth(BIG_LEAVES[:3]), [])


# --- cost -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def hundred_thousand() -> Store:
    store = Store()
    batch = BatchHasher(0, store.read)
    for leaf in leaves(100_000, b"large-tree"):
        batch.add(leaf)
    store.hashes = batch.new
    return store


def _reads(store: Store, f: Callable[[Callable[[Sequence[int]], list[bytes]]], object]) -> int:
    store.reads = 0
    f(store.read)
    return store.reads


@pytest.mark.parametrize("n", [100_000, 99_999, 65_536, 65_537, 77_777])
def test_proofs_read_o_log_n_stored_hashes(hundred_thousand: Store, n: int) -> None:
    bound = 3 * math.log2(n)
    assert _reads(hundred_thousand, lambda r: tree_hash(n, r)) < bound
    for index in [0, 1, n // 3, n // 2, 65_535, n - 2, n - 1]:
        assert _reads(hundred_thousand, lambda r, i=index: prove_inclusion(n, i, r)) < bound
    for m in [1, 2, 3, 1000, 4097, n // 2, 65_536, n - 1, n]:
        if m <= n:
            assert _reads(hundred_thousand, lambda r, m=m: prove_consistency(m, n, r)) < bound


def test_proofs_of_the_large_tree_verify_against_its_root(hundred_thousand: Store) -> None:
    ls = leaves(100_000, b"large-tree")
    root = root_of(ls)
    assert tree_hash(100_000, hundred_thousand.read) == root
    for index in [0, 12_345, 99_999]:
        path = prove_inclusion(100_000, index, hundred_thousand.read)
        assert verify_inclusion(ls[index], index, 100_000, path, root)
    old = tree_hash(77_777, hundred_thousand.read)
    proof = prove_consistency(77_777, 100_000, hundred_thousand.read)
    assert verify_consistency(77_777, 100_000, old, root, proof)
