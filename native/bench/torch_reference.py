#!/usr/bin/python3
"""PyTorch reference for `npm run bench`: ELECTRA-Small pre-training, fine-tuning and inference steps.

Our own nn.Module ELECTRA written from torch primitives (no Hugging Face `transformers`), the same
architecture as native/test/golden/gen_golden.py: one embedding block shared by generator and
discriminator, embeddings_project, post-LN encoder, exact-erf GELU, generator MLM head tied to the
word embeddings, discriminator head; dropout 0.1. It measures speed only; it is not a correctness
oracle (gen_golden.py is) and not part of any test.

Run with Debian's interpreter (torch 1.13; pyenv's python3 has no torch):
    /usr/bin/python3 native/bench/torch_reference.py [--steps 3] [--warmup 1]
        [--only pretrain_step,finetune_step,inference] [--dtypes fp32,bf16] [--threads 1,2] [--no-peak]
        [--budget-s 30]
    /usr/bin/python3 native/bench/torch_reference.py --check
    /usr/bin/python3 native/bench/torch_reference.py --gemm-shapes 4096,256,768;608,128,30522
Prints one JSON line per (workload, dtype, threads[, OpenMP wait policy]), each measured in a fresh process (the script
re-invokes itself with --one workload,dtype,threads) so that peak_rss_mb is that workload's own,
plus one `gemm_peak` line per dtype (single-thread library GEMM, the measured per-core peak).
Timing: `--warmup` untimed steps, then the median of `--steps` timed steps, fewer (at least one) once
`--budget-s` seconds of timed steps have passed; "steps" in the line says how many were timed. On two idle
cores the whole run takes about 3 minutes. Unless OMP_WAIT_POLICY is set, each multi-thread measurement
runs twice, with OpenMP's waiting threads sleeping (PASSIVE) and spinning (ACTIVE, abandoned past twice
PASSIVE's time): spinning is faster on idle cores and crawls whenever anything else runs.

bf16: torch.autocast("cpu", bfloat16) around forward and loss; LayerNorm runs in fp32 on fp32
inputs (torch 1.13's CPU autocast would otherwise feed it bf16), losses are computed on fp32 logits.
Parameters, gradients and AdamW state stay fp32.

Dimensions: B batch, T sequence length, N masked slots per sequence, C hidden size, E embedding
size, V vocabulary, L layers, NH heads, HS head size, F feed-forward size.

Matrix-product FLOPs (matmul_flops below; 2 FLOPs per multiply-add, per token = per B*T):
  encoder of (L, C, F) on E-wide embeddings, forward, per token:
      embeddings_project 2*E*C
    + L * ( Q,K,V 3*2*C*C + attention output 2*C*C + FFN 2*2*C*F
            + scores Q K^T 2*T*C + probs V 2*T*C )                  (summed over heads: NH*HS = C)
  discriminator head, per token:          dense 2*C*C + dense_prediction 2*C
  generator MLM head, per masked slot:    dense 2*Cg*E + tied output 2*E*V      (N/T slots per token)
  classifier head, per sequence:          2*C*labels                             (1/T per token)
  backward = 2 x forward (dX and dW of every product; every product's inputs need gradients,
  the first one's too since the embeddings train), so a training step = 3 x forward.
ELECTRA-Small, B=32, T=128, N=19: discriminator forward 20.64 MFLOP/token, generator forward
2.75 MFLOP/token (1.16 of it the tied V=30522 output on 19/128 of the tokens);
pre-training step 3 x 23.40 = 70.2 MFLOP/token; fine-tuning step 61.5; inference 20.6.
`--check` counts the products that actually run (aten mm/addmm/bmm, forward and backward, through a
dispatch mode) and compares them with this formula.
"""

import argparse
import json
import math
import os
import resource
import signal
import statistics
import subprocess
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as Fn

