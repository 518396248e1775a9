#!/usr/bin/env python3
"""PyTorch reference for the GPU kit: ms per training step of a BERT classifier with Adam, SAM, FSAM.

The model is a plain fp32 BERT encoder shaped and named like Hugging Face's
BertForSequenceClassification (post-LayerNorm layers, exact-erf GELU, tanh pooler, dropout 0.1,
2 labels), written here so the kit needs nothing but torch. TF32 is switched off: every matrix
product is true fp32, like the WebGPU side.

Steps, per model and optimizer (batch x seq random tokens, fixed for the run):
  adam  forward, backward, torch.optim.Adam(betas 0.9/0.98, eps 1e-6) step.
  sam   gradient g; e = rho*g/(||g||+1e-12) over all parameters; w += e; gradient at w+e; w -= e;
        Adam step with that gradient.
  fsam  SAM with e multiplied element-wise by the Fisher mask: 1 on the (1-sparsity) fraction of
        parameters with the largest empirical Fisher (mean squared per-example gradient over
        --fisher-samples examples), refreshed every 100 steps. The timed steps are non-refresh
        steps; one refresh is timed on its own (refresh_ms).
Each step ends with torch.cuda.synchronize(); the median of the timed steps is reported.

Output: human-readable lines, plus one line per result starting with "@cell " (JSON) and one
"@env " line (JSON), which the kit's Node check parses. Stops timing a cell when its share of
--budget-s is spent, and skips the remaining cells (with a line saying so) when none is left.
"""
import argparse
import json
import math
import statistics
import sys
import time

import torch
import torch.nn.functional as F
from torch import nn

# name: (layers, hidden, heads, intermediate), the compact BERTs of Turc et al. and bert-base.
PRESETS = {
    "bert-tiny": (2, 128, 2, 512),
    "bert-mini": (4, 256, 4, 1024),
    "bert-small": (4, 512, 8, 2048),
    "bert-medium": (8, 512, 8, 2048),
    "bert-base": (12, 768, 12, 3072),
}


def emit(tag, obj):
    print(f"@{tag} {json.dumps(obj)}", flush=True)


def say(text):
    print(text, flush=True)


