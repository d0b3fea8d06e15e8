"""kmgan's recipes: runnable scripts that reproduce each paper's experiment.

Run one as `python recipes/<name>.py ...`; the recipes are also a package,
so tests and other code import them as `recipes.<name>` (from the
repository root). A recipe that uses a sibling module imports it relatively
when imported as a package and by name when run as a script (the script's
own folder is then on the import path), so no recipe edits `sys.path`.
"""