# ---------------------------------------------------------------- settings
# ELECTRA-Small (src/config/presets.ts; Clark et al., 2020, Table 6) and BERT's uncased vocabulary.
DISC = dict(hidden_size=256, num_hidden_layers=12, num_attention_heads=4, intermediate_size=1024)
GEN = dict(hidden_size=64, num_hidden_layers=12, num_attention_heads=1, intermediate_size=256)
V, E, MAX_POS, TYPE_VOCAB = 30522, 128, 512, 2
LN_EPS = 1e-12
DROPOUT = 0.1
PAD, UNK, CLS, SEP, MASK = 0, 100, 101, 102, 103
MASK_PROB = 0.15
GEN_W, DISC_W, TEMPERATURE = 1.0, 50.0, 1.0
LR, WD, ADAM_EPS, CLIP = 5e-4, 0.01, 1e-6, 1.0
FT_LABELS = 2
B, T = 32, 128
WORKLOADS = ("pretrain_step", "finetune_step", "inference")
DEADLINE_RC = 3  # exit status of a --one measurement that ran past --deadline-s


def max_predictions(T):
    """ELECTRA's max_predictions_per_seq: int((mask_prob + 0.005) * T) (19 for T=128)."""
    return int((MASK_PROB + 0.005) * T)


# ---------------------------------------------------------------- FLOPs
def encoder_flops_per_token(cfg, T):
    C, Fd, L = cfg["hidden_size"], cfg["intermediate_size"], cfg["num_hidden_layers"]
    layer = 3 * 2 * C * C + 2 * C * C + 2 * 2 * C * Fd + 2 * T * C + 2 * T * C
    return 2 * E * C + L * layer


def matmul_flops(workload, T, N=None):
    """Matrix-product FLOPs of one step, per token (see the module docstring)."""
    N = max_predictions(T) if N is None else N
    C, Cg = DISC["hidden_size"], GEN["hidden_size"]
    disc_fwd = encoder_flops_per_token(DISC, T) + 2 * C * C + 2 * C
    if workload == "inference":
        return disc_fwd
    if workload == "finetune_step":
        return 3 * (encoder_flops_per_token(DISC, T) + 2 * C * FT_LABELS / T)
    if workload == "predict":  # classifier forward (GLUE evaluation)
        return encoder_flops_per_token(DISC, T) + 2 * C * FT_LABELS / T
    if workload == "pretrain_step":
        gen_fwd = encoder_flops_per_token(GEN, T) + (2 * Cg * E + 2 * E * V) * N / T
        return 3 * (disc_fwd + gen_fwd)
    raise ValueError(workload)


# ---------------------------------------------------------------- model
class LayerNorm(nn.LayerNorm):
    """LayerNorm in fp32 on fp32 inputs, also under bf16 autocast."""

    def forward(self, x):
        with torch.autocast("cpu", enabled=False):
            return Fn.layer_norm(x.float(), self.normalized_shape, self.weight, self.bias, self.eps)


class Embeddings(nn.Module):
    """Word + position + token-type embeddings, LayerNorm, dropout: (B, T) ids -> (B, T, E)."""

    def __init__(self):
        super().__init__()
        self.word = nn.Embedding(V, E)
        self.position = nn.Embedding(MAX_POS, E)
        self.token_type = nn.Embedding(TYPE_VOCAB, E)
        self.ln = LayerNorm(E, eps=LN_EPS)
        self.drop = nn.Dropout(DROPOUT)

    def forward(self, ids, tt):
        x = self.word(ids) + self.position.weight[: ids.shape[1]].unsqueeze(0) + self.token_type(tt)
        return self.drop(self.ln(x))


