"""The datastore as actions see it (`st2common.services.datastore`), over the
engine's key API.

`ActionDatastoreService` talks to `ST2_ACTION_API_URL` with the per-execution
token in `ST2_ACTION_AUTH_TOKEN` (both set by the runner, as StackStorm sets
them): `GET/PUT/DELETE {api}/keys/{name}` and `GET {api}/keys?prefix=...`, with
`scope` (and `decrypt`) as query parameters. Names local to the action are
`<pack>.<Class>:<name>`, as in StackStorm. As in StackStorm, `get_value` logs a
failed request and returns None, `delete_value` logs it and returns False, and
`set_value` raises.
"""

import json
import os
import urllib.error
import urllib.parse
import urllib.request

from st2common.constants.keyvalue import (
    DATASTORE_KEY_SEPARATOR,
    FULL_SYSTEM_SCOPE,
    FULL_USER_SCOPE,
    SYSTEM_SCOPE,
    USER_SCOPE,
)

__all__ = [
    "BaseDatastoreService",
    "ActionDatastoreService",
    "DatastoreUnavailableError",
    "KeyValuePair",
]

_SCOPES = {
    SYSTEM_SCOPE: SYSTEM_SCOPE,
    FULL_SYSTEM_SCOPE: SYSTEM_SCOPE,
    USER_SCOPE: USER_SCOPE,
    FULL_USER_SCOPE: USER_SCOPE,
}


class DatastoreUnavailableError(RuntimeError):
    """The action runs without an engine to talk to."""


class KeyValuePair(object):
    """One datastore item: attributes `name`, `value`, `scope`, `secret`, ... as
    st2client's `KeyValuePair`; item access (`kvp["name"]`) works too."""

    def __init__(self, **fields):
        self.__dict__.update(fields)

    def __getitem__(self, key):
        return self.__dict__[key]

    def get(self, key, default=None):
        return self.__dict__.get(key, default)

    def to_dict(self):
        return dict(self.__dict__)

    def __repr__(self):
        return "<KeyValuePair name=%s,value=%s>" % (
            self.__dict__.get("name"),
            self.__dict__.get("value"),
        )


def _scope(scope):
    try:
        return _SCOPES[scope]
    except KeyError:
        raise ValueError("Scope %s is unsupported." % scope)


class _HttpError(Exception):
    def __init__(self, method, path, code, detail):
        super(_HttpError, self).__init__(
            "Datastore request %s %s failed with HTTP %s: %s" % (method, path, code, detail)
        )
        self.code = code


