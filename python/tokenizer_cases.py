"""Reference encodings for ferrite-tokenizer's tokenizer.json tests.

Generates a deterministic set of varied strings (unicode, CJK, emoji,
combining marks, whitespace runs, tabs and newlines, code, digits, special
token text) and prints, as JSON on stdout, what the pinned Hugging Face
`tokenizers` package makes of them for each tokenizer.json given.

Usage: tokenizer_cases.py SEED COUNT NAME=PATH [NAME=PATH ...]
"""

import json
import random
import sys

from tokenizers import Tokenizer

WORDS = [
    "Hello", "world", "the", "The", "quick", "brown", "fox", "jumps", "over", "lazy", "dog",
    "don't", "I'M", "we'Ve", "they're", "it's", "you'll", "she'd", "O'Neil", "rock'n'roll",
    "tokenizer", "llama", "Ferrite", "naïve", "café", "Größe", "straße", "Ångström", "façade",
    "Привет", "мир", "Γειά", "σου", "こんにちは", "世界", "你好", "中文字符", "한국어", "안녕하세요",
    "مرحبا", "بالعالم", "שלום", "नमस्ते", "দুনিয়া", "ภาษาไทย", "Tiếng", "Việt", "ꙮ", "Ω", "ﬁ",
]
EMOJI = ["🦙", "🚀", "😀", "👍🏽", "👨‍👩‍👧‍👦", "🇫🇷", "❤️", "🧠", "🫠", "©", "™", "∑", "≠", "→", "½", "²"]
COMBINING = ["e\u0301", "a\u0308", "n\u0303", "\u0301", "o\u0302\u0323", "Z\u0335\u0321\u0327"]
SPACES = [" ", "  ", "   ", "\t", "\t\t", "\n", "\n\n", "\r\n", "\r", " \n ", "\u00a0", "\u3000",
          "\u2009", "\u200b", "\u2028", "    ", "        ", " \t "]
PUNCT = list(".,;:!?'\"()[]{}<>/\\|@#$%^&*-_+=~`") + ["...", "?!", " ?", " .", " ' ", "--", "…", "。", "，", "、", "「」"]
CODE = [
    "def f(x):\n    return x + 1\n", "for (int i = 0; i < n; ++i) {", "}\n", "fn main() { println!(\"{}\", 42); }",
    "x = [1, 2, 3]", "if a && b || !c:", "#include <stdio.h>", "SELECT * FROM t WHERE id=7;",
    "\tindent\n\t\tmore", "    // comment", "<div class=\"a\">", "λx.x", "a_b_c", "CamelCaseName", "snake_case_name",
]
SPECIAL = ["<s>", "</s>", "<unk>", "<|begin_of_text|>", "<|eot_id|>", "<|start_header_id|>", "<|end_header_id|>",
           "<|end_of_text|>", "<0x0A>", "<|reserved_special_token_5|>", "[INST]", "<<SYS>>"]


def number(rng):
    kind = rng.randrange(4)
    if kind == 0:
        return str(rng.randrange(10))
    if kind == 1:
        return str(rng.randrange(10 ** rng.randrange(1, 12)))
    if kind == 2:
        return f"{rng.uniform(-1e4, 1e4):.{rng.randrange(6)}f}"
    return "".join(rng.choice("0123456789") for _ in range(rng.randrange(1, 20)))


def random_chars(rng):
    ranges = [(0x20, 0x7e), (0xa0, 0x24f), (0x370, 0x3ff), (0x400, 0x4ff), (0x590, 0x6ff), (0x900, 0x97f),
              (0x3040, 0x30ff), (0x4e00, 0x9fff), (0xac00, 0xd7a3), (0x1f300, 0x1faff), (0x2000, 0x206f), (0x0, 0x1f)]
    out = []
    for _ in range(rng.randrange(1, 8)):
        lo, hi = rng.choice(ranges)
        out.append(chr(rng.randint(lo, hi)))
    return "".join(out)


def piece(rng):
    r = rng.random()
    if r < 0.35:
        return rng.choice(WORDS)
    if r < 0.45:
        return number(rng)
    if r < 0.55:
        return rng.choice(PUNCT)
    if r < 0.62:
        return rng.choice(EMOJI)
    if r < 0.67:
        return rng.choice(COMBINING)
    if r < 0.77:
        return rng.choice(CODE)
    if r < 0.83:
        return rng.choice(SPECIAL)
    return random_chars(rng)


def make_string(rng):
    parts = []
    for _ in range(rng.randrange(1, 14)):
        parts.append(piece(rng))
        parts.append(rng.choice(SPACES) if rng.random() < 0.3 else (" " if rng.random() < 0.7 else ""))
    s = "".join(parts)
    if rng.random() < 0.1:
        s = rng.choice(SPACES) + s
    if rng.random() < 0.05:
        s = s.strip()
    return s


def main():
    seed, count = int(sys.argv[1]), int(sys.argv[2])
    rng = random.Random(seed)
    strings = [make_string(rng) for _ in range(count)]
    strings += ["", " ", "  ", "\n", "Hello", " Hello", "Hello world", "<s>Hello</s>", "<|begin_of_text|>Hi<|eot_id|>"]
    result = {"strings": strings, "tokenizers": {}}
    for arg in sys.argv[3:]:
        name, path = arg.split("=", 1)
        tok = Tokenizer.from_file(path)
        parsed = [e.ids for e in tok.encode_batch(strings, add_special_tokens=False)]
        with_special = [e.ids for e in tok.encode_batch(strings, add_special_tokens=True)]
        tok.encode_special_tokens = True
        plain = [e.ids for e in tok.encode_batch(strings, add_special_tokens=False)]
        decoded = [tok.decode(ids, skip_special_tokens=False) for ids in parsed]
        decoded_skip = [tok.decode(ids, skip_special_tokens=True) for ids in parsed]
        result["tokenizers"][name] = {
            "parsed": parsed,
            "with_special": with_special,
            "plain": plain,
            "decoded": decoded,
            "decoded_skip": decoded_skip,
        }
    json.dump(result, sys.stdout, ensure_ascii=True)


if __name__ == "__main__":
    main()
