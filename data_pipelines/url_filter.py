"""datatrove's URLFilter, kept off the network and cheap to start.

The filter's block lists ship inside the datatrove wheel: 4.56 M domains and 19.6 k URLs, plus banned words.
datatrove reads them into Python sets in every task that runs the filter: ~4.3 s and ~0.6 GB of RAM per task (on a
2-core Zen 4; 4.5-8.3 s of the tiny recipe's ~15 s filter task went to it, in each of its 4 tasks). Here the two big
lists are read once per machine into sorted 64-bit hashes saved beside datatrove's own extracted copy (36 MB), and
each task memory-maps them: a membership test is a hash and a binary search, with the same answers as datatrove's
sets (tested) except for a hash collision, which for 4.6 M entries happens to a given URL with probability
~2.5e-13. The filtering itself (domain, subdomain, URL, banned words and subwords) is datatrove's, unchanged.

Its tldextract would still try to download the public suffix list (long tracebacks, then a fallback to its bundled
snapshot): with no suffix-list URLs it goes straight to the snapshot.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import xxhash
from datatrove.pipeline.filters import URLFilter
from datatrove.pipeline.filters.url_filter import get_list, parse_list


_hash = xxhash.xxh3_64_intdigest  # of a str: of its UTF-8 bytes


class HashedBlockList:
    """`text in block_list` for a block list of millions of lines: sorted hashes on disk, plus a few extra entries
    (the recipe's extra_domains) as a plain set."""

    def __init__(self, hashes: np.ndarray, extra: set[str] | None = None):
        self.hashes = hashes
        self.extra = set(extra or ())

    def __contains__(self, text) -> bool:
        return text in self.extra or self._listed(text)

    def _listed(self, text) -> bool:
        if not isinstance(text, str) or len(self.hashes) == 0:
            return False
        key = np.uint64(_hash(text))
        index = int(np.searchsorted(self.hashes, key))
        return index < len(self.hashes) and self.hashes[index] == key

    def __len__(self) -> int:  # as the union datatrove builds: an extra entry that is listed counts once
        return len(self.hashes) + sum(not self._listed(text) for text in self.extra)


def hashed_list_path(list_path: str | os.PathLike) -> Path:
    """Where the hashes of this version of the list go: its size and modification time are in the name, so a list
    extracted again with other contents gets new hashes (tar keeps the archive's old timestamps, so "newer than the
    hashes" would not tell)."""
    stat = Path(list_path).stat()
    return Path(f"{list_path}.{stat.st_size}-{stat.st_mtime_ns}.xxh3_64.npy")


def build_hashed_list(list_path: str | os.PathLike) -> Path:
    """Reads a block list exactly as datatrove does (parse_list: stripped lines, '#' lines skipped, not normalised)
    and saves its sorted unique hashes beside it; written to a temporary name first, so a killed build leaves no
    half-written cache."""
    with open(list_path) as f:
        entries = parse_list(f, do_normalize=False)
    hashes = np.fromiter(map(_hash, entries), dtype=np.uint64, count=len(entries))
    hashes.sort()  # np.unique took 6.1 s on these 4.56 M hashes, a sort and a mask 0.2 s
    if len(hashes):
        hashes = hashes[np.concatenate(([True], hashes[1:] != hashes[:-1]))]
    target = hashed_list_path(list_path)
    partial = target.with_name(f"{target.name}.{os.getpid()}.partial.npy")
    np.save(partial, hashes)
    os.replace(partial, target)
    return target


def load_hashed_list(list_path: str | os.PathLike, extra: set[str]) -> HashedBlockList:
    """The block list at `list_path` as a HashedBlockList, building its hash file first if this version of the list
    has none."""
    from datatrove.io import safely_create_file

    target = hashed_list_path(list_path)

    def build_if_missing():
        if not target.exists():
            build_hashed_list(list_path)

    # the lock makes one task of a pool build it while the others wait (the file's existence is the marker)
    safely_create_file(str(target), build_if_missing, completed_file=False)
    return HashedBlockList(np.load(target, mmap_mode="r"), extra)


class OfflineURLFilter(URLFilter):
    name = "😈 Url-filter"

    def __init__(self, **kwargs):
        from tldextract import TLDExtract

        super().__init__(**kwargs)
        self.tldextractor = TLDExtract(suffix_list_urls=())

    def download_data(self):
        """datatrove's download_data with the domain and URL lists hashed (above); the word lists are small and
        read as datatrove reads them."""
        if self._downloaded or not self.use_integrated_lists:
            return
        import tarfile

        from datatrove.io import safely_create_file
        from datatrove.utils._import_utils import ASSETS_PATH
        from huggingface_hub import cached_assets_path

        download_dir = cached_assets_path(library_name="datatrove", namespace="filters", subfolder="url_filter")
        tarball = "url_filterblacklistsv0_3_0.tar.gz"  # the name datatrove's own download_data locks and extracts

        def extract():
            with tarfile.open(os.path.join(ASSETS_PATH, tarball), "r:gz") as tar:
                tar.extractall(download_dir)

        safely_create_file(os.path.join(download_dir, tarball), extract)
        self.block_listed_domains = load_hashed_list(Path(download_dir) / "domains", self.block_listed_domains)
        self.block_listed_url = load_hashed_list(Path(download_dir) / "urls", self.block_listed_url)
        self.banned_words = get_list(ASSETS_PATH, "banned_words.txt", self.banned_words)
        self.banned_subwords = get_list(ASSETS_PATH, "banned_subwords.txt", self.banned_subwords)
        self.soft_banned_words = get_list(ASSETS_PATH, "soft_banned_words.txt", self.soft_banned_words)
        for word in self.banned_subwords:
            self.banned_subwords_automaton.add_word(word, len(self.banned_subwords_automaton))
        self.banned_subwords_automaton.make_automaton()
        self._downloaded = True
