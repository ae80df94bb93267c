"""The tiny world and everything rendered from it: its people and their facts (people.py), the mini-web crawl that
writes about them (miniweb.py, with the page templates in page_templates.py), and the SFT conversations about them
(conversations.py). Later stages put their generated data here."""
