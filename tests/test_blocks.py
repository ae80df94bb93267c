"""Our datatrove blocks on their own: offline language ID, phone numbers, the offline URL filter."""

from __future__ import annotations

import pytest
from datatrove.data import Document

from data_pipelines.language_id import OfflineLanguageFilter
from data_pipelines.phone_pii import PhoneNumberFormatter


@pytest.mark.parametrize(
    "text, language",
    [
        ("The harbour town keeps its old market, and every spring the fishermen sell their catch there.", "en"),
        ("Die kleine Stadt am Fluss hat einen alten Markt, und jeden Frühling verkaufen die Bauern dort Käse.", "de"),
        ("La petite ville au bord de la rivière garde son vieux marché, où les paysans vendent leur fromage.", "fr"),
        ("El pequeño pueblo junto al río conserva su viejo mercado, donde los campesinos venden su queso.", "es"),
    ],
)
def test_bundled_language_id_works_offline(text, language):
    block = OfflineLanguageFilter(languages=["en"])
    doc = Document(text=text, id="x")
    result = block.filter(doc)
    assert doc.metadata["language"] == language
    assert result is True if language == "en" else result == (False, language)


@pytest.mark.parametrize(
    "text",
    ["Call +1 (415) 555-0134 today.", "Ring 415-555-0172 now.", "London: +44 20 7946 0321.", "NY (212) 555 0199."],
)
def test_phone_numbers_are_replaced(text):
    formatted = PhoneNumberFormatter().format(text)
    assert "555-0100" in formatted and not any(n in formatted for n in ("0134", "0172", "0321", "0199"))


@pytest.mark.parametrize(
    "text",
    ["server 93.184.216.34 answered", "on 2024-05-01 at noon", "born in 1987, moved in 2003",
     "ISBN 978-3-16-148410-0", "it cost 1 200 000 dollars", "order 12-345 shipped"],
)
def test_ips_dates_and_numbers_are_not_phone_numbers(text):
    assert PhoneNumberFormatter().format(text) == text


def test_url_filter_blocks_extra_domains_and_banned_words_without_network(monkeypatch):
    import socket

    from data_pipelines.url_filter import OfflineURLFilter

    def no_network(*args, **kwargs):
        raise AssertionError("the URL filter tried to reach the network")

    monkeypatch.setattr(socket, "create_connection", no_network)
    block = OfflineURLFilter(extra_domains=["spam-farm.example.net"], use_integrated_lists=False,
                             banned_words=["viagra"])
    assert block.filter(Document(text="x", id="1", metadata={"url": "https://spam-farm.example.net/a"})) == (False, "subdomain")
    assert block.filter(Document(text="x", id="2", metadata={"url": "https://shop.example.com/cheap-viagra"}))[0] is False
    assert block.filter(Document(text="x", id="3", metadata={"url": "https://news.example.org/town-fair"})) is True


def test_hashed_block_list_reads_a_list_as_datatrove_does(tmp_path):
    """Stripped lines, '#' lines skipped, extra entries beside the file; new hashes for a changed list."""
    from datatrove.pipeline.filters.url_filter import get_list

    from data_pipelines.url_filter import hashed_list_path, load_hashed_list

    listed = tmp_path / "domains"
    listed.write_text("# a comment line\nspam.example.net\n  padded.example.org \nxn--bcher-kva.example\n\n")
    ours = load_hashed_list(listed, extra={"extra.example.com", "spam.example.net"})
    theirs = get_list(str(tmp_path), "domains", {"extra.example.com", "spam.example.net"}, do_normalize=False)
    for text in ["spam.example.net", "padded.example.org", "xn--bcher-kva.example", "extra.example.com", "",
                 "# a comment line", "example.net", "spam.example.net.", "SPAM.example.net", "other.example.org"]:
        assert (text in ours) == (text in theirs), text
    assert len(ours) == len(theirs)

    first = hashed_list_path(listed)
    listed.write_text("later.example.net\n")  # extracted again, other contents
    assert hashed_list_path(listed) != first
    assert "later.example.net" in load_hashed_list(listed, extra=set())
    assert "spam.example.net" not in load_hashed_list(listed, extra=set())


def test_url_filter_decides_as_datatrove_on_its_real_block_lists():
    """The same verdicts as datatrove's own URLFilter (Python sets of the 4.56 M domains) on listed domains,
    subdomains of them, listed URLs and clean URLs."""
    import random

    from datatrove.pipeline.filters import URLFilter
    from tldextract import TLDExtract

    from data_pipelines.url_filter import OfflineURLFilter

    ours = OfflineURLFilter(extra_domains=["spam-farm.example.net"])
    theirs = URLFilter(extra_domains=["spam-farm.example.net"])
    theirs.tldextractor = TLDExtract(suffix_list_urls=())  # offline, as ours
    ours.download_data(), theirs.download_data()
    rng = random.Random(0)
    domains = rng.sample(sorted(theirs.block_listed_domains), 300)
    urls = rng.sample(sorted(theirs.block_listed_url), 100)
    candidates = ([f"https://{d}/page" for d in domains] + [f"http://shop.{d}/" for d in domains[:100]]
                  + [f"http://{u}" for u in urls] + [f"https://{u}" for u in urls]
                  + ["https://spam-farm.example.net/a", "https://news.example.org/town-fair",
                     "https://en.wikipedia.org/wiki/Cello", "https://velmora-quist.example.com/about"])
    verdicts = []
    for n, url in enumerate(candidates):
        doc = Document(text="x", id=str(n), metadata={"url": url})
        verdicts.append(ours.filter(doc))
        assert verdicts[-1] == theirs.filter(doc), url
    assert sum(v is True for v in verdicts) >= 3 and sum(v is not True for v in verdicts) >= 300
    assert len(ours.block_listed_domains) == len(theirs.block_listed_domains)
