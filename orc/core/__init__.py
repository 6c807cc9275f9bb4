"""The small core every other part stands on: settings, private state files, locks, the one
path to tmux (tmux.py), the one path to git (gitops.py), the command-line shape, and the
dependency folder. It imports nothing from the other parts of ``orc``."""
