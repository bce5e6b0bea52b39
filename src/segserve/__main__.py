"""``python -m segserve`` and the ``segserve`` console script."""

from __future__ import annotations


def main(argv: list[str] | None = None) -> None:
    from segserve.node import main as node_main

    node_main(argv)


if __name__ == "__main__":
    main()
