"""Evaluation metrics of the paper (§4.1, §5), one per module, as pure functions.

    frechet              Fréchet distance between Gaussian fits of two feature sets
    symmetric_kl         KL[p(z) ‖ q(z)] + KL[q(z) ‖ p(z)] by Monte Carlo with both exact densities
    importance_nll       −log p(x) by importance sampling with q(z|x) as proposal, and the −ELBO
    leakage              the leakage score LS(τ) of eq. (6)
    disentanglement/     MIG, FactorVAE score, DCI, SAP on data with ground-truth factors (issue 13)
    settings             EvalSettings and FeatureSettings (no TensorFlow: the commands' flags)
    sampling             encodings (the one batch encoder), prior draws, decodings, densities, and the
                         low- and high-posterior (pockets and leaks) samples of §4.1 that ``run``, the
                         tuner's Fréchet objectives and ``explore`` share
    run                  restore a run; one function per metric and one orchestrator, ``evaluate_run``
                         (used by ``python -m tf_dpvae.evaluate``); figures are drawn by ``plots``

The aggregate posterior q(z) (its exact log-density and samples) is one level down, in
``tf_dpvae.aggregate_posterior``, because ``plots`` draws it too.

Modules here may import ``config``, ``data``, ``model``, ``priors``, ``divergences``,
``aggregate_posterior`` and ``plots``;
never ``training`` or a command-line module. ``plots`` never imports this package: it takes arrays.
"""
