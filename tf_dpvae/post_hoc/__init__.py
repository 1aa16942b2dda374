"""Post-hoc priors (issue 12): a prior fitted after training to the codes of a frozen encoder.

One name for the feature: a **post-hoc prior** is a prior fitted after training; to **retrofit** a
run is to write a new run directory that carries one (the ``retrofit`` command, ``python -m
tf_dpvae.retrofit``). "Ex-post" is kept only where it is Ghosh et al.'s name for their method (ex-post
density estimation) and in the published Table 1 row "+ ex-post GMM" (``model_names.POST_HOC_NAMES``),
whose text the recorded tables hold.

    fit        the math of the fit: codes of q(z), the decoupled prior's flow by maximum likelihood
               (``fit_flow``), a Gaussian mixture by EM with K by BIC (``fit_gmm``)
    retrofit   a normal-prior run → a new run directory with the fitted prior (``retrofit_run``)

The settings are ``post_hoc_config.PostHocConfig`` (no TensorFlow: the command checks them
first); a retrofitted run's record sits in its ``config.json`` under ``config.POST_HOC_KEY`` and
``runs.load_run`` builds the fitted prior from it, so nothing below this package imports it.

Layer: beside ``training`` and ``evaluation`` (it joins a run, the model and the data); imported by
the ``retrofit`` command and the experiments.
"""