class Layer(nn.Module):
    """One post-LN transformer layer: x = LN(x + attn(x)); x = LN(x + ffn(x))."""

    def __init__(self, C, NH, Fd):
        super().__init__()
        self.NH, self.HS = NH, C // NH
        self.query, self.key, self.value = nn.Linear(C, C), nn.Linear(C, C), nn.Linear(C, C)
        self.attn_out = nn.Linear(C, C)
        self.ln1 = LayerNorm(C, eps=LN_EPS)
        self.inter = nn.Linear(C, Fd)
        self.out = nn.Linear(Fd, C)
        self.ln2 = LayerNorm(C, eps=LN_EPS)
        self.drop = nn.Dropout(DROPOUT)

    def forward(self, x, add_mask):
        Bn, Tn, C = x.shape

        def heads(t):
            return t.view(Bn, Tn, self.NH, self.HS).transpose(1, 2)  # (B, NH, T, HS)
        q, k, v = heads(self.query(x)), heads(self.key(x)), heads(self.value(x))
        scores = torch.matmul(q, k.transpose(-1, -2)) * (1.0 / math.sqrt(self.HS))
        probs = self.drop(torch.softmax(scores + add_mask.to(scores.dtype), dim=-1))
        ctx = torch.matmul(probs, v).transpose(1, 2).reshape(Bn, Tn, C)
        x = self.ln1(x + self.drop(self.attn_out(ctx)))
        return self.ln2(x + self.drop(self.out(Fn.gelu(self.inter(x)))))  # Fn.gelu: exact erf


class Encoder(nn.Module):
    """embeddings_project + L layers: (B, T, E) -> (B, T, C)."""

    def __init__(self, cfg):
        super().__init__()
        C = cfg["hidden_size"]
        self.project = nn.Linear(E, C)
        self.layers = nn.ModuleList(Layer(C, cfg["num_attention_heads"], cfg["intermediate_size"])
                                    for _ in range(cfg["num_hidden_layers"]))

    def forward(self, emb, mask):
        # (B, 1, 1, T): 0 for real keys, a large negative number for padding keys
        add_mask = (1.0 - mask[:, None, None, :].float()) * -10000.0
        x = self.project(emb)
        for layer in self.layers:
            x = layer(x, add_mask)
        return x


class Electra(nn.Module):
    """Generator and discriminator sharing one embedding block; the MLM output is tied to it."""

    def __init__(self):
        super().__init__()
        self.emb = Embeddings()
        self.disc = Encoder(DISC)
        self.disc_dense = nn.Linear(DISC["hidden_size"], DISC["hidden_size"])
        self.disc_pred = nn.Linear(DISC["hidden_size"], 1)
        self.gen = Encoder(GEN)
        self.gen_dense = nn.Linear(GEN["hidden_size"], E)
        self.gen_ln = LayerNorm(E, eps=LN_EPS)
        self.gen_bias = nn.Parameter(torch.zeros(V))

    def discriminator_logits(self, ids, tt, mask):
        h = self.disc(self.emb(ids, tt), mask)
        return self.disc_pred(Fn.gelu(self.disc_dense(h))).squeeze(-1)  # (B, T)

    def generator_logits(self, ids, tt, mask, positions):
        h = self.gen(self.emb(ids, tt), mask)
        h = torch.gather(h, 1, positions.unsqueeze(-1).expand(-1, -1, h.shape[-1]))  # (B, N, Cg)
        h = self.gen_ln(Fn.gelu(self.gen_dense(h)))
        return Fn.linear(h, self.emb.word.weight, self.gen_bias)  # (B, N, V)


class Classifier(nn.Module):
    """Discriminator encoder + dropout + linear on [CLS] (ELECTRA's fine-tuning head)."""

    def __init__(self):
        super().__init__()
        self.emb = Embeddings()
        self.disc = Encoder(DISC)
        self.drop = nn.Dropout(DROPOUT)
        self.out = nn.Linear(DISC["hidden_size"], FT_LABELS)

    def forward(self, ids, tt, mask):
        return self.out(self.drop(self.disc(self.emb(ids, tt), mask)[:, 0]))


def init_weights(model):
    for name, p in model.named_parameters():
        if isinstance(p, nn.Parameter) and p.dim() > 1:
            nn.init.normal_(p, std=0.02)
        elif "ln" in name and name.endswith("weight"):
            nn.init.ones_(p)
        else:
            nn.init.zeros_(p)


def adamw(model):
    """AdamW with ELECTRA's weight decay 0.01 (not on LayerNorm and biases) and epsilon 1e-6."""
    decay = [p for n, p in model.named_parameters() if p.dim() > 1]
    no_decay = [p for n, p in model.named_parameters() if p.dim() <= 1]
    return torch.optim.AdamW([{"params": decay, "weight_decay": WD}, {"params": no_decay, "weight_decay": 0.0}],
                             lr=LR, eps=ADAM_EPS)


