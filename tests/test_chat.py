"""`alignment chat`: the chat template renders the conversation, the reply streams and stops at <|im_end|>.

Hermetic: a tokenizer made in-process by our tokenizer stage (ChatML template, <|im_end|> = id 2), and a tiny Llama
(hidden 32, 2 layers, 128 positions) from its config: one random, one trained for a few dozen steps to answer every
user with REPLY and end its turn with <|im_end|>. Its generation config lists only <|endoftext|>, so stopping at
<|im_end|> is chat's own doing. Run through the real CLI, in a subprocess.
"""

from __future__ import annotations

import io
import json
import random
import re
import shutil
import subprocess
import sys

import pytest
import torch

from alignment.chat import Chat, build_parser, render, trim_history
from alignment.chat_setup import end_of_turn_ids
from alignment.chat_format import ENDOFTEXT, IM_END, IM_START
from tests.conftest import ROOT, run_cli

pytestmark = pytest.mark.slow  # trains a model (~5 s on 2 cores)

REPLY = "hello there, friend."
USERS = ["hi", "hello", "how are you?", "what is your name?", "tell me about the cat", "is the shop open?",
         "good morning", "thanks"]
SYSTEMS = [None, "Be brief.", "You are kind."]


def _tokenizer(folder):
    """Our tokenizer stage, in-process, on the few texts these chats use."""
    from transformers import AutoTokenizer

    from alignment.tokenizer import TokenizerConfig, train_tokenizer

    texts = USERS + [REPLY] + SYSTEMS[1:] + ["the cat sat on the mat and the dog sat on the log."]
    data = folder / "texts.jsonl"
    data.write_text("".join(json.dumps({"text": t}) + "\n" for t in texts * 3))
    train_tokenizer(TokenizerConfig(dataset_path=str(data), vocab_size=320, heldout_fraction=0,
                                    output_dir=str(folder / "tokenizer")))
    return AutoTokenizer.from_pretrained(folder / "tokenizer")


def _model(tokenizer):
    from transformers import LlamaConfig, LlamaForCausalLM

    eos = tokenizer.eos_token_id  # <|endoftext|> only: <|im_end|> is deliberately not in the generation config
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=128,
                         bos_token_id=eos, eos_token_id=eos, pad_token_id=eos)
    torch.manual_seed(0)
    return LlamaForCausalLM(config)


def _conversations(tokenizer, n: int = 24, seed: int = 0):
    """(prompt ids, reply ids) pairs: one or two user turns, with or without a system prompt, and the reply
    written exactly as chat will see it: after the generation prompt, ended by <|im_end|>."""
    rng, im_end = random.Random(seed), tokenizer.convert_tokens_to_ids(IM_END)
    pairs = []
    for i in range(n):
        messages = [{"role": "system", "content": SYSTEMS[i % 3]}] if SYSTEMS[i % 3] else []
        for turn in range(1 + i % 2):
            if turn:
                messages.append({"role": "assistant", "content": REPLY})
            messages.append({"role": "user", "content": rng.choice(USERS)})
        pairs.append((render(tokenizer, messages), tokenizer(REPLY).input_ids + [im_end]))
    return pairs


def _train_to_end_turns(model, tokenizer, steps: int = 40):
    """Loss on the reply tokens only (as SFT's assistant-only loss): -> 0.02 in 40 steps (0.11 in 30; measured)."""
    pairs = _conversations(tokenizer)
    length = max(len(p) + len(r) for p, r in pairs)  # ~80 tokens
    ids = torch.zeros(len(pairs), length, dtype=torch.long)
    mask = torch.zeros_like(ids)
    labels = torch.full_like(ids, -100)
    for row, (prompt, reply) in enumerate(pairs):
        ids[row, :len(prompt) + len(reply)] = torch.tensor(prompt + reply)
        mask[row, :len(prompt) + len(reply)] = 1
        labels[row, len(prompt):len(prompt) + len(reply)] = torch.tensor(reply)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    model.train()
    for _ in range(steps):
        loss = model(input_ids=ids, attention_mask=mask, labels=labels).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    return model.eval(), loss.item()


@pytest.fixture(scope="module")
def dirs(tmp_path_factory):
    """Three model dirs: random, trained to end its turns, and one without a chat template."""
    root = tmp_path_factory.mktemp("chat")
    tokenizer = _tokenizer(root)
    out = {"tokenizer": tokenizer}
    random_model = _model(tokenizer).eval()
    out["random"] = root / "random"
    random_model.save_pretrained(out["random"])
    tokenizer.save_pretrained(out["random"])

    trained, out["final_loss"] = _train_to_end_turns(_model(tokenizer), tokenizer)
    out["trained"] = root / "trained"
    trained.save_pretrained(out["trained"])
    tokenizer.save_pretrained(out["trained"])

    out["no_template"] = root / "no_template"
    shutil.copytree(out["random"], out["no_template"])
    (out["no_template"] / "chat_template.jinja").unlink()
    return out


