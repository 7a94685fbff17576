"""``python -m orchestrator.dropboxmini --root DIR [--host H] [--port P] [--baseline N]``."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from orchestrator.dropboxmini.protocol import (
    DEFAULT_MAX_BYTES,
    DropBoxError,
    StoreDamagedError,
    parse_number,
)
from orchestrator.dropboxmini.server import serve


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m orchestrator.dropboxmini")
    parser.add_argument("--root", type=Path, required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--baseline", default=None)
    parser.add_argument("--max-bytes", type=int, default=DEFAULT_MAX_BYTES)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    try:
        serve(
            args.root,
            host=args.host,
            port=args.port,
            baseline=parse_number("baseline", args.baseline),
            max_bytes=args.max_bytes,
        )
    except StoreDamagedError as exc:
        print(f"dropboxmini: {exc.detail}", file=sys.stderr)
        return 1
    except DropBoxError as exc:
        print(f"dropboxmini: {exc.detail}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
