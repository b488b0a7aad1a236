#!/usr/bin/python3
"""Golden vectors for the electra C++ engine.

An independent float64 PyTorch reference of one ELECTRA pre-training step
(generator MLM + replaced-token-detection discriminator, shared embeddings,
tied generator output matrix), 10 steps of ELECTRA's AdamWeightDecayOptimizer
with warm-up/linear decay and global-norm clipping, and three fine-tuning
heads. Written from torch primitives only (no transformers).

Run with Debian's interpreter (torch 1.13):
    /usr/bin/python3 native/test/golden/gen_golden.py
Writes native/test/golden/electra_tiny.safetensors next to this script.
See README.md in this directory for the file layout and the exact semantics.
"""

import json
import math
import os
import struct
import sys

import torch

torch.set_num_threads(1)
torch.use_deterministic_algorithms(True)
DT = torch.float64

# ---------------------------------------------------------------- settings
PAD, UNK, CLS, SEP, MASK = 0, 1, 2, 3, 4
V = 40
E = 12
B, T, N = 2, 12, 3
MAX_POS = 16
TYPE_VOCAB = 2
LN_EPS = 1e-12
GEN_W, DISC_W = 1.0, 50.0
TEMPERATURE = 1.0
STEPS = 10
PEAK_LR = 5e-3  # gentle enough that fp32 rounding does not grow chaotically over 10 steps
WARMUP = 3
BETA1, BETA2, ADAM_EPS, WD = 0.9, 0.999, 1e-6, 0.01
CLIP = 1.0
MASK_NEG = torch.finfo(torch.float64).min  # added to scores of padding keys

DISC = dict(hidden_size=16, num_hidden_layers=2, num_attention_heads=2, intermediate_size=32)
GEN = dict(hidden_size=8, num_hidden_layers=2, num_attention_heads=2, intermediate_size=16)

# seeds (the search below starts here and stops at the first acceptable one)
DATA_SEED = 1234
PARAM_SEED = 4321
NOISE_SEED_BASE = 777
HEAD_SEED = 2468
MIN_SAMPLE_MARGIN = 1e-2  # top-1 vs top-2 gap of (logit + gumbel) at every step

HERE = os.path.dirname(os.path.abspath(__file__))
OUT_PATH = os.path.join(HERE, "electra_tiny.safetensors")


def hf_config(c):
    return {
        "vocab_size": V,
        "embedding_size": E,
        "hidden_size": c["hidden_size"],
        "num_hidden_layers": c["num_hidden_layers"],
        "num_attention_heads": c["num_attention_heads"],
        "intermediate_size": c["intermediate_size"],
        "hidden_act": "gelu",
        "hidden_dropout_prob": 0.0,
        "attention_probs_dropout_prob": 0.0,
        "max_position_embeddings": MAX_POS,
        "type_vocab_size": TYPE_VOCAB,
        "layer_norm_eps": LN_EPS,
    }


# ---------------------------------------------------------------- parameters
def encoder_shapes(prefix, cfg):
    H, F = cfg["hidden_size"], cfg["intermediate_size"]
    s = [(prefix + "electra.embeddings_project.weight", (H, E)),
         (prefix + "electra.embeddings_project.bias", (H,))]
    for i in range(cfg["num_hidden_layers"]):
        p = prefix + "electra.encoder.layer.%d." % i
        for n in ("query", "key", "value"):
            s.append((p + "attention.self.%s.weight" % n, (H, H)))
            s.append((p + "attention.self.%s.bias" % n, (H,)))
        s += [(p + "attention.output.dense.weight", (H, H)),
              (p + "attention.output.dense.bias", (H,)),
              (p + "attention.output.LayerNorm.weight", (H,)),
              (p + "attention.output.LayerNorm.bias", (H,)),
              (p + "intermediate.dense.weight", (F, H)),
              (p + "intermediate.dense.bias", (F,)),
              (p + "output.dense.weight", (H, F)),
              (p + "output.dense.bias", (H,)),
              (p + "output.LayerNorm.weight", (H,)),
              (p + "output.LayerNorm.bias", (H,))]
    return s


