"""A small causal transformer over characters, nanoGPT style, to read top to bottom.

    tokens (B, L) -> token embedding + learned position embedding
                  -> blocks: x + attention(layernorm(x)), then x + mlp(layernorm(x))     (pre-norm)
                  -> layernorm -> logits (B, L, vocabulary) through the token embedding's weights (tied)

Causal: position i sees positions ≤ i only, so one forward pass gives the next-character distribution at every
position of a window (the training loss sums over them all).  No dropout: the built-in corpus can be generated as
long as needed, and the models here are trained for minutes.  Sizes are plain numbers in ``ModelSize``; the teacher
(e.g. 4 layers × 128) and the student (1 layer × 48) are the same code.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn


@dataclass(frozen=True)
class ModelSize:
    """A transformer's shape: blocks, width (the embedding size) and attention heads (width divisible by them)."""

    layers: int
    width: int
    heads: int

    def check(self, role: str) -> None:
        if self.layers < 1 or self.width < 1 or self.heads < 1 or self.width % self.heads:
            raise ValueError(
                f"the {role} needs at least 1 layer and a width divisible by its heads, got {self.layers} layers, "
                f"width {self.width}, {self.heads} heads"
            )


class CausalSelfAttention(nn.Module):
    """Multi-head attention in which each position attends to itself and the positions before it."""

    def __init__(self, width: int, heads: int):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(width, 3 * width)
        self.proj = nn.Linear(width, width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, length, width = x.shape
        q, k, v = self.qkv(x).split(width, dim=2)
        # (B, L, W) -> (B, heads, L, W / heads)
        q, k, v = (t.view(b, length, self.heads, width // self.heads).transpose(1, 2) for t in (q, k, v))
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        return self.proj(y.transpose(1, 2).contiguous().view(b, length, width))


class Block(nn.Module):
    """One pre-norm transformer block: attention, then a 4× wide MLP, each added to the residual stream."""

    def __init__(self, width: int, heads: int):
        super().__init__()
        self.norm1 = nn.LayerNorm(width)
        self.attention = CausalSelfAttention(width, heads)
        self.norm2 = nn.LayerNorm(width)
        self.mlp = nn.Sequential(nn.Linear(width, 4 * width), nn.GELU(), nn.Linear(4 * width, width))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attention(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class CharTransformer(nn.Module):
    """A character-level language model: ``forward(tokens (B, L)) -> logits (B, L, vocabulary)``, L ≤ context."""

    def __init__(self, vocabulary: int, context: int, size: ModelSize):
        super().__init__()
        size.check("model")
        self.context, self.size = context, size
        self.token = nn.Embedding(vocabulary, size.width)
        self.position = nn.Embedding(context, size.width)
        self.blocks = nn.ModuleList([Block(size.width, size.heads) for _ in range(size.layers)])
        self.norm = nn.LayerNorm(size.width)
        self.head = nn.Linear(size.width, vocabulary, bias=False)
        self.head.weight = self.token.weight  # weight tying: reading a character and writing it share a vector
        self.apply(self._init)
        for name, parameter in self.named_parameters():  # GPT-2's scaled init of the layers that add to the residual
            if name.endswith("proj.weight") or name.endswith("mlp.2.weight"):
                nn.init.normal_(parameter, mean=0.0, std=0.02 / math.sqrt(2 * size.layers))

    @staticmethod
    def _init(module: nn.Module) -> None:
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)
        if isinstance(module, nn.Linear) and module.bias is not None:
            nn.init.zeros_(module.bias)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        length = tokens.shape[1]
        if length > self.context:
            raise ValueError(f"a window of {length} characters is longer than the model's context of {self.context}")
        positions = torch.arange(length, device=tokens.device)
        x = self.token(tokens) + self.position(positions)
        for block in self.blocks:
            x = block(x)
        return self.head(self.norm(x))

    @torch.no_grad()
    def generate(
        self, prompt: torch.Tensor, length: int, temperature: float, generator: torch.Generator
    ) -> torch.Tensor:
        """``prompt`` (B, P ≥ 1) followed by ``length`` sampled characters at ``temperature`` (B, P + length); the
        window slides once the text is longer than the context."""
        tokens = prompt
        for _ in range(length):
            logits = self(tokens[:, -self.context :])[:, -1, :] / temperature
            nxt = torch.multinomial(F.softmax(logits, dim=-1), 1, generator=generator)
            tokens = torch.cat([tokens, nxt], dim=1)
        return tokens


def parameter_count(model: nn.Module) -> int:
    """Parameters counted once (the tied embedding is one tensor)."""
    return sum(p.numel() for p in model.parameters())
