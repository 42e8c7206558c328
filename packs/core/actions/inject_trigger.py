import sys

from st2common.runners.base_action import Action


class InjectTrigger(Action):
    """Records the trigger; Stormdesk evaluates no rules, so nothing fires."""

    def run(self, trigger=None, trigger_name=None, payload=None, trace_tag=None):
        ref = trigger_name or trigger
        if not ref:
            raise ValueError("give the trigger reference in trigger_name (e.g. mypack.my_trigger)")
        sys.stderr.write(
            "Stormdesk has no rules engine: trigger %s was recorded, no rule was evaluated\n" % ref
        )
        return {
            "trigger": ref,
            "payload": payload or {},
            "trace_tag": trace_tag,
            "rules_evaluated": False,
        }
