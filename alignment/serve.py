"""`alignment serve`: any model dir of the suite behind an OpenAI-compatible API, on 127.0.0.1 by default.

    alignment serve --model runs/tiny/tool_use [--host 127.0.0.1 --port 8000 --model_id tiny]

    from openai import OpenAI
    client = OpenAI(base_url="http://127.0.0.1:8000/v1", api_key="unused")
    client.chat.completions.create(model="runs/tiny/tool_use", messages=[{"role": "user", "content": "Who are you?"}])

Endpoints: `POST /v1/chat/completions` (plain and streamed as server-sent events; `tools` in OpenAI's format, and the
model's `<tool_call>` turns come back as `tool_calls`), `GET /v1/models` (the one served dir), `GET /health`.
The server renders the conversation with the dir's own chat template and samples with `alignment sample`'s loop,
as `alignment chat` does. As in OpenAI's API, the client runs the tools: a reply that calls one ends with
finish_reason "tool_calls", and the client sends the result back as a `tool` message.

Why not `transformers serve` (STACK_NOTES.md): it lists only models in the Hub cache under /v1/models, rewrites a
model id to `ID@main` and tries the Hub for a model it does not know, and it needs fastapi. This is a thin layer on
starlette and uvicorn (transformers' serving stack) that serves exactly one local dir and never downloads.

Bad requests get OpenAI's error body (`{"error": {"message", "type", "param", "code"}}`) with a 4xx status, never a
crash: an unknown model (404 model_not_found), malformed JSON or messages (400, naming the field), a prompt longer
than the model's context (400 context_length_exceeded), an option this server does not do (n > 1, tool_choice
"required" or a named function, a response_format other than text). A null option means its default, as in OpenAI's
API. One request generates at a time (one model, one KV cache): an asyncio lock taken before any thread work, so a
stream that waits for a worker thread never holds it up, and released when the stream ends or its client leaves.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
import uuid
from dataclasses import dataclass

from alignment.recipe import RecipeError

DEFAULT_MAX_TOKENS = 256  # as alignment chat: at most half the model's context (the tiny model's is 512)
ROLES = ("system", "developer", "user", "assistant", "tool")
CALL_OPEN = "<tool_call>"
MAX_STOPS = 4  # OpenAI's limit on `stop` sequences


class APIError(Exception):
    """A request the server refuses, as OpenAI's API words it."""

    def __init__(self, status: int, message: str, param: str | None = None, code: str | None = None,
                 kind: str = "invalid_request_error"):
        super().__init__(message)
        self.status, self.message, self.param, self.code, self.kind = status, message, param, code, kind

    def body(self) -> dict:
        return {"error": {"message": self.message, "type": self.kind, "param": self.param, "code": self.code}}


@dataclass
class Request:
    """A chat completion request, checked: what the sampler needs."""
    messages: list[dict]
    tools: list[dict] | None
    max_tokens: int | None
    temperature: float
    top_p: float
    seed: int | None
    stream: bool
    include_usage: bool
    stops: list[str]


# ---------------------------------------------------------------------------------------------
# Requests in, messages for the chat template out
# ---------------------------------------------------------------------------------------------

def _text_of(content, where: str) -> str:
    """A message's content as text: a string, or OpenAI's list of parts ({"type": "text", "text": ...})."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts = []
        for n, part in enumerate(content):
            if not isinstance(part, dict) or part.get("type") != "text" or not isinstance(part.get("text"), str):
                raise APIError(400, f"{where}.content[{n}]: only text parts are supported "
                                    "({\"type\": \"text\", \"text\": ...})", param=f"{where}.content")
            texts.append(part["text"])
        return "".join(texts)
    raise APIError(400, f"{where}.content: expected a string or a list of text parts, got {type(content).__name__}",
                   param=f"{where}.content")


def _tool_calls_in(calls, where: str) -> list[dict]:
    """An assistant message's tool_calls, as the chat template takes them (arguments a dict where they are JSON)."""
    if not isinstance(calls, list):
        raise APIError(400, f"{where}.tool_calls: expected a list", param=f"{where}.tool_calls")
    out = []
    for n, call in enumerate(calls):
        function = call.get("function") if isinstance(call, dict) else None
        if not isinstance(function, dict) or not isinstance(function.get("name"), str):
            raise APIError(400, f"{where}.tool_calls[{n}]: expected {{\"type\": \"function\", \"function\": "
                                "{\"name\": ..., \"arguments\": ...}}", param=f"{where}.tool_calls")
        arguments = function.get("arguments", {})
        if isinstance(arguments, str):
            try:
                arguments = json.loads(arguments) if arguments.strip() else {}
            except json.JSONDecodeError:
                pass  # the template writes a string as it is
        out.append({"type": "function", "function": {"name": function["name"], "arguments": arguments}})
    return out


