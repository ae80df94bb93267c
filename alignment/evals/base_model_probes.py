"""The base model's psychology, measured: does it regurgitate what it saw, and does it recall the world's
facts from a few-shot prompt (in-context learning), as "Deep Dive into LLMs like ChatGPT" describes.

- regurgitation: prompted with a document's first 32 tokens, does greedy decoding reproduce the next 32
  exactly? For training documents versus held-out ones (the gap is memorisation).
- fact recall: few-shot prompts in the corpus's own phrasing ("Ada Quist was born in Dalrun.") ask a
  fact of a person the corpus covers, scored two ways: 4-way multiple choice by the likelihood of each
  option (chance 25%: the distractors come from the same pool), and open-ended greedy completion.
- in-context copying: can it repeat what its context holds, not what its weights hold? A run of random tokens
  seen a second time (Olsson et al. 2022's test for induction heads: a model that has them predicts the repeat
  almost for free), and a new person's surname after their first name ("Orric Mirrmere is a potter from Dalrun.
  Everyone in town knows Orric" -> " Mirrmere"), against the corpus's people, whose surnames it has memorised.
  Reading a search result or a word to spell out (stage 5) needs this skill.
"""

from __future__ import annotations

import random
from pathlib import Path

# attribute -> (statement before the value, how the value is written after it)
FACT_PROMPTS = {
    "hometown": ("{name} was born in", " {value}"),
    "birth_year": ("{name} (born", " {value}"),
    "profession": ("{name} is", " {article} {value}"),
    "instrument": ("{name} plays the", " {value}"),
    "organisation": ("{name} is a member of the", " {value}"),
}
SHOTS = 3
# An option's score is its log-likelihood averaged over 3 prompts with different shots: with one prompt, four shot
# draws on one model gave 53-58% (600 questions each)
SHOT_SETS = 3
PREFIX_TOKENS, CONTINUATION_TOKENS = 32, 32
# 32 runs of 48 random tokens, each seen twice in a 96-token row: ~0.1 s at the tiny size
COPY_RUNS, COPY_LENGTH = 32, 48
COPY_PEOPLE = 60


def _article(word: str) -> str:
    return "an" if word[0].lower() in "aeiou" else "a"


def _statement(attribute: str, name: str, value: str) -> tuple[str, str]:
    before, after = FACT_PROMPTS[attribute]
    return before.format(name=name), after.format(value=value, article=_article(value))


def regurgitation_rate(model, tokenizer, documents: list[str], limit: int) -> dict:
    """All prompts have the same length (32 tokens), so they go through generate() as one batch."""
    import torch

    ids = [x for x in tokenizer(documents).input_ids if len(x) >= PREFIX_TOKENS + CONTINUATION_TOKENS][:limit]
    if not ids:
        return {"documents": 0, "reproduced": 0, "rate": None}
    prompts = torch.tensor([x[:PREFIX_TOKENS] for x in ids], device=model.device)
    with torch.no_grad():
        out = model.generate(prompts, attention_mask=torch.ones_like(prompts), max_new_tokens=CONTINUATION_TOKENS,
                             min_new_tokens=CONTINUATION_TOKENS, do_sample=False, pad_token_id=tokenizer.pad_token_id)
    hits = sum(out[i, PREFIX_TOKENS:].tolist() == x[PREFIX_TOKENS:PREFIX_TOKENS + CONTINUATION_TOKENS]
               for i, x in enumerate(ids))
    return {"documents": len(ids), "reproduced": hits, "rate": round(hits / len(ids), 4)}


