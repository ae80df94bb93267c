"""A WARC reader that skips broken records and counts each kind, instead of dropping them silently.

datatrove's WarcReader drops non-HTML payloads without a trace and does not look at the HTTP status at
all, so a crawl's 404 pages would reach the filters as text. Here every record that is not a usable
HTML page is counted under `broken_<kind>` in the stats (and written, with its reason, to the
exclusion writer when there is one):
  error_status       HTTP status >= 400 (and 3xx redirects, which have no page of their own)
  non_html           a payload type other than text/html or application/xhtml+xml
  empty_body         no bytes, or only whitespace
  invalid_encoding   bytes that are not valid in the declared charset (or UTF-8), and no confident guess
  too_large          bodies over `max_bytes`: pathological pages that would stall the extractor
  unreadable_record  a record warcio cannot parse (a truncated file, a bad header)
"""

from __future__ import annotations

import re

from datatrove.data import Document
from datatrove.pipeline.readers import WarcReader

HTML_TYPES = ("text/html", "application/xhtml+xml")
CHARSET = re.compile(r"charset=[\"']?([\w-]+)", re.IGNORECASE)
# cchardet gives a confidence; random bytes come out well below this, real latin-1/cp1252 pages above.
MIN_CHARSET_CONFIDENCE = 0.9


def _decode(body: bytes, content_type: str) -> str | None:
    import cchardet

    declared = CHARSET.search(content_type or "")
    charset = declared.group(1) if declared else "utf-8"
    try:
        return body.decode(charset)
    except (UnicodeDecodeError, LookupError):
        pass
    guess = cchardet.detect(body)
    if guess["encoding"] and (guess["confidence"] or 0) >= MIN_CHARSET_CONFIDENCE:
        try:
            return body.decode(guess["encoding"])
        except (UnicodeDecodeError, LookupError):
            return None
    return None


def classify_record(record, max_bytes: int) -> tuple[dict | None, str | None, bytes]:
    """-> (document dict, None) for a usable page, or (None, broken kind) for a broken record."""
    http = record.http_headers
    status = http.get_statuscode() if http else None
    if status is not None and not str(status).startswith("2"):
        return None, "error_status", b""
    payload_type = record.rec_headers.get("WARC-Identified-Payload-Type") or (
        http.get_header("Content-Type", "").split(";")[0].strip() if http else ""
    )
    if payload_type and payload_type.lower() not in HTML_TYPES:
        return None, "non_html", b""
    body = record.content_stream().read(max_bytes + 1)
    if not body.strip():
        return None, "empty_body", body
    if len(body) > max_bytes:
        return None, "too_large", body[:1000]
    html = _decode(body, http.get_header("Content-Type", "") if http else "")
    if html is None:
        return None, "invalid_encoding", body
    if not payload_type and "<html" not in html[:2000].lower():
        return None, "non_html", body
    headers = record.rec_headers
    return (
        {
            "text": html,
            "id": headers.get_header("WARC-Record-ID"),
            "url": headers.get_header("WARC-Target-URI"),
            "date": headers.get_header("WARC-Date"),
        },
        None,
        body,
    )


class CountingWarcReader(WarcReader):
    """WarcReader whose skipped records are counted by kind (see the module docstring)."""

    name = "🕷 Warc"

    def __init__(self, data_folder, max_bytes: int = 5_000_000, exclusion_writer=None, **kwargs):
        super().__init__(data_folder, **kwargs)
        self.max_bytes = max_bytes
        self.exclusion_writer = exclusion_writer

    def read_file(self, filepath: str):
        from warcio.archiveiterator import ArchiveIterator
        from warcio.exceptions import ArchiveLoadFailed

        with self.data_folder.open(filepath, "rb", compression=self.compression) as f:
            records = iter(ArchiveIterator(f))
            index = 0
            while True:
                try:
                    record = next(records)
                except StopIteration:
                    return
                except (ArchiveLoadFailed, ValueError, OSError, EOFError):
                    self._skip("unreadable_record", None, b"", filepath)
                    return  # the rest of this file cannot be located reliably
                index += 1
                if record.rec_type not in ("response", "conversion"):
                    continue  # request / warcinfo / metadata records are not pages
                with self.track_time():
                    data, broken, body = classify_record(record, self.max_bytes)
                    if broken:
                        self._skip(broken, record, body, filepath)
                        continue
                    document = self.get_document_from_dict(data, filepath, index - 1)
                if document:
                    yield document

    def _skip(self, kind: str, record, body: bytes, filepath: str):
        self.stat_update("broken_records", f"broken_{kind}")
        if self.exclusion_writer is None:
            return
        headers = record.rec_headers if record is not None else None
        doc = Document(
            text=body[:2000].decode("utf-8", errors="replace") or "(no body)",
            id=(headers.get_header("WARC-Record-ID") if headers else None) or f"{filepath}:unreadable",
            metadata={"url": headers.get_header("WARC-Target-URI") if headers else None,
                      "filter_reason": kind, "file": filepath},
        )
        if not hasattr(self, "_writer"):
            self._writer = self.exclusion_writer.__enter__()
        self._writer.write(doc, self._rank)

    def run(self, data=None, rank: int = 0, world_size: int = 1):
        self._rank = rank
        try:
            yield from super().run(data, rank, world_size)
        finally:
            if hasattr(self, "_writer"):
                self._writer.__exit__(None, None, None)
                del self._writer
