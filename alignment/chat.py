"""Talk to an assistant in the terminal: the chat template, a history, and the sampling loop of `alignment sample`.

    alignment chat --model DIR [--system "You are terse."] [--temperature 0.7 --top_k 50 --top_p 0.9 --seed 0]
    alignment chat --model DIR --message "What is 7 * 6?"     # one reply on stdout, then exit (for scripts)

    in the chat:  /system TEXT   set the system prompt (the history is kept)     /reset   forget the conversation
                  /system        show it                                          /quit    leave (or Ctrl-D)

An assistant is still a next-token predictor ("Deep Dive into LLMs like ChatGPT"): what makes it answer is that
the conversation is written out as one document in the format it was fine-tuned on, ending where the assistant's
turn begins. That rendering is the tokenizer's own chat template (`apply_chat_template(messages,
add_generation_prompt=True)`), so any model dir with a template works: ours (alignment/chat_format.py, ChatML as
Qwen3 writes it), SmolLM2's, Qwen's, Llama's. The model then writes the assistant's turn token by token with
sample.py's loop, and the turn ends when it emits the template's end-of-turn token (<|im_end|> in ChatML), or
end-of-text.

The model sees only its context window (`config.max_position_embeddings` tokens, prompt and reply together), so
before each reply the oldest turns are dropped until the rendered prompt plus max_new_tokens fits; the system
prompt is never dropped, and stderr says when turns were.

torch and transformers are imported inside the functions, as in sample.py: `--help` and a mistyped path answer
at once.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from dataclasses import dataclass
from typing import Callable

from alignment.chat_setup import end_of_turn_ids, stop_token_ids
from alignment.recipe import RecipeError
from alignment.sample import (_device_of, _Parser, _seeded_generator, _Style, check_model_path,
                              check_sampling_args, continuation_text, generate_steps, load_model)

# The longest reply by default, unless that is more than half the model's context: the reply's room is kept free
# when old turns are dropped, and 256 tokens of our tiny model's 256-token context would leave none for history.
DEFAULT_MAX_NEW_TOKENS = 256

COMMANDS = "/system TEXT (set the system prompt), /system (show it), /reset (forget the conversation), /quit"


# ---------------------------------------------------------------------------------------------
# The conversation as the model sees it
# ---------------------------------------------------------------------------------------------

def render(tokenizer, messages: list[dict], tools: list[dict] | None = None) -> list[int]:
    """The prompt ids: the messages written out by the tokenizer's chat template (with the tools block in the
    system turn when tools are offered), up to the start of the assistant's turn (`add_generation_prompt=True`)."""
    try:
        return list(tokenizer.apply_chat_template(messages, tools=tools or None, add_generation_prompt=True,
                                                  tokenize=True, return_dict=False))
    except Exception as e:  # jinja's TemplateError: e.g. Gemma's template refuses a system message
        first_line = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise RecipeError(f"the chat template cannot render this conversation: {first_line}") from None


def trim_history(messages: list[dict], prompt_length: Callable[[list[dict]], int], context: int | None,
                 max_new_tokens: int) -> tuple[list[dict], int]:
    """Drop the oldest turns until the prompt plus a full reply fits the model's context.

    A turn is a user message and the replies after it; the system message (the first one, if any) and the latest
    turn are always kept. `prompt_length(messages)` is the rendered prompt's length in tokens. Returns the kept
    messages and how many turns were dropped. What cannot be made to fit is left to the caller (the latest turn
    alone may still be too long).
    """
    system = messages[:1] if messages and messages[0]["role"] == "system" else []
    turns: list[list[dict]] = []
    for message in messages[len(system):]:
        if message["role"] == "user" or not turns:
            turns.append([message])
        else:
            turns[-1].append(message)

    def flat():
        return system + [m for turn in turns for m in turn]

    dropped = 0
    if context is None:  # a config without a position limit (none of ours): nothing to fit into
        return flat(), 0
    while len(turns) > 1 and prompt_length(flat()) + max_new_tokens > context:
        turns.pop(0)
        dropped += 1
    return flat(), dropped


# ---------------------------------------------------------------------------------------------
# One reply, streamed
# ---------------------------------------------------------------------------------------------

@dataclass
class Reply:
    text: str
    n_tokens: int  # the reply's own tokens, the end-of-turn token not counted
    stopped: str  # why it ended
    seconds: float


