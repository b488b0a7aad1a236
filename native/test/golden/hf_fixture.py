#!/usr/bin/python3
"""Hugging Face ELECTRA model directories without `transformers`.

Mimics what `transformers` (4.30.x, `save_pretrained(..., safe_serialization=True)`)
writes for ElectraForPreTraining and ElectraForMaskedLM, and checks directories
that the electra engine wrote against what HF would expect. PyTorch and the
standard library only; the modules below copy HF's module tree so that
`state_dict()` yields HF's tensor names (buffers and tied weights included).

    /usr/bin/python3 native/test/golden/hf_fixture.py [write]
        writes test/fixtures/hf-tiny/{discriminator,generator}/{config.json,
        model.safetensors,vocab.txt} and test/fixtures/hf-tiny/expected.json,
        then verifies them (read back, `check` both, negative cases, an
        independent forward from gen_golden.py, byte-identical regeneration).

    /usr/bin/python3 native/test/golden/hf_fixture.py check DIR
            [--kind discriminator|generator] [--ids "2 10 11 3"]
            [--token-type-ids "0 0 0 0"] [--attention-mask "1 1 1 1"]
        checks DIR/config.json and DIR/model.safetensors (exact tensor-name set,
        shapes, dtypes, safetensors header and metadata, model_type,
        architectures) and prints {"logits": ...} (float64, batched: (B,T) for
        the discriminator, (B,T,V) for the generator) for the ids. Several
        sequences: separate them with ';'. Exit 0 if everything matches, 1
        otherwise (reasons on stderr).

See README.md in this directory.
"""

import argparse
import copy
import json
import math
import os
import struct
import sys
import tempfile

import torch
import torch.nn as nn
import torch.nn.functional as F

torch.set_num_threads(1)

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.normpath(os.path.join(HERE, "..", "..", ".."))
OUT_DIR = os.path.join(REPO, "test", "fixtures", "hf-tiny")

TRANSFORMERS_VERSION = "4.30.2"  # last release whose ElectraEmbeddings.position_ids was a persistent buffer
SEED = 20240611

# ---------------------------------------------------------------- configs
# ElectraConfig.__init__ defaults (transformers 4.x); HF fills missing keys with these.
ELECTRA_DEFAULTS = {
    "vocab_size": 30522, "embedding_size": 128, "hidden_size": 256, "num_hidden_layers": 12,
    "num_attention_heads": 4, "intermediate_size": 1024, "hidden_act": "gelu",
    "hidden_dropout_prob": 0.1, "attention_probs_dropout_prob": 0.1,
    "max_position_embeddings": 512, "type_vocab_size": 2, "initializer_range": 0.02,
    "layer_norm_eps": 1e-12, "summary_type": "first", "summary_use_proj": True,
    "summary_activation": "gelu", "summary_last_dropout": 0.1, "pad_token_id": 0,
    "position_embedding_type": "absolute", "use_cache": True, "classifier_dropout": None,
}
ARCH = {"discriminator": "ElectraForPreTraining", "generator": "ElectraForMaskedLM"}

V, E, MAX_POS, TYPE_VOCAB = 64, 16, 32, 2
DISC = dict(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64)
GEN = dict(hidden_size=16, num_hidden_layers=2, num_attention_heads=2, intermediate_size=32)


def hf_config_dict(kind, sizes):
    """config.json as PretrainedConfig.to_json_string(use_diff=True) writes it after save_pretrained:
    every ElectraConfig.__init__ argument (none of them is a PretrainedConfig attribute with an equal
    default, except pad_token_id, whose default differs), plus architectures, model_type, torch_dtype,
    transformers_version and _name_or_path (present because the model was loaded from a path)."""
    c = dict(ELECTRA_DEFAULTS)
    c.update(vocab_size=V, embedding_size=E, max_position_embeddings=MAX_POS, type_vocab_size=TYPE_VOCAB,
             layer_norm_eps=1e-12, hidden_dropout_prob=0.1, attention_probs_dropout_prob=0.1, **sizes)
    c.update(_name_or_path="hf-tiny/" + kind, architectures=[ARCH[kind]], model_type="electra",
             torch_dtype="float32", transformers_version=TRANSFORMERS_VERSION)
    return c


def config_json_text(c):
    return json.dumps(c, indent=2, sort_keys=True) + "\n"  # PretrainedConfig.to_json_string


class Cfg:
    def __init__(self, d):
        m = dict(ELECTRA_DEFAULTS)
        m.update(d)
        self.__dict__.update(m)
        self.tie_word_embeddings = d.get("tie_word_embeddings", True)


# ---------------------------------------------------------------- HF's module tree
ACT = {
    "gelu": lambda x: F.gelu(x),  # exact (erf)
    "gelu_new": lambda x: 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x.pow(3)))),
    "gelu_fast": lambda x: 0.5 * x * (1.0 + torch.tanh(x * 0.7978845608 * (1.0 + 0.044715 * x * x))),
    "relu": F.relu,
    "silu": F.silu,
    "swish": F.silu,
}