def all_param_shapes():
    s = [("electra.embeddings.word_embeddings.weight", (V, E)),
         ("electra.embeddings.position_embeddings.weight", (MAX_POS, E)),
         ("electra.embeddings.token_type_embeddings.weight", (TYPE_VOCAB, E)),
         ("electra.embeddings.LayerNorm.weight", (E,)),
         ("electra.embeddings.LayerNorm.bias", (E,))]
    H = DISC["hidden_size"]
    s += encoder_shapes("", DISC)
    s += [("discriminator_predictions.dense.weight", (H, H)),
          ("discriminator_predictions.dense.bias", (H,)),
          ("discriminator_predictions.dense_prediction.weight", (1, H)),
          ("discriminator_predictions.dense_prediction.bias", (1,))]
    Hg = GEN["hidden_size"]
    s += encoder_shapes("generator.", GEN)
    s += [("generator.generator_predictions.dense.weight", (E, Hg)),
          ("generator.generator_predictions.dense.bias", (E,)),
          ("generator.generator_predictions.LayerNorm.weight", (E,)),
          ("generator.generator_predictions.LayerNorm.bias", (E,)),
          ("generator.generator_lm_head.bias", (V,))]
    return s


def init_param(name, shape, gen):
    """Draw in float64, round to float32, return float64 of that float32 value."""
    z = torch.randn(shape, generator=gen, dtype=DT)
    if name.endswith("LayerNorm.weight"):
        x = 1.0 + 0.1 * z
    elif name.endswith("LayerNorm.bias") or name.endswith("bias"):
        x = 0.1 * z
    elif name.endswith("word_embeddings.weight"):
        x = 0.5 * z
    else:
        x = 0.2 * z
    return x.to(torch.float32).to(DT)


def make_params(seed, shapes):
    g = torch.Generator().manual_seed(seed)
    return {n: init_param(n, sh, g) for n, sh in shapes}


# ---------------------------------------------------------------- model
def gelu(x):
    return 0.5 * x * (1.0 + torch.erf(x / math.sqrt(2.0)))


def layer_norm(x, w, b):
    mu = x.mean(-1, keepdim=True)
    var = ((x - mu) ** 2).mean(-1, keepdim=True)
    return (x - mu) / torch.sqrt(var + LN_EPS) * w + b


def linear(x, P, name):
    return x @ P[name + ".weight"].t() + P[name + ".bias"]


def transformer(P, prefix, cfg, ids, tt, mask):
    """Embeddings (shared, no prefix) + projection + encoder (prefix)."""
    ids, tt = ids.long(), tt.long()
    Bn, Tn = ids.shape
    x = (P["electra.embeddings.word_embeddings.weight"][ids]
         + P["electra.embeddings.position_embeddings.weight"][:Tn].unsqueeze(0)
         + P["electra.embeddings.token_type_embeddings.weight"][tt])
    x = layer_norm(x, P["electra.embeddings.LayerNorm.weight"], P["electra.embeddings.LayerNorm.bias"])
    x = linear(x, P, prefix + "electra.embeddings_project")
    H, NH = cfg["hidden_size"], cfg["num_attention_heads"]
    HS = H // NH
    # (B,1,1,T): 0 for real keys, huge negative for padding keys
    # (float64 run: MASK_NEG == finfo(float64).min; the float32 cross-check uses finfo(float32).min)
    neg = MASK_NEG if x.dtype == torch.float64 else torch.finfo(x.dtype).min
    add_mask = (1.0 - mask.to(x.dtype)).view(Bn, 1, 1, Tn) * neg
    for i in range(cfg["num_hidden_layers"]):
        p = prefix + "electra.encoder.layer.%d." % i

        def heads(t):
            return t.view(Bn, Tn, NH, HS).permute(0, 2, 1, 3)
        q = heads(linear(x, P, p + "attention.self.query"))
        k = heads(linear(x, P, p + "attention.self.key"))
        v = heads(linear(x, P, p + "attention.self.value"))
        scores = q @ k.transpose(-1, -2) / math.sqrt(HS) + add_mask
        probs = torch.softmax(scores, dim=-1)
        ctx = (probs @ v).permute(0, 2, 1, 3).reshape(Bn, Tn, H)
        a = linear(ctx, P, p + "attention.output.dense")
        x1 = layer_norm(a + x, P[p + "attention.output.LayerNorm.weight"], P[p + "attention.output.LayerNorm.bias"])
        f = gelu(linear(x1, P, p + "intermediate.dense"))
        o = linear(f, P, p + "output.dense")
        x = layer_norm(o + x1, P[p + "output.LayerNorm.weight"], P[p + "output.LayerNorm.bias"])
    return x


