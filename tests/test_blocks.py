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
