"""The chat format, as one concept: its control tokens, the chat template and its training variant.

It is ChatML (`<|im_start|>role\n...<|im_end|>\n`) as Qwen3 writes it, tool calls included:

    <|im_start|>user\nWhat is 7 * 6?<|im_end|>\n
    <|im_start|>assistant\n<think>\n...\n</think>\n\n<tool_call>\n{"name": ..., "arguments": ...}\n</tool_call><|im_end|>\n
    <|im_start|>user\n<tool_response>\n42\n</tool_response><|im_end|>\n

Why Qwen3's template and not our own: TRL's GRPO tool calling accepts only templates that render a whole
tool-calling exchange, and it parses the model's tool calls with a response template it knows for a fixed set of
model families (trl/chat_template_utils.py). Qwen3's is one of them, so the template text below is Qwen3's, copied
verbatim from TRL 1.12 (trl/chat_templates/qwen3.jinja and qwen3_training.jinja, the training variant TRL made:
prefix-preserving, with `{% generation %}` markers around assistant turns for SFT's assistant-only loss).

One change to it, because a tokenizer cannot tell markup from text: Hugging Face tokenizers find added tokens
anywhere in the rendered string, so a user who types `<|im_start|>system` would otherwise open a real system turn.
Our templates write every `<` that comes from a message as `<` + U+FDD0 (a Unicode noncharacter, reserved for
exactly this kind of internal use), so no control token can match inside message text; the tokenizer's normalizer
(set in alignment/tokenizer.py) deletes the U+FDD0 again before BPE, so the text gets the very ids it gets as plain
text and decodes back to what the user typed. The template's own markup is written unescaped and stays a control
token. Not escaped: tool schemas and tool-call arguments (written by the developer and the model, not typed by a
user). Why not transformers' own `apply_chat_template(..., sanitize_control_tokens=True)`: it is opt-in (TRL never
passes it), refuses `return_assistant_tokens_mask`, and is lost when a chat is rendered as text and tokenized later
(TRL does that for prompt-completion data); the escape lives in the rendered text, so it survives all of these.
What it costs: a raw string holding `<` + U+FDD0 encodes as `<` (escape_text() keeps even that lossless), and
`continue_final_message=True` rejects a prefilled final message containing `<` (transformers looks for the message
verbatim in the rendered text).
TRL recognises templates by exact text, and ours differ from Qwen3's by the escapes, so
- its tool-calling check (`supports_tool_calling`, the "does not support tool calling" error) passes: it renders;
- its response parser is not found by name: the tokenizer carries it instead (`RESPONSE_TEMPLATE`, saved as
  `response_template` in tokenizer_config.json, which TRL uses as it is);
- its training-template lookup does not know ours: SFT (`assistant_only_loss`) and GRPO with tools (which needs a
  prefix-preserving template) must be given TRAINING_CHAT_TEMPLATE, saved beside the tokenizer as
  `chat_template_training.jinja` (`SFTConfig(chat_template_path=...)` takes that file; see training_chat_template).
"""

from __future__ import annotations

from pathlib import Path

# --- control tokens (Qwen3's) -----------------------------------------------------------------------

ENDOFTEXT = "<|endoftext|>"   # between documents in pretraining (EOS, and BOS of the next one); padding
IM_START = "<|im_start|>"     # opens a turn: <|im_start|>user\n
IM_END = "<|im_end|>"         # closes a turn: the assistant's stop token
# Special: skipped by decode(skip_special_tokens=True).
SPECIAL_TOKENS = [ENDOFTEXT, IM_START, IM_END]
# Tags: added tokens (one id each, never split, never merged) but not special, as in Qwen3: decoded text keeps them,
# so TRL can parse tool calls and reasoning out of a completion.
TAG_TOKENS = ["<tool_call>", "</tool_call>", "<tool_response>", "</tool_response>", "<think>", "</think>"]
CONTROL_TOKENS = SPECIAL_TOKENS + TAG_TOKENS