class Chat:
    """A loaded model, its sampler settings and one seeded generator for the whole session: a seed reproduces
    the whole conversation, given the same messages."""

    def __init__(self, args):
        self.args = args
        self.model, self.tokenizer = load_model(args.model, args.device, args.dtype)
        if not self.tokenizer.chat_template:
            raise RecipeError(f"--model: {args.model} has no chat template (a base model? `alignment sample` "
                              "continues text; chat needs a model fine-tuned on conversations)")
        self.context = getattr(self.model.config, "max_position_embeddings", None)
        self.max_new_tokens = args.max_new_tokens
        if self.max_new_tokens is None:
            half = self.context // 2 if self.context is not None else DEFAULT_MAX_NEW_TOKENS
            self.max_new_tokens = min(DEFAULT_MAX_NEW_TOKENS, half)
        self.end_of_turn = end_of_turn_ids(self.tokenizer)
        self.end_of_text = stop_token_ids(self.model, self.tokenizer) - self.end_of_turn
        self.seed = args.seed if args.seed is not None else random.randrange(2**31)
        self.device = _device_of(self.model)
        self.generator = _seeded_generator(self.seed, self.device)
        self.tools = self._offered_tools(args)

    @staticmethod
    def _offered_tools(args) -> list[dict] | None:
        """The tools' schemas when the model dir was trained to call them (its tools.json) and --no_tools is off."""
        from alignment.tools import offered_tools, tool_schemas, use_search_index

        offer = None if getattr(args, "no_tools", False) else offered_tools(args.model)
        if not offer:
            return None
        if "search" in offer["tools"]:
            use_search_index(offer["search_index"], offer.get("top_k", 2))
        return tool_schemas(offer["tools"])

    def fit(self, messages: list[dict]) -> tuple[list[dict], list[int], int]:
        """The messages that fit the context (oldest turns dropped), their prompt ids, how many turns went."""
        kept, dropped = trim_history(messages, lambda m: len(render(self.tokenizer, m, self.tools)), self.context,
                                     self.max_new_tokens)
        prompt_ids = render(self.tokenizer, kept, self.tools)
        if self.context is not None and len(prompt_ids) >= self.context:
            raise RecipeError(f"the message is too long: the prompt is {len(prompt_ids)} tokens, the model's "
                              f"context is {self.context}")
        return kept, prompt_ids, dropped

    def answer(self, messages: list[dict], out, notes) -> tuple[Reply, list[dict], list[int]]:
        """The assistant's answer to `messages` (ending with the user's turn): with tools offered, the calling loop
        (alignment/tools/calling.py) runs each call the model writes and shows it and its result on `notes` as it
        happens, and the model writes again. Returns the last reply, the messages added, the last prompt."""
        if not self.tools:
            _, prompt_ids, _ = self.fit(messages)
            reply = self.reply(prompt_ids, out)
            return reply, [{"role": "assistant", "content": reply.text}], prompt_ids
        from alignment.tools.calling import answer_with_tools

        last = {}

        def generate(conversation):
            _, last["prompt"], _ = self.fit(conversation)
            last["reply"] = self.reply(last["prompt"], out, calls_to=notes)
            return last["reply"].text

        def show(call):
            arguments = json.dumps(call.arguments) if call.arguments is not None else "(unreadable)"
            notes.write(f"[{call.name or 'tool call'} {arguments} -> {call.result}]\n")
            notes.flush()

        exchange = answer_with_tools(generate, messages, on_call=show,
                                     offered=[t["function"]["name"] for t in self.tools])
        return last["reply"], exchange.messages, last["prompt"]

    def reply(self, prompt_ids: list[int], out, calls_to=None) -> Reply:
        """Sample the assistant's turn, writing its text to `out` as it comes; one newline at the end. With
        `calls_to`, a tool call and what follows it go there instead (stdout keeps the text before it)."""
        import torch

        args, tokenizer = self.args, self.tokenizer
        input_ids = torch.tensor([prompt_ids], device=self.device)
        new_ids: list[int] = []
        printed = ""
        switch_at = None  # where a tool call starts in the text: from there on it goes to calls_to
        stopped = f"max_new_tokens={self.max_new_tokens}"
        started = time.perf_counter()
        for step in generate_steps(self.model, input_ids, max_new_tokens=self.max_new_tokens,
                                   temperature=args.temperature, top_k=args.top_k, top_p=args.top_p,
                                   generator=self.generator, stop_ids=self.end_of_turn | self.end_of_text):
            if step.token_id in self.end_of_turn:
                stopped = "end of turn"
                break
            if step.token_id in self.end_of_text:
                stopped = "end-of-text"
                break
            new_ids.append(step.token_id)
            # As in sample.py: one token can be half a character (byte-level BPE); a trailing U+FFFD waits for
            # the next token to complete it. Decoded with the prompt, so that left context is kept.
            text = shown(continuation_text(tokenizer, prompt_ids, new_ids))
            if text.endswith("\ufffd"):
                continue
            switch_at = _route(text, printed, switch_at, out, calls_to)
            printed = text
        else:
            if self.context is not None and len(prompt_ids) + len(new_ids) >= self.context:
                stopped = f"context of {self.context} tokens full"
        seconds = time.perf_counter() - started
        text = continuation_text(tokenizer, prompt_ids, new_ids)
        visible = shown(text, finished=True)
        switch_at = _route(visible + "\n", printed, switch_at, out, calls_to)
        if switch_at:  # a line of text before the call: end it on its own stream too
            out.write("\n")
            out.flush()
        return Reply(text, len(new_ids), stopped, seconds)


