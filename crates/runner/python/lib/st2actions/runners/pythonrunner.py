"""Old StackStorm import path of `Action`, kept by StackStorm for existing packs."""

from st2common.runners.base_action import Action

__all__ = ["Action"]
