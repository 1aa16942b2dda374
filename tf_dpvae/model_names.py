"""The one naming of models across tables, figures and TensorBoard: the paper's names of Table 1's
twelve models ("FactorVAE", "Factor-dpVAE") and of the priors fitted after training beside them
("FactorVAE + ex-post GMM"). Pure data, no imports of ours: every layer may use it."""

from __future__ import annotations

# The paper's names of the twelve models (Table 1's rows): (normal prior, decoupled prior).
MODEL_NAMES = {
    "none": ("VAE", "dpVAE"), "beta": ("β-VAE-H", "β-dpVAE-H"), "betab": ("β-VAE-B", "β-dpVAE-B"),
    "tc": ("β-TCVAE", "β-TC-dpVAE"), "factor": ("FactorVAE", "Factor-dpVAE"),
    "info": ("InfoVAE", "Info-dpVAE")}
# Priors fitted after training to a normal-prior model's codes (``retrofit``).
POST_HOC_NAMES = {"flow": "retrofit flow", "gmm": "ex-post GMM"}
PAIR = ("normal", "dp")  # row order inside a pair: the normal-prior model, then its dp twin


def model_name(reg: str, prior: str) -> str:
    """"FactorVAE" (reg factor, prior normal), "Factor-dpVAE" (dp), "FactorVAE + ex-post GMM"
    (gmm). KeyError for a regularizer, ValueError for a prior, that has no name."""
    if prior in POST_HOC_NAMES:
        return f"{MODEL_NAMES[reg][0]} + {POST_HOC_NAMES[prior]}"
    return MODEL_NAMES[reg][PAIR.index(prior)]
