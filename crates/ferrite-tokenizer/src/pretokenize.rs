//! Byte-level BPE pre-tokenizers (`tokenizer.ggml.pre`) and the GPT-2 byte
//! to character mapping.
//!
//! Each pre-tokenizer is a list of regexes applied in turn, as llama.cpp's
//! `unicode_regex_split` does and as Hugging Face's `Split(..., Isolated)`
//! sequences do: every regex splits each fragment left by the previous one
//! into its matches *and* the text between them, so no byte is ever lost.
//! The patterns are the Hugging Face originals (fancy-regex runs their
//! `(?!\S)` lookaheads and `(?i:...)` groups), since the reference encodings
//! are the Hugging Face tokenizers' answers.

use std::sync::OnceLock;

use fancy_regex::Regex;

use crate::error::{Error, Result};

const GPT2: &str = r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+";
const LLAMA3: &str = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";
const QWEN2: &str = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";
const TEKKEN: &str = r"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+";
const GPT4O: &str = r"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+";
const BLOOM: &str = r" ?[^(\s|.,!?…。，、।۔،)]+";
const CJK: &str = "[一-龥ࠀ-一가-퟿]+";
const DEEPSEEK_LLM_LETTERS: &str = r"\s?[A-Za-zµÀ-ÖØ-öø-ƺƼ-ƿǄ-ʓʕ-ʯͰ-ͳͶͷͻ-ͽͿΆΈ-ΊΌΎ-ΡΣ-ϵϷ-ҁҊ-ԯԱ-ՖႠ-ჅᎠ-Ᏽᏸ-ᏽᲐ-ᲺᲽ-Ჿᴀ-ᴫᵫ-ᵷᵹ-ᶚḀ-ἕἘ-Ἕἠ-ὅὈ-Ὅὐ-ὗὙὛὝὟ-ώᾀ-ᾴᾶ-ᾼιῂ-ῄῆ-ῌῐ-ΐῖ-Ίῠ-Ῥῲ-ῴῶ-ῼℂℇℊ-ℓℕℙ-ℝℤΩℨK-ℭℯ-ℴℹℼ-ℿⅅ-ⅉⅎↃↄⰀ-ⱻⱾ-ⳤⳫ-ⳮⳲⳳꙀ-ꙭꚀ-ꚛꜢ-ꝯꝱ-ꞇꞋ-ꞎꭰ-ꮿﬀ-ﬆﬓ-ﬗＡ-Ｚａ-ｚ𐐀-𐑏𐒰-𐓓𐓘-𐓻𐲀-𐲲𐳀-𐳲𑢠-𑣟𞤀-𞥃]+";

/// What a `tokenizer.ggml.pre` name implies besides its regexes (the flags
/// llama.cpp's vocabulary loader sets per pre-tokenizer).
#[derive(Clone, Debug)]
pub(crate) struct PreConfig {
    /// The canonical name written back on export.
    pub name: String,
    pub patterns: Vec<&'static str>,
    /// Detokenization removes spaces before `?!.,` and in contractions.
    pub clean_spaces: bool,
    /// A word that is itself a token is emitted without running merges.
    pub ignore_merges: bool,
    /// Add BOS by default (a GGUF `add_bos_token` key overrides it).
    pub add_bos: bool,
    /// The model has no BOS token at all (ChatGLM).
    pub no_bos: bool,
}

impl PreConfig {
    fn new(name: &str, patterns: Vec<&'static str>, clean_spaces: bool) -> PreConfig {
        PreConfig {
            name: name.to_string(),
            patterns,
            clean_spaces,
            ignore_merges: false,
            add_bos: false,
            no_bos: false,
        }
    }