def chat_session(model_dir, lines: list[str], *args) -> subprocess.CompletedProcess:
    """`alignment chat` with these lines typed on stdin, then EOF (Ctrl-D)."""
    return subprocess.run([sys.executable, "-m", "alignment", "chat", "--model", str(model_dir), *map(str, args)],
                          cwd=ROOT, input="".join(line + "\n" for line in lines), capture_output=True, text=True,
                          timeout=300)


# --- one message --------------------------------------------------------------------------------------

def test_message_prints_one_reply_and_exits(dirs):
    proc = run_cli("chat", "--model", dirs["random"], "--message", "hi", "--max_new_tokens", 5, "--seed", 0)
    # the streamed text is what the same seed samples in this process, from the same rendered prompt
    args = build_parser().parse_args(["--model", str(dirs["random"]), "--max_new_tokens", "5", "--seed", "0"])
    chat = Chat(args)
    prompt_ids = render(chat.tokenizer, [{"role": "user", "content": "hi"}])
    assert chat.tokenizer.decode(prompt_ids) == "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n"
    reply = chat.reply(prompt_ids, io.StringIO())
    assert proc.stdout == reply.text + "\n" and reply.n_tokens <= 5
    assert re.fullmatch(rf"\[{reply.n_tokens} tokens.*; prompt {len(prompt_ids)} tokens, seed 0; stopped: .*\]\n",
                        proc.stderr), proc.stderr


def test_reply_stops_at_im_end_with_no_role_markup(dirs):
    assert dirs["final_loss"] < 0.1
    tokenizer = dirs["tokenizer"]
    assert end_of_turn_ids(tokenizer) == {tokenizer.convert_tokens_to_ids(IM_END)} == {2}
    saved = json.loads((dirs["trained"] / "generation_config.json").read_text())
    assert saved["eos_token_id"] == 0  # <|im_end|> is not listed: chat must find it itself
    proc = run_cli("chat", "--model", dirs["trained"], "--message", "is the shop open?", "--system", "Be brief.",
                   "--temperature", 0, "--max_new_tokens", 40)
    # past <|im_end|>, the model would run on into "\n<|im_start|>user\n...": the reply is the turn, exactly
    assert proc.stdout == REPLY + "\n"
    assert not any(mark in proc.stdout for mark in (IM_START, IM_END, ENDOFTEXT, "user", "assistant", "system"))
    assert "stopped: end of turn" in proc.stderr


# --- a conversation on stdin -------------------------------------------------------------------------------

