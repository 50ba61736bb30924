"""``python -m engine``: the headless engine (see ``engine.cli``)."""

from engine.cli.start import main

if __name__ == "__main__":
    main()
