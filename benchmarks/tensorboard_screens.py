"""Screenshots of TensorBoard's Scalars and HParams dashboards, as a person sees them, and what its
HTTP API lists: the check of issue 25, rerunnable.

    python benchmarks/tensorboard_screens.py [--logdir DIR] [--out DIR]

Without --logdir it first makes a tiny Table 1 on two moons (VAE pair and post-hoc rows, seed 0, a few
hundred steps, latent size 3 so that the projector has something to show) in a temporary directory.
It starts ``tensorboard --logdir DIR --host 127.0.0.1`` on a free port, asks its HTTP API for the runs,
the scalar tags and the HParams sessions (printed as a table), then has headless Chromium (Debian's
``chromium``) draw the Time Series, HParams, Text, Images, Projector and Graphs dashboards into
``OUT/tensorboard_{scalars,hparams,text,images,projector,graphs}.png`` (default OUT:
results/tensorboard).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

from provenance import ROOT, stamp  # noqa: E402  (benchmarks/, first on sys.path as a script)

PAGES = {"scalars": "#timeseries", "hparams": "#hparams", "text": "#text", "images": "#images",
         "projector": "#projector", "graphs": "#graphs"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def tiny_table(out: str) -> str:
    """A tiny Table 1 on two moons into ``out``; returns its runs folder."""
    command = [sys.executable, "-m", "tf_dpvae.reproduce", "table1", "--dataset", "moons", "--regs",
               "none", "--seeds", "0", "--steps", "300", "--num-samples", "500", "--lp-pool", "2",
               "--skl-samples", "500", "--is-samples", "8", "--nll-examples", "50",
               "--post-hoc-steps", "50", "--latent-dim", "3", "--no-progress", "--out", out]
    subprocess.run(command, cwd=ROOT, check=True, stdout=subprocess.DEVNULL,
                   env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    return os.path.join(out, "runs")


def get(url: str, body: dict | None = None):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json",
                                                              "X-XSRF-Protected": "1"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def wait_for(base: str, seconds: float = 60.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            get(f"{base}/data/runs")
            return
        except OSError:
            time.sleep(0.5)
    raise RuntimeError(f"TensorBoard did not answer at {base} within {seconds:.0f} s")


def api_summary(base: str) -> list[str]:
    """Markdown lines: the runs, the scalar tags per run, and the HParams sessions with their
    hparams and metric values."""
    runs = get(f"{base}/data/runs")
    tags = get(f"{base}/data/plugin/scalars/tags")
    lines = [f"runs: {len(runs)}" + (" (one named '.': events at the log root)" if "." in runs else
                                      " (none named '.')"), "", "| run | scalar tags |", "|---|---|"]
    lines += [f"| {run} | {len(tags.get(run, {}))} |" for run in runs]
    experiment = get(f"{base}/data/plugin/hparams/experiment", {"experimentName": ""})
    groups = get(f"{base}/data/plugin/hparams/session_groups", {
        "experimentName": "", "allowedStatuses": ["STATUS_UNKNOWN", "STATUS_SUCCESS",
                                                  "STATUS_FAILURE", "STATUS_RUNNING"],
        "colParams": [], "startIndex": 0, "sliceSize": 100})
    metric_names = [m["name"]["tag"] for m in experiment.get("metricInfos", [])]
    lines += ["", f"HParams: {len(groups.get('sessionGroups', []))} sessions; metrics "
              f"{', '.join(metric_names)}", "", "| session | hparams | metrics with values |",
              "|---|---|---|"]
    for group in groups.get("sessionGroups", []):
        hparams = ", ".join(f"{k}={v}" for k, v in sorted(group.get("hparams", {}).items()))
        values = [m for m in group.get("metricValues", []) if "value" in m]
        lines.append(f"| {group['name']} | {hparams} | {len(values)} |")
    projector = get(f"{base}/data/plugin/projector/runs")
    graphs = get(f"{base}/data/plugin/graphs/info")
    lines += ["", f"projector runs: {len(projector)} ({', '.join(projector[:3])}, …)",
              f"graph runs: {len(graphs)} ({', '.join(list(graphs)[:3])})"]
    return lines


def screenshot(browser: str, url: str, path: str) -> None:
    subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", f"--screenshot={path}",
                    "--window-size=1600,1100", "--virtual-time-budget=20000", "--hide-scrollbars",
                    url], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=120)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--logdir", help="a TensorBoard log directory (default: a new tiny Table 1)")
    parser.add_argument("--out", default=os.path.join(ROOT, "results", "tensorboard"))
    args = parser.parse_args(argv)
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    with tempfile.TemporaryDirectory() as scratch:
        logdir = args.logdir or tiny_table(os.path.join(scratch, "table"))
        port = free_port()
        server = subprocess.Popen(
            [sys.executable, "-m", "tensorboard.main", "--logdir", logdir, "--host", "127.0.0.1",
             "--port", str(port), "--samples_per_plugin", "images=100"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        base = f"http://127.0.0.1:{port}"
        try:
            wait_for(base)
            print(stamp())
            print()
            print("\n".join(api_summary(base)))
            if browser is None:
                print("\nno chromium on PATH: screenshots skipped (apt-get install chromium)")
                return 0
            os.makedirs(args.out, exist_ok=True)
            for name, fragment in PAGES.items():
                path = os.path.join(args.out, f"tensorboard_{name}.png")
                screenshot(browser, f"{base}/{fragment}", path)
                print(f"\n{name}: {os.path.relpath(path, ROOT)}")
        finally:
            server.terminate()
            server.wait(timeout=30)
    return 0


if __name__ == "__main__":
    sys.exit(main())
