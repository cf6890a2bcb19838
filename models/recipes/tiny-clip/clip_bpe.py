"""CLIP's byte-level BPE, built from OpenAI's MIT vocabulary file (bpe_simple_vocab_16e6.txt.gz).

Used by the recipe to tokenize captions and to write a Hugging Face `tokenizer.json` whose
vocabulary and merges are derived from the OpenAI file (not copied from a third-party repo).
The caption vocabulary of this recipe is lower-case ASCII, so an ASCII version of CLIP's
pre-tokenizer regex is exact for it; `encode` refuses anything else rather than guess.
"""
import gzip
import re

SOT, EOT = "<|startoftext|>", "<|endoftext|>"
# CLIP's split pattern restricted to ASCII (\p{L} -> [a-z] after lower-casing, \p{N} -> [0-9]).
_PAT = re.compile(r"""<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[a-z]+|[0-9]|[^\sa-z0-9]+""")


def bytes_to_unicode():
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, [chr(c) for c in cs]))


class ClipBPE:
    def __init__(self, gz_path):
        with gzip.open(gz_path, "rt", encoding="utf-8") as f:
            lines = f.read().split("\n")
        # openai/CLIP simple_tokenizer: merges = lines[1 : 49152 - 256 - 2 + 1]
        self.merges = [tuple(m.split()) for m in lines[1 : 49152 - 256 - 2 + 1]]
        b2u = bytes_to_unicode()
        vocab = list(b2u.values())
        vocab = vocab + [v + "</w>" for v in vocab]
        vocab += ["".join(m) for m in self.merges]
        vocab += [SOT, EOT]
        self.vocab = vocab
        self.encoder = {v: i for i, v in enumerate(vocab)}
        self.ranks = {m: i for i, m in enumerate(self.merges)}
        self.byte_encoder = b2u
        self.cache = {}
        self.sot, self.eot = self.encoder[SOT], self.encoder[EOT]

    def _bpe(self, token):
        if token in self.cache:
            return self.cache[token]
        word = list(token[:-1]) + [token[-1] + "</w>"]
        while len(word) > 1:
            pairs = [(word[i], word[i + 1]) for i in range(len(word) - 1)]
            best = min(pairs, key=lambda p: self.ranks.get(p, float("inf")))
            if best not in self.ranks:
                break
            new, i = [], 0
            while i < len(word):
                if i < len(word) - 1 and (word[i], word[i + 1]) == best:
                    new.append(word[i] + word[i + 1])
                    i += 2
                else:
                    new.append(word[i])
                    i += 1
            word = new
        self.cache[token] = word
        return word

    def encode(self, text):
        text = re.sub(r"\s+", " ", text).strip().lower()
        if not text.isascii():
            raise ValueError(f"recipe tokenizer handles ASCII captions only: {text!r}")
        ids = []
        for tok in _PAT.findall(text):
            tok = "".join(self.byte_encoder[b] for b in tok.encode("utf-8"))
            ids.extend(self.encoder[t] for t in self._bpe(tok))
        return ids

    def tokenize(self, text, context_length=77):
        """[SOT] ids [EOT], padded with EOT (HF's pad token) to context_length; truncated keeping EOT last."""
        ids = [self.sot] + self.encode(text)[: context_length - 2] + [self.eot]
        return ids + [self.eot] * (context_length - len(ids))

    def hf_tokenizer_json(self):
        """A Hugging Face tokenizers `tokenizer.json` for CLIP, vocabulary and merges from the OpenAI file."""
        return {
            "version": "1.0",
            "truncation": None,
            "padding": None,
            "added_tokens": [
                {"id": self.sot, "content": SOT, "single_word": False, "lstrip": False, "rstrip": False, "normalized": True, "special": True},
                {"id": self.eot, "content": EOT, "single_word": False, "lstrip": False, "rstrip": False, "normalized": False, "special": True},
            ],
            "normalizer": {"type": "Sequence", "normalizers": [
                {"type": "NFC"},
                {"type": "Replace", "pattern": {"Regex": "\\s+"}, "content": " "},
                {"type": "Lowercase"},
            ]},
            "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
                {"type": "Split", "pattern": {"Regex": "<\\|startoftext\\|>|<\\|endoftext\\|>|'s|'t|'re|'ve|'m|'ll|'d|[\\p{L}]+|[\\p{N}]|[^\\s\\p{L}\\p{N}]+"},
                 "behavior": "Removed", "invert": True},
                {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": True},
            ]},
            "post_processor": {"type": "RobertaProcessing", "sep": [EOT, self.eot], "cls": [SOT, self.sot],
                               "trim_offsets": False, "add_prefix_space": False},
            "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
            "model": {"type": "BPE", "dropout": None, "unk_token": EOT, "continuing_subword_prefix": "",
                      "end_of_word_suffix": "</w>", "fuse_unk": False, "byte_fallback": False,
                      "vocab": self.encoder, "merges": [" ".join(m) for m in self.merges]},
        }
