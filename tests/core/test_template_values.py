"""How values are written by templates: booleans as ``true``/``false``, null as nothing, lists
and mappings as compact JSON, as in ``$ORCH_INPUT_<NAME>``; the same in ``report.md``."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import git
from tests.core.helpers import commit_documents, document, orch

FRONT = """
id: values
title: Values
status: approved
inputs:
  flag: {type: boolean, default: true}
  off: {type: boolean, default: false}
  cfg: {type: object, default: {a: null, on: true, n: [1, 2.5]}}
env:
  FLAG: "{{ inputs.flag }}"
  NOTHING: "[{{ inputs.cfg.a }}]"
artifacts:
  - name: values.zip
    type: generic
    files: ["conf.yaml"]
    description: "flag {{ inputs.flag }} off {{ inputs.off }} none [{{ none }}]"
"""

BODY = """
# Values

```yaml {step=conf file=conf.yaml}
flag: {{ inputs.flag }}
off: {{ inputs.off }}
nothing: {{ inputs.cfg.a }}
cfg: {{ inputs.cfg }}
literal: {{ true }} {{ false }} [{{ none }}] {{ [true, none] }}
```

```bash {step=script}
echo "{{ inputs.flag }} {{ inputs.off }} $FLAG $NOTHING" > script.txt
echo "$ORCH_INPUT_FLAG $ORCH_INPUT_CFG" >> script.txt
```

```python3 {step=python}
open("python.txt", "w").write(repr(({{ inputs.flag | py }}, {{ inputs.cfg | py }})))
```
"""


def test_values_render_as_their_input_variables_do(git_repo: Path) -> None:
    commit_documents(git_repo, {"intents/values.md": document(FRONT, BODY)})
    ran = orch(git_repo, "apply", "intents/values.md", "--json")
    assert ran.code == 0, ran.stderr
    assert (git_repo / "conf.yaml").read_text() == (
        "flag: true\n"
        "off: false\n"
        "nothing: \n"
        'cfg: {"a":null,"on":true,"n":[1,2.5]}\n'
        "literal: true false [] [true,null]\n"
    )
    assert (git_repo / "script.txt").read_text() == (
        'true false true []\ntrue {"a":null,"on":true,"n":[1,2.5]}\n'
    )
    assert (git_repo / "python.txt").read_text() == (
        "(True, {'a': None, 'on': True, 'n': [1, 2.5]})"
    )
    record = ran.json()
    assert record["artifacts"][0]["manifest"]["description"] == "flag true off false none []"
    report = git(git_repo, "show", f"orch-trace:runs/values/{record['run_id']}/report.md")
    assert "| `flag` | `true` |" in report
    assert "| `off` | `false` |" in report
    assert '| `cfg` | `{"a":null,"on":true,"n":[1,2.5]}` |' in report


def test_plan_shows_the_same_text(git_repo: Path) -> None:
    commit_documents(git_repo, {"intents/values.md": document(FRONT, BODY)})
    ran = orch(git_repo, "plan", "intents/values.md", "-i", "flag=false", "--json")
    assert ran.code == 0, ran.stderr
    planned = {p["step"]: p for p in json.loads(ran.stdout)}
    assert planned["script"]["body"].startswith('echo "false false $FLAG')
