"""The pre-2.0 StackStorm import path of the action base class (`st2actions.runners.pythonrunner`)."""