class Embeddings(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.word_embeddings = nn.Embedding(cfg["vocab"], cfg["hidden"], padding_idx=0)
        self.position_embeddings = nn.Embedding(cfg["positions"], cfg["hidden"])
        self.token_type_embeddings = nn.Embedding(2, cfg["hidden"])
        self.LayerNorm = nn.LayerNorm(cfg["hidden"], eps=1e-12)
        self.dropout = nn.Dropout(cfg["dropout"])

    def forward(self, ids, types):
        positions = torch.arange(ids.shape[1], device=ids.device)
        x = self.word_embeddings(ids) + self.token_type_embeddings(types) + self.position_embeddings(positions)
        return self.dropout(self.LayerNorm(x))


class SelfAttention(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        h = cfg["hidden"]
        self.heads = cfg["heads"]
        self.query = nn.Linear(h, h)
        self.key = nn.Linear(h, h)
        self.value = nn.Linear(h, h)
        self.dropout_p = cfg["dropout"]

    def forward(self, x, mask_scores):
        b, s, h = x.shape
        split = lambda t: t.view(b, s, self.heads, h // self.heads).transpose(1, 2)
        q, k, v = split(self.query(x)), split(self.key(x)), split(self.value(x))
        p = self.dropout_p if self.training else 0.0
        if hasattr(F, "scaled_dot_product_attention"):
            ctx = F.scaled_dot_product_attention(q, k, v, attn_mask=mask_scores, dropout_p=p)
        else:  # torch < 2.0
            scores = q @ k.transpose(-1, -2) / math.sqrt(h // self.heads) + mask_scores
            ctx = F.dropout(scores.softmax(-1), p, self.training) @ v
        return ctx.transpose(1, 2).reshape(b, s, h)


class SelfOutput(nn.Module):
    def __init__(self, cfg, inner):
        super().__init__()
        self.dense = nn.Linear(inner, cfg["hidden"])
        self.LayerNorm = nn.LayerNorm(cfg["hidden"], eps=1e-12)
        self.dropout = nn.Dropout(cfg["dropout"])

    def forward(self, x, residual):
        return self.LayerNorm(self.dropout(self.dense(x)) + residual)


class Attention(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        setattr(self, "self", SelfAttention(cfg))
        self.output = SelfOutput(cfg, cfg["hidden"])

    def forward(self, x, mask_scores):
        return self.output(getattr(self, "self")(x, mask_scores), x)


class Intermediate(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.dense = nn.Linear(cfg["hidden"], cfg["intermediate"])

    def forward(self, x):
        return F.gelu(self.dense(x))


class Layer(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.attention = Attention(cfg)
        self.intermediate = Intermediate(cfg)
        self.output = SelfOutput(cfg, cfg["intermediate"])

    def forward(self, x, mask_scores):
        a = self.attention(x, mask_scores)
        return self.output(self.intermediate(a), a)


class Encoder(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.layer = nn.ModuleList([Layer(cfg) for _ in range(cfg["layers"])])


class Pooler(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.dense = nn.Linear(cfg["hidden"], cfg["hidden"])


class Bert(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.embeddings = Embeddings(cfg)
        self.encoder = Encoder(cfg)
        self.pooler = Pooler(cfg)

    def forward(self, ids, types, attention_mask):
        x = self.embeddings(ids, types)
        mask_scores = (1.0 - attention_mask[:, None, None, :].float()) * torch.finfo(torch.float32).min
        for layer in self.encoder.layer:
            x = layer(x, mask_scores)
        return torch.tanh(self.pooler.dense(x[:, 0]))


class BertClassifier(nn.Module):
    """Parameter names as Hugging Face's BertForSequenceClassification (bert.…, classifier.…)."""

    def __init__(self, cfg, labels=2):
        super().__init__()
        self.bert = Bert(cfg)
        self.dropout = nn.Dropout(cfg["dropout"])
        self.classifier = nn.Linear(cfg["hidden"], labels)
        for m in self.modules():
            if isinstance(m, (nn.Linear, nn.Embedding)):
                nn.init.normal_(m.weight, std=0.02)
            if isinstance(m, nn.Linear):
                nn.init.zeros_(m.bias)

    def forward(self, ids, types, mask, labels):
        return F.cross_entropy(self.classifier(self.dropout(self.bert(ids, types, mask))), labels)


def model_config(name, small):
    layers, hidden, heads, inter = PRESETS[name]
    cfg = dict(layers=layers, hidden=hidden, heads=heads, intermediate=inter, vocab=30522, positions=512, dropout=0.1)
    if small:  # the kit's --small shapes (gpu/options.ts): one layer, quarter widths, small vocabulary
        cfg.update(layers=1, hidden=hidden // 4, intermediate=inter // 4, vocab=1000, positions=64)
    return cfg


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def global_norm(tensors):
    return torch.norm(torch.stack([t.norm(2) for t in tensors]), 2)


class Stepper:
    """One optimizer's training step on a fixed batch."""

    def __init__(self, kind, model, batch, args):
        self.kind = kind
        self.model = model
        self.batch = batch
        self.args = args
        self.params = [p for p in model.parameters() if p.requires_grad]
        self.opt = torch.optim.Adam(self.params, lr=2e-5, betas=(0.9, 0.98), eps=1e-6)
        self.masks = None

    def loss(self):
        return self.model(*self.batch)

    def grads(self):
        return [p.grad if p.grad is not None else torch.zeros_like(p) for p in self.params]

    def refresh_mask(self, examples):
        """Fisher top-(1-sparsity) mask from per-example squared gradients (eval mode, no dropout)."""
        self.model.eval()
        fisher = [torch.zeros_like(p) for p in self.params]
        for ids, types, mask, labels in examples:
            self.opt.zero_grad(set_to_none=True)
            self.model(ids, types, mask, labels).backward()
            g = self.grads()
            torch._foreach_addcmul_(fisher, g, g)
        self.model.train()
        flat = torch.cat([f.flatten() for f in fisher])
        keep = int(math.floor((1 - self.args.sparsity) * flat.numel()))
        if keep == 0:
            self.masks = [torch.zeros_like(f) for f in fisher]
            return
        threshold = torch.kthvalue(flat, flat.numel() - keep + 1).values
        self.masks = [(f >= threshold).float() for f in fisher]
        self.opt.zero_grad(set_to_none=True)

    def step(self):
        self.opt.zero_grad(set_to_none=True)
        loss = self.loss()
        loss.backward()
        if self.kind != "adam":
            with torch.no_grad():
                g = self.grads()
                scale = self.args.rho / (global_norm(g) + 1e-12)
                e = torch._foreach_mul(g, scale)
                if self.kind == "fsam":
                    torch._foreach_mul_(e, self.masks)
                torch._foreach_add_(self.params, e)
            self.opt.zero_grad(set_to_none=True)
            self.loss().backward()
            with torch.no_grad():
                torch._foreach_sub_(self.params, e)
        self.opt.step()
        return loss


def random_batch(batch, seq, vocab, device, gen):
    ids = torch.randint(1, vocab, (batch, seq), generator=gen).to(device)
    types = torch.zeros_like(ids)
    mask = torch.ones_like(ids)
    labels = torch.randint(0, 2, (batch,), generator=gen).to(device)
    return ids, types, mask, labels


def run_cell(name, kind, args, device, deadline):
    cfg = model_config(name, args.small)
    gen = torch.Generator().manual_seed(0)
    torch.manual_seed(0)
    model = BertClassifier(cfg).to(device).train()
    batch = random_batch(args.batch, args.seq, cfg["vocab"], device, gen)
    stepper = Stepper(kind, model, batch, args)
    cell = {"model": name, "optimizer": kind, "params": sum(p.numel() for p in stepper.params)}
    refresh_ms = None
    if kind == "fsam":
        examples = [random_batch(1, args.seq, cfg["vocab"], device, gen) for _ in range(args.fisher_samples)]
        stepper.refresh_mask(examples)  # step 0's refresh, also a warm-up
        sync(device)
        t0 = time.perf_counter()
        stepper.refresh_mask(examples)
        sync(device)
        refresh_ms = (time.perf_counter() - t0) * 1000
        cell["refresh_ms"] = round(refresh_ms, 3)
        cell["fisher_samples"] = args.fisher_samples
        cell["kept_fraction"] = float(sum(m.sum() for m in stepper.masks) / cell["params"])
    for _ in range(args.warmup):
        stepper.step()
    sync(device)
    times = []
    first_loss = None
    while len(times) < args.steps and (not times or time.perf_counter() < deadline):
        t0 = time.perf_counter()
        loss = stepper.step()
        sync(device)
        times.append((time.perf_counter() - t0) * 1000)
        if first_loss is None:
            first_loss = float(loss)
    cell.update(
        ms_per_step=round(statistics.median(times), 3),
        ms_mean=round(statistics.fmean(times), 3),
        ms_min=round(min(times), 3),
        steps=len(times),
        warmup=args.warmup,
        loss=first_loss,
    )
    if device.type == "cuda":
        cell["max_memory_mib"] = round(torch.cuda.max_memory_allocated() / 2**20, 1)
        torch.cuda.reset_peak_memory_stats()
    del stepper, model, batch
    if device.type == "cuda":
        torch.cuda.empty_cache()
    return cell


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--models", default="bert-tiny,bert-mini,bert-base")
    p.add_argument("--optimizers", default="adam,sam,fsam")
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--seq", type=int, default=128)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--fisher-samples", type=int, default=128)
    p.add_argument("--sparsity", type=float, default=0.9)
    p.add_argument("--rho", type=float, default=0.05)
    p.add_argument("--budget-s", type=float, default=100)
    p.add_argument("--small", action="store_true", help="one layer, quarter widths, a 1000-token vocabulary")
    p.add_argument("--allow-cpu", action="store_true", help="run on the CPU when CUDA is absent (tests)")
    args = p.parse_args()
    start = time.perf_counter()
    deadline = start + args.budget_s

    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    if hasattr(torch, "set_float32_matmul_precision"):
        torch.set_float32_matmul_precision("highest")
    cuda = torch.cuda.is_available()
    env = {"torch": torch.__version__, "cuda": torch.version.cuda, "cuda_available": cuda, "tf32": False,
           "sdpa": hasattr(F, "scaled_dot_product_attention")}
    if cuda:
        env["device"] = torch.cuda.get_device_name(0)
    elif args.allow_cpu:
        env["device"] = "cpu"
    emit("env", env)
    say(f"torch {env['torch']} (CUDA {env['cuda']}) on {env.get('device', 'no CUDA device')}, fp32 (TF32 off), "
        f"attention {'SDPA' if env['sdpa'] else 'explicit softmax'}")
    if not cuda and not args.allow_cpu:
        say("no CUDA device: PyTorch steps skipped")
        return 0
    device = torch.device("cuda" if cuda else "cpu")

    cells = [(m, o) for m in args.models.split(",") for o in args.optimizers.split(",")]
    for i, (name, kind) in enumerate(cells):
        left = deadline - time.perf_counter()
        if left <= 0:
            for n2, k2 in cells[i:]:
                emit("cell", {"model": n2, "optimizer": k2, "skipped": "PyTorch time budget spent"})
            say(f"budget of {args.budget_s:.0f} s spent: {len(cells) - i} PyTorch cells skipped")
            break
        cell_deadline = time.perf_counter() + left / (len(cells) - i)
        try:
            cell = run_cell(name, kind, args, device, cell_deadline)
        except Exception as error:  # report and go on with the next cell
            cell = {"model": name, "optimizer": kind, "error": f"{type(error).__name__}: {error}".split("\n")[0]}
            if device.type == "cuda":
                torch.cuda.empty_cache()
        emit("cell", cell)
        if "error" in cell:
            say(f"{name:10} {kind:5} error: {cell['error']}")
        else:
            extra = f", refresh {cell['refresh_ms']:.1f} ms" if "refresh_ms" in cell else ""
            say(f"{name:10} {kind:5} {cell['ms_per_step']:9.2f} ms/step (median of {cell['steps']}){extra}")
    say(f"PyTorch part took {time.perf_counter() - start:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