    /// The configuration for a `tokenizer.ggml.pre` value; `None` when the name is unknown.
    pub fn for_name(name: &str) -> Option<PreConfig> {
        let mut c = match name {
            "default" => PreConfig::new(
                name,
                vec![r"[\p{P}\$\+<=>\^~\|]+", GPT2, r"\p{N}+", "[0-9][0-9][0-9]"],
                true,
            ),
            "llama3" | "llama-v3" | "llama-bpe" | "falcon3" | "falcon-h1" | "pixtral"
            | "midm-2.0" | "lfm2" => {
                let mut c = PreConfig::new(name, vec![LLAMA3], true);
                c.ignore_merges = true;
                c.add_bos = true;
                c
            }
            "dbrx" | "smaug-bpe" => PreConfig::new(name, vec![LLAMA3], true),
            "chatglm-bpe" | "glm4" => {
                let mut c = PreConfig::new(name, vec![LLAMA3], true);
                c.no_bos = true;
                c
            }
            "deepseek-llm" => PreConfig::new(
                name,
                vec![
                    "[\r\n]",
                    DEEPSEEK_LLM_LETTERS,
                    r"\s?[!-/:-~！-／：-～‘-‟　-。]+",
                    r"\s+$",
                    CJK,
                    r"\p{N}+",
                ],
                false,
            ),
            "deepseek-coder" => PreConfig::new(
                name,
                vec!["[\r\n]", r"\s?\p{L}+", r"\s?\p{P}+", CJK, r"\p{N}"],
                false,
            ),
            "falcon" => PreConfig::new(
                name,
                vec![r"[\p{P}\$\+<=>\^~\|`]+", GPT2, "[0-9][0-9][0-9]"],
                true,
            ),
            "gpt-2" | "mpt" | "olmo" | "jais" | "phi-2" | "jina-es" | "jina-de" | "gigachat"
            | "jina-v2-es" | "jina-v2-de" | "jina-v1-en" | "jina-v2-code" | "roberta-bpe"
            | "exaone4" | "a.x-4.0" | "mellum" | "modern-bert" => {
                PreConfig::new(name, vec![GPT2], true)
            }
            "starcoder" | "refact" | "codeshell" | "exaone" | "minerva-7b" => {
                PreConfig::new(name, vec![r"\p{N}", GPT2], true)
            }
            "command-r" | "smollm" => PreConfig::new(name, vec![r"\p{N}", GPT2], false),
            "qwen2" | "deepseek-r1-qwen" | "grok-2" | "hunyuan" => {
                PreConfig::new(name, vec![QWEN2], false)
            }
            "stablelm2" | "megrez" => PreConfig::new(name, vec![QWEN2], true),
            "poro-chat" => PreConfig::new(name, vec![BLOOM], false),
            "bloom" | "gpt3-finnish" => PreConfig::new(name, vec![BLOOM], true),
            "viking" => PreConfig::new(name, vec![BLOOM, r"\p{N}"], false),
            "tekken" => {
                let mut c = PreConfig::new(name, vec![TEKKEN], false);
                c.ignore_merges = true;
                c.add_bos = true;
                c
            }
            "gpt-4o" | "llama4" => PreConfig::new(name, vec![GPT4O], false),
            _ => return None,
        };
        c.name = name.to_string();
        Some(c)
    }

    /// The pre-tokenizer name whose single regex is `pattern` (for tokenizer.json export).
    pub fn name_for_regex(pattern: &str) -> Option<&'static str> {
        match pattern {
            LLAMA3 => Some("llama-bpe"),
            QWEN2 => Some("qwen2"),
            GPT2 => Some("gpt-2"),
            TEKKEN => Some("tekken"),
            GPT4O => Some("gpt-4o"),
            _ => None,
        }
    }
}

/// A compiled pre-tokenizer.
#[derive(Debug)]
pub(crate) struct PreTokenizer {
    regexes: Vec<Regex>,
}

impl PreTokenizer {
    pub fn new(config: &PreConfig) -> Result<PreTokenizer> {
        let regexes = config
            .patterns
            .iter()
            .map(|p| {
                Regex::new(p).map_err(|e| Error::Regex {
                    pattern: p.to_string(),
                    msg: e.to_string(),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(PreTokenizer { regexes })
    }

    /// Splits `text` into words; their concatenation is `text`.
    pub fn split<'t>(&self, text: &'t str) -> Result<Vec<&'t str>> {
        let mut pieces: Vec<&'t str> = vec![text];
        for re in &self.regexes {
            let mut next = Vec::with_capacity(pieces.len() * 2);
            for piece in pieces {
                let mut last = 0;
                for m in re.find_iter(piece) {
                    let m = m.map_err(|e| Error::Regex {
                        pattern: re.as_str().to_string(),
                        msg: e.to_string(),
                    })?;
                    if m.start() == m.end() {
                        continue;
                    }
                    if m.start() > last {
                        next.push(&piece[last..m.start()]);
                    }
                    next.push(m.as_str());
                    last = m.end();
                }
                if last < piece.len() {
                    next.push(&piece[last..]);
                }
            }
            pieces = next;
        }
        pieces.retain(|p| !p.is_empty());
        Ok(pieces)
    }
}

/// GPT-2's reversible byte to character map: printable Latin-1 bytes stand for
/// themselves, the others are moved to U+0100 and up so that no token holds a
/// space or a control character.
pub(crate) fn byte_to_char() -> &'static [char; 256] {
    static MAP: OnceLock<[char; 256]> = OnceLock::new();
    MAP.get_or_init(|| {
        let mut map = ['\0'; 256];
        let mut next = 256u32;
        for b in 0..=255u8 {
            let printable = matches!(b, b'!'..=b'~' | 0xA1..=0xAC | 0xAE..=0xFF);
            let c = if printable {
                u32::from(b)
            } else {
                next += 1;
                next - 1
            };
            map[usize::from(b)] = char::from_u32(c).unwrap_or('\u{FFFD}');
        }
        map
    })
}

/// The inverse of [`byte_to_char`].
pub(crate) fn char_to_byte(c: char) -> Option<u8> {
    static MAP: OnceLock<std::collections::HashMap<char, u8>> = OnceLock::new();
    MAP.get_or_init(|| {
        byte_to_char()
            .iter()
            .enumerate()
            .map(|(b, &c)| (c, b as u8))
            .collect()
    })
    .get(&c)
    .copied()
}

/// `text`'s bytes as GPT-2 characters.
pub(crate) fn byte_encode(text: &str) -> String {
    let map = byte_to_char();
    text.bytes().map(|b| map[usize::from(b)]).collect()
}
