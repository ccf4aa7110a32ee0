"""The models the probe runs: small but real versions of what fleets run, in plain PyTorch.

Every module here is device-agnostic: no vendor call, no compiled kernel, nothing that would not run
the same on CUDA, ROCm, XPU, MPS or the CPU. Attention goes through
`F.scaled_dot_product_attention`, which each backend maps to its fastest kernel.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["DLRM", "DecoderLM", "Encoder", "VisionLanguageModel", "count_params"]


def count_params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


class RMSNorm(nn.Module):
    def __init__(self, dim: int, eps: float = 1e-6) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.eps = eps

    def forward(self, x: Tensor) -> Tensor:
        scale = torch.rsqrt(x.float().pow(2).mean(-1, keepdim=True) + self.eps)
        return (x.float() * scale).to(x.dtype) * self.weight


class SwiGLU(nn.Module):
    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.gate_up = nn.Linear(dim, 2 * hidden, bias=False)
        self.down = nn.Linear(hidden, dim, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        gate, up = self.gate_up(x).chunk(2, dim=-1)
        return self.down(F.silu(gate) * up)


class Block(nn.Module):
    """Pre-norm transformer block with grouped-query attention and a SwiGLU MLP."""

    def __init__(self, dim: int, heads: int, kv_heads: int, hidden: int) -> None:
        super().__init__()
        self.heads, self.kv_heads, self.head_dim = heads, kv_heads, dim // heads
        self.qkv = nn.Linear(dim, (heads + 2 * kv_heads) * self.head_dim, bias=False)
        self.out = nn.Linear(dim, dim, bias=False)
        self.norm1, self.norm2 = RMSNorm(dim), RMSNorm(dim)
        self.mlp = SwiGLU(dim, hidden)

    def _split(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        b, t, _ = x.shape
        kv = self.kv_heads * self.head_dim
        q, k, v = self.qkv(x).split([self.heads * self.head_dim, kv, kv], dim=-1)
        q = q.view(b, t, self.heads, self.head_dim).transpose(1, 2)
        k = k.view(b, t, self.kv_heads, self.head_dim).transpose(1, 2)
        v = v.view(b, t, self.kv_heads, self.head_dim).transpose(1, 2)
        return q, k, v

    def _attend(self, q: Tensor, k: Tensor, v: Tensor, causal: bool) -> Tensor:
        if self.kv_heads != self.heads:  # grouped-query: share each K/V head among query heads
            rep = self.heads // self.kv_heads  # (SDPA's enable_gqa defeats the FLOP counter)
            k, v = k.repeat_interleave(rep, dim=1), v.repeat_interleave(rep, dim=1)
        return F.scaled_dot_product_attention(q, k, v, is_causal=causal)

    def forward(self, x: Tensor, causal: bool = True) -> Tensor:
        b, t, d = x.shape
        q, k, v = self._split(self.norm1(x))
        a = self._attend(q, k, v, causal and t > 1)
        x = x + self.out(a.transpose(1, 2).reshape(b, t, d))
        return x + self.mlp(self.norm2(x))

    def decode(self, x: Tensor, cache_k: Tensor, cache_v: Tensor, pos: int) -> Tensor:
        """One new token per sequence at position `pos`, attending to the cache up to it."""
        b, t, d = x.shape
        q, k, v = self._split(self.norm1(x))
        cache_k[:, :, pos : pos + t] = k
        cache_v[:, :, pos : pos + t] = v
        a = self._attend(q, cache_k[:, :, : pos + t], cache_v[:, :, : pos + t], causal=t > 1)
        x = x + self.out(a.transpose(1, 2).reshape(b, t, d))
        return x + self.mlp(self.norm2(x))

    def decode_at(
        self, x: Tensor, cache_k: Tensor, cache_v: Tensor, at: Tensor, mask: Tensor
    ) -> Tensor:
        """One new token per sequence (x is (b, 1, d)) written at the position held in the device
        tensor `at` (shape (1,)), attending to the whole fixed-length cache through the additive
        `mask`: every shape is fixed and no host value is read, so a graph of it replays anywhere.
        """
        b, _, d = x.shape
        q, k, v = self._split(self.norm1(x))
        cache_k.index_copy_(2, at, k)
        cache_v.index_copy_(2, at, v)
        # grouped-query attention without copying the cache: the query heads that share a K/V
        # head become that head's rows of queries
        q = q.reshape(b, self.kv_heads, self.heads // self.kv_heads, self.head_dim)
        a = F.scaled_dot_product_attention(q, cache_k, cache_v, attn_mask=mask)
        x = x + self.out(a.reshape(b, 1, d))
        return x + self.mlp(self.norm2(x))


class VisionLanguageModel(nn.Module):
    """Image patches and text tokens in one causal transformer, trained on next-token loss of the
    text: the shape of a multimodal pre-training step."""

    def __init__(
        self, *, dim: int, layers: int, heads: int, vocab: int, patch: int, channels: int = 3
    ) -> None:
        super().__init__()
        self.patch = patch
        self.patch_embed = nn.Linear(channels * patch * patch, dim)
        self.tok_embed = nn.Embedding(vocab, dim)
        self.blocks = nn.ModuleList(Block(dim, heads, heads, 4 * dim) for _ in range(layers))
        self.norm = RMSNorm(dim)
        self.head = nn.Linear(dim, vocab, bias=False)

    def forward(self, images: Tensor, tokens: Tensor) -> Tensor:
        b, c, h, w = images.shape
        p = self.patch
        patches = images.unfold(2, p, p).unfold(3, p, p)  # b, c, h/p, w/p, p, p
        patches = patches.permute(0, 2, 3, 1, 4, 5).reshape(b, (h // p) * (w // p), c * p * p)
        x = torch.cat([self.patch_embed(patches), self.tok_embed(tokens[:, :-1])], dim=1)
        for block in self.blocks:
            x = block(x)
        logits = self.head(self.norm(x[:, patches.shape[1] :]))
        return F.cross_entropy(logits.float().flatten(0, 1), tokens[:, 1:].flatten())


class DecoderLM(nn.Module):
    """A decoder-only language model with a preallocated KV cache for autoregressive decoding."""

    def __init__(
        self, *, dim: int, layers: int, heads: int, kv_heads: int, hidden: int, vocab: int
    ) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab, dim)
        self.blocks = nn.ModuleList(Block(dim, heads, kv_heads, hidden) for _ in range(layers))
        self.norm = RMSNorm(dim)
        self.head = nn.Linear(dim, vocab, bias=False)
        self.kv_heads, self.head_dim = kv_heads, dim // heads

    def new_cache(self, batch: int, max_len: int) -> tuple[list[Tensor], list[Tensor]]:
        p = next(self.parameters())
        shape = (batch, self.kv_heads, max_len, self.head_dim)
        ks = [torch.zeros(shape, dtype=p.dtype, device=p.device) for _ in self.blocks]
        vs = [torch.zeros(shape, dtype=p.dtype, device=p.device) for _ in self.blocks]
        return ks, vs

    def step(self, tokens: Tensor, cache: tuple[list[Tensor], list[Tensor]], pos: int) -> Tensor:
        """Logits of the last position after feeding `tokens` (b, t) at positions pos..pos+t."""
        x = self.embed(tokens)
        for block, k, v in zip(self.blocks, cache[0], cache[1], strict=True):
            x = block.decode(x, k, v, pos)
        return self.head(self.norm(x[:, -1]))

    def decode_step(
        self, tokens: Tensor, cache: tuple[list[Tensor], list[Tensor]], at: Tensor
    ) -> Tensor:
        """Logits of one new token per sequence (`tokens` (b, 1)) written into the cache at the
        position held in the device tensor `at` (shape (1,), long); positions after it are masked
        out. The step's shapes do not depend on the position, so one captured graph of it serves
        every step; the position is clamped into the cache, so a graph run past its end cannot
        write outside it."""
        length = cache[0][0].shape[2]
        at = at.clamp(max=length - 1)
        x = self.embed(tokens)
        after = torch.arange(length, device=at.device) > at
        mask = torch.zeros(length, dtype=x.dtype, device=at.device).masked_fill_(after, -math.inf)
        mask = mask.view(1, 1, 1, length)
        for block, k, v in zip(self.blocks, cache[0], cache[1], strict=True):
            x = block.decode_at(x, k, v, at, mask)
        return self.head(self.norm(x[:, -1]))


class Encoder(nn.Module):
    """A small bidirectional transformer encoder (embedding-model sized) with mean pooling."""

    def __init__(self, *, dim: int, layers: int, heads: int, vocab: int) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab, dim)
        self.blocks = nn.ModuleList(Block(dim, heads, heads, 4 * dim) for _ in range(layers))
        self.norm = RMSNorm(dim)

    def forward(self, tokens: Tensor) -> Tensor:
        x = self.embed(tokens)
        for block in self.blocks:
            x = block(x, causal=False)
        return self.norm(x).mean(dim=1)


def _mlp(sizes: list[int], final_act: bool) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i in range(len(sizes) - 1):
        layers.append(nn.Linear(sizes[i], sizes[i + 1]))
        if i < len(sizes) - 2 or final_act:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


class DLRM(nn.Module):
    """DLRM-style ranking model: pooled embedding-bag lookups per sparse feature, a bottom MLP over
    dense features, pairwise dot-product interaction, and a top MLP to one logit."""

    def __init__(
        self,
        *,
        tables: int,
        rows: int,
        dim: int,
        dense: int,
        bottom: list[int],
        top: list[int],
    ) -> None:
        super().__init__()
        self.embeddings = nn.ModuleList(
            nn.EmbeddingBag(rows, dim, mode="sum") for _ in range(tables)
        )
        self.bottom = _mlp([dense, *bottom, dim], final_act=True)
        n = tables + 1
        self.pairs = torch.triu_indices(n, n, offset=1)
        self.top = _mlp([dim + n * (n - 1) // 2, *top, 1], final_act=False)

    def forward(self, dense: Tensor, sparse: Tensor) -> Tensor:
        """`sparse` is (tables, batch, lookups) row ids."""
        x = self.bottom(dense)
        pooled = [emb(sparse[i]).to(x.dtype) for i, emb in enumerate(self.embeddings)]
        feats = torch.stack([x, *pooled], dim=1)  # b, n, d
        inter = torch.bmm(feats, feats.transpose(1, 2))
        i, j = self.pairs.to(x.device)
        z = torch.cat([x, inter[:, i, j]], dim=1)
        return self.top(z).squeeze(-1)
