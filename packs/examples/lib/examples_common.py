"""Pack-wide helpers (the pack's lib/ directory is on sys.path)."""

import hashlib


def session_id(username, service):
    """A stable fake session id for a user and a service."""
    digest = hashlib.sha256(("%s@%s" % (username, service)).encode("utf-8"))
    return digest.hexdigest()[:16]