def generator_logits(P, data):
    h = transformer(P, "generator.", GEN, data["gen_input_ids"], data["token_type_ids"], data["attention_mask"])
    pos = data["mlm_positions"].long()
    h = torch.gather(h, 1, pos.unsqueeze(-1).expand(-1, -1, h.shape[-1]))  # (B,N,Hg)
    h = gelu(linear(h, P, "generator.generator_predictions.dense"))
    h = layer_norm(h, P["generator.generator_predictions.LayerNorm.weight"],
                   P["generator.generator_predictions.LayerNorm.bias"])
    return h @ P["electra.embeddings.word_embeddings.weight"].t() + P["generator.generator_lm_head.bias"]


def generator_loss(gen_logits, data):
    w = data["mlm_weights"]
    lp = torch.log_softmax(gen_logits, dim=-1)
    nll = -torch.gather(lp, -1, data["mlm_ids"].long().unsqueeze(-1)).squeeze(-1)
    return (w * nll).sum() / (1e-6 + w.sum())


def gumbel_sample(gen_logits, u):
    g = -torch.log(-torch.log(u + 1e-9) + 1e-9)
    z = gen_logits.detach() / TEMPERATURE + g
    top2 = torch.topk(z, 2, dim=-1).values
    margin = (top2[..., 0] - top2[..., 1]).min().item()
    return torch.argmax(z, dim=-1), margin


def corrupt(data, sampled):
    ids = data["input_ids"].clone().long()
    pos = data["mlm_positions"].long()
    w = data["mlm_weights"]
    for b in range(ids.shape[0]):
        for n in range(pos.shape[1]):
            if w[b, n] == 1.0:
                ids[b, pos[b, n]] = sampled[b, n]
    labels = (ids != data["input_ids"].long()).long()
    return ids, labels


def discriminator_logits(P, disc_input, data):
    h = transformer(P, "", DISC, disc_input, data["token_type_ids"], data["attention_mask"])
    h = gelu(linear(h, P, "discriminator_predictions.dense"))
    return linear(h, P, "discriminator_predictions.dense_prediction").squeeze(-1)


def discriminator_loss(disc_logits, labels, data):
    m = data["attention_mask"].to(disc_logits.dtype)
    y = labels.to(disc_logits.dtype)
    # numerically stable BCE with logits: max(x,0) - x*y + log(1+exp(-|x|))
    x = disc_logits
    bce = torch.clamp(x, min=0) - x * y + torch.log1p(torch.exp(-torch.abs(x)))
    return (m * bce).sum() / (1e-6 + m.sum())


def total_loss_fixed(P, data, disc_input, labels):
    gl = generator_logits(P, data)
    gloss = generator_loss(gl, data)
    dl = discriminator_logits(P, disc_input, data)
    dloss = discriminator_loss(dl, labels, data)
    return GEN_W * gloss + DISC_W * dloss, gloss, dloss, gl, dl


def pretrain_step(P, data, u):
    """Forward + backward of one ELECTRA step. Returns dict of results."""
    Pg = {k: v.detach().clone().requires_grad_(True) for k, v in P.items()}
    gl = generator_logits(Pg, data)
    gloss = generator_loss(gl, data)
    sampled, margin = gumbel_sample(gl, u)
    disc_input, labels = corrupt(data, sampled)
    dl = discriminator_logits(Pg, disc_input, data)
    dloss = discriminator_loss(dl, labels, data)
    loss = GEN_W * gloss + DISC_W * dloss
    loss.backward()
    grads = {k: v.grad.detach().clone() if v.grad is not None else torch.zeros_like(v) for k, v in Pg.items()}
    return dict(loss=loss.detach(), gen_loss=gloss.detach(), disc_loss=dloss.detach(),
                gen_logits=gl.detach(), disc_logits=dl.detach(), sampled=sampled,
                disc_input=disc_input, labels=labels, grads=grads, margin=margin)