# ---------------------------------------------------------------- data
def random_batch(Bn, Tn, gen):
    """Random packed sequences [CLS] A [SEP] B [SEP], every position a token (as src/bench/workloads.ts)."""
    ids = torch.randint(1000, V, (Bn, Tn), generator=gen)
    split = 1 + Tn // 2
    ids[:, 0], ids[:, split], ids[:, -1] = CLS, SEP, SEP
    tt = (torch.arange(Tn) > split).long().expand(Bn, Tn).contiguous()
    mask = torch.ones(Bn, Tn, dtype=torch.long)
    return ids, tt, mask


def electra_mask(ids, mask, N):
    """ELECTRA's masking: per sequence n = max(1, min(N, round(tokens * 0.15))) distinct positions
    among tokens other than [CLS]/[SEP]/[MASK], uniformly drawn; each becomes [MASK] with
    probability 0.85, else stays. Returns generator input, positions (B, N), ids (B, N), weights (B, N)."""
    cand = (mask == 1) & (ids != CLS) & (ids != SEP) & (ids != MASK)
    n = torch.clamp(torch.round(mask.sum(1).float() * MASK_PROB), 1, N)
    n = torch.minimum(n, cand.sum(1).float())
    score = torch.rand(ids.shape).masked_fill(~cand, -1.0)
    top = torch.topk(score, N, dim=1).indices  # candidates in a uniformly random order
    slot = torch.arange(N).unsqueeze(0)
    weights = (slot < n.unsqueeze(1)).float()
    Tn = ids.shape[1]
    positions = torch.where(weights > 0, top, torch.full_like(top, Tn)).sort(dim=1).values  # first n, sorted
    positions = torch.where(positions < Tn, positions, torch.zeros_like(positions))  # unused slots: 0, weight 0
    mlm_ids = torch.gather(ids, 1, positions)
    replace = (torch.rand(positions.shape) < 0.85) & (weights > 0)
    gen_ids = ids.clone()
    gen_ids.scatter_(1, positions, torch.where(replace, torch.full_like(mlm_ids, MASK), mlm_ids))
    return gen_ids, positions, mlm_ids, weights


# ---------------------------------------------------------------- steps
def update(model, opt, loss):
    """One optimizer step: gradients of `loss`, clipped to CLIP, AdamW."""
    opt.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), CLIP)
    opt.step()


def autocast(dtype):
    return torch.autocast("cpu", dtype=torch.bfloat16, enabled=(dtype == "bf16"))


def make_pretrain_step(dtype, Bn=B, Tn=T):
    model = Electra()
    init_weights(model)
    model.train()
    opt = adamw(model)
    gen = torch.Generator().manual_seed(1)
    ids, tt, mask = random_batch(Bn, Tn, gen)
    N = max_predictions(Tn)

    def step():
        gen_ids, positions, mlm_ids, w = electra_mask(ids, mask, N)
        with autocast(dtype):
            gl = model.generator_logits(gen_ids, tt, mask, positions).float()
            nll = Fn.cross_entropy(gl.view(-1, V), mlm_ids.view(-1), reduction="none").view_as(w)
            gen_loss = (w * nll).sum() / (1e-6 + w.sum())
            # Gumbel-max sampling from the generator, on detached logits
            u = torch.rand(gl.shape)
            sampled = torch.argmax(gl.detach() / TEMPERATURE - torch.log(-torch.log(u + 1e-9) + 1e-9), dim=-1)
            disc_ids = ids.clone()
            disc_ids.scatter_(1, positions, torch.where(w > 0, sampled, mlm_ids))
            labels = (disc_ids != ids).float()
            dl = model.discriminator_logits(disc_ids, tt, mask).float()
            m = mask.float()
            bce = Fn.binary_cross_entropy_with_logits(dl, labels, reduction="none")
            disc_loss = (m * bce).sum() / (1e-6 + m.sum())
            loss = GEN_W * gen_loss + DISC_W * disc_loss
        update(model, opt, loss)
        return [float(loss), float(gen_loss), float(disc_loss)]
    return step