# Every control token starts with "<"; message text writes "<" as "<" + ESCAPE, which the tokenizer's normalizer
# turns back into "<" after control tokens have been matched.
ESCAPE = "\ufdd0"


def escape_text(text: str) -> str:
    """Untrusted text -> the same text with no control token in it (the twin of the templates' `escape_text`).

    The tokenizer encodes the result exactly as it encodes `text` as plain text, and decodes it back to `text`.
    """
    return text.replace("<", "<" + ESCAPE)


# --- templates -------------------------------------------------------------------------------------

# Verbatim from TRL 1.12, trl/chat_templates/qwen3.jinja: the chat template of Qwen/Qwen3-* (tests check the copy).
QWEN3_CHAT_TEMPLATE = r"""{%- if tools %}
    {{- '<|im_start|>system\n' }}
    {%- if messages[0].role == 'system' %}
        {{- messages[0].content + '\n\n' }}
    {%- endif %}
    {{- "# Tools\n\nYou may call one or more functions to assist with the user query.\n\nYou are provided with function signatures within <tools></tools> XML tags:\n<tools>" }}
    {%- for tool in tools %}
        {{- "\n" }}
        {{- tool | tojson }}
    {%- endfor %}
    {{- "\n</tools>\n\nFor each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:\n<tool_call>\n{\"name\": <function-name>, \"arguments\": <args-json-object>}\n</tool_call><|im_end|>\n" }}
{%- else %}
    {%- if messages[0].role == 'system' %}
        {{- '<|im_start|>system\n' + messages[0].content + '<|im_end|>\n' }}
    {%- endif %}
{%- endif %}
{%- set ns = namespace(multi_step_tool=true, last_query_index=messages|length - 1) %}
{%- for message in messages[::-1] %}
    {%- set index = (messages|length - 1) - loop.index0 %}
    {%- if ns.multi_step_tool and message.role == "user" and message.content is string and not(message.content.startswith('<tool_response>') and message.content.endswith('</tool_response>')) %}
        {%- set ns.multi_step_tool = false %}
        {%- set ns.last_query_index = index %}
    {%- endif %}
{%- endfor %}
{%- for message in messages %}
    {%- if message.content is string %}
        {%- set content = message.content %}
    {%- else %}
        {%- set content = '' %}
    {%- endif %}
    {%- if (message.role == "user") or (message.role == "system" and not loop.first) %}
        {{- '<|im_start|>' + message.role + '\n' + content + '<|im_end|>' + '\n' }}
    {%- elif message.role == "assistant" %}
        {%- set reasoning_content = '' %}
        {%- if message.reasoning_content is string %}
            {%- set reasoning_content = message.reasoning_content %}
        {%- else %}
            {%- if '</think>' in content %}
                {%- set reasoning_content = content.split('</think>')[0].rstrip('\n').split('<think>')[-1].lstrip('\n') %}
                {%- set content = content.split('</think>')[-1].lstrip('\n') %}
            {%- endif %}
        {%- endif %}
        {%- if loop.index0 > ns.last_query_index %}
            {%- if loop.last or (not loop.last and reasoning_content) %}
                {{- '<|im_start|>' + message.role + '\n<think>\n' + reasoning_content.strip('\n') + '\n</think>\n\n' + content.lstrip('\n') }}
            {%- else %}
                {{- '<|im_start|>' + message.role + '\n' + content }}
            {%- endif %}
        {%- else %}
            {{- '<|im_start|>' + message.role + '\n' + content }}
        {%- endif %}
        {%- if message.tool_calls %}
            {%- for tool_call in message.tool_calls %}
                {%- if (loop.first and content) or (not loop.first) %}
                    {{- '\n' }}
                {%- endif %}
                {%- if tool_call.function %}
                    {%- set tool_call = tool_call.function %}
                {%- endif %}
                {{- '<tool_call>\n{"name": "' }}
                {{- tool_call.name }}
                {{- '", "arguments": ' }}
                {%- if tool_call.arguments is string %}
                    {{- tool_call.arguments }}
                {%- else %}
                    {{- tool_call.arguments | tojson }}
                {%- endif %}
                {{- '}\n</tool_call>' }}
            {%- endfor %}
        {%- endif %}
        {{- '<|im_end|>\n' }}
    {%- elif message.role == "tool" %}
        {%- if loop.first or (messages[loop.index0 - 1].role != "tool") %}
            {{- '<|im_start|>user' }}
        {%- endif %}
        {{- '\n<tool_response>\n' }}
        {{- content }}
        {{- '\n</tool_response>' }}
        {%- if loop.last or (messages[loop.index0 + 1].role != "tool") %}
            {{- '<|im_end|>\n' }}
        {%- endif %}
    {%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<|im_start|>assistant\n' }}
    {%- if enable_thinking is defined and enable_thinking is false %}
        {{- '<think>\n\n</think>\n\n' }}
    {%- endif %}
{%- endif %}"""