def lr_at(s):
    return PEAK_LR * min(1.0, s / WARMUP) * (1.0 - s / STEPS)


def adam_update(P, grads, m, v, lr):
    gnorm = math.sqrt(sum(float((g * g).sum()) for g in grads.values()))
    scale = CLIP / max(gnorm, CLIP)
    for k in P:
        g = grads[k] * scale
        m[k] = BETA1 * m[k] + (1.0 - BETA1) * g
        v[k] = BETA2 * v[k] + (1.0 - BETA2) * g * g
        upd = m[k] / (torch.sqrt(v[k]) + ADAM_EPS)
        if "LayerNorm" not in k and "bias" not in k:
            upd = upd + WD * P[k]
        P[k] = P[k] - lr * upd
    return gnorm


# ---------------------------------------------------------------- data
def make_data(seed):
    g = torch.Generator().manual_seed(seed)

    def rid(n):
        return torch.randint(5, V, (n,), generator=g).tolist()
    row0 = [CLS] + rid(4) + [SEP] + rid(5) + [SEP]
    tt0 = [0] * 6 + [1] * 6
    row1 = [CLS] + rid(3) + [SEP] + rid(3) + [SEP] + [PAD] * 3
    tt1 = [0] * 5 + [1] * 4 + [0] * 3
    m1 = [1] * 9 + [0] * 3
    ids = torch.tensor([row0, row1], dtype=torch.int32)
    tt = torch.tensor([tt0, tt1], dtype=torch.int32)
    mask = torch.tensor([[1] * 12, m1], dtype=torch.int32)

    cand0 = [1, 2, 3, 4, 6, 7, 8, 9, 10]
    cand1 = [1, 2, 3, 5, 6, 7]
    p0 = sorted(cand0[i] for i in torch.randperm(len(cand0), generator=g)[:3].tolist())
    p1 = sorted(cand1[i] for i in torch.randperm(len(cand1), generator=g)[:2].tolist())
    pos = torch.tensor([p0, p1 + [0]], dtype=torch.int32)
    w = torch.tensor([[1.0, 1.0, 1.0], [1.0, 1.0, 0.0]], dtype=DT)
    mlm_ids = torch.tensor([[row0[p] for p in p0], [row1[p] for p in p1] + [0]], dtype=torch.int32)
    keep = int(torch.randint(0, 3, (1,), generator=g).item())  # row-0 slot left unchanged
    gen_ids = ids.clone()
    for n, p in enumerate(p0):
        if n != keep:
            gen_ids[0, p] = MASK
    for p in p1:
        gen_ids[1, p] = MASK
    return dict(input_ids=ids, token_type_ids=tt, attention_mask=mask, gen_input_ids=gen_ids,
                mlm_positions=pos, mlm_ids=mlm_ids, mlm_weights=w, keep_slot=keep)


def make_noise(seed):
    g = torch.Generator().manual_seed(seed)
    u32 = torch.rand((STEPS, B, N, V), generator=g, dtype=torch.float32)
    return u32


# ---------------------------------------------------------------- fine-tuning heads
def encoder_param_names(names):
    return [n for n in names if n.startswith("electra.")]


def ft_head_shapes(kind):
    H = DISC["hidden_size"]
    if kind == "cls_electra":
        return [("classifier.out_proj.weight", (3, H)), ("classifier.out_proj.bias", (3,))]
    if kind == "cls_hf":
        return [("classifier.dense.weight", (H, H)), ("classifier.dense.bias", (H,)),
                ("classifier.out_proj.weight", (3, H)), ("classifier.out_proj.bias", (3,))]
    if kind == "reg_electra":
        return [("classifier.out_proj.weight", (1, H)), ("classifier.out_proj.bias", (1,))]
    raise ValueError(kind)


