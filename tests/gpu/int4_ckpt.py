#!/usr/bin/env python3
"""Tiny INT4 Hugging Face checkpoints in the GPTQ, AWQ and Marlin packings.

An independent reference for qlm's importer (formats/convert/hf_int4.c): the
packings are written here from the projects' published rules (AutoGPTQ /
GPTQModel QuantLinear.pack, AutoAWQ WQLinear_GEMM.from_linear, IST-DASLab
Marlin Layer.pack), with no numpy and nothing shared with qlm's C packer
(formats/gpu/int4pack.c). Standard library only.

    python3 tests/gpu/int4_ckpt.py tests/data/int4ckpt

writes one Hugging Face folder per variant (config.json, model.safetensors,
tokenizer.json; the AutoGPTQ-style variant has quantize_config.json instead of
config.json's quantization_config) and expected.json: for every quantized
tensor (qlm name) the SHA-256 of its w4a16 blocks (docs/FORMAT.md dtype 21)
and of its weights as little-endian f32, w = f16(f16(q - z) * s), computed
here in double and rounded once to f16 (struct 'e': round to nearest even).

The model: Llama, hidden 128, FFN 256, 1 layer, 2 heads, 1 KV head, vocab 256
(a byte-level BPE with no merges), tied embeddings. Non-quantized tensors
(embedding, norms) come from the synthetic-weight generator of
shared/golden/SYNTH.md (seed 7). The int4 numbers of a Linear NAME [N, K]
with G groups come from a splitmix64 stream (below, "draw"), so tests can
regenerate them:
    codes  q[n][k]  = draw(NAME, "q", n*K + k) >> 60
    scales s[n][g]  = f16 bits 0x1800 + (draw(NAME, "s", n*G + g) >> 32) % 0x800
    zeros  z[n][g]  = 1 + (draw(NAME, "z", n*G + g) >> 32) % 15   (1..15; Marlin: 8)
The act-order variant (desc_act) visits the inputs in the order o, a
Fisher-Yates shuffle of 0..K-1 (for i = K-1 down to 1: swap o[i] and
o[draw(NAME, "perm", i) % (i + 1)]), and puts input o[j] in group j / 128, as
GPTQ's act-order does: g_idx[o[j]] = j / 128. Its expected.json entries also
hold the SHA-256 of the permutation qlm stores (i32: the inputs sorted by group,
ascending within a group); the w4a16 digest is of the columns in that order,
the f32 digest of the weights in the checkpoint's input order.
"""
import hashlib
import json
import math
import os
import struct
import sys

M64 = (1 << 64) - 1
SEED = 7
HIDDEN, FFN, HEADS, KV_HEADS, VOCAB = 128, 256, 2, 1, 256
HEAD_DIM = HIDDEN // HEADS


def fnv1a64(data):
    h = 0xCBF29CE484222325
    for b in data:
        h = ((h ^ b) * 0x100000001B3) & M64
    return h


def splitmix(s0, i):
    """Element i (1-based) of SYNTH.md's stream."""
    z = (s0 + i * 0x9E3779B97F4A7C15) & M64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
    return z ^ (z >> 31)


def draw(name, what, i):
    """The i-th (0-based) 64-bit draw of a Linear's int4 stream `what`."""
    return splitmix(SEED ^ fnv1a64((name + "#" + what).encode()), i + 1)


# ---- SYNTH.md generator (bf16) for the non-quantized tensors ----

def f32_bits(x):
    return struct.unpack("<I", struct.pack("<f", x))[0]


def synth_bf16(name, shape):
    s0 = SEED ^ fnv1a64(name.encode())
    n = 1
    for d in shape:
        n *= d
    out = bytearray()
    for i in range(1, n + 1):
        v = ((splitmix(s0, i) >> 40) + 0.5) * (2.0 / 16777216.0) - 1.0
        if name.endswith("norm.weight"):
            val = v * 0.1 + 1.0
        elif "embed_tokens" in name or name.endswith(".bias") or name.startswith("lm_head"):
            val = v * 0.1
        else:
            val = v * (1.0 / math.sqrt(shape[1]))
        b = f32_bits(val)
        out += struct.pack("<H", ((b + 0x7FFF + ((b >> 16) & 1)) >> 16) & 0xFFFF)
    return bytes(out)


# ---- the int4 numbers of one Linear ----