# Verbatim from TRL 1.12, trl/chat_templates/qwen3_training.jinja: TRL's training variant of the above.
QWEN3_TRAINING_CHAT_TEMPLATE = r"""{#- Training variant of the Qwen3 chat template (see qwen3.jinja for the original).
    Modifications vs the original:
    - Removed the loop.index0 > ns.last_query_index conditional; always include thinking block.
      This makes the template prefix-preserving for the [user, assistant] → [user, assistant, tool] transition.
    - Added {% generation %} / {% endgeneration %} around assistant message output to support
      assistant-only loss masking in SFT training.
-#}
{%- if tools %}
    {{- '<|im_start|>system\n' }}
    {%- if messages[0].role == 'system' %}
        {{- messages[0].content + '\n\n' }}
    {%- endif %}
    {{- "# Tools\n\nYou may call one or more functions to assist with the user query.\n\nYou are provided with function signatures within <tools></tools> XML tags:\n<tools>" }}
    {%- for tool in tools %}
        {{- "\n" }}
        {{- tool | tojson }}
    {%- endfor %}
    {{- "\n</tools>\n\nFor each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:\n<tool_call>\n{\"name\": <function-name>, \"arguments\": <args-json-object>}\n</tool_call><|im_end|>\n" }}
{%- else %}
    {%- if messages[0].role == 'system' %}
        {{- '<|im_start|>system\n' + messages[0].content + '<|im_end|>\n' }}
    {%- endif %}
{%- endif %}
{%- set ns = namespace(multi_step_tool=true, last_query_index=messages|length - 1) %}
{%- for message in messages[::-1] %}
    {%- set index = (messages|length - 1) - loop.index0 %}
    {%- if ns.multi_step_tool and message.role == "user" and message.content is string and not(message.content.startswith('<tool_response>') and message.content.endswith('</tool_response>')) %}
        {%- set ns.multi_step_tool = false %}
        {%- set ns.last_query_index = index %}
    {%- endif %}
{%- endfor %}
{%- for message in messages %}
    {%- if message.content is string %}
        {%- set content = message.content %}
    {%- else %}
        {%- set content = '' %}
    {%- endif %}
    {%- if (message.role == "user") or (message.role == "system" and not loop.first) %}
        {{- '<|im_start|>' + message.role + '\n' + content + '<|im_end|>' + '\n' }}
    {%- elif message.role == "assistant" %}
        {%- set reasoning_content = '' %}
        {%- if message.reasoning_content is string %}
            {%- set reasoning_content = message.reasoning_content %}
        {%- else %}
            {%- if '</think>' in content %}
                {%- set reasoning_content = content.split('</think>')[0].rstrip('\n').split('<think>')[-1].lstrip('\n') %}
                {%- set content = content.split('</think>')[-1].lstrip('\n') %}
            {%- endif %}
        {%- endif %}
        {{- '<|im_start|>' + message.role + '\n' }}
        {%- generation %}
        {{- '<think>\n' + reasoning_content.strip('\n') + '\n</think>\n\n' + content.lstrip('\n') }}
        {%- if message.tool_calls %}
            {%- for tool_call in message.tool_calls %}
                {%- if (loop.first and content) or (not loop.first) %}
                    {{- '\n' }}
                {%- endif %}
                {%- if tool_call.function %}
                    {%- set tool_call = tool_call.function %}
                {%- endif %}
                {{- '<tool_call>\n{"name": "' }}
                {{- tool_call.name }}
                {{- '", "arguments": ' }}
                {%- if tool_call.arguments is string %}
                    {{- tool_call.arguments }}
                {%- else %}
                    {{- tool_call.arguments | tojson }}
                {%- endif %}
                {{- '}\n</tool_call>' }}
            {%- endfor %}
        {%- endif %}
        {{- '<|im_end|>\n' }}
        {%- endgeneration %}
    {%- elif message.role == "tool" %}
        {%- if loop.first or (messages[loop.index0 - 1].role != "tool") %}
            {{- '<|im_start|>user' }}
        {%- endif %}
        {{- '\n<tool_response>\n' }}
        {{- content }}
        {{- '\n</tool_response>' }}
        {%- if loop.last or (messages[loop.index0 + 1].role != "tool") %}
            {{- '<|im_end|>\n' }}
        {%- endif %}
    {%- endif %}
{%- endfor %}
{%- if add_generation_prompt %}
    {{- '<|im_start|>assistant\n' }}
    {%- if enable_thinking is defined and enable_thinking is false %}
        {{- '<think>\n\n</think>\n\n' }}
    {%- endif %}
{%- endif %}"""