def ft_forward(P, kind, data, labels):
    h = transformer(P, "", DISC, data["input_ids"].long(), data["token_type_ids"], data["attention_mask"])
    c = h[:, 0, :]
    if kind == "cls_hf":
        c = gelu(linear(c, P, "classifier.dense"))
    logits = linear(c, P, "classifier.out_proj")
    if kind == "reg_electra":
        loss = ((logits.squeeze(-1) - labels) ** 2).mean()
    else:
        lp = torch.log_softmax(logits, dim=-1)
        loss = -torch.gather(lp, -1, labels.long().unsqueeze(-1)).squeeze(-1).mean()
    return logits, loss


# ---------------------------------------------------------------- safetensors
def pack(t, dtype):
    flat = t.detach().contiguous().view(-1).tolist()
    if dtype == "F64":
        return struct.pack("<%dd" % len(flat), *[float(x) for x in flat])
    if dtype == "F32":
        return struct.pack("<%df" % len(flat), *[float(x) for x in flat])
    if dtype == "I32":
        return struct.pack("<%di" % len(flat), *[int(x) for x in flat])
    raise ValueError(dtype)


def write_safetensors(path, entries, metadata):
    header, blobs, off = {}, [], 0
    for name, t, dtype in entries:
        data = pack(t, dtype)
        shape = list(t.shape) if t.dim() > 0 else [1]
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [off, off + len(data)]}
        blobs.append(data)
        off += len(data)
    header["__metadata__"] = metadata
    hj = json.dumps(header, separators=(",", ":")).encode("utf-8")
    pad = (8 - (8 + len(hj)) % 8) % 8
    hj += b" " * pad
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(hj)))
        f.write(hj)
        for d in blobs:
            f.write(d)
    return 8 + len(hj) + off


def read_safetensors(path):
    with open(path, "rb") as f:
        raw = f.read()
    n = struct.unpack("<Q", raw[:8])[0]
    assert (8 + n) % 8 == 0
    header = json.loads(raw[8:8 + n].decode("utf-8"))
    meta = header.pop("__metadata__")
    base = 8 + n
    out, ends = {}, []
    fmt = {"F64": "d", "F32": "f", "I32": "i"}
    size = {"F64": 8, "F32": 4, "I32": 4}
    for name, h in header.items():
        b, e = h["data_offsets"]
        ends.append((b, e))
        cnt = (e - b) // size[h["dtype"]]
        assert cnt == math.prod(h["shape"]), name
        vals = struct.unpack("<%d%s" % (cnt, fmt[h["dtype"]]), raw[base + b:base + e])
        out[name] = (h["dtype"], h["shape"], vals)
    ends.sort()
    pos = 0
    for b, e in ends:  # contiguous, no holes
        assert b == pos
        pos = e
    assert base + pos == len(raw)
    return out, meta


# ---------------------------------------------------------------- checks
def fd_check(f, P, names, rng, per_tensor=4, h=1e-3):
    """4th-order central finite differences of scalar f(P) vs autograd for a few entries:
    f'(x) ~ (-f(x+2h) + 8 f(x+h) - 8 f(x-h) + f(x-2h)) / (12 h)."""
    Pg = {k: v.detach().clone().requires_grad_(True) for k, v in P.items()}
    f(Pg).backward()
    worst_rel, worst_abs = 0.0, 0.0
    for name in names:
        ag = Pg[name].grad
        flat = ag.view(-1)
        nel = flat.numel()
        # largest-magnitude entry plus random ones
        idx = [int(flat.abs().argmax())] + torch.randint(0, nel, (per_tensor - 1,), generator=rng).tolist()
        for i in idx:
            def at(d):
                Q = {k: v.detach().clone() for k, v in P.items()}
                Q[name].view(-1)[i] += d
                with torch.no_grad():
                    return float(f(Q))
            fd = (-at(2 * h) + 8 * at(h) - 8 * at(-h) + at(-2 * h)) / (12 * h)
            a = float(flat[i])
            err = abs(fd - a)
            rel = err / max(abs(fd), abs(a), 1e-3)
            worst_rel = max(worst_rel, rel)
            worst_abs = max(worst_abs, err)
    return worst_rel, worst_abs


