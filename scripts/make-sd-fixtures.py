#!/usr/bin/env python3
"""Reference data for the Stable Diffusion layer, from transformers/diffusers on CPU.

Now: the real CLIP vocabulary (open_clip's packaged BPE file converted to vocab.json + merges.txt, stored once
in Tests/Fixtures/clip/) and the token ids transformers' CLIPTokenizer gives for 200+ varied prompts, with
SD 1.x padding (pad = <|endoftext|>) and SD 2.x padding (pad = "!", id 0).
Needs: pip install transformers open_clip_torch. Run: python3 scripts/make-sd-fixtures.py
"""
import gzip, json, os, random

import open_clip
from transformers import CLIPTokenizer

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
clip_dir = os.path.join(root, "Tests", "Fixtures", "clip")
os.makedirs(clip_dir, exist_ok=True)

def bytes_to_unicode():
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b); cs.append(256 + n); n += 1
    return dict(zip(bs, [chr(c) for c in cs]))

# open_clip's BPE file -> vocab.json / merges.txt, exactly as CLIP's SimpleTokenizer builds its vocabulary.
bpe_path = os.path.join(os.path.dirname(open_clip.__file__), "bpe_simple_vocab_16e6.txt.gz")
lines = gzip.open(bpe_path).read().decode("utf-8").split("\n")
merges = [tuple(m.split()) for m in lines[1:49152 - 256 - 2 + 1]]
vocab = list(bytes_to_unicode().values())
vocab = vocab + [v + "</w>" for v in vocab]
vocab += ["".join(m) for m in merges]
vocab += ["<|startoftext|>", "<|endoftext|>"]
with open(os.path.join(clip_dir, "vocab.json"), "w", encoding="utf-8") as f:
    json.dump({t: i for i, t in enumerate(vocab)}, f, ensure_ascii=False, separators=(",", ":"))
with open(os.path.join(clip_dir, "merges.txt"), "w", encoding="utf-8") as f:
    f.write("#version: 0.2\n" + "\n".join(" ".join(m) for m in merges) + "\n")

prompts = [
    "a photo of a cat", "A Photo Of A CAT", "", " ", "   leading and trailing   ", "tabs\tand\nnewlines\r\nhere",
    "a red cone on a dark background, seen from above", "don't won't I'm you're they've we'll he'd it's",
    "DON'T SHOUT'S", "numbers 1234567890 and 3.14159 and 1e-3", "$100 + 50% = ???", "email@example.com",
    "hello!!! what?! ... ---", "snake_case and camelCase and kebab-case", "C++ & C# <html> </div>",
    "café naïve résumé", "Ünïcödé ßtraße", "日本語のテキスト", "中文 提示词", "한국어 문장", "Привет мир",
    "Ελληνικά ΣΊΣΥΦΟΣ", "emoji 🐱🚀✨ here", "🐱🐱🐱", "arabic مرحبا", "hebrew שלום", "thai สวัสดี",
    "mixed日本語and English", "zero\u200bwidth", "non\u00a0breaking space", "combining e\u0301 accent",
    "fullwidth ＡＢＣ１２３", "math ∑∫√∞ ≤ ≥", "quotes “curly” ‘single’", "dash – em — ellipsis …",
    "<|startoftext|> special", "text <|endoftext|> inside", "repeated " + "word " * 40,
    "a" * 100, "supercalifragilisticexpialidocious", "pneumonoultramicroscopicsilicovolcanoconiosis",
    "x" + " y" * 80, "1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 " * 5,
    "'s 't 're", "''''", "a'b'c", "it''s", "O'Neil's dog", "rock'n'roll", "ÀÉÎÕÜ", "İstanbul", "ǅungla",
]
rng = random.Random(0)
words = ("a photo of the cat dog red blue green large small metal matte striped solid sphere cube cylinder cone "
         "torus sunset gray dark background seen from above side painting watercolor style at night in the "
         "snow highly detailed 4k trending artstation octane render portrait landscape").split()
punct = [",", ".", "!", "?", ";", ":", "-", "(", ")", "'", "\"", "&", "#", "…", "/"]
while len(prompts) < 240:
    n = rng.randint(1, 30)
    parts = []
    for _ in range(n):
        r = rng.random()
        if r < 0.75:
            w = rng.choice(words)
            parts.append(w.upper() if rng.random() < 0.1 else w.capitalize() if rng.random() < 0.1 else w)
        elif r < 0.9:
            parts.append(rng.choice(punct))
        else:
            parts.append(str(rng.randint(0, 10 ** rng.randint(1, 6))))
    sep = rng.choice([" ", " ", " ", "  ", "", "\t"])
    prompts.append(sep.join(parts))

tok1 = CLIPTokenizer(vocab=os.path.join(clip_dir, "vocab.json"), merges=os.path.join(clip_dir, "merges.txt"))
out = {"prompts": prompts, "sd1": [], "sd2": [], "sd1_pad": "<|endoftext|>", "sd2_pad": "!"}
tok1 = CLIPTokenizer.from_pretrained if False else tok1
for p in prompts:
    out["sd1"].append(tok1(p, padding="max_length", max_length=77, truncation=True)["input_ids"])
tok2 = CLIPTokenizer(vocab=os.path.join(clip_dir, "vocab.json"), merges=os.path.join(clip_dir, "merges.txt"), pad_token="!")
for p in prompts:
    out["sd2"].append(tok2(p, padding="max_length", max_length=77, truncation=True)["input_ids"])
with open(os.path.join(clip_dir, "tokenizer-cases.json"), "w", encoding="utf-8") as f:
    json.dump(out, f, ensure_ascii=False)
print(f"wrote {clip_dir}: {len(vocab)} tokens, {len(merges)} merges, {len(prompts)} prompts")
