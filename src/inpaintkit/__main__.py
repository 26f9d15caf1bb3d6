"""``python -m inpaintkit ...`` (and ``torchrun -m inpaintkit train ...``)."""

from inpaintkit.cli import main

if __name__ == "__main__":
    main()
