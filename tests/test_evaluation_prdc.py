"""Precision, recall, density and coverage (evaluation.prdc) against known answers and against the
authors' reference implementation (the ``prdc`` package, requirements-dev.txt)."""

import contextlib
import io

import numpy as np
import pytest

from tf_dpvae.evaluation import prdc


def _cloud(n, dim=4, seed=0, shift=0.0):
    return np.random.default_rng(seed).normal(size=(n, dim)) + shift


def test_identical_sets_score_one():
    x = _cloud(300)
    scores = prdc.precision_recall_density_coverage(x, x.copy(), k=5)
    assert scores["precision"] == 1.0 and scores["recall"] == 1.0 and scores["coverage"] == 1.0
    # each sample sits at a real point: inside its own ball and, on average, inside k others' balls
    # (the (k+1)-th smallest distance including itself): density = (1 + k·(share)) / k ≈ 1
    assert 0.9 < scores["density"] < 1.3


def test_disjoint_sets_score_zero():
    real, fake = _cloud(200), _cloud(200, seed=1, shift=100.0)
    scores = prdc.precision_recall_density_coverage(real, fake, k=5)
    assert scores == {"precision": 0.0, "recall": 0.0, "density": 0.0, "coverage": 0.0}


@pytest.mark.parametrize("outlier_share", [0.1, 0.25, 0.5])
def test_precision_is_the_share_of_samples_on_the_manifold(outlier_share):
    """Samples copied from the real set are inside its balls; samples 1000 away are not: precision is
    exactly the inlier share. With inliers drawn afresh from the data's distribution (no point on a
    ball's boundary), precision and density are the clean set's, scaled by the inlier share."""
    real = _cloud(400)
    n_fake, n_out = 400, int(400 * outlier_share)
    outliers = _cloud(n_out, seed=3, shift=1000.0)
    copies = prdc.precision_recall_density_coverage(
        real, np.concatenate([real[: n_fake - n_out], outliers]), k=3)
    assert copies["precision"] == pytest.approx(1.0 - outlier_share, abs=1e-12)
    inliers = _cloud(n_fake - n_out, seed=11)
    clean = prdc.precision_recall_density_coverage(real, inliers, k=3)
    scores = prdc.precision_recall_density_coverage(real, np.concatenate([inliers, outliers]), k=3)
    for name in ("precision", "density"):
        assert scores[name] == pytest.approx(clean[name] * (1.0 - outlier_share), rel=1e-9), name
    assert scores["coverage"] == clean["coverage"]   # the outliers are nobody's nearest sample


def test_mode_dropping_lowers_recall_and_coverage_not_precision():
    """Two well-separated modes in the data, samples from one: precision stays high, recall and
    coverage fall to about one half."""
    real = np.concatenate([_cloud(300, seed=0), _cloud(300, seed=1, shift=50.0)])
    fake = _cloud(600, seed=2)
    scores = prdc.precision_recall_density_coverage(real, fake, k=5)
    assert scores["precision"] > 0.9
    assert 0.35 < scores["recall"] < 0.55 and 0.35 < scores["coverage"] < 0.55


def test_knn_radii_against_brute_force():
    x = _cloud(57, dim=3, seed=4)
    d = np.linalg.norm(x[:, None] - x[None], axis=-1)
    for k in (1, 3, 5):
        expected = np.sort(d, axis=1)[:, k]
        np.testing.assert_allclose(prdc.knn_radii(x, k, block=10), expected, rtol=1e-9, atol=1e-9)


def test_blocks_do_not_change_the_answer():
    real, fake = _cloud(230, seed=5), _cloud(170, seed=6, shift=0.5)
    whole = prdc.precision_recall_density_coverage(real, fake, k=4, block=10_000)
    blocked = prdc.precision_recall_density_coverage(real, fake, k=4, block=7)
    assert whole == blocked


@pytest.mark.parametrize("shift,dim", [(0.0, 8), (0.7, 8), (2.0, 32)])
def test_matches_the_reference_implementation(shift, dim):
    reference = pytest.importorskip("prdc", reason="the reference package (requirements-dev.txt)")
    real = _cloud(500, dim=dim, seed=7).astype(np.float32)
    fake = _cloud(400, dim=dim, seed=8, shift=shift).astype(np.float32)
    with contextlib.redirect_stdout(io.StringIO()):   # it prints the set sizes
        expected = reference.compute_prdc(real_features=real, fake_features=fake, nearest_k=5)
    ours = prdc.precision_recall_density_coverage(real, fake, k=5)
    # float32 (reference, sklearn) against float64 distances: a point on a ball's boundary may fall
    # either side, so allow a couple of points in 400-500
    for name in ("precision", "recall", "density", "coverage"):
        assert ours[name] == pytest.approx(float(expected[name]), abs=5e-3), name


def test_radii_given_equal_radii_computed():
    real, fake = _cloud(120, seed=9), _cloud(90, seed=10)
    radii = prdc.knn_radii(real, 5)
    assert (prdc.precision_recall_density_coverage(real, fake, 5, real_radii=radii)
            == prdc.precision_recall_density_coverage(real, fake, 5))


@pytest.mark.parametrize("real,fake,k,match", [
    (np.zeros((0, 2)), np.zeros((3, 2)), 1, "real must be a non-empty"),
    (np.zeros((5, 2)), np.zeros((5, 3)), 1, "differ in width"),
    (np.full((5, 2), np.nan), np.zeros((5, 2)), 1, "non-finite"),
    (np.zeros((5, 2)), np.zeros((5, 2)), 5, "k must be an integer in \\[1, 4\\]"),
])
def test_bad_input_names_the_problem(real, fake, k, match):
    with pytest.raises(ValueError, match=match):
        prdc.precision_recall_density_coverage(real, fake, k)


def test_latent_sample_quality_sees_prior_mass_where_there_are_no_codes():
    """evaluate's z-space variant: prior samples drawn like the codes score as the codes do; prior
    samples of which a third sit in an empty pocket lose that third of their precision."""
    from tf_dpvae.evaluation import run

    rng = np.random.default_rng(12)
    codes = rng.normal(size=(600, 3))
    pocket = rng.normal(size=(200, 3)) * 0.1 + 40.0
    terms = run.SklTerms(p_z=np.concatenate([rng.normal(size=(400, 3)), pocket]), q_z=codes,
                         log_p_at_p=None, log_q_at_p=None, log_p_at_q=None, log_q_at_q=None)
    scores = run.latent_sample_quality_metric(terms, 5)
    clean = prdc.precision_recall_density_coverage(codes, terms.p_z[:400], 5)
    assert scores["precision"] == pytest.approx(clean["precision"] * 400 / 600, rel=1e-9)
    assert scores["generated"] == 600 and scores["q_samples"] == 600
    tiny = run.SklTerms(p_z=codes[:4], q_z=codes[:4], log_p_at_p=None, log_q_at_p=None,
                        log_p_at_q=None, log_q_at_q=None)
    assert run.latent_sample_quality_metric(tiny, 5)["skipped"] is True