def option_logprobs(model, prompts: list[list[int]], options: list[list[list[int]]], pad_id: int,
                    batch: int = 64) -> list[list[float]]:
    """Sum of log p(option | prompt) for every option of every prompt: scores[i][k] for options[i][k].

    One row per prompt: the prompt, then each of its options after it, every option seeing the prompt and itself
    only (a 4-D mask; positions restart after the prompt for each option, as if it were alone). The few-shot
    probe's 900 prompts of ~60 tokens with 4 options of 1-4 tokens are 63k tokens this way, against 250k with one
    row per (prompt, option): 9 of the pretrain stage's 11 s of probes were that scoring (fp32, Zen 4)."""
    import torch

    scores = []
    for start in range(0, len(prompts), batch):
        chunk = list(zip(prompts[start:start + batch], options[start:start + batch]))
        width = max(len(p) + sum(map(len, opts)) for p, opts in chunk)
        ids = torch.full((len(chunk), width), pad_id, dtype=torch.long)
        positions = torch.zeros_like(ids)
        allowed = torch.eye(width, dtype=torch.bool).repeat(len(chunk), 1, 1)  # padding sees itself: no empty row
        spans = []  # per row: (first index, length) of each option
        for row, (prompt, opts) in enumerate(chunk):
            n = len(prompt)
            ids[row, :n] = torch.tensor(prompt)
            positions[row, :n] = torch.arange(n)
            allowed[row, :n, :n] = torch.ones(n, n, dtype=torch.bool).tril()
            spans.append([])
            at = n
            for option in opts:
                k = len(option)
                ids[row, at:at + k] = torch.tensor(option)
                positions[row, at:at + k] = torch.arange(n, n + k)
                allowed[row, at:at + k, :n] = True
                allowed[row, at:at + k, at:at + k] = torch.ones(k, k, dtype=torch.bool).tril()
                spans[-1].append((at, k))
                at += k
        # additive, in the model's dtype: what eager attention adds to its scores and SDPA takes as well
        mask = torch.zeros(allowed.shape, dtype=model.dtype).masked_fill(~allowed, torch.finfo(model.dtype).min)
        with torch.no_grad():
            logits = model(ids.to(model.device), attention_mask=mask[:, None].to(model.device),
                           position_ids=positions.to(model.device)).logits.float()
        for row, (prompt, opts) in enumerate(chunk):
            row_scores = []
            for (at, k), option in zip(spans[row], opts):
                # the option's first token is predicted at the prompt's last position, the others inside the option
                where = torch.tensor([len(prompt) - 1] + list(range(at, at + k - 1)))
                logprobs = torch.log_softmax(logits[row, where], -1)
                row_scores.append(float(logprobs[torch.arange(k), torch.tensor(option)].sum()))
            scores.append(row_scores)
    return scores


def left_padded(prompts: list[list[int]], pad_id: int) -> tuple:
    """(ids, attention mask) of prompts padded on the left: generation continues from the right edge of each row."""
    import torch

    width = max(map(len, prompts))
    ids = torch.full((len(prompts), width), pad_id, dtype=torch.long)
    mask = torch.zeros_like(ids)
    for row, p in enumerate(prompts):
        ids[row, width - len(p):] = torch.tensor(p)
        mask[row, width - len(p):] = 1
    return ids, mask


def _greedy_completions(model, tokenizer, prompts: list[list[int]], n_tokens: int, batch: int = 64) -> list[str]:
    """Greedy continuations, batched with left padding (generation continues from the right edge)."""
    import torch

    texts = []
    for start in range(0, len(prompts), batch):
        ids, mask = left_padded(prompts[start:start + batch], tokenizer.pad_token_id)
        width = ids.shape[1]
        with torch.no_grad():
            out = model.generate(ids.to(model.device), attention_mask=mask.to(model.device), max_new_tokens=n_tokens,
                                 do_sample=False, pad_token_id=tokenizer.pad_token_id)
        texts += tokenizer.batch_decode(out[:, width:], skip_special_tokens=True)
    return texts


def fact_recall(model, tokenizer, world, n_questions: int, seed: int) -> dict:
    """Few-shot multiple choice (by likelihood) and open-ended recall of covered people's facts: every fact of
    every covered person, or the first `n_questions` of them in a seeded order."""
    from alignment.world.people import pool

    rng = random.Random(seed)
    # every (person, attribute) pair once, in a seeded order: 200 sampled questions had a standard error of 3.5
    # points, and two samples on one model differed by up to 12
    pairs = [(person, attribute) for person in world.entities for attribute in FACT_PROMPTS]
    facts = rng.sample(pairs, len(pairs))
    questions = []  # (attribute, prompts: one per shot set, option ids with the truth first, answer)
    for person, attribute in facts[:n_questions or None]:
        truth = person.facts[attribute]
        options = [truth] + rng.sample([v for v in pool(attribute) if v != truth], 3)
        # no shot states any option's value: an option seen in the prompt gains from copying, not from recall
        unprimed = [other for other in world.entities if other.facts[attribute] not in options]
        if len(unprimed) < SHOTS:  # a world of a handful of people: any others will do
            unprimed = [other for other in world.entities if other is not person]
        before, answer = _statement(attribute, person.name, truth)
        prompts = []
        for _ in range(SHOT_SETS):
            shots = rng.sample(unprimed, SHOTS)
            context = "\n".join("".join(_statement(attribute, s.name, s.facts[attribute])) + "." for s in shots)
            prompts.append(tokenizer(f"{context}\n{before}").input_ids)
        option_ids = [tokenizer(_statement(attribute, "", o)[1]).input_ids for o in options]
        questions.append((attribute, prompts, option_ids, answer.strip()))

    scores = option_logprobs(model, [prompt for _, prompts, _, _ in questions for prompt in prompts],
                             [option_ids for _, prompts, option_ids, _ in questions for _ in prompts],
                             tokenizer.pad_token_id)
    completions = _greedy_completions(model, tokenizer, [q[1][0] for q in questions], n_tokens=8)
    by_attribute: dict[str, list[int]] = {}
    correct_mc = correct_open = 0
    for i, ((attribute, _, _, answer), completion) in enumerate(zip(questions, completions)):
        block = scores[SHOT_SETS * i:SHOT_SETS * (i + 1)]  # one row of 4 option scores per shot set
        option_scores = [sum(shot[o] for shot in block) / SHOT_SETS for o in range(4)]
        right = max(range(4), key=option_scores.__getitem__) == 0  # the truth is option 0
        correct_mc += right
        correct_open += completion.strip().startswith(answer)
        by_attribute.setdefault(attribute, []).append(int(right))
    return {
        "questions": len(questions),
        "shots": SHOTS,
        "shot_sets": SHOT_SETS,
        "multiple_choice_accuracy": round(correct_mc / len(questions), 4),
        "open_ended_recall": round(correct_open / len(questions), 4),
        "multiple_choice_by_attribute": {a: round(sum(v) / len(v), 3) for a, v in sorted(by_attribute.items())},
    }