def test_interactive_system_reset_history_and_eof(dirs):
    proc = chat_session(dirs["trained"], ["/system Be brief.", "/system", "hi", "/reset", "hi", "how are you?",
                                          "/nonsense", ""], "--temperature", 0, "--max_new_tokens", 20)
    assert proc.returncode == 0, proc.stderr
    # stdout: /system's answer, then one reply per message
    assert proc.stdout == "Be brief.\n" + (REPLY + "\n") * 3
    assert "[system prompt set]" in proc.stderr and "[history cleared]" in proc.stderr
    assert "/reset" in proc.stderr.split("[commands:")[1]  # an unknown command lists the real ones
    prompts = [int(n) for n in re.findall(r"prompt (\d+) tokens", proc.stderr)]
    # after /reset, "hi" is rendered alone with the system prompt again (same length); the next message
    # carries that exchange as history (longer); the system prompt survives /reset
    tokenizer = dirs["tokenizer"]
    system_hi = render(tokenizer, [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hi"}])
    assert prompts[0] == prompts[1] == len(system_hi)
    assert prompts[2] == len(render(tokenizer, [{"role": "system", "content": "Be brief."},
                                                {"role": "user", "content": "hi"},
                                                {"role": "assistant", "content": REPLY},
                                                {"role": "user", "content": "how are you?"}]))
    assert "dropped" not in proc.stderr


def test_interactive_drops_old_turns_when_the_context_is_full(dirs):
    # 128 positions, 90 kept free for the reply: the second prompt (43 tokens: system, one exchange, the new
    # message) does not fit the 38 left, so the oldest exchange goes
    proc = chat_session(dirs["trained"], ["/system You are kind.", "hi", "hello", "/system", "/quit", "ignored"],
                        "--temperature", 0, "--max_new_tokens", 90)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == (REPLY + "\n") * 2 + "You are kind.\n"  # nothing after /quit
    assert "dropped the oldest turn" in proc.stderr and "system prompt is never dropped" in proc.stderr


# --- history trimming, as a unit -----------------------------------------------------------------------------

def _conversation(n_turns: int, system: str | None = "Be brief.") -> list[dict]:
    messages = [{"role": "system", "content": system}] if system else []
    for i in range(n_turns):
        messages += [{"role": "user", "content": USERS[i]}, {"role": "assistant", "content": REPLY}]
    return messages + [{"role": "user", "content": "thanks"}]


def test_trim_history_drops_the_oldest_turns_and_keeps_the_system_prompt(dirs):
    tokenizer = dirs["tokenizer"]

    def length(messages):
        return len(render(tokenizer, messages))

    messages = _conversation(3)  # system, 3 exchanges, and the new user message: 4 turns
    new = 10
    assert trim_history(messages, length, context=length(messages) + new, max_new_tokens=new) == (messages, 0)
    # one token short: the oldest exchange goes, the system prompt stays
    kept, dropped = trim_history(messages, length, context=length(messages) + new - 1, max_new_tokens=new)
    assert dropped == 1 and kept == messages[:1] + messages[3:]
    # a context that fits the system prompt and the last two turns exactly
    two = messages[:1] + messages[5:]
    kept, dropped = trim_history(messages, length, context=length(two) + new, max_new_tokens=new)
    assert (kept, dropped) == (two, 2) and length(kept) + new <= length(two) + new
    # too small for anything: the system prompt and the latest message are all that is left (the caller says so)
    kept, dropped = trim_history(messages, length, context=5, max_new_tokens=new)
    assert (kept, dropped) == (messages[:1] + messages[-1:], 3)
    # no system prompt, and no context limit
    bare = _conversation(2, system=None)
    assert trim_history(bare, length, context=length(bare[2:]) + new, max_new_tokens=new) == (bare[2:], 1)
    assert trim_history(messages, length, context=None, max_new_tokens=new) == (messages, 0)


def test_trim_history_keeps_a_turn_together():
    # a turn is a user message and everything after it up to the next user message (several replies, tool
    # results); a turn is dropped whole. Length here: one unit per message.
    messages = [{"role": "system", "content": "s"},
                {"role": "user", "content": "u1"}, {"role": "assistant", "content": "a1"},
                {"role": "tool", "content": "t1"}, {"role": "assistant", "content": "a1b"},
                {"role": "user", "content": "u2"}]
    kept, dropped = trim_history(messages, len, context=5, max_new_tokens=1)
    assert (kept, dropped) == ([messages[0], messages[-1]], 1)
    assert trim_history(messages, len, context=7, max_new_tokens=1) == (messages, 0)


# --- the model dir works with transformers' own pipeline ----------------------------------------------------

def test_pipeline_applies_the_chat_template(dirs, tmp_path):
    from transformers import GenerationConfig, pipeline

    # The trained dir, with <|im_end|> listed as an end-of-generation token (as an SFT stage should save it), so
    # that generate() stops there too
    model_dir = tmp_path / "model"
    shutil.copytree(dirs["trained"], model_dir)
    generation = GenerationConfig.from_pretrained(model_dir)
    generation.eos_token_id = [dirs["tokenizer"].eos_token_id, dirs["tokenizer"].convert_tokens_to_ids(IM_END)]
    generation.save_pretrained(model_dir)
    chat = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "good morning"}]
    out = pipeline("text-generation", model=str(model_dir))(chat, max_new_tokens=30, do_sample=False)
    messages = out[0]["generated_text"]
    assert messages[:2] == chat
    assert messages[2] == {"role": "assistant", "content": REPLY}


# --- errors ---------------------------------------------------------------------------------------------------

def test_missing_dir_and_no_chat_template_are_one_line_exit_2(dirs, tmp_path):
    missing = tmp_path / "nowhere"
    proc = run_cli("chat", "--model", missing, "--message", "hi", check=False)
    assert proc.returncode == 2 and proc.stdout == "" and proc.stderr.count("\n") == 1
    assert "model directory not found" in proc.stderr and str(missing) in proc.stderr

    proc = run_cli("chat", "--model", dirs["no_template"], "--message", "hi", check=False)
    assert proc.returncode == 2 and proc.stdout == "" and proc.stderr.count("\n") == 1, proc.stderr
    assert "has no chat template" in proc.stderr and "Traceback" not in proc.stderr

    for bad in (["--top_p", "0"], ["--temperature", "-1"], ["--message", " "], ["--max_new_tokens", "-2"],
                ["--nonsense", "1"]):
        proc = run_cli("chat", "--model", dirs["random"], *bad, check=False)
        assert proc.returncode == 2 and proc.stderr.count("\n") == 1, (bad, proc.stderr)


