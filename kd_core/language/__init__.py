"""Distilling a language model: character-level text (a built-in corpus whose true next-character distribution is
known, your own file, Tiny Shakespeare), a small causal transformer, and its training with sequence losses.

    grammar.py   the built-in language: a seeded probabilistic grammar, its text and its true distribution
    corpus.py    text as a dataset (load_corpus, Corpus, CorpusError): split by position, checked
    model.py     the causal transformer (CharTransformer, ModelSize), nanoGPT style
    train.py     LanguageConfig, train_teacher (cached), train_student (KD, on-policy, sequence-level, scratch)
    samples.py   samples of a model's text and next-character distributions after a prefix
    results.py   run_language: teacher, KD student and scratch student, whole (LanguageResult)
    seeds.py     language_seeds: KD − scratch in bits per character over seeds, with its interval
    modes.py     fit_modes: mode-covering forward KL against mode-seeking reverse KL and JSD(β), on one picture
    lesson.py    LANGUAGE_LESSON: the built-in corpus, 3 seeds, its claim that KD helps in bits per character

The losses are kd_core/methods' (kd, reverse-kl, jsd): a sequence's positions are their rows.
May import: kd_core.runs, kd_core.execution, kd_core.train, kd_core.config and the packages below them.
"""
