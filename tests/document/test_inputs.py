"""Run-time inputs: reading, precedence, validation, files, environment."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator.document import input_environment, load_inputs_file, parse, resolve_inputs
from orchestrator.errors import InputError
from orchestrator.model import Document

FRONT = """\
---
id: inputs
title: Inputs
inputs:
  patch:
    type: integer
    minimum: 1
    required: true
  label:
    type: string
  target:
    type: string
    enum: [staging, production]
    default: staging
  ratio:
    type: number
    maximum: 1
  verbose:
    type: boolean
    default: false
  files:
    type: array
    items: {type: string}
  options:
    type: object
  code:
    type: string
    pattern: "^[A-Z]{3}$"
  my-token:
    type: string
    secret: true
---

```bash {step=use}
true
```
"""


@pytest.fixture
def doc() -> Document:
    return parse(FRONT, Path("intents/inputs.md"))


def test_yaml_12_scalars_checked_against_types(doc: Document) -> None:
    values = resolve_inputs(
        doc,
        cli_pairs=[
            "patch=0017",
            "label=0017",
            "ratio=0.5",
            "verbose=true",
            "files=[a, 'b c']",
            "options={x: 1}",
            "code=ABC",
        ],
    )
    assert values == {
        "patch": 17,
        "label": "0017",
        "target": "staging",
        "ratio": 0.5,
        "verbose": True,
        "files": ["a", "b c"],
        "options": {"x": 1},
        "code": "ABC",
    }


def test_string_input_keeps_raw_text(doc: Document) -> None:
    values = resolve_inputs(doc, cli_pairs=["patch=1", "label=yes", "code=ABC", "label=on"])
    assert values["label"] == "on"
    values = resolve_inputs(doc, cli_pairs=["patch=1", "label=", "target=production"])
    assert values["label"] == ""
    assert values["target"] == "production"


def test_yaml_11_words_are_not_booleans(doc: Document) -> None:
    with pytest.raises(InputError) as caught:
        resolve_inputs(doc, cli_pairs=["patch=1", "verbose=yes"])
    assert [d.message for d in caught.value.diagnostics] == [
        "input 'verbose': 'yes' is not of type 'boolean'"
    ]


def test_every_problem_at_once(doc: Document) -> None:
    with pytest.raises(InputError) as caught:
        resolve_inputs(
            doc,
            cli_pairs=["target=prod", "ratio=2", "code=abc", "nope=1", "broken", "=x"],
        )
    shown = [str(d) for d in caught.value.diagnostics]
    assert shown == [
        "<command line>:1:1: -i argument 5: expected NAME=VALUE",
        "<command line>:1:1: -i argument 6: expected NAME=VALUE",
        "<command line>:1:1: unknown input 'nope' given with -i (the document declares "
        "patch, label, target, ratio, verbose, files, options, code, my-token)",
        "intents/inputs.md:5:1: input 'patch' is required: give it with -i patch=VALUE",
        "intents/inputs.md:11:1: input 'target': 'prod' is not one of ['staging', 'production']",
        "intents/inputs.md:15:1: input 'ratio': 2 is greater than the maximum of 1",
        "intents/inputs.md:26:1: input 'code': 'abc' does not match '^[A-Z]{3}$'",
    ]


def test_minimum_and_types(doc: Document) -> None:
    with pytest.raises(InputError) as caught:
        resolve_inputs(doc, cli_pairs=["patch=0", "files=notalist"])
    assert [d.message for d in caught.value.diagnostics] == [
        "input 'patch': 0 is less than the minimum of 1",
        "input 'files': 'notalist' is not of type 'array'",
    ]


def test_secret_values_never_in_messages(doc: Document) -> None:
    parsed = parse(
        FRONT.replace("    secret: true\n", "    secret: true\n    minLength: 8\n"), Path("x.md")
    )
    with pytest.raises(InputError) as caught:
        resolve_inputs(parsed, cli_pairs=["patch=1", "my-token=hunter2"])
    assert "hunter2" not in str(caught.value)
    assert str(caught.value) == (
        "x.md:29:1: secret input 'my-token' is shorter than 8 characters (the value is not shown)"
    )


def test_precedence_defaults_extra_file_cli(doc: Document) -> None:
    base = resolve_inputs(doc, cli_pairs=["patch=1"])
    assert base["target"] == "staging"
    assert resolve_inputs(doc, extra={"patch": 2, "target": "production"}) == {
        "patch": 2,
        "target": "production",
        "verbose": False,
    }
    from_file = resolve_inputs(doc, extra={"patch": 2}, file_values={"patch": 3, "verbose": True})
    assert from_file["patch"] == 3
    assert from_file["verbose"] is True
    assert (
        resolve_inputs(doc, extra={"patch": 2}, file_values={"patch": 3}, cli_pairs=["patch=4"])[
            "patch"
        ]
        == 4
    )


def test_unknown_inputs_from_file_and_extra_rejected(doc: Document) -> None:
    with pytest.raises(InputError) as caught:
        resolve_inputs(doc, cli_pairs=["patch=1"], file_values={"colour": 1}, extra={"x": 2})
    messages = [d.message for d in caught.value.diagnostics]
    assert any("unknown input 'colour' in the inputs file" in m for m in messages)
    assert any(m.startswith("unknown input 'x' (the document declares") for m in messages)


def test_inputs_file_yaml_and_json(tmp_path: Path, doc: Document) -> None:
    yaml_file = tmp_path / "in.yaml"
    yaml_file.write_text("patch: 0017\nlabel: '0017'\non: yes\n")
    assert load_inputs_file(yaml_file) == {"patch": 17, "label": "0017", "on": "yes"}
    json_file = tmp_path / "in.json"
    json_file.write_text('{"patch": 5, "files": ["a"]}')
    values = resolve_inputs(doc, file_values=load_inputs_file(json_file))
    assert values["patch"] == 5
    assert values["files"] == ["a"]


def test_inputs_file_errors_name_their_line(tmp_path: Path) -> None:
    bad_json = tmp_path / "bad.json"
    bad_json.write_text('{\n  "a": 1,\n  "b": \n}')
    with pytest.raises(InputError) as caught:
        load_inputs_file(bad_json)
    assert str(caught.value).startswith(f"{bad_json}:4:1: invalid JSON")
    bad_yaml = tmp_path / "bad.yaml"
    bad_yaml.write_text("a: 1\nb: [1,\n")
    with pytest.raises(InputError) as caught:
        load_inputs_file(bad_yaml)
    assert str(caught.value).startswith(f"{bad_yaml}:3:1: invalid YAML")
    dup = tmp_path / "dup.yaml"
    dup.write_text("a: 1\na: 2\n")
    with pytest.raises(InputError) as caught:
        load_inputs_file(dup)
    assert caught.value.diagnostics[0].line == 2
    listing = tmp_path / "list.yaml"
    listing.write_text("- 1\n")
    with pytest.raises(InputError, match="mapping of input name"):
        load_inputs_file(listing)
    with pytest.raises(InputError, match="cannot read"):
        load_inputs_file(tmp_path / "missing.yaml")


def test_input_environment(doc: Document) -> None:
    values = {
        "patch": 17,
        "verbose": False,
        "files": ["a", "b"],
        "options": {"k": "v é"},
        "my-token": "s3",
        "ratio": 0.5,
    }
    assert input_environment(doc, values) == {
        "ORCH_INPUT_PATCH": "17",
        "ORCH_INPUT_VERBOSE": "false",
        "ORCH_INPUT_FILES": '["a","b"]',
        "ORCH_INPUT_OPTIONS": '{"k":"v é"}',
        "ORCH_INPUT_MY_TOKEN": "s3",
        "ORCH_INPUT_RATIO": "0.5",
    }
