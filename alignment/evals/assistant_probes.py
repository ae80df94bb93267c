"""Did SFT make an assistant? Measured on held-out conversations (never trained on), greedy decoding:

- well-formed: the reply ends with the end-of-turn token within the budget and leaks no role markup (no
  `<|im_start|>`, no `<|endoftext|>`, no "user:"/"assistant:" turn written as text);
- identity: questions phrased unlike any training one, answered with the recipe's name (and creator, where
  asked), without any system message (the data alone) and with the default system message;
- facts: held-out questions about people the corpus covered (SFT never saw these question/answer pairs: a
  right answer is knowledge from pretraining, surfaced by the chat format);
- word problems: the number after "The answer is" equals the true result.
"""

from __future__ import annotations

import re

# the skill numbers each stage after SFT measures before and after, to show they stay
SKILLS = ("identity_accuracy_no_system", "identity_accuracy_default_system", "word_problem_accuracy",
          "well_formed_rate")

ROLE_TEXT = re.compile(r"(^|\n)\s*(user|assistant|system)\s*[:\n]", re.IGNORECASE)


def load_model_dir(model_dir: str):
    """(model, tokenizer, stop ids) of a model dir or hub id, as the stages measure theirs: fp32 on a CPU, generation
    ending at the end of a turn (`alignment eval`, `alignment arena`)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from alignment.chat_setup import turn_stop_ids

    try:
        tokenizer = AutoTokenizer.from_pretrained(model_dir)
        # as the stages load theirs: fp32 on a CPU; on a GPU the dtype the dir was saved in (bf16 after bf16 training)
        dtype = "auto" if torch.cuda.is_available() else torch.float32
        model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=dtype)
    except OSError as e:
        from alignment.recipe import RecipeError

        raise RecipeError(f"models: could not load {model_dir!r}: {str(e).strip().splitlines()[0]}") from e
    if torch.cuda.is_available():
        model = model.to("cuda")
    stops = turn_stop_ids(model, tokenizer)
    model.generation_config.eos_token_id = stops
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    return model.eval(), tokenizer, stops


def generate_replies(model, tokenizer, conversations: list[list[dict]], max_new_tokens: int, stop_ids: list[int],
                     batch_size: int = 128, temperature: float | None = None,
                     tools: list[dict] | None = None) -> list[dict]:
    """Greedy replies (or sampled at `temperature`, no top-k or top-p), batched with left padding, in the order of
    `conversations`; `tools`: the JSON schemas offered in the system turn (none by default). Each: text (special tokens
    dropped), its token ids as generated (through the stop), whether it stopped at an end-of-turn token, and whether a
    control token other than the stop appeared.

    Big batches: a tiny model's generation step on CPU is mostly fixed overhead, so fewer, wider generate() calls;
    prompts sorted by length share a batch with prompts like them (little padding, and replies of similar length,
    so a batch does not run on for one long reply). All 540 held-out replies of the tiny SFT take ~13 s (fp32)."""
    import torch

    from alignment.evals.base_model_probes import left_padded

    prompts = [tokenizer.apply_chat_template(c, tools=tools, add_generation_prompt=True, tokenize=True,
                                             return_dict=False) for c in conversations]
    prompts = [p["input_ids"] if isinstance(p, dict) else p for p in prompts]
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else stop_ids[-1]
    control = {i for i in tokenizer.all_special_ids} - set(stop_ids)
    order = sorted(range(len(prompts)), key=lambda i: len(prompts[i]))
    replies: list[dict] = [{}] * len(prompts)
    model.eval()
    for start in range(0, len(prompts), batch_size):
        rows = order[start:start + batch_size]
        ids, mask = left_padded([prompts[i] for i in rows], pad)
        width = ids.shape[1]
        with torch.no_grad():
            sampling = {"do_sample": False} if temperature is None else {
                "do_sample": True, "temperature": temperature, "top_k": 0, "top_p": 1.0}
            out = model.generate(ids.to(model.device), attention_mask=mask.to(model.device), **sampling,
                                 max_new_tokens=max_new_tokens, eos_token_id=stop_ids, pad_token_id=pad)
        for index, row in zip(rows, out[:, width:].tolist()):
            stop_at = next((i for i, t in enumerate(row) if t in stop_ids), None)
            body = row if stop_at is None else row[:stop_at]
            replies[index] = {
                "text": _visible(tokenizer.decode(body, skip_special_tokens=True)),
                "ids": row if stop_at is None else row[:stop_at + 1],  # as sampled, through the stop (PPO's view)
                "stopped": stop_at is not None,
                "control_leak": any(t in control for t in body),
            }
    return replies


def replies_with_tools(model, tokenizer, conversations: list[list[dict]], max_new_tokens: int, stop_ids: list[int],
                       tools: list[str], max_calls: int, workers: int = 4, batch_size: int = 128,
                       temperature: float | None = None) -> list:
    """Every conversation answered with the registry's `tools` offered, through the calling loop (each round one
    batched generation, the round's calls on `workers` threads): one Exchange each (its messages, calls, answer)."""
    from alignment.tools import tool_schemas
    from alignment.tools.calling import answer_all_with_tools, run_on_threads

    schemas = tool_schemas(tools)

    def generate_all(turns):
        return [r["text"] for r in generate_replies(model, tokenizer, turns, max_new_tokens, stop_ids,
                                                    batch_size=batch_size, temperature=temperature, tools=schemas)]

    return answer_all_with_tools(generate_all, conversations, max_calls, offered=tools,
                                 run_calls=lambda calls: run_on_threads(calls, workers))