# Our two templates: Qwen3's, with message text escaped (see the module docstring). The edits are listed so that the
# difference from Qwen3's text is exact and short; each one must apply (checked below).
_ESCAPE_MACRO = r"""{#- Message text is written with every '<' as '<' + U+FDD0 (a noncharacter), so that no control token can
    match inside it; the tokenizer's normalizer deletes the U+FDD0 again (alignment/chat_format.py). -#}
{%- macro escape_text(text) %}{{- text | replace('<', '<\ufdd0') }}{%- endmacro %}
"""
_EDITS = [
    # system prompt, first message (with and without tools)
    (r"messages[0].content +", r"escape_text(messages[0].content) +"),
    # user turns, and system turns after the first message
    (r"'\n' + content + '<|im_end|>'", r"'\n' + escape_text(content) + '<|im_end|>'"),
    # assistant turn with its reasoning (the template splits <think>...</think> off the content first)
    (r"reasoning_content.strip('\n') + '\n</think>\n\n' + content.lstrip('\n')",
     r"escape_text(reasoning_content.strip('\n')) + '\n</think>\n\n' + escape_text(content.lstrip('\n'))"),
    # assistant turn without reasoning (the inference template only: the training one always writes <think>)
    (r"'<|im_start|>' + message.role + '\n' + content }}",
     r"'<|im_start|>' + message.role + '\n' + escape_text(content) }}"),
    # tool results
    (r"{{- content }}", r"{{- escape_text(content) }}"),
]


def _escape_message_text(template: str, skip: tuple[int, ...] = ()) -> str:
    for i, (old, new) in enumerate(_EDITS):
        if i in skip:
            continue
        if old not in template:
            raise AssertionError(f"chat template edit {i} does not apply: {old!r}")
        template = template.replace(old, new)
    return _ESCAPE_MACRO + template


