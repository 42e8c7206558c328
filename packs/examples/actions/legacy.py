from st2actions.runners.pythonrunner import Action


class LegacyAction(Action):
    def run(self, message, times=1):
        shout = " ".join([message.upper()] * times)
        print(shout)
        return {"shout": shout, "times": times}