class Int4:
    def __init__(self, name, n, k, groups, zero, act_order=False):
        self.n, self.k, self.g = n, k, groups
        self.g_idx = [c // (k // groups) for c in range(k)]
        if act_order:
            o = list(range(k))
            for i in range(k - 1, 0, -1):
                j = draw(name, "perm", i) % (i + 1)
                o[i], o[j] = o[j], o[i]
            for j, c in enumerate(o):
                self.g_idx[c] = j // (k // groups)
        self.q = [[draw(name, "q", r * k + c) >> 60 for c in range(k)] for r in range(n)]
        self.s = [[0x1800 + (draw(name, "s", r * groups + g) >> 32) % 0x800 for g in range(groups)] for r in range(n)]
        if zero == "sym":
            self.z = [[8] * groups for _ in range(n)]
        else:
            self.z = [[1 + (draw(name, "z", r * groups + g) >> 32) % 15 for g in range(groups)] for r in range(n)]

    def group_of(self, c):
        return self.g_idx[c]

    def order(self):
        """The inputs sorted by group, stable (the column order qlm stores)."""
        return sorted(range(self.k), key=lambda c: self.g_idx[c])


def f16_value(bits):
    return struct.unpack("<e", struct.pack("<H", bits))[0]


def pack_u32(words):
    return b"".join(struct.pack("<I", w) for w in words)


def pack_f16_rows(rows):
    return b"".join(struct.pack("<H", v) for row in rows for v in row)


def gptq(m, v2):
    """AutoGPTQ QuantLinear.pack: qweight [K/8, N], 8 codes along K per int32
    (input 8i+j in bits 4j); qzeros [G, N/8], 8 zero points along N per int32,
    stored z - 1 (GPTQModel's gptq_v2 stores z); scales [G, N]; g_idx [K]."""
    qweight = []
    for i in range(m.k // 8):
        for c in range(m.n):
            w = 0
            for j in range(8):
                w |= m.q[c][8 * i + j] << (4 * j)
            qweight.append(w)
    qzeros = []
    for g in range(m.g):
        for c in range(m.n // 8):
            w = 0
            for j in range(8):
                w |= ((m.z[8 * c + j][g] - (0 if v2 else 1)) & 15) << (4 * j)
            qzeros.append(w)
    scales = [[m.s[c][g] for c in range(m.n)] for g in range(m.g)]
    g_idx = m.g_idx
    return {
        "qweight": ("I32", [m.k // 8, m.n], pack_u32(qweight)),
        "qzeros": ("I32", [m.g, m.n // 8], pack_u32(qzeros)),
        "scales": ("F16", [m.g, m.n], pack_f16_rows(scales)),
        "g_idx": ("I32", [m.k], b"".join(struct.pack("<i", x) for x in g_idx)),
    }


AWQ_ORDER = [0, 2, 4, 6, 1, 3, 5, 7]


def awq(m):
    """AutoAWQ WQLinear_GEMM: qweight [K, N/8]; nibble j of qweight[k][c] is
    output 8c + AWQ_ORDER[j]; qzeros [G, N/8] the same way; scales [G, N]."""
    qweight, qzeros = [], []
    for k in range(m.k):
        for c in range(m.n // 8):
            w = 0
            for j in range(8):
                w |= m.q[8 * c + AWQ_ORDER[j]][k] << (4 * j)
            qweight.append(w)
    for g in range(m.g):
        for c in range(m.n // 8):
            w = 0
            for j in range(8):
                w |= m.z[8 * c + AWQ_ORDER[j]][g] << (4 * j)
            qzeros.append(w)
    scales = [[m.s[c][g] for c in range(m.n)] for g in range(m.g)]
    return {
        "qweight": ("I32", [m.k, m.n // 8], pack_u32(qweight)),
        "qzeros": ("I32", [m.g, m.n // 8], pack_u32(qzeros)),
        "scales": ("F16", [m.g, m.n], pack_f16_rows(scales)),
    }


def marlin_perms():
    """Marlin's _get_perms: the mma.sync m16n8k16 fragment order of a 16x64
    block of B, interleaved 0,2,4,6,1,3,5,7; scale permutations."""
    perm = []
    for i in range(32):
        first = []
        col = i // 4
        for block in (0, 1):
            for row in (2 * (i % 4), 2 * (i % 4) + 1, 2 * (i % 4 + 4), 2 * (i % 4 + 4) + 1):
                first.append(16 * row + col + 8 * block)
        for j in range(4):
            perm.extend(p + 256 * j for p in first)
    inter = [0, 2, 4, 6, 1, 3, 5, 7]
    perm = [perm[8 * r + inter[e]] for r in range(len(perm) // 8) for e in range(8)]
    scale_perm = [i + 8 * j for i in range(8) for j in range(8)]
    scale_single = [2 * i + j for i in range(4) for j in (0, 1, 8, 9, 16, 17, 24, 25)]
    return perm, scale_perm, scale_single


def marlin(m):
    """Marlin Layer.pack, step by step on the codes: w = Q^T [K, N]; tiles
    reshape (K/16, 16, N/16, 16) -> permute (0, 2, 1, 3) -> (K/16, 16N); each
    run of 1024 gathered through perm; 8 entries per int32 (entry i in bits
    4i). Scales S^T [G, N] gathered in runs of 64 (32 when group = K)."""
    perm, scale_perm, scale_single = marlin_perms()
    K, N = m.k, m.n
    rows = []
    for r in range(K // 16):
        tiled = [0] * (16 * N)
        for nb in range(N // 16):
            for kk in range(16):
                for nn in range(16):
                    tiled[(nb * 16 + kk) * 16 + nn] = m.q[nb * 16 + nn][r * 16 + kk]
        res = []
        for base in range(0, 16 * N, 1024):
            res.extend(tiled[base + p] for p in perm)
        for c in range(2 * N):
            w = 0
            for i in range(8):
                w |= res[8 * c + i] << (4 * i)
            rows.append(w)
    flat = [m.s[c][g] for g in range(m.g) for c in range(N)]
    sp = scale_single if m.g == 1 else scale_perm
    s = []
    for base in range(0, len(flat), len(sp)):
        s.extend(flat[base + p] for p in sp)
    return {
        "B": ("I32", [K // 16, 2 * N], pack_u32(rows)),
        "s": ("F16", [m.g, N], b"".join(struct.pack("<H", v) for v in s)),
        "workspace": ("I32", [16], bytes(64)),
    }


def w4a16_digests(m):
    """SHA-256 of the w4a16 blocks (u16 s, u8 z, u8 0, 64 bytes: element 2i in
    the low nibble; columns in m.order()) and of the f32 weights
    f16(f16(q - z) * s) in input order."""
    blocks, values = hashlib.sha256(), hashlib.sha256()
    order = m.order()
    for r in range(m.n):
        for b in range(m.k // 128):
            cols = order[128 * b:128 * b + 128]
            g = m.group_of(cols[0])
            q = [m.q[r][c] for c in cols]
            blocks.update(struct.pack("<HBB", m.s[r][g], m.z[r][g], 0))
            blocks.update(bytes(q[2 * i] | q[2 * i + 1] << 4 for i in range(64)))
        for c in range(m.k):
            g = m.group_of(c)
            w = float(m.q[r][c] - m.z[r][g]) * f16_value(m.s[r][g])
            values.update(struct.pack("<f", struct.unpack("<e", struct.pack("<e", w))[0]))
    return blocks.hexdigest(), values.hexdigest()


# ---- the model and the files ----

LINEARS = [  # (HF name, qlm name, out, in)
    ("model.layers.0.self_attn.q_proj", "blk.0.attn_q.weight", HIDDEN, HIDDEN),
    ("model.layers.0.self_attn.k_proj", "blk.0.attn_k.weight", KV_HEADS * HEAD_DIM, HIDDEN),
    ("model.layers.0.self_attn.v_proj", "blk.0.attn_v.weight", KV_HEADS * HEAD_DIM, HIDDEN),
    ("model.layers.0.self_attn.o_proj", "blk.0.attn_output.weight", HIDDEN, HIDDEN),
    ("model.layers.0.mlp.gate_proj", "blk.0.ffn_gate.weight", FFN, HIDDEN),
    ("model.layers.0.mlp.up_proj", "blk.0.ffn_up.weight", FFN, HIDDEN),
    ("model.layers.0.mlp.down_proj", "blk.0.ffn_down.weight", HIDDEN, FFN),
]
PLAIN = [
    ("model.embed_tokens.weight", [VOCAB, HIDDEN]),
    ("model.layers.0.input_layernorm.weight", [HIDDEN]),
    ("model.layers.0.post_attention_layernorm.weight", [HIDDEN]),
    ("model.norm.weight", [HIDDEN]),
]

# name: (packing, group_size, zeros, quantization settings, in quantize_config.json)
VARIANTS = {
    "gptq": ("gptq", 128, "asym", {"quant_method": "gptq", "bits": 4, "group_size": 128, "desc_act": False,
                                    "sym": False, "checkpoint_format": "gptq"}, False),
    "gptq-pc-v2": ("gptq_v2", -1, "asym", {"bits": 4, "group_size": -1, "desc_act": False, "sym": False,
                                           "checkpoint_format": "gptq_v2"}, True),
    "awq": ("awq", 128, "asym", {"quant_method": "awq", "bits": 4, "group_size": 128, "zero_point": True,
                                  "version": "gemm"}, False),
    "gptq-actorder": ("gptq", 128, "asym", {"quant_method": "gptq", "bits": 4, "group_size": 128,
                                             "desc_act": True, "sym": False}, False),
    "marlin": ("marlin", 128, "sym", {"quant_method": "gptq", "bits": 4, "group_size": 128, "desc_act": False,
                                       "sym": True, "checkpoint_format": "marlin"}, False),
}


def write_safetensors(path, tensors):
    header, data = {}, bytearray()
    for name in sorted(tensors):
        dtype, shape, raw = tensors[name]
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + data)


def byte_level_tokenizer():
    """GPT-2's byte-to-unicode table as a 256-token BPE vocabulary."""
    bs = list(range(33, 127)) + list(range(161, 173)) + list(range(174, 256))
    cs, n = bs[:], 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    vocab = {chr(c): b for b, c in zip(bs, cs)}
    return {"version": "1.0", "added_tokens": [], "normalizer": None,
            "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True,
                              "use_regex": True},
            "post_processor": None, "decoder": {"type": "ByteLevel"},
            "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": None,
                      "end_of_word_suffix": None, "fuse_unk": False, "byte_fallback": False,
                      "vocab": dict(sorted(vocab.items(), key=lambda kv: kv[1])), "merges": []}}


def config(settings, in_config):
    c = {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "vocab_size": VOCAB,
         "hidden_size": HIDDEN, "intermediate_size": FFN, "num_hidden_layers": 1,
         "num_attention_heads": HEADS, "num_key_value_heads": KV_HEADS, "max_position_embeddings": 128,
         "rms_norm_eps": 1e-5, "rope_theta": 10000.0, "tie_word_embeddings": True, "torch_dtype": "float16"}
    if in_config:
        c["quantization_config"] = settings
    return c


def main(out):
    expected = {}
    plain = {name: ("BF16", shape, synth_bf16(name, shape)) for name, shape in PLAIN}
    tok = json.dumps(byte_level_tokenizer(), ensure_ascii=False, indent=1)
    for vname, (packing, group, zeros, settings, separate) in VARIANTS.items():
        d = os.path.join(out, vname)
        os.makedirs(d, exist_ok=True)
        tensors = dict(plain)
        expected[vname] = {}
        for hf, qlm, n, k in LINEARS:
            m = Int4(hf + ".weight", n, k, 1 if group < 0 else k // group, zeros, settings.get("desc_act", False))
            packed = (gptq(m, packing == "gptq_v2") if packing.startswith("gptq") else
                      awq(m) if packing == "awq" else marlin(m))
            for sfx, t in packed.items():
                tensors[hf + "." + sfx] = t
            blocks, values = w4a16_digests(m)
            expected[vname][qlm] = {"w4a16_sha256": blocks, "f32_sha256": values}
            if m.order() != list(range(k)):
                perm = b"".join(struct.pack("<i", c) for c in m.order())
                expected[vname][qlm]["perm_sha256"] = hashlib.sha256(perm).hexdigest()
        write_safetensors(os.path.join(d, "model.safetensors"), tensors)
        with open(os.path.join(d, "config.json"), "w") as f:
            json.dump(config(settings, not separate), f, indent=1)
        if separate:
            with open(os.path.join(d, "quantize_config.json"), "w") as f:
                json.dump(settings, f, indent=1)
        with open(os.path.join(d, "tokenizer.json"), "w", encoding="utf-8") as f:
            f.write(tok)
    with open(os.path.join(out, "expected.json"), "w") as f:
        json.dump(expected, f, indent=1, sort_keys=True)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: int4_ckpt.py OUT_DIR")
    main(sys.argv[1])
