"""Stormdesk's stand-in for the parts of StackStorm's `st2common` that pack code imports.

StackStorm itself is not installed: these modules give the same names with the same
behaviour (written for Stormdesk from StackStorm's documented behaviour), so that
unmodified Python actions run. What is here: `runners.base_action.Action`, `log`,
`services.datastore` (the action service), `exceptions.*`, `constants.action`,
`constants.keyvalue` and the `util` helpers packs use (`shell`, `isotime`, `date`,
`jsonify`, `misc`).
"""
