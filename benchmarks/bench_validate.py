"""How fast ``validate_paths`` checks 1,000 typical intent documents.

Run: ``python benchmarks/bench_validate.py [COUNT]``. Prints documents per second for
orch's validation and, measured in the same run on the same files, for the floor it stands
on: reading each file, loading its front matter with ruamel.yaml (round-trip) and parsing
its body with markdown-it, with no validation at all.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from markdown_it import MarkdownIt
from ruamel.yaml import YAML

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


def baseline(paths: list[Path]) -> None:
    md = MarkdownIt("commonmark")
    yaml = YAML(typ="rt")
    for path in paths:
        text = path.read_text(encoding="utf-8")
        _, front_matter, body = text.split("---\n", 2)
        yaml.load(front_matter)
        md.parse(body)


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        paths = []
        for n in range(count):
            path = root / f"workflow-{n:04d}.md"
            path.write_text(TEMPLATE.format(n=n), encoding="utf-8")
            paths.append(path)
        validate_paths(paths[:10])  # warm imports and caches
        started = time.perf_counter()
        baseline(paths)
        floor = time.perf_counter() - started
        started = time.perf_counter()
        problems = validate_paths(paths)
        total = time.perf_counter() - started
    assert not problems, problems[:3]
    print(f"documents:                      {count}")
    print(
        f"baseline (ruamel rt + markdown-it, no checks): {floor:.2f} s  {count / floor:.0f} docs/s"
    )
    print(f"orch validate_paths:            {total:.2f} s  {count / total:.0f} docs/s")
    print(f"validation overhead over baseline: {total - floor:.2f} s ({total / floor:.2f}x)")


if __name__ == "__main__":
    main()
