"""RFC 6962 Merkle tree hashes, stored the way golang.org/x/mod/sumdb/tlog stores them.

Leaf hash = SHA-256(0x00 || C(e)) (RFC 6962 2.1); node = SHA-256(0x01 || left || right).
Every complete subtree hash is stored once, at the index `stored_hash_index(level, n)`
of tlog's level-interleaved layout, so the tree of n records needs about 2n stored
hashes and any root, inclusion proof or consistency proof reads O(log n) of them.
Port of tlog.go (BSD licence, the Go Authors); the functions keep tlog's names.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence

HashReader = Callable[[Sequence[int]], Sequence[bytes]]
EMPTY_ROOT = hashlib.sha256(b"").digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def stored_hash_index(level: int, n: int) -> int:
    """Where the n-th hash at `level` lives: after level+1's (2n+1)-th hash (tlog)."""
    for _ in range(level):
        n = 2 * n + 1
    i = 0
    while n > 0:
        i += n
        n >>= 1
    return i + level


def stored_hash_count(n: int) -> int:
    """How many hashes a tree of n records stores."""
    if n == 0:
        return 0
    count = stored_hash_index(0, n - 1) + 1
    i = n - 1
    while i & 1:
        count += 1
        i >>= 1
    return count


def stored_hashes_for_record(n: int, leaf: bytes, read: HashReader) -> list[bytes]:
    """The hashes to store when record n (0-based) is appended, in index order."""
    hashes = [leaf]
    m = ((n + 1) & -(n + 1)).bit_length() - 1  # trailing zeros of n+1
    indexes = [0] * m
    for i in range(m):
        indexes[m - 1 - i] = stored_hash_index(i, (n >> i) - 1)
    old = read(indexes)
    h = leaf
    for i in range(m):
        h = node_hash(old[m - 1 - i], h)
        hashes.append(h)
    return hashes


class BatchHasher:
    """Computes the stored hashes of a batch of new leaves, reading older ones as needed.

    Hashes made earlier in the same batch are answered from memory, so a batch of k
    records costs O(log n) reads of the store of hashes, not O(k log n).
    """

    def __init__(self, start: int, read: HashReader) -> None:
        self.next_index = stored_hash_count(start)
        self.n = start
        self.new: dict[int, bytes] = {}
        self._read = read

    def _reader(self, indexes: Sequence[int]) -> list[bytes]:
        missing = [i for i in indexes if i not in self.new]
        found = dict(zip(missing, self._read(missing), strict=True)) if missing else {}
        return [self.new[i] if i in self.new else found[i] for i in indexes]

    def add(self, leaf: bytes) -> None:
        for h in stored_hashes_for_record(self.n, leaf, self._reader):
            self.new[self.next_index] = h
            self.next_index += 1
        self.n += 1

    def read(self, indexes: Sequence[int]) -> list[bytes]:
        """A reader over the tree including this batch, for the new root."""
        return self._reader(indexes)


def _maxpow2(n: int) -> tuple[int, int]:
    """k, the largest power of 2 smaller than n, and log2(k)."""
    level = 0
    while 1 << (level + 1) < n:
        level += 1
    return 1 << level, level


def _sub_tree_index(lo: int, hi: int, need: list[int]) -> list[int]:
    while lo < hi:
        k, level = _maxpow2(hi - lo + 1)
        need.append(stored_hash_index(level, lo >> level))
        lo += k
    return need


def _sub_tree_hash(lo: int, hi: int, hashes: list[bytes]) -> tuple[bytes, list[bytes]]:
    num = 0
    while lo < hi:
        k, _ = _maxpow2(hi - lo + 1)
        num += 1
        lo += k
    th = hashes[num - 1]
    for i in range(num - 2, -1, -1):
        th = node_hash(hashes[i], th)
    return th, hashes[num:]


def tree_hash(n: int, read: HashReader) -> bytes:
    """The RFC 6962 root of the first n records (MTH of the empty list for n = 0)."""
    if n == 0:
        return EMPTY_ROOT
    indexes = _sub_tree_index(0, n, [])
    h, _ = _sub_tree_hash(0, n, list(read(indexes)))
    return h


def _leaf_proof_index(lo: int, hi: int, n: int, need: list[int]) -> list[int]:
    if lo + 1 == hi:
        return need
    k, _ = _maxpow2(hi - lo)
    if n < lo + k:
        _leaf_proof_index(lo, lo + k, n, need)
        _sub_tree_index(lo + k, hi, need)
    else:
        _sub_tree_index(lo, lo + k, need)
        _leaf_proof_index(lo + k, hi, n, need)
    return need