def make_finetune_step(dtype, Bn=B, Tn=T):
    model = Classifier()
    init_weights(model)
    model.train()
    opt = adamw(model)
    gen = torch.Generator().manual_seed(1)
    ids, tt, mask = random_batch(Bn, Tn, gen)
    labels = torch.arange(Bn) % FT_LABELS

    def step():
        with autocast(dtype):
            loss = Fn.cross_entropy(model(ids, tt, mask).float(), labels)
        update(model, opt, loss)
        return [float(loss)]
    return step


def make_inference(dtype, Bn=B, Tn=T):
    model = Electra()
    init_weights(model)
    model.eval()
    gen = torch.Generator().manual_seed(1)
    ids, tt, mask = random_batch(Bn, Tn, gen)

    def step():
        with torch.inference_mode(), autocast(dtype):
            logits = model.discriminator_logits(ids, tt, mask).float()
        return [float(logits.abs().mean())]
    return step


MAKERS = {"pretrain_step": make_pretrain_step, "finetune_step": make_finetune_step, "inference": make_inference}
GLUE_WORKLOADS = ("sst2_finetune", "sst2_eval")


def length_batch(lens, gen):
    """Single-sentence batch [CLS] x .. x [SEP] + padding, padded to its longest member (as
    src/bench/workloads.ts lengthBatch): ids, token types, attention mask."""
    Tn = max(lens)
    ids = torch.zeros(len(lens), Tn, dtype=torch.long)
    mask = torch.zeros(len(lens), Tn, dtype=torch.long)
    for b, n in enumerate(lens):
        ids[b, :n] = torch.randint(1000, V, (n,), generator=gen)
        ids[b, 0], ids[b, n - 1] = CLS, SEP
        mask[b, :n] = 1
    return ids, torch.zeros_like(ids), mask


def make_glue(workload, dtype, shapes):
    """sst2_finetune: one fine-tuning step per training batch of `shapes`; sst2_eval: predictions for
    the whole dev set. One call of the returned function is one whole pass."""
    model = Classifier()
    init_weights(model)
    opt = adamw(model)
    gen = torch.Generator().manual_seed(1)
    batches = [length_batch(lens, gen) for lens in shapes["train" if workload == "sst2_finetune" else "eval"]]

    def step():
        out = []
        for ids, tt, mask in batches:
            if workload == "sst2_finetune":
                model.train()
                with autocast(dtype):
                    loss = Fn.cross_entropy(model(ids, tt, mask).float(), torch.arange(ids.shape[0]) % FT_LABELS)
                update(model, opt, loss)
                out.append(float(loss))
            else:
                model.eval()
                with torch.inference_mode(), autocast(dtype):
                    out.append(float(model(ids, tt, mask).float().abs().mean()))
        return out
    return step, batches


# ---------------------------------------------------------------- measuring
def time_steps(step, steps, warmup, budget_s, what):
    """`warmup` untimed calls, then up to `steps` timed ones (at least one; none more once `budget_s`
    seconds have passed). Returns the times; stops on a non-finite output."""
    for _ in range(warmup):
        step()
    times = []
    while len(times) < steps and (not times or sum(times) < budget_s):
        t0 = time.perf_counter()
        out = step()
        times.append(time.perf_counter() - t0)
    if not all(math.isfinite(x) for x in out):
        raise SystemExit("%s: non-finite output %s" % (what, out))
    return times


def run_one(workload, dtype, threads, steps, warmup, budget_s, shapes=None):
    torch.set_num_threads(threads)
    torch.manual_seed(1)
    if workload in GLUE_WORKLOADS:
        return run_glue(workload, dtype, threads, steps, warmup, budget_s, shapes)
    step = MAKERS[workload](dtype)
    times = time_steps(step, steps, warmup, budget_s, "%s %s" % (workload, dtype))
    step_s = statistics.median(times)
    flops = matmul_flops(workload, T)
    tps = B * T / step_s
    return {"bench": workload, "impl": "pytorch", "model": "electra-small", "batch": B, "seq": T,
            "dtype": dtype, "threads": torch.get_num_threads(), "tokens_per_s": round(tps),
            "step_ms": round(step_s * 1000), "steps": len(times),
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
            "gflops": round(flops * tps / 1e9, 1), "flops_per_token": round(flops),
            "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY", "default").lower(), "torch": torch.__version__}


