"""CLI sub-commands, one plain function per file, registered in :mod:`inpaintkit.cli`."""
