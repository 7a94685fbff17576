"""How fast ``validate_paths`` checks 1,000 typical intent documents.

Run: ``python benchmarks/bench_validate.py [COUNT] [--rounds 5]``. Prints wall and CPU
time for orch's validation and, measured in the same run on the same files, for two floors with no
validation at all: reading each file, loading its front matter with ruamel.yaml in
round-trip mode (what orch used to do) and parsing its body with markdown-it; and reading
each file, parsing its front matter into events with libyaml and its body with markdown-it
(block rules only), which is what orch now stands on.

The typical documents differ only in id, title and description, as documents written from
one template do; orch remembers which template texts it has already found valid, so their
step bodies are checked once. A second set, where every step body, condition and artifact
field differs too, shows the cost when nothing repeats.

In the same rounds (``--rounds``, the order rotating), ``validate_paths`` runs again with one
of orch's own parts replaced by a library (``validate_alternatives.py``): the schema's
validity check by jsonschema-rs or fastjsonschema, the template shortcut by plain Jinja with
a cache. Then micro-benchmarks of each part alone, each engine's cost of first use in a fresh
process, and how often each schema engine's verdict differs from jsonschema's
(``validate_micro.py``).

All of that runs with the disk cache of parsed documents turned off (``ORCH_CACHE_DIR=``),
so every document is parsed. Then, in the same rounds, the cache on the typical documents:
``validate_paths`` with an empty cache folder (it reads the cache but keeps nothing), the
time ``document.load`` takes to parse and keep every document (what ``orch apply`` does with
a document it reads for the first time), and ``validate_paths`` again (every document read
before).
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from markdown_it import MarkdownIt
from ruamel.yaml import YAML
from ruamel.yaml.main import CParser  # type: ignore[attr-defined]
from validate_alternatives import VARIANTS, clear_caches, swapped
from validate_micro import micro_benchmarks

from orchestrator import document
from orchestrator.document import validate_paths

TEMPLATE = """\
---
id: workflow-{n}
title: Workflow number {n}
owner: platform
status: approved
system: weic
description: Build, configure and verify service {n}
inputs:
  baseline:
    type: integer
    required: true
    description: Baseline the patch applies to
  patch:
    type: integer
    minimum: 1
    required: true
  target:
    type: string
    enum: [staging, production]
    default: staging
env:
  APP: weic
secrets: [WEIC_DEPLOY_TOKEN]
artifacts:
  - name: "weic_{{{{ '%04d' % inputs.patch }}}}_patch.zip"
    type: delivery-patch
    baseline: "{{{{ inputs.baseline }}}}"
    patch: "{{{{ inputs.patch }}}}"
    files: ["build/dist/**"]
---

# Workflow number {n}

Why this exists, who to call, what to check. Plain prose; orch ignores it. The
paragraph goes on for a few lines, as real documents do, with `code` and *emphasis*.

## Configure

```yaml {{step=config file=build/app.yaml}}
app: {{{{ env.APP }}}}
baseline: {{{{ inputs.baseline }}}}
target: {{{{ inputs.target }}}}
```

## Build

1. Build the distribution:

   ```bash {{step=build timeout=10m}}
   make -C src dist BASELINE="$ORCH_INPUT_BASELINE"
   echo "version=$(cat src/VERSION)" >> "$ORCH_OUTPUT"
   ```

2. Run the tests:

   ```bash {{step=test timeout=20m retries=1}}
   make -C src test
   ```

## Verify

```health {{step=verify}}
url: http://127.0.0.1:8080/health
expect:
  status: ok
  baseline: "{{{{ '%04d' % inputs.baseline }}}}"
timeout: 2m
```

```manual {{step=sign-off if="inputs.target == 'production'"}}
Ask the release manager to confirm the delivery.
```

An example that is only documentation:

