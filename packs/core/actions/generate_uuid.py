import uuid

from st2common.runners.base_action import Action


class GenerateUUID(Action):
    """Returns a new UUID as text."""

    def run(self, uuid_type="uuid4"):
        if uuid_type == "uuid1":
            return str(uuid.uuid1())
        if uuid_type == "uuid4":
            return str(uuid.uuid4())
        raise ValueError("uuid_type must be uuid1 or uuid4, not %r" % (uuid_type,))
