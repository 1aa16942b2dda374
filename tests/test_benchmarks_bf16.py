"""benchmarks/bf16_profile.py's parsing (oneDNN's verbose log, op categories) and throughput.py's
refusals: the parts of the bfloat16 evidence that run without timing anything."""

import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "benchmarks"))
import bf16_profile  # noqa: E402
import throughput  # noqa: E402

CONV = ("onednn_verbose,v1,primitive,exec,cpu,convolution,brg_conv_fwd:avx512_core_bf16,forward_training,"
        "src:bf16::blocked:acdb::f0 wei:bf16:a:blocked:AcdB32a2b::f0 bia:undef::undef::: "
        "dst:bf16::blocked:acdb::f0,attr-scratchpad:user,alg:convolution_direct,"
        "mb100_ic32oc32_ih14oh12kh3sh1dh0ph0_iw14ow12kw3sw1dw0pw0,{t}")
GEMM = ("onednn_verbose,v1,primitive,exec,cpu,gemm_api,,undef,src_f32::blocked:ab:f0 wei_f32::blocked:ba:f0 "
        "dst_f32::blocked:ab:f0,,,100x256:256x256,{t}")
REORDER = ("onednn_verbose,v1,primitive,exec,cpu,reorder,jit:uni,undef,src:f32::blocked:cdba::f0 "
           "dst:bf16::blocked:AcdB32a2b::f0,attr-fpmath:bf16,,32x32x3x3,{t}")


def test_onednn_log_is_grouped_per_primitive_with_the_median_call_per_shape():
    lines = [CONV.format(t=t) for t in (1.0, 9.0, 2.0)] + [GEMM.format(t=0.5)] * 3 + \
        [REORDER.format(t=0.1)] * 3 + ["onednn_verbose,v1,info,cpu,isa:Intel AVX-512", "noise"]
    rows = {(r["primitive"], r["dtype"], r["impl"]): r for r in bf16_profile.parse_onednn(lines, 3)}
    conv = rows["convolution forward_training", "bf16", "brg_conv_fwd:avx512_core_bf16"]
    assert conv["calls"] == 1 and conv["ms"] == 2.0  # the median call, not the preempted 9 ms one
    assert rows["gemm_api", "f32", "(gemm API)"]["ms"] == 0.5
    assert rows["reorder", "f32→bf16 (fpmath bf16)", "jit:uni"]["calls"] == 1
    assert len(rows) == 3


@pytest.mark.parametrize("op_type, name, expected", [
    ("Cast", "discriminator_1/dense/Cast", "Cast"),
    ("AssignSubVariableOp", "adam/AssignSubVariableOp_3", "Adam update (float32)"),
    ("_MklNativeFusedConv2D", "encoder_1/conv_0_1/Relu", "Conv2D (forward)"),
    ("_MklNativeConv2DBackpropInput", "decoder_1/dec_head_1/conv_transpose",
     "Conv2DBackpropInput (conv-transpose fwd, conv bwd)"),
    ("_MklNativeConv2DBackpropFilterWithBias", "gradient_tape/x", "Conv2DBackpropFilter"),
    ("_MklNativeFusedMatMul", "discriminator_1/disc_0_1/Relu", "MatMul (dense)"),
    ("Mul", "gradient_tape/mul", "other (elementwise, reductions, RNG, variables)"),
])
def test_ops_fall_in_their_category(op_type, name, expected):
    assert bf16_profile.category(op_type, name) == expected


@pytest.mark.parametrize("argv, message", [
    (["--onednn", "both", "--precisions", "float32", "bfloat16-grappler"], "needs --onednn 1"),
    (["--rounds", "0"], "--rounds must be at least 1, got 0"),
    (["--batch", "-1"], "--batch must be 0"),
])
def test_throughput_refuses_bad_settings_in_one_line(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_:
        throughput.main(argv)
    assert exit_.value.code == 2 and message in capsys.readouterr().err