```bash
make clean
```
"""


def distinct(n: int) -> str:
    """A typical document whose templates, bodies and condition are its own."""
    return (
        TEMPLATE.format(n=n)
        .replace("{{ env.APP }}", f"{{{{ env.APP ~ '-{n}' }}}}")
        .replace("'%04d' % inputs.baseline }}\"", f"'%04d' % inputs.baseline }}}}-{n}\"")
        .replace('"{{ inputs.baseline }}"', f'"{{{{ inputs.baseline }}}}.{n}"')
        .replace('"{{ inputs.patch }}"', f'"{{{{ inputs.patch }}}}.{n}"')
        .replace('"weic_{{', f'"weic{n}_{{{{')
        .replace("inputs.target == 'production'", f"inputs.target == 'production' or {n} < 0")
    )


def rt_floor(paths: list[Path]) -> None:
    md = MarkdownIt("commonmark")
    yaml = YAML(typ="rt")
    for path in paths:
        text = path.read_text(encoding="utf-8")
        _, front_matter, body = text.split("---\n", 2)
        yaml.load(front_matter)
        md.parse(body)


def events_floor(paths: list[Path]) -> None:
    md = MarkdownIt("commonmark").disable(["inline", "text_join"])
    for path in paths:
        text = path.read_text(encoding="utf-8")
        _, front_matter, body = text.split("---\n", 2)
        parser = CParser(front_matter)
        while parser.get_event() is not None:
            pass
        parser.dispose()
        md.parse(body)


def timed(run: Callable[[], object]) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    run()
    return time.perf_counter() - wall, time.process_time() - cpu


def write(root: Path, count: int, make: Callable[[int], str]) -> list[Path]:
    root.mkdir()
    paths = []
    for n in range(count):
        path = root / f"workflow-{n:04d}.md"
        path.write_text(make(n), encoding="utf-8")
        paths.append(path)
    return paths


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("count", nargs="?", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    count = args.count
    os.environ["ORCH_CACHE_DIR"] = ""
    cached: dict[str, list[tuple[float, float]]] = {
        "validate_paths, typical, cache empty": [],
        "document.load of each, keeping it": [],
        "validate_paths, typical, cache full": [],
    }
    with tempfile.TemporaryDirectory() as folder:
        typical = write(Path(folder) / "typical", count, lambda n: TEMPLATE.format(n=n))
        varied = write(Path(folder) / "distinct", count, distinct)
        spare = write(Path(folder) / "spare", 10, lambda n: distinct(count + n))
        for variant in VARIANTS:
            with swapped(variant):
                assert not validate_paths(typical[:10] + spare), f"{variant}: must be valid"
        rt = timed(lambda: rt_floor(typical))
        floor: list[tuple[float, float]] = []
        runs: dict[tuple[str, str], list[tuple[float, float]]] = {}
        for round_ in range(args.rounds):
            floor.append(timed(lambda: events_floor(typical)))
            order = VARIANTS[round_ % len(VARIANTS) :] + VARIANTS[: round_ % len(VARIANTS)]
            for variant in order:
                for label, paths in (("typical", typical), ("distinct", varied)):
                    runs.setdefault((variant, label), []).append(
                        timed_variant(variant, typical, paths)
                    )
            os.environ["ORCH_CACHE_DIR"] = str(Path(folder) / f"cache-{round_}")
            for label, action in zip(
                cached, (validate_paths, load_each, validate_paths), strict=True
            ):
                cached[label].append(timed(lambda action=action: action(typical)))
            os.environ["ORCH_CACHE_DIR"] = ""
        micro = micro_benchmarks(typical, varied, args.rounds)
    load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
    print(f"documents: {count}   rounds: {args.rounds}   CPUs: {os.cpu_count()}   load: {load}")
    print(f"{'':48s} {'wall':>8s} {'cpu':>8s} {'docs/s':>8s}  (medians of the rounds)")
    show("floor: ruamel round-trip + markdown-it (once)", [rt], count)
    show("floor: libyaml events + markdown-it", floor, count)
    for label in ("typical", "distinct"):
        show(f"orch validate_paths, {label}", runs[("orch", label)], count)
    for label, samples in cached.items():
        show(f"orch {label}", samples, count)
    print()
    print("validate_paths with one part replaced, same rounds; ratios = medians of per-round")
    print("ratios to orch's own run in that round, wall / cpu (> 1: slower than orch)")
    for label in ("typical", "distinct"):
        for variant in VARIANTS[1:]:
            mine, ours = runs[(variant, label)], runs[("orch", label)]
            pairs = list(zip(mine, ours, strict=True))
            wall = statistics.median(m[0] / o[0] for m, o in pairs)
            cpu = statistics.median(m[1] / o[1] for m, o in pairs)
            show(f"{variant}, {label}", mine, count, f"  {wall:5.2f} / {cpu:4.2f} x orch")
    print()
    for line in micro:
        print(line)


def load_each(paths: list[Path]) -> None:
    for path in paths:
        document.load(path)


def timed_variant(variant: str, warm: list[Path], paths: list[Path]) -> tuple[float, float]:
    """One timed ``validate_paths`` run with ``variant`` swapped in, caches warmed alike."""
    clear_caches()
    with swapped(variant):
        validate_paths(warm[:10])
        problems: list[object] = []
        result = timed(lambda: problems.extend(validate_paths(paths)))
    assert not problems, problems[:3]
    return result


def show(label: str, samples: list[tuple[float, float]], count: int, extra: str = "") -> None:
    wall = statistics.median(s[0] for s in samples)
    cpu = statistics.median(s[1] for s in samples)
    print(f"{label:48s} {wall:7.2f}s {cpu:7.2f}s {count / wall:8.0f}{extra}")


if __name__ == "__main__":
    main()