def repeated_tokens_loss(model, tokenizer, seed: int) -> dict:
    """Mean loss (nats/token) on a run of random ordinary tokens and on the same run repeated right after it. The
    first sees nothing to lean on (about the log of the vocabulary, or worse); a model that copies from its context
    makes the repeat cheap. `copy_gain` is the difference: ~0 means no in-context copying at all."""
    import torch

    special = set(tokenizer.all_special_ids)
    vocab = [i for i in range(len(tokenizer)) if i not in special]
    length = min(COPY_LENGTH, model.config.max_position_embeddings // 2)  # both runs within the trained positions
    rng = random.Random(f"repeated-tokens/{seed}")
    runs = torch.tensor([rng.sample(vocab, length) for _ in range(COPY_RUNS)])
    ids = torch.cat([runs, runs], dim=1).to(model.device)
    with torch.no_grad():
        logits = model(ids).logits.float()
    losses = torch.nn.functional.cross_entropy(logits[:, :-1].transpose(1, 2), ids[:, 1:], reduction="none")
    first = losses[:, :length - 1].mean().item()  # predicting tokens 2..48 of the first run
    repeat = losses[:, length:].mean().item()  # predicting tokens 2..48 of the repeat (its first is unguessable)
    return {"runs": COPY_RUNS, "run_tokens": length, "first_loss": round(first, 3),
            "repeat_loss": round(repeat, 3), "copy_gain": round(first - repeat, 3)}


def surname_copying(model, tokenizer, world, seed: int) -> dict:
    """Greedy: after "<First Last> is a <trade> from <town>. Everyone in town knows <First>", is the next word the
    surname? For new people (world/people.py invented_people: never in any corpus) only copying can give it; for the
    corpus's people memory can."""
    from alignment.world.people import invented_people

    def share(people) -> float:
        prompts = [tokenizer(f"{p.name} is {_article(p.facts['profession'])} {p.facts['profession']} from "
                             f"{p.facts['hometown']}. Everyone in town knows {p.first_name}").input_ids for p in people]
        completions = _greedy_completions(model, tokenizer, prompts, n_tokens=4)
        return round(sum(c.startswith(" " + p.last_name) for c, p in zip(completions, people)) / len(people), 4)

    new = invented_people(world, COPY_PEOPLE, seed=seed + 1000)  # a draw of their own, not the stages' (seed 0)
    known = world.entities[:COPY_PEOPLE]
    return {"new_people": len(new), "new_people_rate": share(new), "corpus_people": len(known),
            "corpus_people_rate": share(known)}


def run_probes(model, tokenizer, folders: dict[str, Path], cfg) -> dict:
    from alignment.world.people import build_world
    from data_pipelines.documents import read_documents

    model.eval()
    results = {}
    rates = {split: regurgitation_rate(model, tokenizer, [d["text"] for d in read_documents(folder)],
                                       cfg.probe_documents)
             for split, folder in folders.items()}
    results["regurgitation"] = {"prefix_tokens": PREFIX_TOKENS, "continuation_tokens": CONTINUATION_TOKENS,
                                "train_rate": rates["train"]["rate"], "validation_rate": rates["validation"]["rate"],
                                "train": rates["train"], "validation": rates["validation"]}
    results["in_context_copying"] = {"repeated_tokens": repeated_tokens_loss(model, tokenizer, cfg.seed)}
    if cfg.world:
        world = build_world(**cfg.world)
        results["fact_recall"] = fact_recall(model, tokenizer, world, cfg.probe_questions, cfg.seed)
        results["in_context_copying"]["surname"] = surname_copying(model, tokenizer, world, cfg.seed)
    return results
