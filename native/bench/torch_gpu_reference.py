#!/usr/bin/env python3
"""GPU reference for native/test/gpu-check.sh: ELECTRA pre-training steps in PyTorch with Hugging Face's
model code (transformers' ElectraForMaskedLM generator and ElectraForPreTraining discriminator sharing
the embedding block), bf16 autocast, fused AdamW, on the same GPU as the CUDA engine's benchmark
(native/bench/bench_cuda.cu), plus torch.mm's bf16 and fp32 rate on a 4096^3 product (the card's
measured matrix-product peak through cuBLAS). Prints "|" table rows and one JSON line per measurement.
Speed only; not a correctness oracle.

    python3 native/bench/torch_gpu_reference.py [--steps 10]

The step (ELECTRA's recipe): 15% of the tokens masked (85% of those to [MASK]), the generator's MLM loss
on the masked positions, Gumbel-max samples (no gradient) replacing them, the discriminator's
replaced-token-detection loss on every token, loss = MLM + 50 x RTD, backward, AdamW.
Dimensions: B batch, T sequence length, V vocabulary.
"""
import argparse
import json
import time

import torch
import torch.nn.functional as Fn
from transformers import ElectraConfig, ElectraForMaskedLM, ElectraForPreTraining


def mm_tflops(dtype, n=4096, reps=20):
    a = torch.randn(n, n, device="cuda", dtype=dtype)
    b = torch.randn(n, n, device="cuda", dtype=dtype)
    for _ in range(3):
        a @ b
    torch.cuda.synchronize()
    t = time.perf_counter()
    for _ in range(reps):
        a @ b
    torch.cuda.synchronize()
    return 2 * n ** 3 * reps / (time.perf_counter() - t) / 1e12


def models(size):
    if size == "small":
        d = dict(embedding_size=128, hidden_size=256, num_hidden_layers=12, num_attention_heads=4, intermediate_size=1024)
        g = dict(embedding_size=128, hidden_size=64, num_hidden_layers=12, num_attention_heads=1, intermediate_size=256)
    else:
        d = dict(embedding_size=768, hidden_size=768, num_hidden_layers=12, num_attention_heads=12, intermediate_size=3072)
        g = dict(embedding_size=768, hidden_size=256, num_hidden_layers=12, num_attention_heads=4, intermediate_size=1024)
    disc = ElectraForPreTraining(ElectraConfig(vocab_size=30522, **d)).cuda()
    gen = ElectraForMaskedLM(ElectraConfig(vocab_size=30522, **g)).cuda()
    gen.electra.embeddings = disc.electra.embeddings  # the shared embedding block (ELECTRA's tie)
    gen.generator_lm_head.weight = disc.electra.embeddings.word_embeddings.weight
    return gen, disc


def step_time(size, B, T, steps):
    gen, disc = models(size)
    params = list({id(p): p for p in list(gen.parameters()) + list(disc.parameters())}.values())
    try:
        opt = torch.optim.AdamW(params, lr=1e-4, weight_decay=0.01, fused=True)
    except (TypeError, RuntimeError):  # torch without fused AdamW
        opt = torch.optim.AdamW(params, lr=1e-4, weight_decay=0.01)
    V = 30522
    ids = torch.randint(1000, 30000, (B, T), device="cuda")
    ids[:, 0], ids[:, -1] = 101, 102
    N = int((0.15 + 0.005) * T)

    def step():
        pos = torch.rand(B, T - 2, device="cuda").argsort(dim=1)[:, :N] + 1  # N distinct positions per row
        masked = ids.clone()
        to_mask = torch.rand(B, N, device="cuda") < 0.85
        masked.scatter_(1, pos, torch.where(to_mask, torch.full_like(pos, 103), ids.gather(1, pos)))
        with torch.autocast("cuda", dtype=torch.bfloat16):
            hidden = gen.electra(masked).last_hidden_state
            h = hidden.gather(1, pos.unsqueeze(-1).expand(-1, -1, hidden.size(-1)))
            logits = gen.generator_lm_head(gen.generator_predictions(h)).float()
            mlm = Fn.cross_entropy(logits.view(-1, V), ids.gather(1, pos).view(-1))
            with torch.no_grad():
                u = torch.rand_like(logits)
                sampled = (logits - torch.log(-torch.log(u + 1e-9) + 1e-9)).argmax(-1)
            dinp = ids.scatter(1, pos, sampled)
            labels = (dinp != ids).float()
            dl = disc(dinp).logits.float()
            rtd = Fn.binary_cross_entropy_with_logits(dl, labels)
            loss = mlm + 50 * rtd
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    for _ in range(3):
        step()
    torch.cuda.synchronize()
    t = time.perf_counter()
    for _ in range(steps):
        step()
    torch.cuda.synchronize()
    return (time.perf_counter() - t) / steps


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=10)
    a = ap.parse_args()
    bf, f32 = mm_tflops(torch.bfloat16), mm_tflops(torch.float32)
    print(f"| torch.mm 4096^3 bf16 (cuBLAS)  | {bf:.1f} TFLOP/s |")
    print(f"| torch.mm 4096^3 fp32 (cuBLAS)  | {f32:.1f} TFLOP/s |")
    print(json.dumps({"bench": "torch_mm_peak", "bf16_tflops": round(bf, 1), "fp32_tflops": round(f32, 1)}))
    for size, B, T in (("small", 128, 128), ("base", 128, 128)):
        dt = step_time(size, B, T, a.steps)
        print(f"| PyTorch HF {size} B{B} T{T} bf16 | {B * T / dt:9.0f} tokens/s | {B / dt:8.1f} seqs/s | {dt * 1e3:7.1f} ms |")
        print(json.dumps({"bench": "torch_pretrain_step", "model": size, "batch": B, "seq": T,
                          "tokens_per_s": round(B * T / dt), "seqs_per_s": round(B / dt, 1), "step_ms": round(dt * 1e3, 2),
                          "torch": torch.__version__}))


if __name__ == "__main__":
    main()
