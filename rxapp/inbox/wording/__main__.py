"""python -m rxapp.inbox.wording FILE...: check a force's wording file before deploying it."""
import sys

from rxapp.inbox.wording import HERE, WordingError, load_wording

for name in sys.argv[1:] or [str(HERE / "default.toml")]:
    try:
        print(f"{name}: {len(load_wording(name))} wordings, all usable")
    except WordingError as exc:
        print(f"refused: {exc}")
        sys.exit(1)