def run_glue(workload, dtype, threads, steps, warmup, budget_s, shapes):
    """A GLUE workload on SST-2's shapes (src/bench/glue.ts): tokens/s counts real tokens only; each
    timed step is one whole pass over the batches (median of `steps`)."""
    step, batches = make_glue(workload, dtype, shapes)
    times = time_steps(step, steps, warmup, budget_s, "%s %s" % (workload, dtype))
    pass_s = statistics.median(times)
    tokens = sum(int(m.sum()) for _, _, m in batches)
    examples = sum(ids.shape[0] for ids, _, _ in batches)
    fw = "finetune_step" if workload == "sst2_finetune" else "predict"
    flops = sum(matmul_flops(fw, ids.shape[1]) * ids.numel() for ids, _, _ in batches)
    return {"bench": workload, "impl": "pytorch", "model": "electra-small", "batch": batches[0][0].shape[0],
            "seq": shapes["maxSeqLength"], "dtype": dtype, "threads": torch.get_num_threads(),
            "tokens_per_s": round(tokens / pass_s), "examples_per_s": round(examples / pass_s, 1),
            "step_ms": round(pass_s * 1000 / len(batches)), "steps": len(times), "padding": "dynamic",
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
            "gflops": round(flops / pass_s / 1e9, 1), "flops_per_token": round(flops / tokens),
            "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY", "default").lower(), "torch": torch.__version__}


def gemm_peak(dtype, threads):
    """Best single-call GEMM rate of the library torch uses (OpenBLAS for fp32, oneDNN for bf16)."""
    torch.set_num_threads(threads)
    best = 0.0
    tdt = torch.bfloat16 if dtype == "bf16" else torch.float32
    for n in (512, 1024, 2048):
        a, b = torch.randn(n, n).to(tdt), torch.randn(n, n).to(tdt)
        torch.mm(a, b)
        reps = max(1, int(4e9 / (2 * n ** 3)))
        for _ in range(3):
            t0 = time.perf_counter()
            for _ in range(reps):
                torch.mm(a, b)
            best = max(best, 2 * n ** 3 * reps / (time.perf_counter() - t0) / 1e9)
    return {"bench": "gemm_peak", "impl": "pytorch", "dtype": dtype, "threads": threads,
            "gflops": round(best, 1), "what": "best of square torch.mm, n in 512..2048",
            "torch": torch.__version__}


def gemm_shapes(shapes, reps=5):
    """torch.mm on linear-layer shapes, out (M, N) = x (M, K) @ W (N, K)^T, one thread, fp32 (OpenBLAS)
    and bf16 (oneDNN): the best of `reps` calls each, as native/bench/bench_gemm.cpp times ours."""
    torch.set_num_threads(1)
    lines = []
    for m, k, n in shapes:
        x, w = torch.randn(m, k), torch.randn(n, k)
        for dtype in ("fp32", "bf16"):
            a, b = (x, w) if dtype == "fp32" else (x.bfloat16(), w.bfloat16())
            torch.mm(a, b.t())
            best = 1e30
            for _ in range(reps):
                t0 = time.perf_counter()
                torch.mm(a, b.t())
                best = min(best, time.perf_counter() - t0)
            lines.append({"bench": "gemm_shape", "impl": "pytorch", "m": m, "k": k, "n": n, "dtype": dtype,
                          "threads": 1, "gflops": round(2 * m * k * n / best / 1e9, 1),
                          "library": "OpenBLAS" if dtype == "fp32" else "oneDNN", "torch": torch.__version__})
    return lines