def parse_request(body, served: set[str]) -> Request:
    """The request body, checked; an APIError names the first field that is wrong."""
    if not isinstance(body, dict):
        raise APIError(400, "the request body must be a JSON object")
    model = body.get("model")
    if model not in served:
        raise APIError(404, f"The model '{model}' does not exist (this server serves {sorted(served)[0]!r})",
                       param="model", code="model_not_found")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise APIError(400, "messages: expected a non-empty list of messages", param="messages")
    checked = []
    for n, message in enumerate(messages):
        where = f"messages[{n}]"
        if not isinstance(message, dict):
            raise APIError(400, f"{where}: expected an object with a role and content", param=where)
        role = message.get("role")
        if role not in ROLES:
            raise APIError(400, f"{where}.role: expected one of {', '.join(ROLES)}, got {role!r}", param=f"{where}.role")
        out = {"role": "system" if role == "developer" else role, "content": _text_of(message.get("content"), where)}
        if role == "assistant" and message.get("tool_calls"):
            out["tool_calls"] = _tool_calls_in(message["tool_calls"], where)
        checked.append(out)
    tools = body.get("tools")
    if tools is not None:
        if not isinstance(tools, list) or not all(
                isinstance(t, dict) and isinstance(t.get("function"), dict) and isinstance(t["function"].get("name"), str)
                for t in tools):
            raise APIError(400, "tools: expected a list of {\"type\": \"function\", \"function\": {\"name\": ..., "
                                "\"parameters\": ...}}", param="tools")
    option = lambda name, default: default if body.get(name) is None else body[name]  # noqa: E731  (null: default)
    if option("n", 1) != 1:
        raise APIError(400, "n: this server writes one choice per request", param="n")
    tool_choice = option("tool_choice", "auto")
    if tool_choice not in ("auto", "none"):
        raise APIError(400, "tool_choice: this server takes \"auto\" or \"none\" (the model decides, or no tools)",
                       param="tool_choice")
    if tool_choice == "none":
        tools = None  # the model is not shown the tools, so it answers without a call
    response_format = option("response_format", {"type": "text"})
    if not isinstance(response_format, dict) or response_format.get("type") != "text":
        raise APIError(400, "response_format: only {\"type\": \"text\"} is supported", param="response_format")
    stops = option("stop", [])
    stops = [stops] if isinstance(stops, str) else stops
    if not isinstance(stops, list) or len(stops) > MAX_STOPS or not all(isinstance(x, str) and x for x in stops):
        raise APIError(400, f"stop: expected a string or a list of up to {MAX_STOPS} non-empty strings",
                       param="stop")
    max_tokens = option("max_completion_tokens", option("max_tokens", None))
    if max_tokens is not None and (not isinstance(max_tokens, int) or max_tokens < 1):
        raise APIError(400, f"max_tokens: expected a positive integer, got {max_tokens!r}", param="max_tokens")
    temperature = option("temperature", 1.0)
    top_p = option("top_p", 1.0)
    for name, value, low, high in (("temperature", temperature, 0, 2), ("top_p", top_p, 0, 1)):
        if not isinstance(value, (int, float)) or not low <= value <= high:
            raise APIError(400, f"{name}: expected a number from {low} to {high}, got {value!r}", param=name)
    seed = body.get("seed")
    if seed is not None and not isinstance(seed, int):
        raise APIError(400, f"seed: expected an integer, got {seed!r}", param="seed")
    options = option("stream_options", {})
    if not isinstance(options, dict):
        raise APIError(400, "stream_options: expected an object such as {\"include_usage\": true}",
                       param="stream_options")
    return Request(checked, tools or None, max_tokens, float(temperature), float(top_p), seed,
                   bool(option("stream", False)), bool(options.get("include_usage", False)), stops)


