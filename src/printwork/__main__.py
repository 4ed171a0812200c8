"""`python -m printwork …` is the `printwork` command."""

from printwork.cli.main import app

app(prog_name="printwork")