# ---------------------------------------------------------------- --check
def count_matmul_flops(fn):
    """Run fn() and count the FLOPs of the aten matrix products it dispatches, backward included."""
    from torch.utils._python_dispatch import TorchDispatchMode
    aten = torch.ops.aten
    total = [0]
    by_dtype = {}

    class Count(TorchDispatchMode):
        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            out = func(*args, **(kwargs or {}))
            p = func.overloadpacket
            before = total[0]
            if p in (aten.mm, aten.addmm):
                a, b = (args[1], args[2]) if p is aten.addmm else (args[0], args[1])
                total[0] += 2 * a.shape[0] * a.shape[1] * b.shape[1]
            elif p in (aten.bmm, aten.baddbmm):
                a, b = (args[1], args[2]) if p is aten.baddbmm else (args[0], args[1])
                total[0] += 2 * a.shape[0] * a.shape[1] * a.shape[2] * b.shape[2]
            elif p is aten.linear:  # (..., K) x (M, K)^T, dispatched whole under inference_mode
                a, w = args[0], args[1]
                total[0] += 2 * a.numel() * w.shape[0]
            elif p is aten.matmul and args[0].dim() >= 2 and args[1].dim() >= 2:  # (..., n, k) x (..., k, m)
                a, b = args[0], args[1]
                batch = torch.broadcast_shapes(a.shape[:-2], b.shape[:-2])
                total[0] += 2 * math.prod(batch) * a.shape[-2] * a.shape[-1] * b.shape[-1]
            elif p in (aten.matmul, aten.addbmm, aten.dot, aten.mv):
                raise RuntimeError("uncounted product %s" % func)
            if total[0] != before:
                d = str(args[1].dtype if p in (aten.addmm, aten.baddbmm) else args[0].dtype).replace("torch.", "")
                by_dtype[d] = by_dtype.get(d, 0) + total[0] - before
            return out
    with Count():
        fn()
    return total[0], by_dtype


def check():
    torch.set_num_threads(1)
    torch.manual_seed(1)
    Bn, Tn = 2, 128
    ok = True
    for workload in WORKLOADS:
        for dtype in ("fp32", "bf16"):
            step = MAKERS[workload](dtype, Bn, Tn)
            out = step()  # a first step, so AdamW's state exists before counting
            counted, by_dtype = count_matmul_flops(lambda: out.extend(step()))
            counted /= Bn * Tn
            formula = matmul_flops(workload, Tn)
            rel = abs(counted - formula) / formula
            finite = all(math.isfinite(x) for x in out)
            # every product runs in the mode's precision (bf16: autocast reached all of them)
            want = "bfloat16" if dtype == "bf16" else "float32"
            share = by_dtype.get(want, 0) / max(sum(by_dtype.values()), 1)
            good = rel < 1e-3 and finite and share == 1.0
            ok &= good
            print("%-14s %-4s counted %.4f MFLOP/token (%.0f%% in %s), formula %.4f (rel diff %.1e), outputs %s: %s"
                  % (workload, dtype, counted / 1e6, 100 * share, want, formula / 1e6, rel,
                     [round(x, 4) for x in out], "ok" if good else "FAIL"))
    print("ELECTRA-Small at B=%d T=%d N=%d: pretrain_step %.2f MFLOP/token (the project's issue: ~70), "
          "finetune_step %.2f, inference %.2f" % (B, T, max_predictions(T), matmul_flops("pretrain_step", T) / 1e6,
                                                  matmul_flops("finetune_step", T) / 1e6, matmul_flops("inference", T) / 1e6))
    ok &= 60e6 < matmul_flops("pretrain_step", T) < 80e6
    return 0 if ok else 1


