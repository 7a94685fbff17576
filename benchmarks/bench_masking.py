"""What masking costs: a step's whole output, and its live output, against the number of secrets.

    .venv/bin/python benchmarks/bench_masking.py [--mib N] [--rounds R]

Each secret is masked as itself and in its encoded forms (base64, percent, JSON, hex; see
docs/security.md), so the cost grows with the number of secrets. The output is random hex
text in 100-character lines, in which no secret occurs: the common case, and the most work
(every form is searched for through the whole text). The live output (the live log and the
``-v`` display) is masked as it arrives: here fed to ``MaskedStream`` in 64 KiB pieces, as
the step's capture file is read. Prints medians over the rounds.
"""

from __future__ import annotations

import argparse
import base64
import os
import statistics
import time

from orchestrator.masking import Masker
from orchestrator.outputstream import MaskedStream

PIECE = 1 << 16


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mib", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    size = args.mib << 20
    text = os.urandom(size // 2 + 1).hex()[:size]
    lines = [text[i : i + 100] for i in range(0, size, 100)]
    output = "\n".join(lines)
    print(f"output: {args.mib} MiB in {len(lines)} lines of 100 characters")
    print("secrets  forms  whole output  live (64 KiB pieces)")
    for count in (1, 3, 10):
        secrets = [base64.b64encode(os.urandom(24)).decode() for _ in range(count)]
        masker = Masker(secrets)
        forms = len(masker.forms)
        whole = _median(args.rounds, lambda m=masker: m.mask(output))
        live = _median(args.rounds, lambda m=masker: _stream(m, output))
        print(f"{count:7d}  {forms:5d}  {whole * 1000:9.1f} ms  {live * 1000:9.1f} ms")


def _stream(masker: Masker, output: str) -> str:
    stream = MaskedStream(masker.mask, masker.forms)
    released = [stream.feed(output[i : i + PIECE]) for i in range(0, len(output), PIECE)]
    return "".join(released) + stream.close()


def _median(rounds: int, work: object) -> float:
    assert callable(work)
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


if __name__ == "__main__":
    main()
