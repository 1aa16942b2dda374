"""Shared pieces of the export tests (``test_export_*.py``): a sample request, and a signature run
the way TF Serving feeds one."""

import numpy as np

SEED = np.array([7, 11], np.int32)


def sample_request(n=4, seed=SEED, temperature=1.0):
    return dict(num_samples=np.int32(n), seed=np.asarray(seed, np.int32),
                temperature=np.float32(temperature))


def unchecked_run(served, signature, **inputs):
    """Run through the C API (TF_SessionRun) without Python's feed-shape check, the way TF Serving
    feeds a request: it never compares request tensors with the signature's shapes."""
    sig = served.signatures[signature]
    graph = served.graph
    feeds = {graph.get_tensor_by_name(sig.inputs[k].name)._as_tf_output(): np.asarray(v)
             for k, v in inputs.items()}
    fetches = [graph.get_tensor_by_name(t.name)._as_tf_output() for t in sig.outputs.values()]
    return served.session._call_tf_sessionrun(None, feeds, fetches, [], None)
