# The notebooks folder is also the package cs20lib.series (pyproject.toml's package-dir):
# the wheel carries the series with its stored outputs, and `python -m cs20lib notebooks DIR`
# writes it out (cs20lib/course.py).
