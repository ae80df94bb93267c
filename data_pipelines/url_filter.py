"""datatrove's URLFilter, kept off the network.

The filter's block lists ship inside the datatrove wheel (4.56 M domains plus banned words; they take
~0.7 GB of RAM per worker process). Its tldextract would still try to download the public suffix list
(long tracebacks, then a fallback to its bundled snapshot): with no suffix-list URLs it goes straight to
the snapshot.
"""

from __future__ import annotations

from datatrove.pipeline.filters import URLFilter


class OfflineURLFilter(URLFilter):
    name = "😈 Url-filter"

    def __init__(self, **kwargs):
        from tldextract import TLDExtract

        super().__init__(**kwargs)
        self.tldextractor = TLDExtract(suffix_list_urls=())
