"""The FineWeb recipe as datatrove pipelines: filter, MinHash dedup in four stages, PII removal, write.

    1 filter     reader -> URLFilter -> Trafilatura -> LanguageFilter -> GopherRepetition -> GopherQuality
                 -> C4Quality -> FineWebQuality -> work/filtered/
    2 signatures work/filtered/ -> MinHash signatures                        (same tasks as 1)
    3 buckets    signatures -> duplicate pairs                               (one task per bucket)
    4 clusters   duplicate pairs -> ids to remove                            (one task)
    5 dedup_pii  work/filtered/ -> MinHash filter -> PIIFormatter (emails, IPs) -> phone numbers
                 -> documents/                                               (same tasks as 1)

Every block is built from a dict of its own keyword arguments (the recipe's `url_filter:`,
`gopher_quality:` ... fields), or left out when the recipe says `false`. A filter writes what it drops,
with the reason, to removed/<block>/.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from pathlib import Path

from datatrove.pipeline.readers import JsonlReader

from alignment.recipe import RecipeError

# Recipe field -> how to build the block. Order is FineWeb's order.
FILTER_BLOCKS = (
    "url_filter",
    "trafilatura",
    "language_filter",
    "gopher_repetition",
    "gopher_quality",
    "c4_quality",
    "fineweb_quality",
)
FORMATTER_BLOCKS = ("pii", "phone_pii")


def _block_class(name: str):
    from datatrove.pipeline.extractors import Trafilatura
    from datatrove.pipeline.filters import (
        C4QualityFilter,
        FineWebQualityFilter,
        GopherQualityFilter,
        GopherRepetitionFilter,
    )
    from datatrove.pipeline.formatters import PIIFormatter

    from data_pipelines.language_id import OfflineLanguageFilter
    from data_pipelines.phone_pii import PhoneNumberFormatter
    from data_pipelines.url_filter import OfflineURLFilter

    return {
        "url_filter": OfflineURLFilter,
        "trafilatura": Trafilatura,
        "language_filter": OfflineLanguageFilter,
        "gopher_repetition": GopherRepetitionFilter,
        "gopher_quality": GopherQualityFilter,
        "c4_quality": C4QualityFilter,
        "fineweb_quality": FineWebQualityFilter,
        "pii": PIIFormatter,
        "phone_pii": PhoneNumberFormatter,
    }[name]


def _init_params(cls) -> set[str]:
    """Keyword arguments a block accepts (walking up **kwargs to the parent class, as ours pass them on)."""
    names: set[str] = set()
    for klass in cls.__mro__:
        if "__init__" not in vars(klass):
            continue
        params = inspect.signature(klass.__init__).parameters
        names |= {n for n, p in params.items() if n != "self" and p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)}
        if not any(p.kind == p.VAR_KEYWORD for p in params.values()):
            break
    return names


def check_block_options(name: str, options: dict | bool) -> None:
    """A misspelled option would be a silent no-op at best: name it and stop (exit 2)."""
    if isinstance(options, bool):
        return
    allowed = _init_params(_block_class(name)) - {"exclusion_writer"}
    for key in options:
        if key not in allowed:
            raise RecipeError(f"{name}.{key}: unknown option (options: {', '.join(sorted(allowed))})")


def build_block(name: str, options: dict | bool, removed_dir: Path | None):
    """The datatrove block for recipe field `name`, or None when switched off."""
    if options is False:
        return None
    options = {} if options is True else dict(options)
    check_block_options(name, options)
    cls = _block_class(name)
    if removed_dir is not None and "exclusion_writer" in _init_params(cls):
        from datatrove.pipeline.writers import JsonlWriter

        options["exclusion_writer"] = JsonlWriter(str(removed_dir / name))
    return cls(**options)


def minhash_config(options: dict):
    from datatrove.pipeline.dedup.minhash import MinhashConfig
    from datatrove.utils.hashing import HashConfig

    options = dict(options)
    precision = options.pop("hash_precision", 64)
    allowed = {"n_grams", "num_buckets", "hashes_per_bucket", "seed"}
    for key in options:
        if key not in allowed:
            raise RecipeError(f"minhash.{key}: unknown option (options: hash_precision, {', '.join(sorted(allowed))})")
    return MinhashConfig(hash_config=HashConfig(precision=precision), **options)


@dataclass
class CorpusLayout:
    """Where every stage reads and writes, under the stage's output_dir."""

    root: Path

    @property
    def documents(self) -> Path:
        return self.root / "documents"

    @property
    def removed(self) -> Path:
        return self.root / "removed"

    @property
    def filtered(self) -> Path:
        return self.root / "work" / "filtered"

    @property
    def minhash(self) -> Path:
        return self.root / "work" / "minhash"

    @property
    def logs(self) -> Path:
        return self.root / "logs"