def _route(text: str, printed: str, switch_at: int | None, out, calls_to) -> int | None:
    """Write what is new in `text` since `printed`: to `out`, except from where a tool call starts (`switch_at`,
    found here the first time `<tool_call>` shows, when there is a `calls_to`) on, which goes to `calls_to`.
    Returns `switch_at`."""
    if calls_to is not None and switch_at is None and "<tool_call>" in text:
        switch_at = text.index("<tool_call>")
    start = len(printed)
    if switch_at is None:
        out.write(text[start:])
        out.flush()
        return None
    if start < switch_at:
        out.write(text[start:switch_at])
        out.flush()
    calls_to.write(text[max(start, switch_at):])
    calls_to.flush()
    return switch_at


def shown(text: str, finished: bool = False) -> str:
    """What the user sees of a reply so far. Qwen3-style templates train the assistant to open every turn with a
    reasoning block, empty when it does not reason (`<think>\n\n</think>\n\n`): an empty one is not shown, and
    while a block is still open nothing after `<think>` is printed until we know whether it is empty."""
    stripped = text.lstrip()
    if not stripped.startswith("<think>"):
        return text
    if "</think>" not in stripped:
        return stripped if finished else ""
    reasoning, answer = stripped[len("<think>"):].split("</think>", 1)
    return answer.lstrip() if not reasoning.strip() else stripped


def _stats(reply: Reply, prompt_ids: list[int], seed: int | None = None) -> str:
    speed = f", {reply.n_tokens / reply.seconds:.1f} tokens/s" if reply.seconds > 0 and reply.n_tokens else ""
    seed_part = f", seed {seed}" if seed is not None else ""
    return f"[{reply.n_tokens} tokens{speed}; prompt {len(prompt_ids)} tokens{seed_part}; stopped: {reply.stopped}]"


def _dropped_note(dropped: int, chat: Chat) -> str:
    turns = "oldest turn" if dropped == 1 else f"{dropped} oldest turns"
    return (f"[history: dropped the {turns} to fit the model's context of {chat.context} tokens "
            f"(prompt + max_new_tokens {chat.max_new_tokens}); a system prompt is never dropped]")


# ---------------------------------------------------------------------------------------------
# The two modes: one message, or a conversation
# ---------------------------------------------------------------------------------------------

def _with_system(system: str | None, history: list[dict]) -> list[dict]:
    return ([{"role": "system", "content": system}] if system else []) + history


def run_message(args) -> None:
    """--message: one reply on stdout, the numbers on stderr."""
    chat = Chat(args)
    messages = _with_system(args.system, [{"role": "user", "content": args.message}])
    reply, _, prompt_ids = chat.answer(messages, sys.stdout, sys.stderr)
    print(_stats(reply, prompt_ids, chat.seed), file=sys.stderr)


