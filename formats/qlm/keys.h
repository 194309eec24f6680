/* Metadata keys of a .qlm model file: the contract between the converters
 * (writers) and the runtime (readers). docs/FORMAT.md lists them with types.
 * Architecture names: "llama", "qwen2", "qwen3".
 *
 * Tensor names (dims row-major; D = embedding, F = ffn, H/Hkv heads, d head_dim, V vocab):
 *   token_embd.weight [V, D]            output_norm.weight [D]
 *   output.weight [V, D]   (absent when qlm.tie_embeddings is true)
 *   blk.N.attn_norm.weight [D]          blk.N.ffn_norm.weight [D]
 *   blk.N.attn_q.weight [H*d, D]        blk.N.attn_k.weight [Hkv*d, D]
 *   blk.N.attn_v.weight [Hkv*d, D]      blk.N.attn_output.weight [D, H*d]
 *   blk.N.attn_q.bias / attn_k.bias / attn_v.bias   (qwen2)
 *   blk.N.attn_q_norm.weight [d] / attn_k_norm.weight [d]  (qwen3)
 *   blk.N.ffn_gate.weight [F, D]  blk.N.ffn_up.weight [F, D]  blk.N.ffn_down.weight [D, F]
 * Q/K rows are in Hugging Face order (RoPE "rotate-half" pairs i and i+d/2);
 * converters un-permute GGUF / llama2.c (interleaved) sources.
 */
#ifndef QLM_KEYS_H
#define QLM_KEYS_H

#define QLM_K_ARCH              "general.architecture"      /* str */
#define QLM_K_NAME              "general.name"              /* str */
#define QLM_K_SOURCE            "general.source"            /* str: hf|gguf|llama2c|synth */
#define QLM_K_CTX               "qlm.context_length"        /* i64 */
#define QLM_K_DIM               "qlm.embedding_length"      /* i64 */
#define QLM_K_LAYERS            "qlm.block_count"           /* i64 */
#define QLM_K_FFN               "qlm.feed_forward_length"   /* i64 */
#define QLM_K_HEADS             "qlm.head_count"            /* i64 */
#define QLM_K_HEADS_KV          "qlm.head_count_kv"         /* i64 */
#define QLM_K_HEAD_DIM          "qlm.head_dim"              /* i64 */
#define QLM_K_VOCAB             "qlm.vocab_size"            /* i64: rows of token_embd */
#define QLM_K_NORM_EPS          "qlm.rms_norm_eps"          /* f64 */
#define QLM_K_ROPE_THETA        "qlm.rope.theta"            /* f64 */
#define QLM_K_ROPE_SCALING      "qlm.rope.scaling.type"     /* str: none|llama3|linear */
#define QLM_K_ROPE_FACTOR       "qlm.rope.scaling.factor"   /* f64 */
#define QLM_K_ROPE_LOW_FREQ     "qlm.rope.scaling.low_freq_factor"   /* f64 (llama3) */
#define QLM_K_ROPE_HIGH_FREQ    "qlm.rope.scaling.high_freq_factor"  /* f64 (llama3) */
#define QLM_K_ROPE_ORIG_CTX     "qlm.rope.scaling.original_context_length" /* i64 (llama3) */
#define QLM_K_TIED              "qlm.tie_embeddings"        /* bool */
#define QLM_K_ATTN_BIAS         "qlm.attention_bias"        /* bool: q/k/v biases present */
#define QLM_K_QK_NORM           "qlm.qk_norm"               /* bool: per-head q/k RMSNorm */

/* Tokenizer */
#define QLM_K_TOK_MODEL         "tokenizer.model"           /* str: "bpe" (byte-level) | "spm" */
#define QLM_K_TOK_PRE           "tokenizer.pre"             /* str: pre-tokenizer (bpe), llama.cpp names: gpt-2|llama-bpe|qwen2|smollm|... (pretok.h) */
#define QLM_K_TOK_TOKENS        "tokenizer.tokens"          /* str[] */
#define QLM_K_TOK_SCORES        "tokenizer.scores"          /* f32[] (spm) */
#define QLM_K_TOK_TYPES         "tokenizer.token_types"     /* i32[]: 1 normal 2 unknown 3 control 4 user 5 unused 6 byte */
#define QLM_K_TOK_MERGES        "tokenizer.merges"          /* str[] "left right" (bpe) */
#define QLM_K_TOK_BOS           "tokenizer.bos_id"          /* i64, -1 none */
#define QLM_K_TOK_EOS           "tokenizer.eos_id"          /* i64, -1 none */
#define QLM_K_TOK_UNK           "tokenizer.unk_id"          /* i64, -1 none */
#define QLM_K_TOK_PAD           "tokenizer.pad_id"          /* i64, -1 none */
#define QLM_K_TOK_EOG           "tokenizer.eog_ids"         /* i64[]: every id that ends generation/turn */
#define QLM_K_TOK_ADD_BOS       "tokenizer.add_bos"         /* bool */
#define QLM_K_TOK_ADD_EOS       "tokenizer.add_eos"         /* bool */
#define QLM_K_TOK_ADD_PREFIX    "tokenizer.add_space_prefix" /* bool (spm dummy prefix) */
#define QLM_K_TOK_BYTE_FALLBACK "tokenizer.byte_fallback"   /* bool (spm) */
#define QLM_K_TOK_NORMALIZER    "tokenizer.normalizer"      /* str: "NFC" (bpe), absent = none */
#define QLM_K_TOK_IGNORE_MERGES "tokenizer.ignore_merges"   /* bool (bpe, Llama-3 style) */
#define QLM_K_CHAT_TEMPLATE     "tokenizer.chat_template"   /* str (Jinja) */

/* Generation defaults (from generation_config.json), optional */
#define QLM_K_GEN_TEMP          "generation.temperature"    /* f64 */
#define QLM_K_GEN_TOP_P         "generation.top_p"          /* f64 */
#define QLM_K_GEN_TOP_K         "generation.top_k"          /* i64 */
#define QLM_K_GEN_REP_PEN       "generation.repetition_penalty" /* f64 */

#endif