def make_reader(input_format: str, data_folder: str, glob_pattern: str | None, removed_dir: Path | None,
                text_key: str = "text", id_key: str = "id"):
    from datatrove.pipeline.readers import ParquetReader
    from datatrove.pipeline.writers import JsonlWriter

    from data_pipelines.warc import CountingWarcReader

    if input_format == "warc":
        exclusion = JsonlWriter(str(removed_dir / "broken_records")) if removed_dir else None
        return CountingWarcReader(data_folder, glob_pattern=glob_pattern, exclusion_writer=exclusion)
    reader = JsonlReader if input_format == "jsonl" else ParquetReader
    return reader(data_folder, glob_pattern=glob_pattern, text_key=text_key, id_key=id_key)


class IntermediateReader(JsonlReader):
    """Reads work/filtered/. When the filters kept nothing there is no file, which JsonlReader treats as a
    mistake (RuntimeError); here it is a legitimate result: an empty stream."""

    def run(self, data=None, rank: int = 0, world_size: int = 1):
        if not self.data_folder.list_files(recursive=self.recursive, glob_pattern=self.glob_pattern):
            return
        yield from super().run(data, rank, world_size)


def build_stages(cfg, reader, layout: CorpusLayout, input_format: str = "warc",
                 tasks: int | None = None) -> list[tuple[str, list, int]]:
    """-> [(stage name, pipeline blocks, tasks)] in run order; each depends on the one before. `tasks`: of the
    stages that read files (cfg.tasks unless given; run_corpus gives no more than there are input files).

    Trafilatura turns HTML into text, so it runs on WARC input only: JSONL and Parquet inputs hold text
    that was already extracted (FineWeb's own files, a previous run's documents/).
    """
    from datatrove.pipeline.dedup.minhash import (
        MinhashDedupBuckets,
        MinhashDedupCluster,
        MinhashDedupFilter,
        MinhashDedupSignature,
    )
    from datatrove.pipeline.writers import JsonlWriter

    removed = layout.removed if cfg.write_removed else None
    names = [n for n in FILTER_BLOCKS if input_format == "warc" or n != "trafilatura"]
    filters = [b for b in (build_block(n, getattr(cfg, n), removed) for n in names) if b is not None]
    formatters = [b for b in (build_block(n, getattr(cfg, n), None) for n in FORMATTER_BLOCKS) if b is not None]
    writer = JsonlWriter(str(layout.documents))
    tasks = tasks or cfg.tasks

    if cfg.minhash is False:
        return [("filter", [reader, *filters, *formatters, writer], tasks)]

    mh = minhash_config({} if cfg.minhash is True else cfg.minhash)
    signatures, buckets, remove_ids = (layout.minhash / s for s in ("signatures", "buckets", "remove_ids"))

    def filtered_reader():
        return IntermediateReader(str(layout.filtered))

    dedup_removed = JsonlWriter(str(layout.removed / "minhash")) if removed else None
    return [
        ("filter", [reader, *filters, JsonlWriter(str(layout.filtered))], tasks),
        ("signatures", [filtered_reader(), MinhashDedupSignature(str(signatures), config=mh)], tasks),
        ("buckets", [MinhashDedupBuckets(str(signatures), str(buckets), config=mh)], mh.num_buckets),
        ("clusters", [MinhashDedupCluster(str(buckets), str(remove_ids), config=mh)], 1),
        ("dedup_pii", [filtered_reader(), MinhashDedupFilter(str(remove_ids), exclusion_writer=dedup_removed),
                       *formatters, writer], tasks),
    ]