def run_interactive(args) -> None:
    """Read lines from stdin until /quit or EOF. Replies (and /system's answer) go to stdout; notes to stderr."""
    chat = Chat(args)
    on_terminal = sys.stdin.isatty()
    if on_terminal:
        try:
            import readline  # noqa: F401  (line editing and ↑ history for input())
        except ImportError:
            pass
    note = _Style(sys.stderr)
    context = f"context {chat.context} tokens" if chat.context is not None else "no context limit"
    tools = f"; tools: {', '.join(t['function']['name'] for t in chat.tools)}" if chat.tools else ""
    print(note.dim(f"[chatting with {args.model} ({context}, seed {chat.seed}{tools}); {COMMANDS}; Ctrl-D leaves]"),
          file=sys.stderr)
    system, history = args.system, []
    while True:
        try:
            text = input("you> " if on_terminal else "").strip()
        except EOFError:
            break
        except KeyboardInterrupt:  # Ctrl-C at the prompt leaves, as in a shell's REPL
            print(file=sys.stderr)
            break
        if not text:
            continue
        if text in ("/quit", "/exit"):
            break
        if text == "/reset":
            history = []
            print(note.dim("[history cleared]"), file=sys.stderr)
            continue
        if text == "/system":
            print(system if system else "(no system prompt)")
            continue
        if text.startswith("/system "):
            system = text[len("/system "):].strip() or None
            print(note.dim("[system prompt set]" if system else "[system prompt removed]"), file=sys.stderr)
            continue
        if text.startswith("/"):
            print(note.dim(f"[commands: {COMMANDS}]"), file=sys.stderr)
            continue

        messages = _with_system(system, history + [{"role": "user", "content": text}])
        try:
            kept, prompt_ids, dropped = chat.fit(messages)
        except RecipeError as e:  # too long, or the template refuses it: say so, keep chatting
            print(f"[{e}]", file=sys.stderr)
            continue
        if dropped:
            print(note.dim(_dropped_note(dropped, chat)), file=sys.stderr)
        try:
            reply, added, prompt_ids = chat.answer(kept, sys.stdout, sys.stderr)
        except KeyboardInterrupt:  # Ctrl-C while it writes: drop this exchange, stay in the chat
            print(file=sys.stdout)
            print(note.dim("[interrupted; this exchange is not kept]"), file=sys.stderr)
            continue
        except RecipeError as e:  # a tool result made the prompt too long
            print(f"[{e}]", file=sys.stderr)
            continue
        history = kept[1 if system else 0:] + added
        print(note.dim(_stats(reply, prompt_ids)), file=sys.stderr)
        if on_terminal:
            print()


# ---------------------------------------------------------------------------------------------
# The command line
# ---------------------------------------------------------------------------------------------

def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="alignment chat", description="Talk to an assistant: interactive, or one --message.")
    p.add_argument("--model", required=True,
                   help="A model dir (save_pretrained) or a Hub id, with a chat template in its tokenizer.")
    p.add_argument("--system", default=None, help="The system prompt (the first message; never dropped).")
    p.add_argument("--message", default=None,
                   help="Print one reply to this message on stdout and exit, instead of an interactive chat.")
    # An assistant should answer, not free-associate: 0.7 sharpens the distribution (sample's default is 1.0,
    # the raw model) and top_p 0.9 cuts the long tail a tiny model spreads its mass over.
    p.add_argument("--temperature", type=float, default=0.7,
                   help="Divides the logits: <1 sharper, >1 flatter, 0 greedy (argmax).")
    p.add_argument("--top_k", type=int, default=50, help="Sample among the k likeliest tokens only (0: all).")
    p.add_argument("--top_p", type=float, default=0.9,
                   help="Nucleus: the likeliest tokens whose probability adds up to p (1.0: all).")
    p.add_argument("--max_new_tokens", type=int, default=None,
                   help=f"The longest reply, and the room kept free in the context when old turns are dropped "
                        f"(default: {DEFAULT_MAX_NEW_TOKENS}, or half the model's context if that is less).")
    p.add_argument("--seed", type=int, default=None,
                   help="Makes the whole conversation reproducible; default: a random seed, reported on stderr.")
    p.add_argument("--device", default="auto", help="auto (cuda if available, else cpu), cpu, cuda, cuda:1, mps ...")
    p.add_argument("--dtype", default="auto", choices=["auto", "float32", "bfloat16", "float16"],
                   help="Weights' dtype; auto: the one saved in the model's config.")
    p.add_argument("--no_tools", "--no-tools", action="store_true",
                   help="Offer no tools, even to a model trained to call them (its tools.json).")
    return p


def main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)  # --help prints and exits 0 here; bad flags raise RecipeError
    # max_new_tokens None is the default, set once the model's context is known (Chat)
    check_sampling_args(argparse.Namespace(**{**vars(args), "max_new_tokens": args.max_new_tokens or 0}))
    if args.message is not None and not args.message.strip():
        raise RecipeError("--message: empty")
    check_model_path(args.model)
    try:
        run_message(args) if args.message is not None else run_interactive(args)
    except KeyboardInterrupt:
        print(file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except RecipeError as e:
        print(f"alignment chat: error: {e}", file=sys.stderr)
        sys.exit(2)
