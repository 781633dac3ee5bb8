"""Root pytest configuration: never collect the book's build copies or the virtualenv."""

collect_ignore_glob = ["_build/*", ".venv/*", "**/.ipynb_checkpoints/*"]