class ElectraEmbeddings(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.word_embeddings = nn.Embedding(c.vocab_size, c.embedding_size, padding_idx=c.pad_token_id)
        self.position_embeddings = nn.Embedding(c.max_position_embeddings, c.embedding_size)
        self.token_type_embeddings = nn.Embedding(c.type_vocab_size, c.embedding_size)
        self.LayerNorm = nn.LayerNorm(c.embedding_size, eps=c.layer_norm_eps)
        self.dropout = nn.Dropout(c.hidden_dropout_prob)
        # persistent up to transformers 4.30 (saved), non-persistent from 4.31 on
        self.register_buffer("position_ids", torch.arange(c.max_position_embeddings).expand((1, -1)))
        self.register_buffer("token_type_ids", torch.zeros(self.position_ids.size(), dtype=torch.long),
                             persistent=False)

    def forward(self, ids, tt):
        T = ids.shape[1]
        x = self.word_embeddings(ids) + self.token_type_embeddings(tt)
        x = x + self.position_embeddings(self.position_ids[:, :T])
        return self.dropout(self.LayerNorm(x))


class ElectraSelfAttention(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.num_attention_heads = c.num_attention_heads
        self.attention_head_size = c.hidden_size // c.num_attention_heads
        self.query = nn.Linear(c.hidden_size, c.hidden_size)
        self.key = nn.Linear(c.hidden_size, c.hidden_size)
        self.value = nn.Linear(c.hidden_size, c.hidden_size)
        self.dropout = nn.Dropout(c.attention_probs_dropout_prob)

    def heads(self, x):
        B, T, _ = x.shape
        return x.view(B, T, self.num_attention_heads, self.attention_head_size).permute(0, 2, 1, 3)

    def forward(self, x, ext_mask):
        q, k, v = self.heads(self.query(x)), self.heads(self.key(x)), self.heads(self.value(x))
        s = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(self.attention_head_size) + ext_mask
        p = self.dropout(torch.softmax(s, dim=-1))
        ctx = torch.matmul(p, v).permute(0, 2, 1, 3).contiguous()
        return ctx.view(ctx.shape[0], ctx.shape[1], -1)


class ElectraSelfOutput(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.dense = nn.Linear(c.hidden_size, c.hidden_size)
        self.LayerNorm = nn.LayerNorm(c.hidden_size, eps=c.layer_norm_eps)
        self.dropout = nn.Dropout(c.hidden_dropout_prob)

    def forward(self, h, x):
        return self.LayerNorm(self.dropout(self.dense(h)) + x)


class ElectraAttention(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.self = ElectraSelfAttention(c)
        self.output = ElectraSelfOutput(c)

    def forward(self, x, ext_mask):
        return self.output(self.self(x, ext_mask), x)


class ElectraIntermediate(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.dense = nn.Linear(c.hidden_size, c.intermediate_size)
        self.act = ACT[c.hidden_act]

    def forward(self, x):
        return self.act(self.dense(x))


class ElectraOutput(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.dense = nn.Linear(c.intermediate_size, c.hidden_size)
        self.LayerNorm = nn.LayerNorm(c.hidden_size, eps=c.layer_norm_eps)
        self.dropout = nn.Dropout(c.hidden_dropout_prob)

    def forward(self, h, x):
        return self.LayerNorm(self.dropout(self.dense(h)) + x)


class ElectraLayer(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.attention = ElectraAttention(c)
        self.intermediate = ElectraIntermediate(c)
        self.output = ElectraOutput(c)

    def forward(self, x, ext_mask):
        a = self.attention(x, ext_mask)
        return self.output(self.intermediate(a), a)


class ElectraEncoder(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.layer = nn.ModuleList([ElectraLayer(c) for _ in range(c.num_hidden_layers)])

    def forward(self, x, ext_mask):
        for l in self.layer:
            x = l(x, ext_mask)
        return x


class ElectraModel(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.embeddings = ElectraEmbeddings(c)
        if c.embedding_size != c.hidden_size:
            self.embeddings_project = nn.Linear(c.embedding_size, c.hidden_size)
        self.encoder = ElectraEncoder(c)

    def forward(self, ids, tt, mask):
        x = self.embeddings(ids, tt)
        if hasattr(self, "embeddings_project"):
            x = self.embeddings_project(x)
        B, T = ids.shape
        # get_extended_attention_mask: (1 - mask) * finfo(dtype).min, broadcast over heads and queries
        ext = (1.0 - mask.to(x.dtype)).view(B, 1, 1, T) * torch.finfo(x.dtype).min
        return self.encoder(x, ext)


class ElectraDiscriminatorPredictions(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.dense = nn.Linear(c.hidden_size, c.hidden_size)
        self.activation = ACT[c.hidden_act]
        self.dense_prediction = nn.Linear(c.hidden_size, 1)

    def forward(self, h):
        return self.dense_prediction(self.activation(self.dense(h))).squeeze(-1)


class ElectraForPreTraining(nn.Module):
    _tied_weights_keys = None

    def __init__(self, c):
        super().__init__()
        self.electra = ElectraModel(c)
        self.discriminator_predictions = ElectraDiscriminatorPredictions(c)

    def forward(self, ids, tt, mask):
        return self.discriminator_predictions(self.electra(ids, tt, mask))


class ElectraGeneratorPredictions(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.activation = ACT["gelu"]  # HF hard-codes gelu here
        self.LayerNorm = nn.LayerNorm(c.embedding_size, eps=c.layer_norm_eps)
        self.dense = nn.Linear(c.hidden_size, c.embedding_size)

    def forward(self, h):
        return self.LayerNorm(self.activation(self.dense(h)))


class ElectraForMaskedLM(nn.Module):
    _tied_weights_keys = ["generator_lm_head.weight"]

    def __init__(self, c):
        super().__init__()
        self.electra = ElectraModel(c)
        self.generator_predictions = ElectraGeneratorPredictions(c)
        self.generator_lm_head = nn.Linear(c.embedding_size, c.vocab_size)
        if c.tie_word_embeddings:  # PreTrainedModel.tie_weights
            self.generator_lm_head.weight = self.electra.embeddings.word_embeddings.weight

    def forward(self, ids, tt, mask):
        return self.generator_lm_head(self.generator_predictions(self.electra(ids, tt, mask)))


MODEL = {"discriminator": ElectraForPreTraining, "generator": ElectraForMaskedLM}


def hf_save_state_dict(model):
    """save_pretrained(safe_serialization=True): state_dict(), then of every group of tensors sharing
    storage, the names matching _tied_weights_keys are deleted (all but one)."""
    sd = model.state_dict()
    groups = {}
    for n, t in sd.items():
        st = t.untyped_storage() if hasattr(t, "untyped_storage") else t.storage()
        groups.setdefault(st.data_ptr(), []).append(n)
    for names in groups.values():
        if len(names) > 1 and model._tied_weights_keys:
            found = 0
            for n in sorted(names):
                if any(n == k or n.endswith("." + k) for k in model._tied_weights_keys):
                    found += 1
                    if found < len(names):
                        del sd[n]
    return sd


def expected_names(kind, c):
    """{name: shape} that HF's from_pretrained needs from model.safetensors (tied weights excluded),
    and the tolerated legacy buffers."""
    m = MODEL[kind](c)
    sd = hf_save_state_dict(m)
    need = {n: list(t.shape) for n, t in sd.items() if not n.endswith("embeddings.position_ids")}
    legacy = {n: list(t.shape) for n, t in sd.items() if n.endswith("embeddings.position_ids")}
    return need, legacy


# ---------------------------------------------------------------- safetensors (as the Rust crate writes it)
ST_DTYPES = ["BOOL", "U8", "I8", "F8_E5M2", "F8_E4M3", "I16", "U16", "F16", "BF16",
             "I32", "U32", "F32", "F64", "I64", "U64"]  # safetensors::Dtype order (increasing alignment)
ST_SIZE = {"BOOL": 1, "U8": 1, "I8": 1, "F8_E5M2": 1, "F8_E4M3": 1, "I16": 2, "U16": 2, "F16": 2, "BF16": 2,
           "I32": 4, "U32": 4, "F32": 4, "F64": 8, "I64": 8, "U64": 8}
TORCH_TO_ST = {torch.float32: "F32", torch.float64: "F64", torch.float16: "F16", torch.bfloat16: "BF16",
               torch.int64: "I64", torch.int32: "I32", torch.int16: "I16", torch.int8: "I8", torch.uint8: "U8",
               torch.bool: "BOOL"}
ST_TO_TORCH = {v: k for k, v in TORCH_TO_ST.items()}


def tensor_bytes(t):
    t = t.detach().contiguous().cpu()
    if t.dtype == torch.float32:
        vals = t.view(-1).tolist()
        return struct.pack("<%df" % len(vals), *vals)
    if t.dtype == torch.int64:
        vals = t.view(-1).tolist()
        return struct.pack("<%dq" % len(vals), *vals)
    raise ValueError("unsupported dtype %s" % t.dtype)


def safetensors_bytes(tensors, metadata):
    """safetensors.torch.save_file: sort by dtype (descending alignment) then name; header = compact JSON,
    __metadata__ first, then the tensors in data order, each {dtype, shape, data_offsets}; spaces pad the
    header to a multiple of 8 bytes."""
    items = sorted(tensors.items(), key=lambda kv: (-ST_DTYPES.index(TORCH_TO_ST[kv[1].dtype]), kv[0].encode()))
    header = {"__metadata__": metadata} if metadata is not None else {}
    blobs, off = [], 0
    for n, t in items:
        b = tensor_bytes(t)
        header[n] = {"dtype": TORCH_TO_ST[t.dtype], "shape": list(t.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    hj = json.dumps(header, separators=(",", ":")).encode("utf-8")
    hj += b" " * ((8 - len(hj) % 8) % 8)
    return struct.pack("<Q", len(hj)) + hj + b"".join(blobs)


class CheckError(Exception):
    pass


def read_safetensors(path):
    """Strict reader: returns (metadata, {name: (dtype, shape, tensor)}) or raises CheckError."""
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError as e:
        raise CheckError("%s: cannot read: %s" % (path, e))
    if len(raw) < 8:
        raise CheckError("%s: shorter than 8 bytes" % path)
    n = struct.unpack("<Q", raw[:8])[0]
    if n > 100_000_000 or 8 + n > len(raw):
        raise CheckError("%s: header length %d does not fit in the file (%d bytes)" % (path, n, len(raw)))
    text = raw[8:8 + n]
    dups = []

    def pairs(kv):
        seen = {}
        for k, v in kv:
            if k in seen:
                dups.append(k)
            seen[k] = v
        return seen
    try:
        header = json.loads(text.decode("utf-8"), object_pairs_hook=pairs)
    except (UnicodeDecodeError, ValueError) as e:
        raise CheckError("%s: header is not UTF-8 JSON: %s" % (path, e))
    if not isinstance(header, dict):
        raise CheckError("%s: header is not a JSON object" % path)
    if dups:
        raise CheckError("%s: duplicate header keys: %s" % (path, ", ".join(sorted(set(dups)))))
    meta = header.pop("__metadata__", None)
    if meta is not None and (not isinstance(meta, dict) or not all(isinstance(v, str) for v in meta.values())):
        raise CheckError("%s: __metadata__ must map strings to strings" % path)
    base = 8 + n
    infos = []
    for name, h in header.items():
        if not isinstance(h, dict) or set(h) != {"dtype", "shape", "data_offsets"}:
            raise CheckError("%s: tensor %s: entry must have exactly dtype, shape, data_offsets" % (path, name))
        d, shp, offs = h["dtype"], h["shape"], h["data_offsets"]
        if d not in ST_SIZE:
            raise CheckError("%s: tensor %s: unknown dtype %r" % (path, name, d))
        if not (isinstance(shp, list) and all(isinstance(x, int) and x >= 0 for x in shp)):
            raise CheckError("%s: tensor %s: bad shape %r" % (path, name, shp))
        if not (isinstance(offs, list) and len(offs) == 2 and all(isinstance(x, int) for x in offs)):
            raise CheckError("%s: tensor %s: bad data_offsets %r" % (path, name, offs))
        if offs[1] - offs[0] != math.prod(shp) * ST_SIZE[d]:
            raise CheckError("%s: tensor %s: %d bytes for %s %s" % (path, name, offs[1] - offs[0], d, shp))
        infos.append((offs[0], offs[1], name, d, shp))
    infos.sort()
    pos = 0
    for b, e, name, _, _ in infos:
        if b != pos:
            raise CheckError("%s: tensor %s starts at %d, expected %d (holes or overlaps)" % (path, name, b, pos))
        pos = e
    if base + pos != len(raw):
        raise CheckError("%s: data ends at %d but the file has %d bytes" % (path, base + pos, len(raw)))
    out = {}
    for b, e, name, d, shp in infos:
        if d not in ST_TO_TORCH:
            raise CheckError("%s: tensor %s: dtype %s not readable here" % (path, name, d))
        buf = bytearray(raw[base + b:base + e])
        t = torch.frombuffer(buf, dtype=ST_TO_TORCH[d]) if buf else torch.empty(0, dtype=ST_TO_TORCH[d])
        out[name] = (d, shp, t.reshape(shp).clone())
    return meta, out


# ---------------------------------------------------------------- check
HF_CONFIG_KEYS = sorted(list(ELECTRA_DEFAULTS) + ["_name_or_path", "architectures", "model_type",
                                                  "torch_dtype", "transformers_version"])


def parse_rows(s, what):
    rows = []
    for part in s.split(";"):
        part = part.replace(",", " ").split()
        if not part:
            continue
        try:
            rows.append([int(x) for x in part])
        except ValueError:
            raise CheckError("%s: not a list of integers: %r" % (what, s))
    if not rows or len({len(r) for r in rows}) != 1:
        raise CheckError("%s: expected one or more sequences of the same length" % what)
    return rows


def load_checked(dir_, kind):
    """Validates DIR against HF's expectations; returns (Cfg, float64 model in eval mode, notes).
    Raises CheckError listing every difference."""
    errors, notes = [], []
    cpath, spath = os.path.join(dir_, "config.json"), os.path.join(dir_, "model.safetensors")
    if not os.path.isdir(dir_):
        raise CheckError("%s: not a directory" % dir_)
    try:
        with open(cpath, encoding="utf-8") as f:
            cd = json.load(f)
    except (OSError, ValueError) as e:
        raise CheckError("%s: %s" % (cpath, e))
    if not isinstance(cd, dict):
        raise CheckError("%s: not a JSON object" % cpath)
    if cd.get("model_type") != "electra":
        errors.append("config.json: model_type is %r, expected \"electra\"" % cd.get("model_type"))
    if cd.get("architectures") != [ARCH[kind]]:
        errors.append("config.json: architectures is %r, expected [%r]" % (cd.get("architectures"), ARCH[kind]))
    missing_keys = [k for k in HF_CONFIG_KEYS if k not in cd and k != "_name_or_path"]
    if missing_keys:
        notes.append("config.json lacks keys HF writes (HF uses ElectraConfig defaults): " + ", ".join(missing_keys))
    for k in ("vocab_size", "embedding_size", "hidden_size", "num_hidden_layers", "num_attention_heads",
              "intermediate_size", "max_position_embeddings", "type_vocab_size", "pad_token_id"):
        v = cd.get(k, ELECTRA_DEFAULTS[k])
        if not isinstance(v, int) or isinstance(v, bool) or v < (0 if k == "pad_token_id" else 1):
            errors.append("config.json: %s = %r is not a valid size" % (k, v))
    if errors:
        raise CheckError("\n".join(errors))
    c = Cfg(cd)
    if c.position_embedding_type != "absolute":
        errors.append("config.json: position_embedding_type %r not supported here" % c.position_embedding_type)
    if c.hidden_act not in ACT:
        errors.append("config.json: hidden_act %r not supported here (%s)" % (c.hidden_act, ", ".join(ACT)))
    if c.hidden_size % c.num_attention_heads:
        errors.append("config.json: hidden_size %d is not a multiple of num_attention_heads %d (HF raises)"
                      % (c.hidden_size, c.num_attention_heads))
    if not isinstance(c.layer_norm_eps, (int, float)) or c.layer_norm_eps <= 0:
        errors.append("config.json: layer_norm_eps %r" % c.layer_norm_eps)
    if cd.get("torch_dtype", "float32") != "float32":
        notes.append("config.json: torch_dtype is %r" % cd.get("torch_dtype"))
    if errors:
        raise CheckError("\n".join(errors))

    meta, tensors = read_safetensors(spath)
    if meta is None or meta.get("format") not in ("pt", "tf", "flax", "mlx"):
        errors.append("model.safetensors: __metadata__ %r lacks format pt (HF's load_state_dict refuses it)" % meta)
    need, legacy = expected_names(kind, c)
    missing = sorted(set(need) - set(tensors))
    unexpected = sorted(set(tensors) - set(need) - set(legacy))
    if missing:
        errors.append("missing tensors (%d): %s" % (len(missing), ", ".join(missing)))
    if unexpected:
        errors.append("unexpected tensors (%d): %s" % (len(unexpected), ", ".join(unexpected)))
    for n in sorted(set(need) & set(tensors)):
        d, shp, t = tensors[n]
        if shp != need[n]:
            errors.append("%s: shape %s, expected %s" % (n, shp, need[n]))
        if d not in ("F32", "F64", "F16", "BF16"):
            errors.append("%s: dtype %s, expected a float dtype (F32)" % (n, d))
        elif d != "F32":
            notes.append("%s: dtype %s (HF writes F32 here)" % (n, d))
        elif not bool(torch.isfinite(t).all()):
            errors.append("%s: non-finite values" % n)
    for n in sorted(set(legacy) & set(tensors)):
        d, shp, t = tensors[n]
        if shp != legacy[n] or d not in ("I64", "I32") or not torch.equal(t.long().view(-1),
                                                                          torch.arange(c.max_position_embeddings)):
            errors.append("%s: legacy buffer must be I64 arange of shape %s, got %s %s" % (n, legacy[n], d, shp))
        else:
            notes.append("%s: legacy buffer present (tolerated)" % n)
    if errors:
        raise CheckError("\n".join(errors))

    model = MODEL[kind](c).double().eval()
    sd = {n: tensors[n][2].to(torch.float64) for n in need}
    for n in legacy:
        sd[n] = torch.arange(c.max_position_embeddings).expand((1, -1))
    if kind == "generator" and c.tie_word_embeddings:
        sd["generator_lm_head.weight"] = sd["electra.embeddings.word_embeddings.weight"]
    res = model.load_state_dict(sd, strict=True)
    assert not res.missing_keys and not res.unexpected_keys
    return c, model, notes


def run_logits(c, model, ids, tt=None, mask=None):
    ids = torch.tensor(ids, dtype=torch.long)
    tt = torch.zeros_like(ids) if tt is None else torch.tensor(tt, dtype=torch.long)
    mask = torch.ones_like(ids) if mask is None else torch.tensor(mask, dtype=torch.long)
    if tt.shape != ids.shape or mask.shape != ids.shape:
        raise CheckError("token_type_ids / attention_mask must have the shape of ids %s" % list(ids.shape))
    if int(ids.min()) < 0 or int(ids.max()) >= c.vocab_size:
        raise CheckError("ids must be in [0, %d)" % c.vocab_size)
    if int(tt.min()) < 0 or int(tt.max()) >= c.type_vocab_size:
        raise CheckError("token_type_ids must be in [0, %d)" % c.type_vocab_size)
    if ids.shape[1] > c.max_position_embeddings:
        raise CheckError("sequence length %d > max_position_embeddings %d" % (ids.shape[1], c.max_position_embeddings))
    with torch.no_grad():
        return model(ids, tt, mask)


def cmd_check(argv):
    ap = argparse.ArgumentParser(prog="hf_fixture.py check")
    ap.add_argument("dir")
    ap.add_argument("--kind", choices=("discriminator", "generator"), default="discriminator")
    ap.add_argument("--ids", default="2 5 6 7 3")
    ap.add_argument("--token-type-ids", default=None)
    ap.add_argument("--attention-mask", default=None)
    a = ap.parse_args(argv)
    try:
        c, model, notes = load_checked(a.dir, a.kind)
        ids = parse_rows(a.ids, "--ids")
        tt = parse_rows(a.token_type_ids, "--token-type-ids") if a.token_type_ids else None
        mask = parse_rows(a.attention_mask, "--attention-mask") if a.attention_mask else None
        logits = run_logits(c, model, ids, tt, mask)
    except CheckError as e:
        print("hf_fixture check %s (%s): FAILED\n%s" % (a.dir, ARCH[a.kind], e), file=sys.stderr)
        return 1
    for n in notes:
        print("note: " + n, file=sys.stderr)
    print("hf_fixture check %s (%s): ok" % (a.dir, ARCH[a.kind]), file=sys.stderr)
    print(json.dumps({"logits": logits.tolist()}))
    return 0


# ---------------------------------------------------------------- write
WORDS = ("the cat sat on mat a dog ran to park big red ball and it was very fast slow green tree "
         "house bird sang song sun sky blue sea fish swam deep old man walked home road car drove "
         "down hill small boy girl ate apple cake milk drank water cold hot day night moon star "
         "bright pen cup").split()


def vocab_text():
    toks = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + WORDS[:V - 5]
    assert len(toks) == V and len(set(toks)) == V
    return "".join(t + "\n" for t in toks)


def init_model(model, g):
    """N(0, 0.2^2) matrices/embeddings, 0.1 N(0,1) biases and LayerNorm biases, 1 + 0.1 N(0,1) LayerNorm
    weights; drawn in float64, rounded to float32, in named_parameters() order."""
    with torch.no_grad():
        for n, p in model.named_parameters():
            z = torch.randn(p.shape, generator=g, dtype=torch.float64)
            if n.endswith("LayerNorm.weight"):
                x = 1.0 + 0.1 * z
            elif n.endswith("bias"):
                x = 0.1 * z
            else:
                x = 0.2 * z
            p.copy_(x.to(torch.float32))


def build_models():
    g = torch.Generator().manual_seed(SEED)
    dcfg, gcfg = hf_config_dict("discriminator", DISC), hf_config_dict("generator", GEN)
    disc = ElectraForPreTraining(Cfg(dcfg))
    gen = ElectraForMaskedLM(Cfg(gcfg))
    init_model(disc, g)
    init_model(gen, g)
    with torch.no_grad():  # ELECTRA shares the embedding block between the two models
        for n, p in disc.electra.embeddings.named_parameters():
            dict(gen.electra.embeddings.named_parameters())[n].copy_(p)
    assert gen.generator_lm_head.weight is gen.electra.embeddings.word_embeddings.weight
    return (dcfg, disc), (gcfg, gen)


def make_inputs():
    g = torch.Generator().manual_seed(SEED + 1)

    def words(k):
        return torch.randint(5, V, (k,), generator=g).tolist()
    MASK, CLS, SEP, PAD = 4, 2, 3, 0
    w0, w1 = words(7), words(5)
    row0 = [CLS] + w0[:3] + [SEP] + w0[3:5] + [MASK] + w0[5:6] + [SEP]
    row1 = [CLS] + w1[:2] + [MASK] + w1[2:4] + [SEP] + [PAD] * 3
    tt = [[0] * 5 + [1] * 5, [0] * 10]
    mask = [[1] * 10, [1] * 7 + [0] * 3]
    return [row0, row1], tt, mask


def round9(x):
    if isinstance(x, list):
        return [round9(v) for v in x]
    return float("%.9g" % x)


def dump(x, ind=0):
    """JSON with the innermost lists on one line."""
    if isinstance(x, list) and x and isinstance(x[0], list):
        pad = " " * (ind + 2)
        return "[\n" + ",\n".join(pad + dump(v, ind + 2) for v in x) + "\n" + " " * ind + "]"
    return json.dumps(x)


def generate():
    """All fixture files as {relative path: bytes}."""
    (dcfg, disc), (gcfg, gen) = build_models()
    files = {}
    for kind, cfg, m in (("discriminator", dcfg, disc), ("generator", gcfg, gen)):
        files[kind + "/config.json"] = config_json_text(cfg).encode("utf-8")
        files[kind + "/model.safetensors"] = safetensors_bytes(hf_save_state_dict(m), {"format": "pt"})
        files[kind + "/vocab.txt"] = vocab_text().encode("utf-8")
    ids, tt, mask = make_inputs()
    out = {}
    for kind, m in (("discriminator", disc), ("generator", gen)):
        m64 = copy.deepcopy(m).double().eval()
        with torch.no_grad():
            out[kind] = m64(torch.tensor(ids), torch.tensor(tt), torch.tensor(mask))
    exp = [("ids", ids), ("token_type_ids", tt), ("attention_mask", mask),
           ("discriminator_logits", round9(out["discriminator"].tolist())),
           ("generator_logits", round9(out["generator"].tolist()))]
    files["expected.json"] = ("{\n" + ",\n".join('  "%s": %s' % (k, dump(v, 2)) for k, v in exp) + "\n}\n").encode()
    return files, out, (disc, gen)


def independent_forward(dir_kind_tensors, kind, cfgd, ids, tt, mask):
    """The same logits from gen_golden.py's transformer (float64, torch primitives, names-based)."""
    sys.path.insert(0, HERE)
    import gen_golden as gg
    assert gg.LN_EPS == cfgd["layer_norm_eps"]
    P = {n: t.to(torch.float64) for n, (_, _, t) in dir_kind_tensors.items()}
    H = cfgd["hidden_size"]
    if "electra.embeddings_project.weight" not in P:  # E == H: identity projection
        P["electra.embeddings_project.weight"] = torch.eye(H, dtype=torch.float64)
        P["electra.embeddings_project.bias"] = torch.zeros(H, dtype=torch.float64)
    h = gg.transformer(P, "", cfgd, torch.tensor(ids), torch.tensor(tt), torch.tensor(mask))
    if kind == "discriminator":
        return gg.linear(gg.gelu(gg.linear(h, P, "discriminator_predictions.dense")), P,
                         "discriminator_predictions.dense_prediction").squeeze(-1)
    h = gg.gelu(gg.linear(h, P, "generator_predictions.dense"))
    h = gg.layer_norm(h, P["generator_predictions.LayerNorm.weight"], P["generator_predictions.LayerNorm.bias"])
    return h @ P["electra.embeddings.word_embeddings.weight"].t() + P["generator_lm_head.bias"]


def expect_fail(dir_, kind, needle):
    try:
        load_checked(dir_, kind)
    except CheckError as e:
        assert needle in str(e), (needle, str(e))
        return
    raise AssertionError("check accepted a broken directory (%s)" % needle)


def negative_cases(src):
    """`check` must reject broken directories."""
    with tempfile.TemporaryDirectory() as tmp:
        def clone(kind, mutate_sd=None, mutate_cfg=None, meta={"format": "pt"}):
            d = os.path.join(tmp, "x")
            os.makedirs(d, exist_ok=True)
            with open(os.path.join(src, kind, "config.json")) as f:
                cd = json.load(f)
            if mutate_cfg:
                mutate_cfg(cd)
            with open(os.path.join(d, "config.json"), "w") as f:
                f.write(config_json_text(cd))
            _, ts = read_safetensors(os.path.join(src, kind, "model.safetensors"))
            sd = {n: t for n, (_, _, t) in ts.items()}
            if mutate_sd:
                mutate_sd(sd)
            with open(os.path.join(d, "model.safetensors"), "wb") as f:
                f.write(safetensors_bytes(sd, meta))
            return d
        W = "electra.embeddings.word_embeddings.weight"
        expect_fail(clone("discriminator", lambda sd: sd.pop("electra.encoder.layer.1.output.dense.bias")),
                    "discriminator", "missing tensors (1): electra.encoder.layer.1.output.dense.bias")
        expect_fail(clone("discriminator", lambda sd: sd.update({"generator.foo": sd[W]})),
                    "discriminator", "unexpected tensors (1): generator.foo")
        expect_fail(clone("generator", lambda sd: sd.update({"generator_lm_head.weight": sd[W].clone()})),
                    "generator", "unexpected tensors (1): generator_lm_head.weight")
        expect_fail(clone("generator", mutate_cfg=lambda cd: cd.update(tie_word_embeddings=False)),
                    "generator", "missing tensors (1): generator_lm_head.weight")
        expect_fail(clone("discriminator", lambda sd: sd.update({W: sd[W][:, :8].contiguous()})),
                    "discriminator", W + ": shape [64, 8], expected [64, 16]")
        expect_fail(clone("discriminator", lambda sd: sd.update(
            {"electra.embeddings.position_ids": torch.zeros(1, MAX_POS, dtype=torch.long)})),
            "discriminator", "legacy buffer")
        expect_fail(clone("discriminator", mutate_cfg=lambda cd: cd.update(embedding_size=12)),
                    "discriminator", "shape")
        expect_fail(clone("discriminator", mutate_cfg=lambda cd: cd.pop("embedding_size")),
                    "discriminator", "expected [128]")
        expect_fail(clone("discriminator", mutate_cfg=lambda cd: cd.update(architectures=["ElectraModel"])),
                    "discriminator", "architectures")
        expect_fail(clone("discriminator", mutate_cfg=lambda cd: cd.update(model_type="bert")),
                    "discriminator", "model_type")
        expect_fail(clone("discriminator"), "generator", "architectures")
        expect_fail(clone("discriminator", meta=None), "discriminator", "lacks format pt")
        d = clone("discriminator", lambda sd: sd.pop("electra.embeddings.position_ids"))
        load_checked(d, "discriminator")  # what transformers >= 4.31 writes: accepted
        with open(os.path.join(d, "model.safetensors"), "ab") as f:
            f.write(b"\0" * 4)
        expect_fail(d, "discriminator", "data ends at")
    return 13


def cmd_write(argv):
    files, out, (disc, gen) = generate()
    files2, _, _ = generate()
    assert files == files2, "generation is not deterministic"
    for rel, data in files.items():
        p = os.path.join(OUT_DIR, rel)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "wb") as f:
            f.write(data)
    total = sum(len(b) for b in files.values())
    for rel in sorted(files):
        print("wrote %-40s %7d bytes" % (os.path.relpath(os.path.join(OUT_DIR, rel), REPO), len(files[rel])))
    print("total %d bytes" % total)

    # ---- verification
    with open(os.path.join(OUT_DIR, "expected.json")) as f:
        exp = json.load(f)
    ids, tt, mask = exp["ids"], exp["token_type_ids"], exp["attention_mask"]
    for kind, key in (("discriminator", "discriminator_logits"), ("generator", "generator_logits")):
        d = os.path.join(OUT_DIR, kind)
        c, model, notes = load_checked(d, kind)
        assert notes == ["electra.embeddings.position_ids: legacy buffer present (tolerated)"], notes
        got = run_logits(c, model, ids, tt, mask)
        ref = torch.tensor(exp[key], dtype=torch.float64)
        assert got.shape == ref.shape, (got.shape, ref.shape)
        rel = float(((got - ref).abs() / ref.abs().clamp(min=1e-6)).max())
        assert rel < 1e-8, rel
        with open(os.path.join(d, "config.json")) as f:
            cd = json.load(f)
        assert sorted(cd) == HF_CONFIG_KEYS, sorted(set(cd) ^ set(HF_CONFIG_KEYS))
        _, ts = read_safetensors(os.path.join(d, "model.safetensors"))
        indep = independent_forward(ts, kind, cd, ids, tt, mask)
        dind = float((indep - got).abs().max())
        assert dind < 1e-10, dind
        # the loaded float64 model equals the in-memory one (float32 round trip exact)
        src = disc if kind == "discriminator" else gen
        for n, t in src.state_dict().items():
            assert torch.equal(t.to(model.state_dict()[n].dtype), model.state_dict()[n]), n
        print("%s: check ok; %d tensors; logits %s vs expected.json rel %.1e; vs gen_golden.py's forward %.1e"
              % (kind, len(ts), list(got.shape), rel, dind))
    dl = [float(x) for r in exp["discriminator_logits"] for x in r]
    print("discriminator logits range [%.3f, %.3f]; generator logits range [%.3f, %.3f]"
          % (min(dl), max(dl), float(out["generator"].min()), float(out["generator"].max())))
    print("negative cases rejected: %d" % negative_cases(OUT_DIR))
    assert total < 200_000, total
    return 0


def main(argv):
    if not argv or argv[0] == "write":
        return cmd_write(argv[1:])
    if argv[0] == "check":
        return cmd_check(argv[1:])
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
