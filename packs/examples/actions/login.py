from st2common.runners.base_action import Action

from examples_common import session_id
from lib_helpers import strength


class LoginAction(Action):
    def run(self, username, password, remember=False):
        service = self.config.get("service_url")
        greeting = self.config.get("greeting", "Welcome")
        retries = self.config.get("retries", 3)

        self.logger.info("logging in %s to %s", username, service)
        if not password:
            return (False, {"username": username, "error": "empty password"})

        return (
            True,
            {
                "username": username,
                "service_url": service,
                "message": "%s, %s" % (greeting, username),
                "session": session_id(username, service),
                "password_strength": strength(password),
                "remember": remember,
                "retries": retries,
            },
        )
