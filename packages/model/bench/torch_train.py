"""PyTorch baseline for bench/train.ts: the same Qwen2-shaped model and training step in plain torch (CPU).

RMSNorm, RoPE (rotate_half layout), GQA with q/k/v biases and no o_proj bias, SwiGLU, tied embeddings, causal
attention, next-token cross-entropy (labels = inputs shifted left), AdamW with weight decay 0 (= the TS bench's
tf.train.adam: lr 1e-3, betas 0.9/0.999, eps 1e-7, tfjs's default). One untimed warm-up step, then `--steps` timed
steps, as bench/train.ts. Prints one JSON line; model FLOPs use train.ts's formula:
  6 · N · tokens + 6 · layers · hidden · seq² · batch   (N = parameters used in matmuls; tied embeddings count once)

Usage: /usr/bin/python3 bench/torch_train.py --config '{"hidden_size": 128, ...}' [--seq 256] [--batch 8]
  [--steps 3] [--warmup 1] [--threads 1]
"""

import argparse
import json
import math
import os
import resource
import sys
import time

# torch.set_num_threads does not reach the BLAS that Debian's torch calls (BLAS_INFO=generic: OpenBLAS through the
# alternatives system), which would otherwise use every core at "1 thread"; its pool size is read when it loads.
_threads = next((sys.argv[i + 1] for i, a in enumerate(sys.argv[:-1]) if a == "--threads"), "1")
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = _threads

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402


class RMSNorm(torch.nn.Module):
    def __init__(self, h, eps):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.ones(h))
        self.eps = eps

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


def rotate_half(x):
    a, b = x.chunk(2, dim=-1)
    return torch.cat((-b, a), dim=-1)


class Layer(torch.nn.Module):
    def __init__(self, c):
        super().__init__()
        h, i = c["hidden_size"], c["intermediate_size"]
        self.hq, self.hkv = c["num_attention_heads"], c["num_key_value_heads"]
        self.d = h // self.hq
        eps = c["rms_norm_eps"]
        self.input_layernorm = RMSNorm(h, eps)
        self.post_attention_layernorm = RMSNorm(h, eps)
        self.q_proj = torch.nn.Linear(h, self.hq * self.d)
        self.k_proj = torch.nn.Linear(h, self.hkv * self.d)
        self.v_proj = torch.nn.Linear(h, self.hkv * self.d)
        self.o_proj = torch.nn.Linear(self.hq * self.d, h, bias=False)
        self.gate_proj = torch.nn.Linear(h, i, bias=False)
        self.up_proj = torch.nn.Linear(h, i, bias=False)
        self.down_proj = torch.nn.Linear(i, h, bias=False)

    def forward(self, x, cos, sin, mask):
        b, s, _ = x.shape
        hn = self.input_layernorm(x)
        q = self.q_proj(hn).view(b, s, self.hq, self.d).transpose(1, 2)
        k = self.k_proj(hn).view(b, s, self.hkv, self.d).transpose(1, 2)
        v = self.v_proj(hn).view(b, s, self.hkv, self.d).transpose(1, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        group = self.hq // self.hkv
        k = k.repeat_interleave(group, dim=1)
        v = v.repeat_interleave(group, dim=1)
        scores = (q @ k.transpose(-1, -2)) / math.sqrt(self.d) + mask
        attn = torch.softmax(scores, dim=-1) @ v
        x = x + self.o_proj(attn.transpose(1, 2).reshape(b, s, self.hq * self.d))
        hn = self.post_attention_layernorm(x)
        return x + self.down_proj(F.silu(self.gate_proj(hn)) * self.up_proj(hn))


class Qwen2(torch.nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c = c
        self.embed_tokens = torch.nn.Embedding(c["vocab_size"], c["hidden_size"])
        self.layers = torch.nn.ModuleList([Layer(c) for _ in range(c["num_hidden_layers"])])
        self.norm = RMSNorm(c["hidden_size"], c["rms_norm_eps"])
        self.lm_head = None if c["tie_word_embeddings"] else torch.nn.Linear(c["hidden_size"], c["vocab_size"], bias=False)
        for name, p in self.named_parameters():
            if name.endswith("bias"):
                torch.nn.init.zeros_(p)
            elif "norm" not in name:
                torch.nn.init.normal_(p, 0.0, c["initializer_range"])

    def forward(self, ids):
        s = ids.shape[1]
        d = self.c["hidden_size"] // self.c["num_attention_heads"]
        inv = 1.0 / (self.c["rope_theta"] ** (torch.arange(0, d, 2, dtype=torch.float32) / d))
        freqs = torch.outer(torch.arange(s, dtype=torch.float32), inv)
        emb = torch.cat((freqs, freqs), dim=-1)
        cos, sin = emb.cos(), emb.sin()
        mask = torch.full((s, s), float("-inf")).triu(1)
        x = self.embed_tokens(ids)
        for layer in self.layers:
            x = layer(x, cos, sin, mask)
        x = self.norm(x)
        head = self.embed_tokens.weight if self.lm_head is None else self.lm_head.weight
        logits = x[:, :-1] @ head.t()
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), ids[:, 1:].reshape(-1))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--config", required=True, help="HF config.json fields as JSON")
    ap.add_argument("--seq", type=int, default=256)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(1)
    c = {"rms_norm_eps": 1e-6, "rope_theta": 10000.0, "tie_word_embeddings": False, "initializer_range": 0.02}
    c.update(json.loads(a.config))
    model = Qwen2(c)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, betas=(0.9, 0.999), eps=1e-7, weight_decay=0.0)
    gen = torch.Generator().manual_seed(12345)

    def step():
        ids = torch.randint(0, c["vocab_size"], (a.batch, a.seq), generator=gen)
        opt.zero_grad(set_to_none=True)
        loss = model(ids)
        loss.backward()
        opt.step()
        return loss.item()

    for _ in range(a.warmup):
        step()
    t0, c0 = time.perf_counter(), time.process_time()
    for _ in range(a.steps):
        loss = step()
    wall = (time.perf_counter() - t0) / a.steps
    cpu = (time.process_time() - c0) / a.steps
    params = sum(p.numel() for p in model.parameters())
    h, layers, v = c["hidden_size"], c["num_hidden_layers"], c["vocab_size"]
    matmul_params = params - (0 if c["tie_word_embeddings"] else v * h)
    tokens = a.batch * a.seq
    flops = 6 * matmul_params * tokens + 6 * layers * h * a.seq * a.seq * a.batch
    print(json.dumps({
        "params": params,
        "matmulParams": matmul_params,
        "seq": a.seq,
        "batch": a.batch,
        "steps": a.steps,
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "msPerStep": round(wall * 1000),
        "cpuMsPerStep": round(cpu * 1000),
        "tokensPerSecond": round(tokens / wall),
        "modelGflopPerStep": round(flops / 1e9, 2),
        "achievedGflops": round(flops / wall / 1e9, 2),
        "peakRssMiB": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "loss": round(loss, 4),
    }))


if __name__ == "__main__":
    main()