class BaseDatastoreService(object):
    """Datastore methods shared by actions (and, in StackStorm, sensors)."""

    DATASTORE_NAME_SEPARATOR = DATASTORE_KEY_SEPARATOR

    def __init__(self, logger, pack_name, class_name):
        self._pack_name = pack_name
        self._class_name = class_name
        self._logger = logger
        self._client_announced = False

    def get_user_info(self):
        """The user the action runs as, as the API reports it."""
        self._logger.debug("Retrieving user information")
        return self._request("GET", "/user")

    def list_values(self, local=True, prefix=None, limit=None, offset=None):
        """Items whose name starts with `prefix` (inside the action's namespace when
        `local`), as a list of `KeyValuePair`."""
        self._logger.debug("Retrieving all the values from the datastore")
        key_prefix = self._get_full_key_prefix(local=local, prefix=prefix)
        query = {"prefix": key_prefix, "limit": limit, "offset": offset}
        items = self._request("GET", "/keys", query=query) or []
        return [KeyValuePair(**item) if isinstance(item, dict) else item for item in items]

    def get_value(self, name, local=True, scope=SYSTEM_SCOPE, decrypt=False):
        """The value of `name`, or None when it does not exist (or the request failed)."""
        scope = _scope(scope)
        name = self._get_full_key_name(name=name, local=local)
        self._logger.debug("Retrieving value from the datastore (name=%s)", name)
        self._check_available()
        query = {"decrypt": str(bool(decrypt)).lower(), "scope": scope}
        try:
            item = self._request("GET", "/keys/" + _quote(name), query=query)
        except _HttpError as e:
            if e.code != 404:
                self._logger.exception(
                    "Exception retrieving value from datastore (name=%s): %s", name, e
                )
            return None
        except Exception as e:
            self._logger.exception(
                "Exception retrieving value from datastore (name=%s): %s", name, e
            )
            return None
        if isinstance(item, dict):
            return item.get("value")
        return item

    def set_value(self, name, value, ttl=None, local=True, scope=SYSTEM_SCOPE, encrypt=False):
        """Stores `str(value)` under `name`; `ttl` in seconds; True on success."""
        scope = _scope(scope)
        name = self._get_full_key_name(name=name, local=local)
        value = str(value)
        self._logger.debug("Setting value in the datastore (name=%s)", name)
        body = {"name": name, "value": value, "scope": scope}
        if encrypt:
            body["secret"] = True
        if ttl:
            body["ttl"] = ttl
        self._request("PUT", "/keys/" + _quote(name), query={"scope": scope}, body=body)
        return True

    def delete_value(self, name, local=True, scope=SYSTEM_SCOPE):
        """Deletes `name`; False when it did not exist or the request failed."""
        scope = _scope(scope)
        name = self._get_full_key_name(name=name, local=local)
        self._logger.debug("Deleting value from the datastore (name=%s)", name)
        self._check_available()
        try:
            self._request("DELETE", "/keys/" + _quote(name), query={"scope": scope})
        except Exception as e:
            if not (isinstance(e, _HttpError) and e.code == 404):
                self._logger.exception(
                    "Exception deleting value from datastore (name=%s): %s", name, e
                )
            return False
        return True

    def _get_full_key_name(self, name, local):
        if local:
            return self._get_key_name_with_prefix(name)
        return name

    def _get_full_key_prefix(self, local, prefix=None):
        if local:
            return self._get_local_key_name_prefix() + (prefix or "")
        return prefix

    def _get_local_key_name_prefix(self):
        return self._get_datastore_key_prefix() + self.DATASTORE_NAME_SEPARATOR

    def _get_key_name_with_prefix(self, name):
        return self._get_local_key_name_prefix() + name

    def _get_datastore_key_prefix(self):
        return "%s.%s" % (self._pack_name, self._class_name)

    def _api(self):
        raise NotImplementedError("_api() not implemented")

    def _check_available(self):
        self._api()

    def _request(self, method, path, query=None, body=None):
        api_url, token = self._api()
        if not self._client_announced:
            self._logger.debug("Creating new Client object.")
            self._client_announced = True
        url = api_url.rstrip("/") + path
        query = {k: v for k, v in (query or {}).items() if v is not None}
        if query:
            url += "?" + urllib.parse.urlencode(query)
        data = None
        headers = {
            "Authorization": "Bearer " + token,
            "X-Auth-Token": token,
            "Accept": "application/json",
        }
        if body is not None:
            data = json.dumps(body).encode("utf-8")
            headers["Content-Type"] = "application/json"
        req = urllib.request.Request(url, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                payload = resp.read()
        except urllib.error.HTTPError as e:
            detail = e.read().decode("utf-8", "replace").strip()
            raise _HttpError(method, path, e.code, detail)
        if not payload:
            return None
        return json.loads(payload.decode("utf-8"))


class ActionDatastoreService(BaseDatastoreService):
    """The datastore of one action execution, through its temporary token."""

    def __init__(self, logger, pack_name, class_name, auth_token=None, api_url=None):
        super(ActionDatastoreService, self).__init__(logger, pack_name, class_name)
        self._auth_token = auth_token
        self._api_url = api_url

    def _api(self):
        api_url = self._api_url or os.environ.get("ST2_ACTION_API_URL")
        token = self._auth_token or os.environ.get("ST2_ACTION_AUTH_TOKEN")
        if not api_url or not token:
            raise DatastoreUnavailableError(
                "The datastore is not available to this action: it was run without the "
                "Stormdesk engine's API (ST2_ACTION_API_URL/ST2_ACTION_AUTH_TOKEN are not "
                "set). Run it through the engine to use self.action_service."
            )
        return api_url, token


def _quote(name):
    return urllib.parse.quote(name, safe="")
