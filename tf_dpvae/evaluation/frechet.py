"""Fréchet distance between two Gaussians fitted to feature sets (Dowson & Landau 1982; Heusel et al. 2017).

    d²(N(μ₁, Σ₁), N(μ₂, Σ₂)) = ‖μ₁ − μ₂‖² + Tr(Σ₁ + Σ₂ − 2 (Σ₁ Σ₂)^{1/2})

On Inception-v3 pool features this is the FID; on any other features (the project's own classifier, or
the raw data for vector data such as two moons) it is a Fréchet distance and must be reported under that
name. Computed in float64 with NumPy/SciPy.
"""

from __future__ import annotations

import warnings

import numpy as np
import scipy.linalg

from tf_dpvae.errors import UserError


class FrechetError(UserError):
    """The inputs cannot give a meaningful Fréchet distance (too few points, wrong shapes, ...)."""


def gaussian_fit(features):
    """Mean and (unbiased) covariance of ``features``: [n, f] → (mean [f], cov [f, f]), float64.

    Raises FrechetError if n < 2 or the array is not 2-D or not finite.
    """
    x = np.asarray(features, dtype=np.float64)
    if x.ndim != 2:
        raise FrechetError(f"features must be a 2-D array [n, f], got shape {x.shape}")
    if x.shape[0] < 2:
        raise FrechetError(f"need at least 2 feature vectors to fit a covariance, got {x.shape[0]}")
    if not np.all(np.isfinite(x)):
        raise FrechetError("features contain NaN or infinite values")
    return x.mean(axis=0), np.atleast_2d(np.cov(x, rowvar=False))


def _trace_sqrt_product(cov1, cov2, eps):
    """Tr((Σ₁Σ₂)^{1/2}) with scipy.linalg.sqrtm.

    Σ₁Σ₂ is similar to Σ₁^{1/2} Σ₂ Σ₁^{1/2} (PSD), so its square root has real, non-negative eigenvalues;
    sqrtm can still return a complex result or a poor one when the product is (nearly) singular. Then
    εI is added to both covariances (as pytorch-fid does); an imaginary part that is not negligible
    after that is an error, not something to drop silently.
    """
    def attempt(a, b):
        product = a @ b
        with warnings.catch_warnings():  # a singular product is detected below and retried
            warnings.simplefilter("ignore", scipy.linalg.LinAlgWarning)
            root = scipy.linalg.sqrtm(product)
        scale = max(np.linalg.norm(product, "fro"), 1e-300)
        error = np.linalg.norm(root @ root - product, "fro") / scale
        return root, error

    root, error = attempt(cov1, cov2)
    if not np.all(np.isfinite(root)) or error > 1e-6:
        offset = eps * np.eye(cov1.shape[0])
        root, error = attempt(cov1 + offset, cov2 + offset)
    if np.iscomplexobj(root):
        imaginary = np.max(np.abs(np.diagonal(root).imag))
        if imaginary > 1e-3 * max(1.0, np.max(np.abs(np.diagonal(root).real))):
            raise FrechetError(f"matrix square root has a significant imaginary part ({imaginary:.3g})")
        root = root.real
    return float(np.trace(root))


def frechet_distance(mean1, cov1, mean2, cov2, eps=1e-6):
    """d² between N(mean1, cov1) and N(mean2, cov2) (the squared 2-Wasserstein distance).

    Args:
      mean1, mean2: [f] means. cov1, cov2: [f, f] symmetric positive semi-definite covariances.
      eps: diagonal offset used only if the matrix square root fails on the raw covariances.
    Returns: a Python float ≥ 0 (tiny negative round-off is clipped to 0).
    Raises: FrechetError on mismatched shapes.
    """
    mean1, mean2 = np.atleast_1d(np.asarray(mean1, np.float64)), np.atleast_1d(np.asarray(mean2, np.float64))
    cov1, cov2 = np.atleast_2d(np.asarray(cov1, np.float64)), np.atleast_2d(np.asarray(cov2, np.float64))
    f = mean1.shape[0]
    if mean2.shape != (f,) or cov1.shape != (f, f) or cov2.shape != (f, f):
        raise FrechetError(f"shape mismatch: means {mean1.shape}, {mean2.shape}; covariances "
                           f"{cov1.shape}, {cov2.shape}")
    diff = mean1 - mean2
    value = diff @ diff + np.trace(cov1) + np.trace(cov2) - 2.0 * _trace_sqrt_product(cov1, cov2, eps)
    return max(float(value), 0.0)


def frechet_distance_of_samples(features1, features2, eps=1e-6):
    """Fréchet distance between Gaussian fits of two feature sets [n1, f] and [n2, f] → float."""
    return frechet_distance(*gaussian_fit(features1), *gaussian_fit(features2), eps=eps)