# The tools block, two ways (the tokenizer recipe's `tools_block`):
# - "json": Qwen3's, every schema written out as JSON inside <tools></tools>, with its instructions around it;
# - "signatures": one line per tool, `name(arguments): description`, from the same schema, and no instructions: for
#   a small model with a small context, which learns the calls from its training conversations. A tokenizer trained
#   on a corpus without JSON splits every quote and brace: with the tiny one, Qwen3's block of python and search is
#   602 tokens, more than the tiny model's 256-token context, and this one is 86.
# Calls and results are written the same way in both (<tool_call> JSON, <tool_response>), so TRL and our response
# parser read either; the arguments' types and descriptions stay in the schemas the calls are checked against.
TOOLS_BLOCKS = ("json", "signatures")
_QWEN3_TOOLS_BLOCK = r"""    {{- "# Tools\n\nYou may call one or more functions to assist with the user query.\n\nYou are provided with function signatures within <tools></tools> XML tags:\n<tools>" }}
    {%- for tool in tools %}
        {{- "\n" }}
        {{- tool | tojson }}
    {%- endfor %}
    {{- "\n</tools>\n\nFor each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:\n<tool_call>\n{\"name\": <function-name>, \"arguments\": <args-json-object>}\n</tool_call><|im_end|>\n" }}
"""
_SIGNATURES_TOOLS_BLOCK = r"""    {{- "# Tools\n" }}
    {%- for tool in tools %}
        {%- set fn = tool.function if tool.function is defined else tool %}
        {%- set arguments = fn.parameters.properties | list if fn.parameters is defined and fn.parameters.properties is defined else [] %}
        {{- "\n" + fn.name + "(" + arguments | join(", ") + ")" }}
        {%- if fn.description %}
            {{- ": " + fn.description }}
        {%- endif %}
    {%- endfor %}
    {{- "<|im_end|>\n" }}
"""


def chat_templates(tools_block: str = "json") -> tuple[str, str]:
    """Our inference and training templates, with this tools block (see TOOLS_BLOCKS)."""
    if tools_block not in TOOLS_BLOCKS:
        raise ValueError(f"tools_block: {tools_block!r} is not one of {', '.join(TOOLS_BLOCKS)}")
    inference = _escape_message_text(QWEN3_CHAT_TEMPLATE)
    training = _escape_message_text(QWEN3_TRAINING_CHAT_TEMPLATE, skip=(3,))
    if tools_block == "signatures":
        for template in (inference, training):
            if _QWEN3_TOOLS_BLOCK not in template:
                raise AssertionError("chat template edit: Qwen3's tools block is not where it was")
        inference, training = (t.replace(_QWEN3_TOOLS_BLOCK, _SIGNATURES_TOOLS_BLOCK) for t in (inference, training))
    return inference, training


CHAT_TEMPLATE, TRAINING_CHAT_TEMPLATE = chat_templates("json")

# How to read an assistant completion back into a message (content, reasoning, tool calls): TRL 1.12's
# `qwen3_template` (trl/chat_template_utils.py), verbatim. TRL would pick it by the template's text, which ours does
# not match, so the tokenizer carries it: saved as `response_template` in tokenizer_config.json,
# `tokenizer.parse_response(text)` uses it, and GRPO's tool calling skips its own lookup when one is set.
RESPONSE_TEMPLATE = {
    "defaults": {"role": "assistant"},
    "start_anchor": "<|im_start|>assistant\n",
    "fields": {
        "reasoning_content": {
            "open": "<think>",
            "close_pattern": r"</think>\s*",
            "content": "text",
        },
        "tool_calls": {
            "open": "<tool_call>",
            "close_pattern": r"</tool_call>\s*",
            "repeats": True,
            "content": "json",
            "transform": {"type": "function", "function": "{content}"},
        },
        "content": {
            "close_pattern": r"<\|im_end\|>\s*",
            "content": "text",
        },
    },
}

# --- on disk ----------------------------------------------------------------------------------------

# transformers saves CHAT_TEMPLATE as `chat_template.jinja` (the one `apply_chat_template` uses); the training
# variant goes beside it under this name. Not as a named template in `additional_chat_templates/`: with one of those,
# `tokenizer.chat_template` becomes a dict, which TRL's template checks do not accept.
TRAINING_TEMPLATE_FILE = "chat_template_training.jinja"


def training_chat_template(tokenizer_dir: str | Path) -> str:
    """The training variant saved with a tokenizer (for SFT's assistant-only loss and GRPO's tool calling)."""
    path = Path(tokenizer_dir) / TRAINING_TEMPLATE_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{tokenizer_dir}: no {TRAINING_TEMPLATE_FILE} (not made by `alignment tokenizer`)")
    return path.read_text(encoding="utf-8")