# ---------------------------------------------------------------------------------------------
# The model: one reply, token by token
# ---------------------------------------------------------------------------------------------

def tool_calls_out(text: str, offered: list[dict] | None) -> tuple[str, list[dict]]:
    """(content, OpenAI tool_calls) of a finished reply: its `<tool_call>` bodies that name an offered function.
    A call of a function the request did not offer, or one that is not JSON, stays in the content as written."""
    from alignment.tools.calling import _call_bodies

    if not offered or CALL_OPEN not in text:
        return text, []
    names = {t["function"]["name"] for t in offered}
    content, bodies = _call_bodies(text)
    calls = []
    for body in bodies:
        call = json.loads(body) if body is not None else None
        if not isinstance(call, dict) or call.get("name") not in names:
            return text, []
        arguments = call.get("arguments", {})
        calls.append({"id": f"call_{uuid.uuid4().hex[:24]}", "type": "function",
                      "function": {"name": call["name"],
                                   "arguments": arguments if isinstance(arguments, str) else json.dumps(arguments)}})
    return content, calls


def _safe_prefix(text: str, held: tuple[str, ...] = (CALL_OPEN,)) -> int:
    """How much of a partial reply can be streamed as content: up to a `<tool_call>`, and not a tail that may be the
    start of one ("<tool_" waits for the next token) or of a stop sequence (`held`: the markers held back)."""
    at = text.find(CALL_OPEN)
    if at != -1 and CALL_OPEN in held:
        return at
    for keep in range(min(max(map(len, held)) - 1, len(text)), 0, -1):
        if any(marker.startswith(text[-keep:]) for marker in held):
            return len(text) - keep
    return len(text)


def _cut_at_stop(text: str, stops: list[str]) -> int | None:
    """Where the first stop sequence starts in `text`, if one has been written."""
    found = [at for at in (text.find(stop) for stop in stops) if at != -1]
    return min(found) if found else None


class Engine:
    """The served model and its tokenizer. It does no locking itself: the HTTP layer lets one request in at a time."""

    def __init__(self, model_dir: str, device: str = "auto", dtype: str = "auto"):
        from alignment.chat_setup import end_of_turn_ids, stop_token_ids
        from alignment.sample import load_model

        self.model, self.tokenizer = load_model(model_dir, device, dtype)
        if not self.tokenizer.chat_template:
            raise RecipeError(f"--model: {model_dir} has no chat template (a base model? serve needs a model "
                              "fine-tuned on conversations)")
        self.context = getattr(self.model.config, "max_position_embeddings", None)
        self.end_of_turn = end_of_turn_ids(self.tokenizer)
        self.stops = self.end_of_turn | stop_token_ids(self.model, self.tokenizer)

    def prompt_ids(self, request: Request) -> list[int]:
        from alignment.chat import render

        try:
            ids = render(self.tokenizer, request.messages, request.tools)
        except RecipeError as e:
            raise APIError(400, f"messages: {e}", param="messages") from None
        if self.context is not None and len(ids) >= self.context:
            raise APIError(400, f"This model's maximum context length is {self.context} tokens; the messages are "
                                f"{len(ids)} tokens", param="messages", code="context_length_exceeded")
        return ids

    def generate(self, request: Request, prompt_ids: list[int]):
        """Yield (text so far, new token count, None) after each token, then (the whole reply, its token count, why it
        ended: "stop" at the end of the turn or a stop sequence, "length" at max_tokens or the context's end)."""
        import torch

        from alignment.chat import shown
        from alignment.sample import _device_of, _seeded_generator, continuation_text, generate_steps

        room = self.context - len(prompt_ids) if self.context is not None else DEFAULT_MAX_TOKENS
        limit = min(request.max_tokens or min(DEFAULT_MAX_TOKENS, max(1, room)), room)
        device = _device_of(self.model)
        generator = _seeded_generator(request.seed if request.seed is not None else
                                      int.from_bytes(uuid.uuid4().bytes[:4], "big"), device)
        new_ids: list[int] = []
        finish, cut = "length", None
        for step in generate_steps(self.model, torch.tensor([prompt_ids], device=device), max_new_tokens=limit,
                                   temperature=request.temperature, top_p=request.top_p, generator=generator,
                                   stop_ids=self.stops):
            if step.token_id in self.stops:
                finish = "stop"
                break
            new_ids.append(step.token_id)
            text = shown(continuation_text(self.tokenizer, prompt_ids, new_ids))
            if request.stops and (cut := _cut_at_stop(text, request.stops)) is not None:
                finish = "stop"
                break
            if not text.endswith("\ufffd"):  # half a character: wait for the token that completes it
                yield text, len(new_ids), None
        text = shown(continuation_text(self.tokenizer, prompt_ids, new_ids), finished=True)
        yield (text[:cut] if cut is not None else text), len(new_ids), finish


