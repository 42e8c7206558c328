from st2common.runners.base_action import Action

from examples_common import session_id
from lib_helpers import normalize_user


class LoginAction(Action):
    def run(self, username, password, remember=False):
        user = normalize_user(username)
        service = self.config.get("service_url")
        greeting = self.config.get("greeting", "Welcome")
        retries = self.config.get("retries", 3)

        # Never log or return the password, nor anything derived from it.
        self.logger.info("logging in %s to %s", user, service)
        if not password:
            return (False, {"username": user, "error": "empty password"})

        return (
            True,
            {
                "username": user,
                "service_url": service,
                "message": "%s, %s" % (greeting, user),
                "session": session_id(user, service),
                "remember": remember,
                "retries": retries,
            },
        )
