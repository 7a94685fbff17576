"""Step outputs written as GitHub Actions writes them (``key=value`` and ``key<<DELIMITER``
blocks) reach later steps exactly, and a step log over ``log-cap-bytes`` keeps its end with
the cap noted. Real ``orch apply`` runs; the evidence read back from the trace."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import git
from tests.core.helpers import commit_documents, document, orch, trace_record

FRONT = "id: outputs\ntitle: Outputs\nstatus: approved\n"

OUTPUTS = """
# Outputs

```bash {step=first}
cat >> "$ORCH_OUTPUT" <<'EOF'
version=2.4=final
notes<<END
line one
  line two, indented
END
=no key, ignored
EOF
```

```bash {step=second}
printf '%s|' {{ steps.first.outputs.version | sh }} {{ steps.first.outputs.notes | sh }}
```
"""

LOUD = """
# Loud

```bash {step=loud}
for i in $(seq 1 30); do echo "line $i of the step's output"; done
```
"""


def test_outputs_in_both_forms_reach_later_steps_exactly(git_repo: Path) -> None:
    commit_documents(git_repo, {"intents/outputs.md": document(FRONT, OUTPUTS)})
    applied = orch(git_repo, "apply", "intents/outputs.md", "--json")
    assert applied.code == 0, applied.stderr
    record = applied.json()
    first = next(step for step in record["steps"] if step["name"] == "first")
    assert first["outputs"] == {
        "version": "2.4=final",
        "notes": "line one\n  line two, indented",
    }
    run = record["run_id"]
    log = git(git_repo, "show", f"orch-trace:runs/outputs/{run}/logs/02-second.log")
    assert log == "2.4=final|line one\n  line two, indented|"


def test_a_log_over_the_cap_keeps_its_end_and_says_so(git_repo: Path) -> None:
    commit_documents(git_repo, {"intents/loud.md": document(FRONT, LOUD)})
    applied = orch(
        git_repo, "apply", "intents/loud.md", "--json", env={"ORCH_LOG_CAP_BYTES": "100"}
    )
    assert applied.code == 0, applied.stderr
    run = applied.json()["run_id"]
    log = git(git_repo, "show", f"orch-trace:runs/outputs/{run}/logs/01-loud.log")
    whole = "".join(f"line {i} of the step's output\n" for i in range(1, 31))
    dropped = len(whole) - 100
    assert log == (
        f"[orch: log capped at 100 bytes; the first {dropped} bytes were dropped]\n"
        + whole[dropped:]
    )
    assert trace_record(git_repo, "outputs", run)["state"] == "completed"