def _leaf_proof(lo: int, hi: int, n: int, hashes: list[bytes]) -> tuple[list[bytes], list[bytes]]:
    if lo + 1 == hi:
        return [], hashes
    k, _ = _maxpow2(hi - lo)
    if n < lo + k:
        p, hashes = _leaf_proof(lo, lo + k, n, hashes)
        th, hashes = _sub_tree_hash(lo + k, hi, hashes)
    else:
        th, hashes = _sub_tree_hash(lo, lo + k, hashes)
        p, hashes = _leaf_proof(lo + k, hi, n, hashes)
    p.append(th)
    return p, hashes


def prove_inclusion(tree_size: int, index: int, read: HashReader) -> list[bytes]:
    """RFC 6962 audit path of leaf `index` in the tree of `tree_size`, nearest sibling first."""
    if not 0 <= index < tree_size:
        raise ValueError("index outside the tree")
    indexes = _leaf_proof_index(0, tree_size, index, [])
    if not indexes:
        return []
    p, _ = _leaf_proof(0, tree_size, index, list(read(indexes)))
    return p


def _tree_proof_index(lo: int, hi: int, n: int, need: list[int]) -> list[int]:
    if n == hi:
        return need if lo == 0 else _sub_tree_index(lo, hi, need)
    k, _ = _maxpow2(hi - lo)
    if n <= lo + k:
        _tree_proof_index(lo, lo + k, n, need)
        _sub_tree_index(lo + k, hi, need)
    else:
        _sub_tree_index(lo, lo + k, need)
        _tree_proof_index(lo + k, hi, n, need)
    return need


def _tree_proof(lo: int, hi: int, n: int, hashes: list[bytes]) -> tuple[list[bytes], list[bytes]]:
    if n == hi:
        if lo == 0:
            return [], hashes
        th, hashes = _sub_tree_hash(lo, hi, hashes)
        return [th], hashes
    k, _ = _maxpow2(hi - lo)
    if n <= lo + k:
        p, hashes = _tree_proof(lo, lo + k, n, hashes)
        th, hashes = _sub_tree_hash(lo + k, hi, hashes)
    else:
        th, hashes = _sub_tree_hash(lo, lo + k, hashes)
        p, hashes = _tree_proof(lo + k, hi, n, hashes)
    p.append(th)
    return p, hashes


def prove_consistency(old_size: int, new_size: int, read: HashReader) -> list[bytes]:
    """RFC 6962 2.1.2 consistency proof that the tree of old_size is a prefix of new_size."""
    if not 1 <= old_size <= new_size:
        raise ValueError("need 1 <= old_size <= new_size")
    indexes = _tree_proof_index(0, new_size, old_size, [])
    if not indexes:
        return []
    p, _ = _tree_proof(0, new_size, old_size, list(read(indexes)))
    return p


def root_of(leaves: Iterable[bytes]) -> bytes:
    """Root of a list of leaf hashes, by a stack of complete subtrees (for verification)."""
    stack: list[tuple[int, bytes]] = []  # (size, hash), sizes strictly decreasing powers of 2
    count = 0
    for leaf in leaves:
        size, h = 1, leaf
        while stack and stack[-1][0] == size:
            _, left = stack.pop()
            h = node_hash(left, h)
            size *= 2
        stack.append((size, h))
        count += 1
    if count == 0:
        return EMPTY_ROOT
    h = stack[-1][1]
    for _, left in reversed(stack[:-1]):
        h = node_hash(left, h)
    return h


def verify_inclusion(leaf: bytes, index: int, tree_size: int, path: Sequence[bytes],
                     root: bytes) -> bool:
    """RFC 9162 2.1.3.2: recompute the root from the leaf and its audit path."""
    if not 0 <= index < tree_size:
        return False
    fn, sn, r = index, tree_size - 1, leaf
    for p in path:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def verify_consistency(old_size: int, new_size: int, old_root: bytes, new_root: bytes,
                       path: Sequence[bytes]) -> bool:
    """RFC 9162 2.1.4.2: check that old_root's tree is a prefix of new_root's."""
    if old_size < 1 or old_size > new_size:
        return False
    if old_size == new_size:
        return not path and old_root == new_root
    path = list(path)
    if old_size & (old_size - 1) == 0:  # a power of two: the old root is a node in the path
        path.insert(0, old_root)
    if not path:
        return False
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return fr == old_root and sr == new_root and sn == 0
