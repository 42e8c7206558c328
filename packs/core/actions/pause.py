import random as _random
import time

from st2common.runners.base_action import Action


class PauseAction(Action):
    """Sleeps for `max_pause` seconds, or a random part of it."""

    def run(self, max_pause, random=False):
        seconds = _random.uniform(0, max_pause) if random else max_pause
        time.sleep(seconds)
        return seconds
