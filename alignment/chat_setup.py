"""Any base model, ready for chat SFT: a chat template to answer with and a training variant to learn from.

So that changing `model_name_or_path` is the only edit needed to reuse an SFT recipe on a new base model:

1. the recipe names a template (`chat_template`: Jinja text, a .jinja file or a tokenizer dir): that one;
2. the tokenizer has a template with `{% generation %}` markers (assistant-only loss needs them): use it as is;
3. it has one without markers that TRL knows a training variant of (Qwen2.5's, Llama 3's, Qwen3's, ...): keep
   it for inference, and TRL swaps in its variant while tokenizing (`get_training_chat_template`);
4. it has none, or one nobody has a training variant for (a base model's minimal ChatML, say): ours
   (alignment/chat_format.py), with the control tokens it needs added to the tokenizer, the escape that keeps
   typed control tokens inert, and the embeddings resized to a multiple of 64.

A model dir made by our own pretrain stage has our template and its training variant
(`chat_template_training.jinja`) already: case 2's shortcut.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from alignment.recipe import RecipeError


@dataclass
class ChatSetup:
    inference_template: str  # saved with the model: what chat and pipeline("text-generation") render
    training_template: str | None  # what SFT renders (None: TRL picks its own variant of the inference template)
    source: str  # how it was chosen, said in the log and the model card
    added_tokens: list[str]


def _read_template(spec: str) -> str:
    """`chat_template:` in a recipe: Jinja text, a .jinja file, or a tokenizer dir / hub id that has one."""
    if "{%" in spec or "{{" in spec:
        return spec
    path = Path(spec)
    if path.is_file():
        return path.read_text(encoding="utf-8")
    from transformers import AutoTokenizer

    try:
        template = AutoTokenizer.from_pretrained(spec).chat_template
    except OSError as e:
        raise RecipeError(f"chat_template: {spec} is neither Jinja text, a file, nor a loadable tokenizer ({e})") from e
    if not template:
        raise RecipeError(f"chat_template: the tokenizer {spec} has no chat template")
    return template


def _trl_training_variant(tokenizer) -> str | None:
    from trl.chat_template_utils import get_training_chat_template

    try:
        variant = get_training_chat_template(tokenizer)
    except ValueError:  # "unsupported chat template"
        return None
    return variant or tokenizer.chat_template


def _adopt_our_format(model, tokenizer) -> list[str]:
    """Our control tokens, the escape normalizer and an embedding row for every new token."""
    from tokenizers import normalizers
    from tokenizers import AddedToken

    from alignment.chat_format import ESCAPE, SPECIAL_TOKENS, TAG_TOKENS

    vocab = tokenizer.get_vocab()
    new_special = [t for t in SPECIAL_TOKENS if t not in vocab]
    new_tags = [t for t in TAG_TOKENS if t not in vocab]
    tokenizer.add_tokens([AddedToken(t, special=True, normalized=False) for t in new_special], special_tokens=True)
    tokenizer.add_tokens([AddedToken(t, special=False, normalized=False) for t in new_tags])
    # message text is written with '<' + U+FDD0 (alignment/chat_format.py): the normalizer must drop the U+FDD0
    backend = tokenizer.backend_tokenizer
    escape = normalizers.Replace("<" + ESCAPE, "<")
    backend.normalizer = escape if backend.normalizer is None else normalizers.Sequence([backend.normalizer, escape])
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token or "<|endoftext|>"
    if len(tokenizer) > model.get_input_embeddings().weight.shape[0]:
        model.resize_token_embeddings(len(tokenizer), pad_to_multiple_of=64)
    return new_special + new_tags


def prepare_chat(model, tokenizer, model_dir: str, chat_template: str | None) -> ChatSetup:
    """Choose the templates (see the module docstring) and make the tokenizer and model ready for them."""
    from trl.chat_template_utils import has_generation_markers

    from alignment.chat_format import CHAT_TEMPLATE, TRAINING_CHAT_TEMPLATE, TRAINING_TEMPLATE_FILE

    if chat_template:
        template = _read_template(chat_template)
        tokenizer.chat_template = template
        if has_generation_markers(template):
            return ChatSetup(template, template, "the recipe's chat_template (has generation markers)", [])
        variant = _trl_training_variant(tokenizer)
        if variant is None:
            raise RecipeError("chat_template: it has no {% generation %} markers and TRL knows no training variant "
                              "of it (assistant-only loss needs one): add the markers, or assistant_only_loss: false")
        return ChatSetup(template, None, "the recipe's chat_template (TRL's training variant)", [])

    saved_variant = Path(model_dir) / TRAINING_TEMPLATE_FILE
    if tokenizer.chat_template and saved_variant.is_file():
        return ChatSetup(tokenizer.chat_template, saved_variant.read_text(encoding="utf-8"),
                         f"the base model's own ({TRAINING_TEMPLATE_FILE} beside it)", [])
    if tokenizer.chat_template and has_generation_markers(tokenizer.chat_template):
        return ChatSetup(tokenizer.chat_template, tokenizer.chat_template, "the base model's own (generation markers)",
                         [])
    if tokenizer.chat_template and _trl_training_variant(tokenizer) is not None:
        return ChatSetup(tokenizer.chat_template, None, "the base model's own (TRL's training variant)", [])

    why = "has no chat template" if not tokenizer.chat_template else "has a chat template with no training variant"
    added = _adopt_our_format(model, tokenizer)
    tokenizer.chat_template = CHAT_TEMPLATE
    return ChatSetup(CHAT_TEMPLATE, TRAINING_CHAT_TEMPLATE, f"ours: the base model {why}", added)


# --- where generation stops ------------------------------------------------------------------------

def turn_stop_ids(model, tokenizer) -> list[int]:
    """Generation ends at the end of the assistant's turn (the template's own token, as `alignment chat` finds it)
    or at the end of the text (the tokenizer's and the model's EOS, as `alignment sample` stops)."""
    return sorted(end_of_turn_ids(tokenizer) | stop_token_ids(model, tokenizer))


def stop_token_ids(model, tokenizer) -> set[int]:
    """End-of-text ids: the tokenizer's EOS plus the model's generation config's (Llama 3 has several)."""
    ids = set()
    for source in (tokenizer.eos_token_id, getattr(getattr(model, "generation_config", None), "eos_token_id", None)):
        if isinstance(source, int):
            ids.add(source)
        elif source is not None:
            ids.update(int(i) for i in source)
    return ids


