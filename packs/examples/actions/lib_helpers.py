"""Helpers local to the actions directory (importable because the action's
directory is on sys.path, as in StackStorm)."""


def normalize_user(username):
    """Account names are case-insensitive and often pasted with spaces."""
    return username.strip().lower()
