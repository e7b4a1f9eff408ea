"""The commands: thin shells over the pipeline (cli: the `grader` command; batch: `grader grade`; selfcheck:
`grader check`; selftest, release, pytest_plugin, manual, export, similarity). Only they may import everything."""
