"""`python -m jing_sandbox` runs the `jing-sandbox` command."""

from jing_sandbox.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
