"""Distillation methods: one module each, and one line in registry.py's ``METHODS``.

losses.py holds Hinton's KD exactly as the paper writes it; logit_kd.py registers it with its two teaching toggles,
the weight-matched control and logit standardisation; dkd.py, dist.py and fitnets.py are the later methods;
reverse_kl.py (MiniLLM) and jsd.py (GKD's generalised JSD) are the divergences of sequence distillation, which
apply to any logits.  A
method's loss returns named parts; the trainer minimises "total" and reports the others.

May import: kd_core.models, kd_core.data, and the modules at the top of kd_core (stats, files).
"""
