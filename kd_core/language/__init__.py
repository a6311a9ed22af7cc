"""Distilling a language model: character-level text (a built-in corpus whose true next-character distribution is
known, your own file, Tiny Shakespeare), a small causal transformer, and its training with sequence losses.

May import: kd_core.runs, kd_core.execution, kd_core.train, kd_core.config and the packages below them.
"""