# ---------------------------------------------------------------- main
def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--steps", type=int, default=3, help="timed steps per measurement (median)")
    ap.add_argument("--warmup", type=int, default=1, help="untimed steps first")
    ap.add_argument("--budget-s", type=float, default=30.0,
                    help="stop timing a measurement after this many seconds (at least one timed step)")
    ap.add_argument("--only", default=",".join(WORKLOADS))
    ap.add_argument("--dtypes", default="fp32,bf16")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--no-peak", action="store_true", help="skip the GEMM peak probe")
    ap.add_argument("--one", help="workload,dtype,threads: measure one, in this process")
    ap.add_argument("--deadline-s", type=float, help="with --one: give up (exit %d) after this many seconds" % DEADLINE_RC)
    ap.add_argument("--check", action="store_true", help="verify the FLOP formula and that losses are finite")
    ap.add_argument("--shapes", help="JSON batch shapes for sst2_finetune / sst2_eval (src/bench/glue.ts)")
    ap.add_argument("--gemm-shapes", help="M,K,N;M,K,N;...: time only torch.mm on these linear-layer shapes")
    a = ap.parse_args()
    if a.gemm_shapes:
        for line in gemm_shapes([tuple(int(v) for v in t.split(",")) for t in a.gemm_shapes.split(";")]):
            print(json.dumps(line), flush=True)
        return 0
    shapes = None
    if a.shapes:
        with open(a.shapes) as f:
            shapes = json.load(f)
    if a.check:
        return check()
    if a.one:
        if a.deadline_s:
            def give_up(*_):
                sys.exit(DEADLINE_RC)
            signal.signal(signal.SIGALRM, give_up)
            signal.setitimer(signal.ITIMER_REAL, a.deadline_s)
        w, d, n = a.one.split(",")
        if w == "gemm_peak":
            line = gemm_peak(d, int(n))
        else:
            line = run_one(w, d, int(n), a.steps, a.warmup, a.budget_s, shapes)
        print(json.dumps(line), flush=True)
        return 0
    known = tuple(MAKERS) + (GLUE_WORKLOADS if shapes else ())
    jobs = [(w, d, int(n)) for w in a.only.split(",") if w in known
            for d in a.dtypes.split(",") for n in a.threads.split(",")]
    if not a.no_peak:
        jobs = [("gemm_peak", d, 1) for d in a.dtypes.split(",")] + jobs
    failed = 0

    def measure(w, d, n, policy=None, deadline_s=None):
        env = dict(os.environ, OMP_NUM_THREADS=str(n), OPENBLAS_NUM_THREADS=str(n))
        if policy:
            env["OMP_WAIT_POLICY"] = policy
        cmd = [sys.executable, os.path.abspath(__file__), "--one", "%s,%s,%d" % (w, d, n), "--steps", str(a.steps),
               "--warmup", str(a.warmup), "--budget-s", str(a.budget_s)] + (["--shapes", a.shapes] if a.shapes else [])
        if deadline_s:
            cmd += ["--deadline-s", "%.1f" % deadline_s]
        r = subprocess.run(cmd, env=env, stdout=subprocess.PIPE, text=True)
        sys.stdout.write(r.stdout)
        sys.stdout.flush()
        lines = [json.loads(x) for x in r.stdout.splitlines() if x.startswith("{")]
        return r.returncode, (lines[0] if lines else None)

    for w, d, n in jobs:
        if n == 1 or "OMP_WAIT_POLICY" in os.environ:
            failed += measure(w, d, n)[0] != 0
            continue
        # Several threads: OpenMP's waiting threads either sleep (PASSIVE) or spin (ACTIVE). Spinning is
        # 8-15% faster on idle cores (finetune_step fp32 1878 vs 1733 tokens/s, 2 threads) but crawls,
        # ~15x slower, as soon as anything else runs (inference 241 vs 3294). Measure PASSIVE, then ACTIVE
        # with a deadline of twice PASSIVE's time; the comparison takes the faster.
        rc, line = measure(w, d, n, "PASSIVE")
        failed += rc != 0
        if line:
            deadline = 2 * line["step_ms"] / 1000 * (a.warmup + a.steps) + 10
            rc, _ = measure(w, d, n, "ACTIVE", deadline)
            if rc == DEADLINE_RC:
                print("%s %s %d threads, OMP_WAIT_POLICY=ACTIVE: abandoned after %.0f s (is the machine busy?)"
                      % (w, d, n, deadline), file=sys.stderr)
            else:
                failed += rc != 0
    return 1 if failed else 0

if __name__ == "__main__":
    sys.exit(main())
