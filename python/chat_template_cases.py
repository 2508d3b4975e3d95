"""Reference renderings of chat templates by transformers' apply_chat_template.

    python chat_template_cases.py OUT_DIR
    python chat_template_cases.py --render MODEL_DIR TEMPLATE MESSAGES_JSON [--no-generation-prompt]

Makes the two generated models (make_model.py with the Llama 2 and Llama 3
tokenizers) under OUT_DIR, then renders a fixed set of conversations with every
template in ../shared/data/templates and with each generated model's own
template, and writes OUT_DIR/cases.json: a list of cases

    {"id", "template": file name or "model", "model": dir name whose
     tokenizer_config.json gives the special tokens (and, for "model", the
     template), "messages", "tools", "documents" (each a JSON text, so that key
     order survives), "kwargs" ({name: JSON text}), "add_generation_prompt",
     "expected": str | null, "error": str | null, "error_type": the Python
     exception's class name | null, "raised": bool}

`raised` marks errors raised by the template's own raise_exception(), whose
message Ferrite must reproduce; transformers' own ValueErrors must be
reproduced too; the test (transformers_parity.rs) says what it asks of the
errors of Jinja and of Python itself.

The second form renders one `ferrite template` input (a messages file, as that
command reads it) with transformers and prints the outcome as one JSON object:
the CLI test compares `ferrite template` with it.
strftime_now() reads a fixed clock (2024-03-07 09:05:00) so the cases are
reproducible; the Rust test sets the same time.
"""

import datetime as _dt
import json
import shutil
import subprocess
import sys
from pathlib import Path

import jinja2
from transformers import AutoTokenizer
from transformers.utils import chat_template_utils

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
FIXED_NOW = _dt.datetime(2024, 3, 7, 9, 5, 0)


class _FixedClock(_dt.datetime):
    @classmethod
    def now(cls, tz=None):
        return FIXED_NOW


# The template globals call `datetime.now()` through this module's name.
chat_template_utils.datetime = _FixedClock

TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Get the current weather in a city.",
            "parameters": {
                "type": "object",
                "properties": {
                    "city": {"type": "string", "description": "The city, e.g. Zürich"},
                    "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
                    "days": {"type": "integer", "description": "Forecast days", "default": 1},
                    "ratio": {"type": "number", "description": "A float", "default": 0.5},
                },
                "required": ["city"],
            },
            "return": {"type": "string", "description": "The weather"},
        },
    },
    {
        "type": "function",
        "function": {
            "name": "search",
            "description": "Search the web.",
            "parameters": {
                "type": "object",
                "properties": {
                    "query": {"type": "string", "maxLength": 200},
                    "safe": {"type": "boolean", "default": True},
                    "site": {"type": ["string", "integer"], "default": None},
                },
                "required": ["query"],
            },
        },
    },
]