# ---------------------------------------------------------------- main
def run_training(P0, data, noise, dtype=DT):
    data = dict(data, mlm_weights=data["mlm_weights"].to(dtype))
    P = {k: v.clone().to(dtype) for k, v in P0.items()}
    m = {k: torch.zeros_like(v) for k, v in P.items()}
    v = {k: torch.zeros_like(x) for k, x in P.items()}
    losses, sampled, gnorms, lrs, margins, step0 = [], [], [], [], [], None
    for s in range(STEPS):
        r = pretrain_step(P, data, noise[s].to(dtype))
        if s == 0:
            step0 = r
        lr = lr_at(s)
        gn = adam_update(P, r["grads"], m, v, lr)
        losses.append([float(r["loss"]), float(r["gen_loss"]), float(r["disc_loss"])])
        sampled.append(r["sampled"])
        gnorms.append(gn)
        lrs.append(lr)
        margins.append(r["margin"])
    return dict(P=P, losses=losses, sampled=sampled, gnorms=gnorms, lrs=lrs, margins=margins, step0=step0)


def main():
    print("torch", torch.__version__)
    shapes = all_param_shapes()
    names = [n for n, _ in shapes]

    # seed search: deterministic, first acceptable candidate wins
    for attempt in range(100):
        data = make_data(DATA_SEED + attempt)
        P0 = make_params(PARAM_SEED + attempt, shapes)
        noise = make_noise(NOISE_SEED_BASE + attempt)
        tr = run_training(P0, data, noise)
        lab = tr["step0"]["labels"]
        ok = (int(lab.sum()) > 0 and int(lab.sum()) < int(data["attention_mask"].sum())
              and min(tr["margins"]) > MIN_SAMPLE_MARGIN
              and all(math.isfinite(x) for row in tr["losses"] for x in row)
              and 0.1 < tr["losses"][0][1] < 20 and 0.05 < tr["losses"][0][2] < 5)
        print("attempt %d: step0 labels sum %d, min sampling margin %.4g -> %s"
              % (attempt, int(lab.sum()), min(tr["margins"]), "ok" if ok else "reject"))
        if ok:
            break
    else:
        sys.exit("no acceptable seed")
    data["mlm_weights32"] = data["mlm_weights"].to(torch.float32)
    s0 = tr["step0"]

    print("input_ids    ", data["input_ids"].tolist())
    print("gen_input_ids", data["gen_input_ids"].tolist())
    print("mlm_positions", data["mlm_positions"].tolist(), "mlm_ids", data["mlm_ids"].tolist(),
          "kept slot (row 0)", data["keep_slot"])
    print("step0 sampled", s0["sampled"].tolist(), "disc_labels", s0["labels"].tolist())
    print("step0: loss %.12f gen %.12f disc %.12f" % (float(s0["loss"]), float(s0["gen_loss"]), float(s0["disc_loss"])))
    for s in range(STEPS):
        l = tr["losses"][s]
        print("step %d: lr %.6f loss %.10f gen %.10f disc %.10f grad_norm %.8f sampled %s margin %.4f"
              % (s, tr["lrs"][s], l[0], l[1], l[2], tr["gnorms"][s], tr["sampled"][s].tolist(), tr["margins"][s]))

    # ---- float32 cross-check: the same 10 steps in float32 (what the C++ engine does);
    # tells how far an fp32 implementation drifts and whether its sampling can diverge
    tr32 = run_training(P0, data, noise, dtype=torch.float32)
    same = all(torch.equal(a, b) for a, b in zip(tr["sampled"], tr32["sampled"]))
    dl = max(abs(a - b) for r1, r2 in zip(tr["losses"], tr32["losses"]) for a, b in zip(r1, r2))
    dp = max(float((tr["P"][k] - tr32["P"][k].to(DT)).abs().max()) for k in names)
    dg = max(float((s0["grads"][k] - tr32["step0"]["grads"][k].to(DT)).abs().max()) for k in names)
    print("float32 re-run: sampled ids identical over 10 steps: %s; max |loss diff| %.3e; "
          "max |step-0 grad diff| %.3e; max |final param diff| %.3e" % (same, dl, dg, dp))
    assert same

    # ---- fine-tuning heads (initial encoder params)
    enc_names = encoder_param_names(names)
    hg = torch.Generator().manual_seed(HEAD_SEED)
    ft = {}
    for kind in ("cls_electra", "cls_hf", "reg_electra"):
        hshapes = ft_head_shapes(kind)
        HP = {n: init_param(n, sh, hg) for n, sh in hshapes}
        if kind == "reg_electra":
            labels = torch.tensor([3.25, 0.5], dtype=torch.float32)
            lab64 = labels.to(DT)
        else:
            labels = torch.tensor([2, 0], dtype=torch.int32)
            lab64 = labels
        Pall = {n: P0[n].clone().requires_grad_(True) for n in enc_names}
        Pall.update({n: v.clone().requires_grad_(True) for n, v in HP.items()})
        logits, loss = ft_forward(Pall, kind, data, lab64)
        loss.backward()
        grads = {n: Pall[n].grad.detach().clone() for n in list(enc_names) + [n for n, _ in hshapes]}
        ft[kind] = dict(HP=HP, hnames=[n for n, _ in hshapes], labels=labels, lab64=lab64,
                        logits=logits.detach(), loss=loss.detach(), grads=grads)
        print("%-12s loss %.12f logits %s" % (kind, float(loss), [[round(x, 6) for x in r] for r in logits.tolist()]))

    # ---- finite-difference checks (float64)
    rng = torch.Generator().manual_seed(99)
    di, dlab = s0["disc_input"], s0["labels"]

    def f_pre(P):
        return total_loss_fixed(P, data, di, dlab)[0]
    check_names = ["electra.embeddings.word_embeddings.weight",
                   "electra.embeddings.position_embeddings.weight",
                   "electra.embeddings.token_type_embeddings.weight",
                   "electra.embeddings.LayerNorm.weight",
                   "electra.embeddings_project.weight",
                   "electra.encoder.layer.0.attention.self.query.weight",
                   "electra.encoder.layer.1.attention.self.key.bias",
                   "electra.encoder.layer.0.intermediate.dense.weight",
                   "electra.encoder.layer.1.output.LayerNorm.bias",
                   "discriminator_predictions.dense.weight",
                   "discriminator_predictions.dense_prediction.bias",
                   "generator.electra.embeddings_project.bias",
                   "generator.electra.encoder.layer.1.attention.self.value.weight",
                   "generator.electra.encoder.layer.0.output.dense.weight",
                   "generator.generator_predictions.dense.weight",
                   "generator.generator_predictions.LayerNorm.weight",
                   "generator.generator_lm_head.bias"]
    # autograd in fd_check must agree with the stored step-0 grads
    Pg = {k: v.detach().clone().requires_grad_(True) for k, v in P0.items()}
    f_pre(Pg).backward()
    dmax = max(float((Pg[k].grad - s0["grads"][k]).abs().max()) for k in names)
    assert dmax < 1e-12, dmax
    rel, ab = fd_check(f_pre, P0, check_names, rng)
    print("finite-difference check, pre-training loss: max rel err %.3e, max abs err %.3e (%d tensors)"
          % (rel, ab, len(check_names)))
    worst = rel
    for kind, r in ft.items():
        base = {n: P0[n] for n in enc_names}
        base.update(r["HP"])

        def f_ft(P, kind=kind, lab=r["lab64"]):
            return ft_forward(P, kind, data, lab)[1]
        cn = ["electra.embeddings.word_embeddings.weight", "electra.embeddings.LayerNorm.bias",
              "electra.encoder.layer.0.attention.output.dense.weight",
              "electra.encoder.layer.1.intermediate.dense.bias"] + r["hnames"]
        rel2, ab2 = fd_check(f_ft, base, cn, rng)
        worst = max(worst, rel2)
        print("finite-difference check, %-12s: max rel err %.3e, max abs err %.3e" % (kind, rel2, ab2))
    assert worst < 1e-6, worst

    # ---- write
    entries = []
    for n in names:
        entries.append(("param/" + n, P0[n].to(torch.float32), "F32"))
    entries += [("input/input_ids", data["input_ids"], "I32"),
                ("input/token_type_ids", data["token_type_ids"], "I32"),
                ("input/attention_mask", data["attention_mask"], "I32"),
                ("input/gen_input_ids", data["gen_input_ids"], "I32"),
                ("input/mlm_positions", data["mlm_positions"], "I32"),
                ("input/mlm_ids", data["mlm_ids"], "I32"),
                ("input/mlm_weights", data["mlm_weights32"], "F32"),
                ("input/gumbel_u", noise, "F32"),
                ("out/gen_logits", s0["gen_logits"], "F64"),
                ("out/disc_logits", s0["disc_logits"], "F64"),
                ("out/gen_loss", s0["gen_loss"].view(1), "F64"),
                ("out/disc_loss", s0["disc_loss"].view(1), "F64"),
                ("out/loss", s0["loss"].view(1), "F64"),
                ("out/sampled_ids", s0["sampled"], "I32"),
                ("out/disc_labels", s0["labels"], "I32")]
    for n in names:
        entries.append(("grad/" + n, s0["grads"][n], "F64"))
    entries += [("train/loss", torch.tensor(tr["losses"], dtype=DT), "F64"),
                ("train/sampled_ids", torch.stack(tr["sampled"]), "I32"),
                ("train/grad_norm", torch.tensor(tr["gnorms"], dtype=DT), "F64"),
                ("train/lr", torch.tensor(tr["lrs"], dtype=DT), "F64")]
    for n in names:
        entries.append(("final/" + n, tr["P"][n], "F64"))
    for kind, r in ft.items():
        for n in r["hnames"]:
            entries.append(("%s/param/%s" % (kind, n), r["HP"][n].to(torch.float32), "F32"))
        if kind == "reg_electra":
            entries.append(("%s/targets" % kind, r["labels"], "F32"))
        else:
            entries.append(("%s/labels" % kind, r["labels"], "I32"))
        entries.append(("%s/logits" % kind, r["logits"], "F64"))
        entries.append(("%s/loss" % kind, r["loss"].view(1), "F64"))
        for n in enc_names + r["hnames"]:
            entries.append(("%s/grad/%s" % (kind, n), r["grads"][n], "F64"))

    config = {
        "discriminator": hf_config(DISC),
        "generator": hf_config(GEN),
        "batch_size": B, "seq_len": T, "max_predictions_per_seq": N,
        "special_ids": {"[PAD]": PAD, "[UNK]": UNK, "[CLS]": CLS, "[SEP]": SEP, "[MASK]": MASK},
        "gen_weight": GEN_W, "disc_weight": DISC_W,
        "optimizer": {"name": "AdamWeightDecayOptimizer", "learning_rate": PEAK_LR,
                      "num_warmup_steps": WARMUP, "num_train_steps": STEPS, "lr_decay_power": 1.0,
                      "beta_1": BETA1, "beta_2": BETA2, "epsilon": ADAM_EPS,
                      "weight_decay_rate": WD, "exclude_from_weight_decay": ["LayerNorm", "bias"],
                      "clip_norm": CLIP, "bias_correction": False},
        "temperature": TEMPERATURE, "gumbel_eps": 1e-9, "loss_denominator_eps": 1e-6,
        "attention_mask_value": "float64 min added to padding-key scores",
        "seeds": {"data": DATA_SEED + attempt, "params": PARAM_SEED + attempt,
                  "noise": NOISE_SEED_BASE + attempt, "heads": HEAD_SEED},
    }
    meta = {"format": "electra-golden", "version": "1", "torch_version": torch.__version__,
            "config": json.dumps(config, sort_keys=True)}
    size = write_safetensors(OUT_PATH, entries, meta)

    # ---- round trip
    back, meta2 = read_safetensors(OUT_PATH)
    assert meta2 == meta
    assert list(back.keys()) == [e[0] for e in entries]
    for name, t, dtype in entries:
        d, shp, vals = back[name]
        assert d == dtype and shp == (list(t.shape) if t.dim() else [1])
        ref = t.detach().contiguous().view(-1).tolist()
        if dtype == "F32":
            ref = struct.unpack("<%df" % len(ref), struct.pack("<%df" % len(ref), *ref))
        assert list(vals) == list(ref), name
    print("wrote %s: %d tensors, %d bytes" % (OUT_PATH, len(entries), size))


if __name__ == "__main__":
    main()