def end_of_turn_ids(tokenizer) -> set[int]:
    """The tokens that close the assistant's turn: ChatML's <|im_end|>, and whatever special token the template
    itself writes right after an assistant's text (<|eot_id|> for Llama 3, <end_of_turn> for Gemma).

    A base model's EOS (stop_token_ids) is not enough: a chat model ends its turn with the template's token, and
    an SFT'd model's generation config does not always list it; without it the reply runs on into a made-up
    `user` turn.
    """
    from alignment.chat_format import IM_END

    ids = set()
    im_end = tokenizer.convert_tokens_to_ids(IM_END)
    if isinstance(im_end, int) and im_end != tokenizer.unk_token_id:
        ids.add(im_end)
    marker = "Marker7"  # any text; the token the template writes after it is the end-of-turn token
    try:
        text = tokenizer.apply_chat_template([{"role": "user", "content": "hi"},
                                              {"role": "assistant", "content": marker}], tokenize=False)
    except Exception:  # a template that needs more than this (a system message...) still has <|im_end|> above
        return ids
    after = tokenizer(text.split(marker, 1)[-1], add_special_tokens=False).input_ids
    specials = {i for i, t in tokenizer.added_tokens_decoder.items() if t.special}
    if after and after[0] in specials:
        ids.add(after[0])
    return ids


def check_same_vocabulary(reference: tuple[str, str], others, why: str) -> None:
    """Each (field, dir or hub id) of `others` has the tokenizer vocabulary of `reference` (the policy's), checked
    before any weights load: token ids pass between these models as they are, so another vocabulary would make
    them mean other words. Raises a one-line RecipeError naming the field and `why`."""
    from transformers import AutoTokenizer

    def vocab(name: str, path: str) -> dict:
        try:
            return AutoTokenizer.from_pretrained(path).get_vocab()
        except (OSError, ValueError) as e:
            raise RecipeError(f"{name}: could not load a tokenizer from {path!r}: {str(e).strip().splitlines()[0]}") \
                from None

    expected = vocab(*reference)
    for name, path in others:
        if vocab(name, path) != expected:
            raise RecipeError(f"{name}: {path} has another tokenizer than the policy's; {why}")