def _visible(text: str) -> str:
    """The reply as a user sees it: an empty reasoning block (<think>\n\n</think>) is the template's, not content."""
    return re.sub(r"^\s*<think>\s*</think>\s*", "", text).strip()


def well_formed(reply: dict) -> bool:
    return reply["stopped"] and not reply["control_leak"] and bool(reply["text"]) and not ROLE_TEXT.search(
        reply["text"]) and "<|im_start|>" not in reply["text"]


def _rate(hits: list[bool]) -> float | None:
    return round(sum(hits) / len(hits), 4) if hits else None


def evaluate_assistant(model, tokenizer, evals: dict, identity: dict, system_message: str, stop_ids: list[int],
                       max_new_tokens: int = 96, tools: list[dict] | None = None) -> tuple[dict, list[dict]]:
    """All held-out measurements; returns (metrics, examples to show in the report). `tools`: the schemas offered in
    the system turn (a tool-trained assistant must still answer these without a call)."""
    from alignment.world.conversations import final_answer

    name, creator = identity["name"].lower(), identity["creator"].lower()
    system = [{"role": "system", "content": system_message}]
    sets = {
        "identity": [e["messages"] for e in evals["eval_identity"]],
        "identity_with_system": [system + e["messages"] for e in evals["eval_identity"]],
        "facts": [e["messages"] for e in evals["eval_facts"]],
        "word_problems": [e["messages"] for e in evals["eval_word_problems"]],
    }
    replies = {k: generate_replies(model, tokenizer, v, max_new_tokens, stop_ids, tools=tools) for k, v in sets.items()}

    def identity_right(item: dict, reply: dict) -> bool:
        text = reply["text"].lower()
        wanted = {"name": [name], "creator": [creator], "both": [name, creator]}[item["asks"]]
        return all(w in text for w in wanted)

    everything = [r for rs in replies.values() for r in rs]
    metrics = {
        "well_formed_rate": _rate([well_formed(r) for r in everything]),
        "well_formed_replies": len(everything),
        "identity_accuracy_no_system": _rate([identity_right(i, r) for i, r in
                                              zip(evals["eval_identity"], replies["identity"])]),
        "identity_accuracy_default_system": _rate([identity_right(i, r) for i, r in
                                                   zip(evals["eval_identity"], replies["identity_with_system"])]),
        "identity_questions": len(evals["eval_identity"]),
        "fact_accuracy": _rate([e["answer"].lower() in r["text"].lower() for e, r in
                                zip(evals["eval_facts"], replies["facts"])]),
        "fact_questions": len(evals["eval_facts"]),
        "word_problem_accuracy": _rate([final_answer(r["text"]) == e["answer"] for e, r in
                                        zip(evals["eval_word_problems"], replies["word_problems"])]),
        "word_problems": len(evals["eval_word_problems"]),
    }
    examples = [{"set": k, "question": sets[k][i][-1]["content"], "reply": replies[k][i]["text"]}
                for k in sets for i in range(min(2, len(sets[k])))]
    return metrics, examples


def measure_skills(model, tokenizer, skills: dict, identity: dict, system_message: str | None, stop_ids: list[int],
                   max_new_tokens: int, tools: list[dict] | None = None) -> dict:
    """The SKILLS numbers on the sft stage's held-out identity and word-problem sets (conversation_files.skill_sets):
    what each stage after SFT measures to show they stay. `system_message` None: the one that states the identity."""
    from alignment.world.conversations import default_system_message

    system = system_message or default_system_message(identity)
    assistant, _ = evaluate_assistant(model, tokenizer, {"eval_facts": [], **skills}, identity, system, stop_ids,
                                      max_new_tokens, tools=tools)
    return {k: assistant[k] for k in SKILLS}
