"""tuning.objectives: the Fréchet objectives of a build without the module that computes them."""

from tf_dpvae.cli import tune


def test_frechet_objectives_need_the_evaluation_module(tmp_path, base_file, capsys, monkeypatch):
    import sys

    import tf_dpvae
    from tf_dpvae.tuning import frechet_objectives as objectives

    # a build whose Fréchet objectives module lacks the objective
    for name, function in (("fd", "frechet_distance_objective"), ("lp_fd", "low_posterior_fd_objective")):
        with monkeypatch.context() as m:
            m.delattr(objectives, function)
            assert tune.main(["--config", base_file, "--objective", name,
                              "--out", str(tmp_path / "s")]) == 2
        err = capsys.readouterr().err
        assert f"objective {name!r} needs tf_dpvae.tuning.frechet_objectives.{function}, which this build" in err
    # a build without the evaluation module at all
    monkeypatch.setitem(sys.modules, "tf_dpvae.evaluation", None)  # import fails
    monkeypatch.delattr(tf_dpvae, "evaluation")
    for name in ("fd", "lp_fd"):
        assert tune.main(["--config", base_file, "--objective", name,
                          "--out", str(tmp_path / "s")]) == 2
        err = capsys.readouterr().err
        assert f"objective {name!r} needs tf_dpvae.evaluation (not installed in this build)" in err
    assert not (tmp_path / "s").exists()
