"""Helpers local to the actions directory (importable because the action's
directory is on sys.path, as in StackStorm)."""


def strength(password):
    """A rough label for a password, computed without revealing it."""
    classes = sum(
        [
            any(c.islower() for c in password),
            any(c.isupper() for c in password),
            any(c.isdigit() for c in password),
            any(not c.isalnum() for c in password),
        ]
    )
    if len(password) >= 12 and classes >= 3:
        return "strong"
    if len(password) >= 8 and classes >= 2:
        return "fair"
    return "weak"