# ---------------------------------------------------------------------------------------------
# The HTTP layer
# ---------------------------------------------------------------------------------------------

def _completion_id() -> str:
    return f"chatcmpl-{uuid.uuid4().hex[:24]}"


def _usage(prompt: int, completion: int) -> dict:
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


def complete(engine: Engine, request: Request, model_id: str) -> dict:
    prompt_ids = engine.prompt_ids(request)
    text, n_tokens, finish = "", 0, "length"
    for text, n_tokens, finish in engine.generate(request, prompt_ids):
        pass
    content, calls = tool_calls_out(text, request.tools)
    message = {"role": "assistant", "content": content or (None if calls else ""), "refusal": None}
    if calls:
        message["tool_calls"], finish = calls, "tool_calls"
    return {"id": _completion_id(), "object": "chat.completion", "created": int(time.time()), "model": model_id,
            "choices": [{"index": 0, "message": message, "finish_reason": finish, "logprobs": None}],
            "usage": _usage(len(prompt_ids), n_tokens), "system_fingerprint": None}


def stream_events(engine: Engine, request: Request, model_id: str, prompt_ids: list[int]):
    """Server-sent events: a role chunk, content deltas as tokens come (a tool call held back until it is whole),
    the tool calls, a chunk with finish_reason, usage if asked, then [DONE]."""
    ident, created = _completion_id(), int(time.time())

    def chunk(delta: dict, finish: str | None = None, usage: dict | None = None) -> str:
        body = {"id": ident, "object": "chat.completion.chunk", "created": created, "model": model_id,
                "choices": [] if usage else [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}]}
        if usage:
            body["usage"] = usage
        return f"data: {json.dumps(body)}\n\n"

    yield chunk({"role": "assistant", "content": ""})
    held = ((CALL_OPEN,) if request.tools else ()) + tuple(request.stops)
    sent, text, n_tokens, finish = 0, "", 0, "length"
    try:
        for text, n_tokens, finished in engine.generate(request, prompt_ids):
            if held and not (finished and not request.tools):  # the finished reply is already cut at a stop
                upto = _safe_prefix(text, held)
            else:
                upto = len(text)
            if finished:
                finish = finished
            if upto > sent:
                yield chunk({"content": text[sent:upto]})
                sent = upto
        content, calls = tool_calls_out(text, request.tools)
        if calls:
            yield chunk({"tool_calls": [{"index": i, **call} for i, call in enumerate(calls)]})
            finish = "tool_calls"
        elif len(text) > sent:  # a held-back tail that was no call after all
            yield chunk({"content": text[sent:]})
        yield chunk({}, finish)
        if request.include_usage:
            yield chunk({}, usage=_usage(len(prompt_ids), n_tokens))
    except Exception as e:  # the stream has started: the error goes in it, and the server keeps serving
        yield f"data: {json.dumps(APIError(500, f'generation failed: {e}', kind='server_error').body())}\n\n"
    yield "data: [DONE]\n\n"


