"""`alignment serve`: a live server on 127.0.0.1 answering the official openai client (plain, streamed, errors that
leave it serving), and the pieces that turn a reply into OpenAI's tool_calls. The tiny assistant's own tool call
through the server is in tests/test_tiny_pipeline.py (it needs a tool-trained model)."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

import pytest

from alignment.serve import APIError, _safe_prefix, parse_request, tool_calls_out
from tests.test_sft import micro_base  # noqa: F401  (a fixture: a chat-ready micro Llama with our tokenizer)

openai = pytest.importorskip("openai")

PYTHON_TOOL = {"type": "function", "function": {"name": "python", "description": "Run a program.",
                                                "parameters": {"type": "object",
                                                               "properties": {"code": {"type": "string"}}}}}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LiveServer:
    """`alignment serve` in a subprocess, as a user starts it; stopped at the end."""

    def __init__(self, model_dir, *extra):
        self.port = free_port()
        self.log = tempfile.TemporaryFile(mode="w+")  # a file, not a pipe nobody reads: a chatty server never blocks
        self.proc = subprocess.Popen([sys.executable, "-m", "alignment", "serve", "--model", str(model_dir),
                                      "--port", str(self.port), *extra],
                                     stdout=self.log, stderr=subprocess.STDOUT, text=True)
        deadline = time.time() + 120
        while time.time() < deadline:
            if self.proc.poll() is not None:
                self.log.seek(0)
                raise AssertionError(f"the server exited: {self.log.read()}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/health", timeout=2) as r:
                    if json.loads(r.read())["status"] == "ok":
                        break
            except OSError:
                time.sleep(0.5)
        else:
            raise AssertionError("the server did not answer /health within 120 s")
        self.client = openai.OpenAI(base_url=f"http://127.0.0.1:{self.port}/v1", api_key="unused", max_retries=0)

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=30)
        self.log.close()


@pytest.fixture(scope="module")
def server(micro_base):
    live = LiveServer(micro_base, "--model_id", "micro")
    yield live
    live.stop()


def test_the_openai_client_gets_a_reply_and_the_same_reply_streamed(server):
    client = server.client
    assert [m.id for m in client.models.list()] == ["micro"]
    messages = [{"role": "user", "content": "Where was Ivand Tobmere born?"}]
    reply = client.chat.completions.create(model="micro", messages=messages, temperature=0, max_tokens=12)
    choice = reply.choices[0]
    assert choice.message.role == "assistant" and isinstance(choice.message.content, str)
    assert choice.finish_reason in ("stop", "length")
    assert reply.usage.prompt_tokens > 5 and 1 <= reply.usage.completion_tokens <= 12
    stream = client.chat.completions.create(model="micro", messages=messages, temperature=0, max_tokens=12,
                                            stream=True, stream_options={"include_usage": True})
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == choice.message.content  # greedy: the stream is the same reply, in pieces
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == choice.finish_reason
    assert chunks[-1].usage.completion_tokens == reply.usage.completion_tokens
    # the dir's path is an id too, and a seeded sample repeats
    sampled = [client.chat.completions.create(model=str(server.proc.args[5]), messages=messages, temperature=1.0,
                                              seed=7, max_tokens=8).choices[0].message.content for _ in range(2)]
    assert sampled[0] == sampled[1]


def test_bad_requests_get_openai_errors_and_the_server_keeps_serving(server):
    client = server.client
    with pytest.raises(openai.NotFoundError) as e:
        client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "hi"}])
    assert e.value.code == "model_not_found"
    with pytest.raises(openai.BadRequestError, match=r"messages\[0\]\.role"):
        client.chat.completions.create(model="micro", messages=[{"role": "wizard", "content": "hi"}])
    with pytest.raises(openai.BadRequestError, match="messages: expected a non-empty list"):
        client.chat.completions.create(model="micro", messages=[])
    with pytest.raises(openai.BadRequestError) as e:
        client.chat.completions.create(model="micro", messages=[{"role": "user", "content": "word " * 3000}])
    assert e.value.code == "context_length_exceeded"
    with pytest.raises(openai.BadRequestError) as e:
        client.chat.completions.create(model="micro", messages=[{"role": "user", "content": "word " * 3000}],
                                       stream=True)
    assert e.value.code == "context_length_exceeded"  # refused before the stream starts: a status, not a stream
    with pytest.raises(openai.BadRequestError, match="n: this server writes one choice"):
        client.chat.completions.create(model="micro", messages=[{"role": "user", "content": "hi"}], n=2)
    request = urllib.request.Request(f"http://127.0.0.1:{server.port}/v1/chat/completions", data=b"{not json",
                                     headers={"Content-Type": "application/json"})
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(request, timeout=10)
    assert e.value.code == 400 and "not valid JSON" in json.loads(e.value.read())["error"]["message"]
    reply = client.chat.completions.create(model="micro", messages=[{"role": "user", "content": "hi"}], max_tokens=4)
    assert reply.choices[0].message.content is not None  # still serving
    assert server.proc.poll() is None


def test_a_client_that_leaves_mid_stream_and_many_at_once_do_not_stall_it(server):
    """One generation at a time: a stream dropped after its first chunk gives the model back, and 12 requests at
    once (streamed and not) are all answered, in turn."""
    client = server.client
    ask = [{"role": "user", "content": "Tell me about Ivand Tobmere."}]
    stream = client.chat.completions.create(model="micro", messages=ask, max_tokens=200, stream=True)
    next(iter(stream))
    stream.close()  # the client leaves with the reply half written
    quick = openai.OpenAI(base_url=f"http://127.0.0.1:{server.port}/v1", api_key="unused", max_retries=0, timeout=60)
    assert quick.chat.completions.create(model="micro", messages=ask, max_tokens=4).choices[0].message.content

    replies, errors = [], []

    def ask_once(streamed: bool):
        try:
            if streamed:
                chunks = list(quick.chat.completions.create(model="micro", messages=ask, max_tokens=6, stream=True))
                replies.append("".join(c.choices[0].delta.content or "" for c in chunks if c.choices))
            else:
                replies.append(quick.chat.completions.create(model="micro", messages=ask,
                                                             max_tokens=6).choices[0].message.content)
        except Exception as e:  # noqa: BLE001  (collected: the assertion below names it)
            errors.append(repr(e))

    threads = [threading.Thread(target=ask_once, args=(i % 2 == 0,)) for i in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors and len(replies) == 12, errors


def test_stop_sequences_tool_choice_and_null_options(server):
    client = server.client
    ask = [{"role": "user", "content": "Where was Ivand Tobmere born?"}]
    full = client.chat.completions.create(model="micro", messages=ask, temperature=0, max_tokens=16)
    text = full.choices[0].message.content
    assert len(text) > 4
    stop = text[2:4]  # a sequence the greedy reply is known to write
    cut = client.chat.completions.create(model="micro", messages=ask, temperature=0, max_tokens=16, stop=[stop])
    assert cut.choices[0].message.content == text[:text.find(stop)] and cut.choices[0].finish_reason == "stop"
    streamed = client.chat.completions.create(model="micro", messages=ask, temperature=0, max_tokens=16, stop=stop,
                                              stream=True)
    assert "".join(c.choices[0].delta.content or "" for c in streamed if c.choices) == text[:text.find(stop)]
    # null means the default, as OpenAI's API reads it (LangChain and LiteLLM send nulls)
    body = json.dumps({"model": "micro", "messages": ask, "n": None, "temperature": None, "top_p": None,
                       "stop": None, "tool_choice": None, "stream_options": None, "max_tokens": 3}).encode()
    request = urllib.request.Request(f"http://127.0.0.1:{server.port}/v1/chat/completions", data=body,
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as r:
        assert json.loads(r.read())["choices"][0]["message"]["role"] == "assistant"
    with pytest.raises(openai.BadRequestError, match="tool_choice"):
        client.chat.completions.create(model="micro", messages=ask, tools=[PYTHON_TOOL], tool_choice="required")
    with pytest.raises(openai.BadRequestError, match="response_format"):
        client.chat.completions.create(model="micro", messages=ask, response_format={"type": "json_object"})


def test_a_tool_call_in_a_reply_becomes_openai_tool_calls():
    text = '<tool_call>\n{"name": "python", "arguments": {"code": "print(347 * 589)"}}\n</tool_call>'
    content, calls = tool_calls_out(text, [PYTHON_TOOL])
    assert content == "" and len(calls) == 1 and calls[0]["id"].startswith("call_")
    assert calls[0]["function"] == {"name": "python", "arguments": json.dumps({"code": "print(347 * 589)"})}
    # no tools offered, a function the request did not offer, or no JSON: the text stays the content
    assert tool_calls_out(text, None) == (text, [])
    assert tool_calls_out(text.replace("python", "weather"), [PYTHON_TOOL]) == (text.replace("python", "weather"), [])
    assert tool_calls_out("<tool_call>\n{oops\n</tool_call>", [PYTHON_TOOL])[1] == []
    # streaming holds back what may be the start of a call
    assert _safe_prefix("The answer is <tool_") == len("The answer is ")
    assert _safe_prefix("Sure. <tool_call>\n{") == len("Sure. ")
    assert _safe_prefix("2 < 3") == len("2 < 3")
    assert _safe_prefix("one, two, th", ("three",)) == len("one, two, ")  # a stop sequence's start waits too


def test_requests_are_checked_field_by_field():
    served = {"micro"}
    ok = parse_request({"model": "micro", "messages": [
        {"role": "developer", "content": [{"type": "text", "text": "Be brief."}]},
        {"role": "user", "content": "What is 3 x 4?"},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "call_1", "type": "function", "function": {"name": "python", "arguments": '{"code": "print(12)"}'}}]},
        {"role": "tool", "tool_call_id": "call_1", "content": "12"}], "tools": [PYTHON_TOOL], "max_tokens": 9}, served)
    assert ok.messages[0] == {"role": "system", "content": "Be brief."}
    assert ok.messages[2]["tool_calls"][0]["function"]["arguments"] == {"code": "print(12)"}  # as the template takes it
    assert ok.max_tokens == 9 and ok.tools == [PYTHON_TOOL] and not ok.stream
    assert parse_request({"model": "micro", "messages": ok.messages[:2], "tools": [PYTHON_TOOL],
                          "tool_choice": "none"}, served).tools is None  # "none": the model is not shown the tools
    for body, field in [({"model": "micro", "messages": [{"role": "user", "content": 3}]}, "messages[0].content"),
                        ({"model": "micro", "messages": [{"role": "user", "content": [{"type": "image_url"}]}]},
                         "messages[0].content"),
                        ({"model": "micro", "messages": [{"role": "user", "content": "hi"}], "temperature": 5},
                         "temperature"),
                        ({"model": "micro", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 0},
                         "max_tokens"),
                        ({"model": "micro", "messages": [{"role": "user", "content": "hi"}], "tools": [{"x": 1}]},
                         "tools"),
                        ({"model": "micro", "messages": [{"role": "user", "content": "hi"}], "stop": ["a"] * 5},
                         "stop"),
                        ({"model": "micro", "messages": [{"role": "user", "content": "hi"}], "stream_options": 1},
                         "stream_options")]:
        with pytest.raises(APIError) as e:
            parse_request(body, served)
        assert e.value.status == 400 and e.value.param == field