def test_an_empty_reasoning_block_is_not_shown():
    from alignment.chat import shown

    assert shown("<think>\n\n</think>\n\nI am Tinker.") == "I am Tinker."
    assert shown("<think>\n\n") == ""  # still open: held back until we know whether it is empty
    assert shown("<think>\n\n", finished=True) == "<think>\n\n"
    assert shown("<think>3 x 4 = 12</think> 12") == "<think>3 x 4 = 12</think> 12"  # real reasoning stays
    assert shown("Hello.") == "Hello."


# --- tools ------------------------------------------------------------------------------------------------

def test_a_streamed_tool_call_goes_to_the_notes_and_the_text_before_it_to_stdout():
    from alignment.chat import _route

    out, notes, printed, switch_at = io.StringIO(), io.StringIO(), "", None
    for text in ["Let", "Let me check.", "Let me check.<tool_call>", 'Let me check.<tool_call>\n{"name": "x"}']:
        switch_at = _route(text, printed, switch_at, out, notes)
        printed = text
    assert out.getvalue() == "Let me check." and notes.getvalue() == '<tool_call>\n{"name": "x"}'


def test_a_tool_trained_model_is_offered_its_tools_and_its_calls_run(dirs, tmp_path, monkeypatch):
    """A model dir with tools.json gets the tools block in its prompt, and each call it writes is run and shown as
    it happens (the model's turns are scripted here: what is tested is chat's wiring, not a model)."""
    from alignment.chat import Reply
    from alignment.tools.search_index import build_index

    (tmp_path / "pages.jsonl").write_text(json.dumps({"text": "Tobock was born in Yarrowend.",
                                                      "url": "https://a.example/"}) + "\n")
    build_index(tmp_path / "pages.jsonl", tmp_path / "index")
    model = tmp_path / "tool_model"
    shutil.copytree(dirs["trained"], model)
    config = json.loads((model / "config.json").read_text())
    (model / "config.json").write_text(json.dumps({**config, "max_position_embeddings": 4096}))  # the tools block
    (model / "tools.json").write_text(json.dumps({"tools": ["search"], "search_index": "../index", "top_k": 1}))

    chat = Chat(build_parser().parse_args(["--model", str(model), "--temperature", "0"]))
    assert [t["function"]["name"] for t in chat.tools] == ["search"]
    assert "<tools>" in chat.tokenizer.decode(render(chat.tokenizer, [{"role": "user", "content": "hi"}],
                                                     chat.tools))
    turns = iter(['<tool_call>\n{"name": "search", "arguments": {"query": "Tobock"}}\n</tool_call>',
                  "Tobock was born in Yarrowend."])
    monkeypatch.setattr(chat, "reply", lambda prompt_ids, out, calls_to=None: Reply(next(turns), 5, "end of turn", 0.1))
    out, notes = io.StringIO(), io.StringIO()
    reply, added, prompt_ids = chat.answer([{"role": "user", "content": "Where was Tobock born?"}], out, notes)
    assert reply.text == "Tobock was born in Yarrowend."
    assert notes.getvalue() == ('[search {"query": "Tobock"} -> [1] https://a.example/\n'
                                'Tobock was born in Yarrowend.]\n')
    assert [m["role"] for m in added] == ["assistant", "tool", "assistant"]
    assert "<tool_response>" in chat.tokenizer.decode(prompt_ids)  # the last turn was written after the result

    assert Chat(build_parser().parse_args(["--model", str(model), "--no-tools"])).tools is None
    assert Chat(build_parser().parse_args(["--model", str(dirs["trained"])])).tools is None  # not tool-trained
    for offer, error in [({"tools": ["weather"]}, "unknown tool 'weather'"),
                         ({"tools": ["search"]}, '"search" needs "search_index"'), ({}, '"tools" must be a list')]:
        (model / "tools.json").write_text(json.dumps(offer))
        proc = run_cli("chat", "--model", model, "--message", "hi", check=False)
        assert proc.returncode == 2 and error in proc.stderr and proc.stderr.count("\n") == 1, proc.stderr
    (model / "tools.json").write_text(json.dumps({"tools": []}))
    assert Chat(build_parser().parse_args(["--model", str(model)])).tools is None  # an empty list offers none