async def one_at_a_time(lock: asyncio.Lock, events):
    """A stream's events with the model to itself: the lock is taken before the first token and given back when the
    stream ends, fails or its client leaves (the task is cancelled: `finally` closes the generator). Each token is
    made on a worker thread, so the event loop keeps answering; no thread waits on the lock."""
    from starlette.concurrency import run_in_threadpool

    done = object()
    async with lock:
        try:
            while (event := await run_in_threadpool(next, events, done)) is not done:
                yield event
        finally:
            events.close()


def build_app(engine: Engine, model_id: str, model_dir: str):
    from starlette.applications import Starlette
    from starlette.concurrency import run_in_threadpool
    from starlette.responses import JSONResponse, StreamingResponse
    from starlette.routing import Route

    served = {model_id, model_dir}
    created = int(time.time())
    lock = asyncio.Lock()  # one generation at a time: one model, one KV cache

    def error(e: APIError) -> JSONResponse:
        return JSONResponse(e.body(), status_code=e.status)

    async def chat_completions(http_request):
        try:
            try:
                body = json.loads(await http_request.body())
            except (json.JSONDecodeError, UnicodeDecodeError) as e:
                raise APIError(400, f"the request body is not valid JSON ({e})") from None
            request = parse_request(body, served)
            if request.stream:
                # rendered first, so that a prompt too long gets a status rather than an error inside a stream
                prompt_ids = await run_in_threadpool(engine.prompt_ids, request)
                return StreamingResponse(one_at_a_time(lock, stream_events(engine, request, model_id, prompt_ids)),
                                         media_type="text/event-stream")
            async with lock:
                return JSONResponse(await run_in_threadpool(complete, engine, request, model_id))
        except APIError as e:
            return error(e)
        except Exception as e:  # never a crash: the next request is served as usual
            return error(APIError(500, f"generation failed: {type(e).__name__}: {e}", kind="server_error"))

    async def models(_):
        return JSONResponse({"object": "list", "data": [{"id": model_id, "object": "model", "created": created,
                                                         "owned_by": "alignment"}]})

    async def model(http_request):
        name = http_request.path_params["name"]
        if name not in served:
            return error(APIError(404, f"The model '{name}' does not exist", param="model", code="model_not_found"))
        return JSONResponse({"id": model_id, "object": "model", "created": created, "owned_by": "alignment"})

    async def health(_):
        return JSONResponse({"status": "ok", "model": model_id})

    async def not_found(http_request, exc):
        return error(APIError(404, f"no such endpoint: {http_request.method} {http_request.url.path}"))

    return Starlette(routes=[Route("/v1/chat/completions", chat_completions, methods=["POST"]),
                             Route("/v1/models", models), Route("/v1/models/{name:path}", model),
                             Route("/health", health)],
                     exception_handlers={404: not_found, 405: not_found})


def build_parser() -> argparse.ArgumentParser:
    from alignment.sample import _Parser

    parser = _Parser(prog="alignment serve", description="Serve a model dir behind an OpenAI-compatible API.")
    parser.add_argument("--model", required=True, help="A chat model dir of the suite (or any chat model dir).")
    parser.add_argument("--model_id", default=None, help="The id clients name (default: --model as given; both "
                                                         "are accepted).")
    parser.add_argument("--host", default="127.0.0.1", help="Where to listen (default: this machine only).")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--device", default="auto", help="cpu, cuda, ... (default: cuda if there is one)")
    parser.add_argument("--dtype", default="auto", help="auto (the dir's), float32, bfloat16, float16")
    return parser


def main(argv: list[str]) -> int:
    import uvicorn

    from alignment.sample import check_model_path

    args = build_parser().parse_args(argv)
    check_model_path(args.model)
    engine = Engine(args.model, args.device, args.dtype)
    model_id = args.model_id or args.model
    print(f"serve: {args.model} as '{model_id}' on http://{args.host}:{args.port}/v1 "
          f"(context {engine.context} tokens)", flush=True)
    uvicorn.run(build_app(engine, model_id, args.model), host=args.host, port=args.port, log_level="warning")
    return 0