SYSTEM = {"role": "system", "content": "You are a helpful assistant.  "}
U1 = {"role": "user", "content": "Hello! How are you?"}
A1 = {"role": "assistant", "content": "I'm fine, thanks. How can I help?"}
U2 = {"role": "user", "content": "Tell me a joke about Rust."}
UNICODE = {"role": "user", "content": "Grüße aus Zürich — 日本語, emoji 🦀, quotes \"x\" and 'y', tab\tend\n"}
TOOL_CALL = {
    "role": "assistant",
    "content": None,
    "tool_calls": [
        {
            "id": "call_abc123XY",
            "type": "function",
            "function": {"name": "get_weather", "arguments": {"city": "Paris", "unit": "celsius"}},
        }
    ],
}
TOOL_RESULT = {
    "role": "tool",
    "tool_call_id": "call_abc123XY",
    "name": "get_weather",
    "content": '{"temperature": 21.5, "sky": "clear"}',
}
A_AFTER_TOOL = {"role": "assistant", "content": "It is 21.5 °C and clear in Paris."}
U_WEATHER = {"role": "user", "content": "What's the weather in Paris?"}
THINKING = {
    "role": "assistant",
    "content": "The answer is 4.",
    "reasoning_content": "2 + 2 is 4.",
}
U_MATH = {"role": "user", "content": "What is 2 + 2?"}
# Mistral's templates require tool call ids of 9 alphanumerics; OpenAI clients send arguments as JSON text.
TOOL_CALLS_2 = {
    "role": "assistant",
    "content": "Let me check both.",
    "tool_calls": [
        {"id": "a1B2c3D4e", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Oslo"}'}},
        {"id": "Z9y8X7w6v", "type": "function", "function": {"name": "search", "arguments": {"query": "Oslo ☂", "safe": False}}},
    ],
}
TOOL_RESULTS_2 = [
    {"role": "tool", "tool_call_id": "a1B2c3D4e", "name": "get_weather", "content": "rain"},
    {"role": "tool", "tool_call_id": "Z9y8X7w6v", "name": "search", "content": {"hits": 3, "top": "yr.no"}},
]
PARTS = {"role": "user", "content": [{"type": "text", "text": "Describe this."}, {"type": "text", "text": "Briefly."}]}

# Command R's tool_use template reads tools in Cohere's own shape.
COHERE_TOOLS = [
    {
        "name": "internet_search",
        "description": "Returns a list of relevant document snippets for a textual query",
        "parameter_definitions": {
            "query": {"description": "Query to search the internet with", "type": "str", "required": True},
            "limit": {"description": "At most this many", "type": "int", "required": False},
        },
    },
    {"name": "directly_answer", "description": "Answers without tools", "parameter_definitions": {}},
]

# firefunction-v2 reads its function specs and the date from these variables.
FUNCTIONS_KWARGS = {"functions": json.dumps([t["function"] for t in TOOLS], indent=2), "datetime": "2024-03-07"}

DOCS = [
    {"title": "Paris", "text": "Paris is the capital of France."},
    {"title": "Rust", "text": "Rust is a systems language."},
]

# (name, messages, tools, documents, kwargs)
CONVERSATIONS = [
    ("user", [U1], None, None, {}),
    ("system_user", [SYSTEM, U1], None, None, {}),
    ("multi", [U1, A1, U2], None, None, {}),
    ("system_multi", [SYSTEM, U1, A1, U2], None, None, {}),
    ("ends_assistant", [SYSTEM, U1, A1], None, None, {}),
    ("unicode", [SYSTEM, UNICODE], None, None, {}),
    ("not_alternating", [U1, U2], None, None, {}),
    ("assistant_first", [A1, U1], None, None, {}),
    ("system_only", [SYSTEM], None, None, {}),
    ("tools", [SYSTEM, U_WEATHER], TOOLS, None, {}),
    ("tools_no_system", [U_WEATHER], TOOLS, None, {}),
    ("tool_calls", [U_WEATHER, TOOL_CALL, TOOL_RESULT, A_AFTER_TOOL, U2], TOOLS, None, {}),
    ("tool_result_last", [SYSTEM, U_WEATHER, TOOL_CALL, TOOL_RESULT], TOOLS, None, {}),
    ("reasoning", [U_MATH, THINKING, U2], None, None, {}),
    ("no_thinking", [U_MATH, THINKING, U2], None, None, {"enable_thinking": False}),
    ("content_parts", [PARTS], None, None, {}),
    ("documents", [U_WEATHER], None, DOCS, {}),
    ("builtin_tools", [U_WEATHER], None, None, {"builtin_tools": ["brave_search", "wolfram_alpha"]}),
    ("kwargs", [SYSTEM, U1], None, None, {"date_string": "01 Jan 2025", "reasoning_effort": "high", "thinking": True}),
    ("multi_tool_calls", [U_WEATHER, TOOL_CALLS_2, *TOOL_RESULTS_2], TOOLS, None, {}),
    ("multi_tool_calls_system", [SYSTEM, U_WEATHER, TOOL_CALLS_2, *TOOL_RESULTS_2, A_AFTER_TOOL], TOOLS, None, {}),
    ("functions_kwarg", [SYSTEM, U_WEATHER], None, None, FUNCTIONS_KWARGS),
    # firefunction-v2 and Command R's tool_use template fail without their
    # functions/tools, so these give them conversations without a system message.
    ("functions_kwarg_no_system", [U_WEATHER], None, None, FUNCTIONS_KWARGS),
    ("functions_kwarg_multi", [U1, A1, U2], None, None, FUNCTIONS_KWARGS),
    ("gpt_oss_builtin", [U_WEATHER], TOOLS, None, {"builtin_tools": ["browser", "python"], "model_identity": "M"}),
    ("granite_controls", [U_WEATHER], None, DOCS, {"controls": {"citations": True, "hallucinations": True}}),
    ("cohere_tools", [SYSTEM, U_WEATHER], COHERE_TOOLS, None, {}),
    ("cohere_tools_no_system", [U_WEATHER], COHERE_TOOLS, None, {}),
    ("cohere_tools_multi", [U1, A1, U2], COHERE_TOOLS, None, {}),
    ("cohere_tool_calls", [U_WEATHER, TOOL_CALL, TOOL_RESULT, A_AFTER_TOOL, U2], COHERE_TOOLS, None, {}),
    ("empty_content", [SYSTEM, {"role": "user", "content": ""}], None, None, {}),
]


# (name, messages, field to continue, add_generation_prompt)
CONTINUATIONS = [
    ("reply", [SYSTEM, U1, {"role": "assistant", "content": "Sure, here is "}], "content", False),
    ("reply_trimmed", [U1, {"role": "assistant", "content": "  Well\n"}], "content", False),
    ("user_text", [SYSTEM, {"role": "user", "content": "Complete: the quick brown"}], "content", False),
    ("parts", [U1, {"role": "assistant", "content": [{"type": "text", "text": "Part one."}]}], "content", False),
    ("thinking", [U_MATH, {"role": "assistant", "content": "", "reasoning_content": "Let me add"}], "reasoning_content", False),
    ("missing_field", [U1, A1], "reasoning_content", False),
    ("with_generation_prompt", [U1, A1], "content", True),
]

# Small templates that probe one Python/Jinja2 behaviour each, rendered with
# CONVERSATIONS' "system_multi" and the kwargs below.
SNIPPET_KWARGS = {
    "flag": True,
    "nothing": None,
    "num": 3,
    "ratio": 0.1,
    "big": 1e16,
    "small": 1.5e-05,
    "text": "  Hello, World  ",
    "obj": {"b": 1, "a": [1, 2.5, "x'y"], "c": {"ü": None, "t": True}},
    "items": [{"name": "x", "on": True}, {"name": "y", "on": False}, {"name": "z"}],
}
SNIPPETS = {
    "print_scalars": "{{ flag }}|{{ nothing }}|{{ num }}|{{ ratio }}|{{ big }}|{{ small }}|{{ 7 / 2 }}|{{ 7 // 2 }}|{{ 2 ** 10 }}",
    "print_containers": "{{ obj }}|{{ items }}|{{ [1, 'a', none, true] }}|{{ (1, 2) }}|{{ messages[0] }}",
    "string_filter": "{{ obj | string }}|{{ flag | string }}|{{ nothing | string }}|{{ 1.0 | string }}",
    "tilde": "{{ 'a' ~ flag ~ nothing ~ num ~ ratio ~ obj['c'] }}",
    "tojson_default": "{{ obj | tojson }}|{{ items | tojson }}|{{ text | tojson }}|{{ big | tojson }}|{{ small | tojson }}",
    "tojson_indent": "{{ obj | tojson(indent=2) }}\n{{ items | tojson(indent='\t') }}\n{{ [] | tojson(indent=2) }}{{ {} | tojson(indent=2) }}",
    "tojson_args": "{{ obj | tojson(separators=(',', ':')) }}|{{ obj | tojson(sort_keys=true) }}|{{ obj | tojson(ensure_ascii=true) }}",
    "tojson_unicode": "{{ messages | tojson }}",
    "str_methods": "{{ text.strip() }}|{{ text.lstrip() }}|{{ text.rstrip() }}|{{ text.upper() }}|{{ text.lower() }}"
    "|{{ text.strip().startswith('Hello') }}|{{ text.strip().endswith(('x', 'd')) }}|{{ text.replace('l', 'L') }}"
    "|{{ text.split(',') }}|{{ text.split() }}|{{ text.strip().split(', ', 1) }}|{{ text.title() }}|{{ text.find('W') }}"
    "|{{ 'a-b-c'.rsplit('-', 1) }}|{{ text.strip('  H') }}|{{ 'x,y'.split(',') | join('+') }}",
    "dict_methods": "{% for k, v in obj.items() %}{{ k }}={{ v }};{% endfor %}|{{ obj.keys() | list }}|{{ obj.values() | list }}"
    "|{{ obj.get('b') }}|{{ obj.get('zz') }}|{{ obj.get('zz', 5) }}|{{ 'b' in obj }}|{{ obj | length }}",
    "slices": "{{ messages[1:] | length }}|{{ messages[::-1][0].role }}|{{ messages[-1].role }}|{{ text[2:7] }}|{{ text[::-1] }}"
    "|{{ [1,2,3,4][1:3] }}|{{ messages[:-1] | map(attribute='role') | join(',') }}",
    "filters": "{{ items | selectattr('on') | map(attribute='name') | list }}|{{ items | rejectattr('on') | list | length }}"
    "|{{ items | selectattr('on', 'defined') | list | length }}|{{ ['b', 'a', 'b'] | unique | list }}|{{ text | trim }}"
    "|{{ ['a', 'b'] | join }}|{{ nothing | default('d') }}|{{ undefined_var | default('u') }}|{{ [3, 1, 2] | sort }}"
    "|{{ 'x' | upper }}|{{ text | replace(' ', '_') }}|{{ [1, 2] | first }}|{{ [1, 2] | last }}|{{ 'abc' | length }}"
    "|{{ items | map(attribute='name') | reject('equalto', 'y') | list }}|{{ 3.7 | int }}|{{ '5' | int + 1 }}|{{ 2 | float }}",
    "indent": "{{ 'a\nb\n\nc' | indent(2) }}|{{ 'a\nb' | indent(4, true) }}|{{ 'a\n\nb' | indent(2, blank=true) }}"
    "|{{ '{\n' | indent(4, first=true) }}|{{ 'x\r\ny\n\n' | indent('> ') }}|{{ 'a\n\nb\n' | indent(width=1, blank=true, first=true) }}"
    "|{{ '' | indent(first=true) }}|{{ 'p\x0bq\u2028r\rs' | indent(2) }}|{{ text | indent(0, true) }}",
    "tests": "{{ flag is true }}{{ flag is false }}{{ nothing is none }}{{ num is number }}{{ text is string }}"
    "{{ obj is mapping }}{{ items is iterable }}{{ text is iterable }}{{ undefined_var is defined }}{{ num is integer }}"
    "{{ ratio is float }}{{ items is sequence }}{{ obj is sequence }}{{ num is odd }}{{ 'a' is in 'abc' }}",
    "namespace_loop": "{% set ns = namespace(n=0, last='') %}{% for m in messages %}{% set ns.n = ns.n + 1 %}"
    "{% set ns.last = m.role %}{% if loop.first %}F{% endif %}{{ loop.index }}/{{ loop.length }}{{ loop.revindex0 }}"
    "{% if loop.last %}L{% endif %}{% if m.role == 'user' %}{% continue %}{% endif %}.{% endfor %}|{{ ns.n }}{{ ns.last }}",
    "loop_break": "{% for m in messages %}{% if loop.index > 2 %}{% break %}{% endif %}{{ m.role }}{{ loop.cycle('a', 'b') }}"
    "{% if loop.previtem is defined %}<{{ loop.previtem.role }}{% endif %}{% endfor %}",
    "whitespace": "  {% if true %}\n  A\n  {% endif %}\n{%- for i in [1, 2] %}\n    {{ i }}\n{% endfor %}\n{# c #}\n B {{- ' C ' -}} D\n",
    "macro_set": "{% macro f(x, y='d') %}[{{ x }}{{ y }}]{% endmacro %}{{ f(1) }}{{ f(2, y=3) }}{% set a %}blk{% endset %}{{ a }}"
    "{% set x, y = 1, 2 %}{{ x + y }}{% filter upper %}up{% endfilter %}",
    "dict_global": "{{ dict(a=1, b=none) }}|{{ dict(a=1) | tojson }}",
    "math_compare": "{{ 1 + 2 * 3 }}|{{ 10 % 3 }}|{{ -7 // 2 }}|{{ 1 == 1.0 }}|{{ 'a' < 'b' }}|{{ [1] + [2] }}|{{ 'a' * 3 }}"
    "|{{ not none }}|{{ none == none }}|{{ 1 if none else 2 }}|{{ (1, 2) == [1, 2] }}",
    "conditional_expr": "{{ 'yes' if flag else 'no' }}|{{ 'yes' if nothing }}|{{ messages | selectattr('role', 'equalto', 'user') | list | length }}",
    "raise": "{% if messages | length > 1 %}{{ raise_exception('Only ' ~ 1 ~ ' message allowed, got ' ~ messages | length) }}{% endif %}",
    "strftime": "{{ strftime_now('%Y-%m-%d %H:%M:%S %a %A %b %B %d %j %p %I %y') }}",
    "undefined_attr": "{{ messages[0].nope }}|{{ messages[0]['nope'] }}|{{ undefined_var }}|{{ undefined_var | length }}"
    "|{% for x in undefined_var %}x{% endfor %}|{{ messages[0].nope is defined }}",
    "undefined_error": "{{ messages[0].nope.deeper }}",
    "none_iter_error": "{% for x in nothing %}x{% endfor %}",
    "type_error": "{{ 'a' + 1 }}",
    "generation_tag": "{% for m in messages %}{% if m.role == 'assistant' %}\n  {%- generation %}\n  <{{ m.content }}>\n"
    "  {%- endgeneration %}\n{% else %}{{ m.role }}{% endif %}{% endfor %}",
    "items_filter": "{% for k, v in obj | items %}{{ k }}{% endfor %}|{{ obj | dictsort }}",
}


def make_models(out: Path) -> dict[str, Path]:
    dirs = {}
    for name in ("llama2", "llama3"):
        d = out / f"model-{name}"
        if not (d / "tokenizer_config.json").exists():
            subprocess.run(
                [
                    sys.executable,
                    str(SHARED / "tools/make_model.py"),
                    "tiny",
                    str(d),
                    "--tokenizer-json",
                    str(SHARED / f"data/tokenizers/{name}/tokenizer.json"),
                ],
                check=True,
                stdout=subprocess.DEVNULL,
            )
        dirs[name] = d
    # Templates as models also ship them: a list of named templates in
    # tokenizer_config.json (with an AddedToken object for bos_token), and
    # chat_template.jinja plus additional_chat_templates/ overriding the config.
    templates = SHARED / "data/templates"
    multi = out / "model-multi"
    files = out / "model-files"
    for d, base in ((multi, dirs["llama2"]), (files, dirs["llama3"])):
        d.mkdir(exist_ok=True)
        for f in ("tokenizer.json", "tokenizer_config.json"):
            shutil.copy(base / f, d / f)
    config = json.loads((multi / "tokenizer_config.json").read_text())
    config["chat_template"] = [
        {"name": "default", "template": config["chat_template"]},
        {"name": "tool_use", "template": (templates / "NousResearch-Hermes-3-Llama-3.1-8B-tool_use.jinja").read_text()},
    ]
    config["bos_token"] = {"__type": "AddedToken", "content": "<s>", "lstrip": False, "normalized": False,
                           "rstrip": False, "single_word": False, "special": True}
    (multi / "tokenizer_config.json").write_text(json.dumps(config, indent=2))
    shutil.copy(templates / "Qwen-Qwen2.5-7B-Instruct.jinja", files / "chat_template.jinja")
    (files / "additional_chat_templates").mkdir(exist_ok=True)
    shutil.copy(templates / "meta-llama-Llama-3.2-3B-Instruct.jinja", files / "additional_chat_templates/tool_use.jinja")
    dirs["multi"] = multi
    dirs["files"] = files
    return dirs


def render(tok, template, messages, tools, documents, kwargs, gen, cont=None):
    try:
        out = tok.apply_chat_template(
            messages,
            tools=tools,
            documents=documents,
            chat_template=template,
            add_generation_prompt=gen,
            # "content" is what `True` means; pass True to take that path.
            continue_final_message=True if cont == "content" else (cont or False),
            tokenize=False,
            **kwargs,
        )
        return {"expected": out, "error": None, "error_type": None, "raised": False}
    except jinja2.exceptions.TemplateError as e:
        # raise_exception() raises exactly TemplateError; Jinja's own failures are subclasses.
        return {
            "expected": None,
            "error": str(e),
            "error_type": type(e).__name__,
            "raised": type(e) is jinja2.exceptions.TemplateError,
        }
    except Exception as e:  # noqa: BLE001 - every failure of the reference is a case to reproduce
        return {"expected": None, "error": f"{type(e).__name__}: {e}", "error_type": type(e).__name__, "raised": False}


def render_file(model_dir, template_path, messages_path, gen):
    """One rendering of a `ferrite template --messages FILE` input: FILE holds
    a list of messages or {"messages": [...], "tools": [...]}, read with its
    key order as Python keeps it."""
    data = json.loads(Path(messages_path).read_text(encoding="utf-8"))
    messages, tools = (data, None) if isinstance(data, list) else (data["messages"], data.get("tools"))
    tok = AutoTokenizer.from_pretrained(model_dir)
    source = Path(template_path).read_text(encoding="utf-8")
    return render(tok, source, messages, tools, None, {}, gen)


def main():
    if sys.argv[1] == "--render":
        # --render MODEL_DIR TEMPLATE MESSAGES_JSON [--no-generation-prompt]: one
        # rendering as JSON on stdout ({"expected", "error", "error_type", "raised"}).
        model_dir, template, messages = sys.argv[2:5]
        gen = "--no-generation-prompt" not in sys.argv[5:]
        print(json.dumps(render_file(model_dir, template, messages, gen), ensure_ascii=False))
        return
    out = Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    dirs = make_models(out)
    toks = {name: AutoTokenizer.from_pretrained(str(d)) for name, d in dirs.items()}
    # "model": the template transformers picks from the model directory itself.
    templates = [("model", None, name) for name in dirs]
    for path in sorted((SHARED / "data/templates").glob("*.jinja")):
        source = path.read_text(encoding="utf-8")
        # Llama 3 templates get Llama 3's special tokens, the rest Llama 2's (<s>, </s>, <unk>).
        model = "llama3" if "<|begin_of_text|>" in source or "<|eot_id|>" in source else "llama2"
        templates.append((path.name, source, model))
    cases = []
    for name, source, model in templates:
        for conv, messages, tools, documents, kwargs in CONVERSATIONS:
            for gen in (False, True):
                case = {
                    "id": f"{name}[{model}]/{conv}/gen={int(gen)}",
                    "template": name,
                    "model": dirs[model].name,
                    "messages": json.dumps(messages, ensure_ascii=False),
                    "tools": None if tools is None else json.dumps(tools, ensure_ascii=False),
                    "documents": None if documents is None else json.dumps(documents, ensure_ascii=False),
                    "kwargs": {k: json.dumps(v, ensure_ascii=False) for k, v in kwargs.items()},
                    "add_generation_prompt": gen,
                }
                case.update(render(toks[model], source, messages, tools, documents, kwargs, gen))
                cases.append(case)
        # Prefilled replies: the last message is left open for the model to continue.
        for conv, messages, field, gen in CONTINUATIONS:
            case = {
                "id": f"{name}[{model}]/continue:{conv}/gen={int(gen)}",
                "template": name,
                "model": dirs[model].name,
                "messages": json.dumps(messages, ensure_ascii=False),
                "tools": None,
                "documents": None,
                "kwargs": {},
                "add_generation_prompt": gen,
                "continue_final_message": field,
            }
            case.update(render(toks[model], source, messages, None, None, {}, gen, field))
            cases.append(case)
    system_multi = next(c[1] for c in CONVERSATIONS if c[0] == "system_multi")
    for name, source in SNIPPETS.items():
        for gen in (False, True):
            case = {
                "id": f"snippet:{name}/gen={int(gen)}",
                "template": f"snippet:{name}",
                "source": source,
                "model": dirs["llama2"].name,
                "messages": json.dumps(system_multi, ensure_ascii=False),
                "tools": None,
                "documents": None,
                "kwargs": {k: json.dumps(v, ensure_ascii=False) for k, v in SNIPPET_KWARGS.items()},
                "add_generation_prompt": gen,
            }
            case.update(render(toks["llama2"], source, system_multi, None, None, SNIPPET_KWARGS, gen))
            cases.append(case)
    (out / "cases.json").write_text(json.dumps(cases, ensure_ascii=False, indent=1), encoding="utf-8")
    print(f"{len(cases)} cases", file=sys.stderr)


if __name__ == "__main__":
    main()
