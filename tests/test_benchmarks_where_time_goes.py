"""benchmarks/where_time_goes.py: the ``GFLOP/step`` column counts a traced step's dense kernels;
their count and FLOPs are checked against closed forms on a small graph with a gradient."""

import os
import sys

import tensorflow as tf

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "benchmarks"))
import where_time_goes  # noqa: E402


def test_kernel_flops_counts_every_matmul_and_convolution_a_call_runs():
    x = tf.random.normal([4, 6, 6, 2])
    w_conv = tf.Variable(tf.random.normal([3, 3, 2, 5]))
    w_dense = tf.Variable(tf.random.normal([6 * 6 * 5, 7]))

    @tf.function
    def step(x):
        with tf.GradientTape() as tape:
            h = tf.nn.conv2d(x, w_conv, strides=1, padding="SAME")      # [4, 6, 6, 5]
            y = tf.matmul(tf.reshape(h, [4, -1]), w_dense)             # [4, 7]
            loss = tf.reduce_sum(y ** 2)
        return tape.gradient(loss, [w_conv, w_dense])

    graph = step.get_concrete_function(x).graph
    counted = where_time_goes.kernel_flops(graph)
    # the conv and its filter gradient (x is not differentiated: the input gradient the tape
    # writes into the graph is never run, and not counted), the matmul and its two gradients
    live = where_time_goes.executed_ops(graph)
    kinds = sorted(op.type for op in graph.get_operations()
                   if op.type in where_time_goes.KERNEL_TYPES and op.name in live)
    assert counted["ops"] == len(kinds) and counted["skipped"] == 0
    conv = 2 * (4 * 6 * 6 * 5) * (3 * 3 * 2)          # 2 · output size · (kh · kw · c_in)
    dense = 2 * 4 * 180 * 7                            # 2 · m · k · n
    expected = (kinds.count("Conv2D") + kinds.count("Conv2DBackpropInput")
                + kinds.count("Conv2DBackpropFilter")) * conv + kinds.count("MatMul") * dense
    assert kinds.count("Conv2D") == 1 and kinds.count("Conv2DBackpropFilter") == 1
    assert kinds.count("Conv2DBackpropInput") == 0
    assert any(op.type == "Conv2DBackpropInput" for op in graph.get_operations())   # in the graph
    assert kinds.count("MatMul") == 3   # y = h·W, dL/dW = hᵀ·g, dL/dh = g·Wᵀ
    assert counted["flops"] == expected
