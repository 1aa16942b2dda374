"""tf_dpvae.experiments.markdown: the sections of table1.md."""

from tf_dpvae.experiments.markdown import where_dp_loses
from tf_dpvae.experiments.statistics import DIAGNOSTICS, METRICS, compare_pairs, mean_se

from experiments_cases import small_request

def test_where_dp_loses_splits_skl_and_lists_the_lp_ratio(tmp_path):
    request = small_request(tmp_path, regs=("none",), seeds=(0,))

    def entry(**values):
        return {name: mean_se([values.get(name)])
                for name in METRICS + DIAGNOSTICS}

    aggregates = {"none": {"normal": entry(skl=5.0, kl_qp=4.0, kl_pq=1.0, nll=9.0, fd=10.0,
                                           lp_fd=13.0, lp_fd_ratio=1.3, nll_ess_median=7.0),
                           "dp": entry(skl=8.0, kl_qp=0.5, kl_pq=7.5, nll=8.0, fd=9.0, lp_fd=9.9,
                                       lp_fd_ratio=1.1, nll_ess_median=3.0)}}
    pairs = compare_pairs(request, aggregates)
    text = "\n".join(where_dp_loses(request, aggregates, pairs))
    assert "| VAE | 4 | 0.5 | 1 | 7.5 |" in text            # sKL lost through KL[p‖q] only
    assert "| dpVAE | 9 | 9.9 | 1.1 | 1.3 |" in text          # LP-FD/FD 1.1 > 1.05
    assert "**IS-NLL.**" not in text                          # dp wins the NLL
    aggregates["none"]["dp"] = entry(skl=1.0, nll=8.0, fd=9.0, lp_fd=9.0, lp_fd_ratio=1.0)
    text = "\n".join(where_dp_loses(request, aggregates,
                                            compare_pairs(request, aggregates)))
    assert "wins every comparison" in text
