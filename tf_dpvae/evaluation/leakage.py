"""The leakage score of eq. (6) (paper §5, Figure 4).

For z ~ q(z) and a threshold τ on the log prior density, eq. (6) reads

    S_τ(z) = log q(z) − log p(h(z))   if log p(z) < τ,   else 0;      LS(τ) = E_{q(z)}[S_τ(z)]

with h = identity for VAEs and h = g for dpVAEs. Two different densities appear in it:

  * the **threshold** is on log p(z), the prior's density in the representation space; for the decoupled
    prior that is the flow's full density log p(z) = log N(g(z); 0, I) + log|det ∂g/∂z| (eq. 2);
  * the **ratio** is against log p(h(z)) = log N(g(z); 0, I), the base density at z0 = g(z), without the
    log-determinant.

``leakage_scores`` therefore takes the two densities separately. ``evaluation.run`` reports three
variants, named after what they compute:

  eq6_literal    threshold on log p(z) (with the log-det), ratio against log N(g(z); 0, I): eq. (6) as
                 written, the headline variant;
  base_density   threshold and ratio on log N(g(z); 0, I): what the authors' code computes;
  full_density   threshold and ratio on the full log p(z): log q(z)/p(z) with both densities in z.

For the standard normal prior (g = identity, log-det = 0) the two densities are the same array and the
three variants coincide; all three are still reported, so that every run has the same keys.

A sample below τ lies in a "leak": q supports it, the prior rarely draws it; small LS(τ) means q is small
there too. LS(τ) is the expectation over **all** q-samples (samples above τ contribute 0). Figure 4 shows
gaps ("no samples with log p < τ") which suggests the authors averaged over the samples below τ only;
so the conditional mean E[S_τ | log p < τ] and the fraction below τ are returned too:
LS(τ) = fraction(τ) · conditional_mean(τ).
"""

from __future__ import annotations

import numpy as np


def leakage_scores(log_q, threshold_log_density, ratio_log_density, taus):
    """LS(τ) = E_q[S_τ(z)] for each τ in ``taus``, with
    S_τ(z) = log q(z) − ratio_log_density(z) where threshold_log_density(z) < τ, else 0.

    Args:
      log_q: [S] log q(z) at z ~ q(z).
      threshold_log_density: [S] the log density compared with τ, at the same samples (eq. 6: log p(z),
        for a dp prior with the flow's log-determinant).
      ratio_log_density: [S] the log density subtracted from log q in S_τ, at the same samples (eq. 6:
        log p(h(z)) = log N(g(z); 0, I) for a dp prior). The same array as ``threshold_log_density``
        gives the one-density variants.
      taus: [T] thresholds.
    Returns: dict of [T] float64 arrays ``tau``, ``leakage_score`` (E_q[S_τ]), ``fraction_below``
      (share of samples with threshold_log_density < τ), ``count_below`` and ``conditional_mean``
      (E_q[S_τ | threshold_log_density < τ]; NaN where no sample is below τ).
    """
    log_q = np.asarray(log_q, np.float64)
    threshold_log_density = np.asarray(threshold_log_density, np.float64)
    ratio_log_density = np.asarray(ratio_log_density, np.float64)
    taus = np.atleast_1d(np.asarray(taus, np.float64))
    if (log_q.ndim != 1 or len(log_q) == 0 or threshold_log_density.shape != log_q.shape
            or ratio_log_density.shape != log_q.shape):
        raise ValueError(f"log_q, threshold_log_density and ratio_log_density must be non-empty 1-D "
                         f"arrays of one length, got {log_q.shape}, {threshold_log_density.shape} and "
                         f"{ratio_log_density.shape}")
    below = threshold_log_density[None, :] < taus[:, None]                       # [T, S]
    s = np.where(below, (log_q - ratio_log_density)[None, :], 0.0)               # S_τ(z), [T, S]
    count = below.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        conditional = np.where(count > 0, s.sum(axis=1) / count, np.nan)
    return {"tau": taus, "leakage_score": s.mean(axis=1), "fraction_below": count / len(log_q),
            "count_below": count.astype(np.float64), "conditional_mean": conditional}


# The variants ``leakage_variants`` computes, headline first: name → what it computes.
VARIANTS = {
    "eq6_literal": "eq. (6) as written: S = log q(z) − log N(h(z); 0, I) where log p(z) < τ, with p(z) "
                   "the prior's full density in z (dp: log N(g(z); 0, I) + log|det ∂g/∂z|); h = g for dp",
    "base_density": "the authors' code: S = log q(z) − log N(h(z); 0, I) where log N(h(z); 0, I) < τ "
                    "(threshold and ratio on the base density at z0 = h(z), no log-determinant)",
    "full_density": "S = log q(z) − log p(z) where log p(z) < τ (threshold and ratio on the prior's full "
                    "density in z, with the flow's log-determinant for dp)",
}
HEADLINE_VARIANT = "eq6_literal"


def leakage_variants(log_q, log_prior, log_base_density, taus):
    """Every variant in ``VARIANTS``: dict name → ``leakage_scores`` table.

    Args:
      log_q: [S] log q(z) at z ~ q(z).
      log_prior: [S] log p(z), the prior's full density in z (dp: with the log-determinant).
      log_base_density: [S] log N(h(z); 0, I) (h = g for dp, the identity for the normal prior).
      taus: [T] thresholds.
    For the normal prior log_prior and log_base_density are equal and so are the three tables.
    """
    return {"eq6_literal": leakage_scores(log_q, log_prior, log_base_density, taus),
            "base_density": leakage_scores(log_q, log_base_density, log_base_density, taus),
            "full_density": leakage_scores(log_q, log_prior, log_prior, taus)}
