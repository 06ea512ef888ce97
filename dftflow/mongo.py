"""Connections to a production MongoDB: the LaunchPad of my_launchpad.yaml and the results database of a
db file. Each is checked to answer within seconds, and a server that does not answer or refuses the login
is one line naming the server (host:port, never the credentials) and the cause."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import unquote

import pymongo
import yaml
from fireworks import LaunchPad
from pymongo.errors import ConfigurationError, OperationFailure

from dftflow.errors import InputError

CONNECT_TIMEOUT_MS = 5000  # fail fast on an unreachable server instead of pymongo's 30 s default
LAUNCHPAD_KEYS = {  # the keys of my_launchpad.yaml whose type a typo can break, and what they must be
    "host": (str, "a string"),
    "port": (int, "an integer"),
    "name": (str, "a string"),
    "username": (str, "a string"),
    "password": (str, "a string"),
    "uri_mode": (bool, "true or false"),
}


def server_name(host: str, port: int | None = None) -> str:
    """host:port for messages, with any credentials of a mongodb:// URI removed."""
    if "://" in str(host):
        scheme, rest = str(host).split("://", 1)
        return f"{scheme}://{rest.rsplit('@', 1)[-1].split('/', 1)[0]}"
    return f"{host}:{port}" if port else str(host)


def uri_username(uri: str) -> str | None:
    """The user of a mongodb:// or mongodb+srv:// URI (read from the text: no SRV lookup)."""
    rest = str(uri).split("://", 1)[-1].split("/", 1)[0]
    return unquote(rest.rsplit("@", 1)[0].split(":", 1)[0]) if "@" in rest else None


def mongo_client(*args, **kwargs) -> pymongo.MongoClient:
    """A pymongo client that gives up on an unreachable server after CONNECT_TIMEOUT_MS (overridable)."""
    kwargs = {"serverSelectionTimeoutMS": CONNECT_TIMEOUT_MS, "connectTimeoutMS": CONNECT_TIMEOUT_MS, **kwargs}
    try:
        return pymongo.MongoClient(*args, **kwargs)
    except ConfigurationError as exc:  # a malformed URI, an SRV record that does not resolve, a bad option
        raise InputError(f"bad MongoDB connection settings: {exc}") from exc


def check_reachable(client: pymongo.MongoClient, where: str, role: str, collection, username: str | None) -> None:
    """Ping the server, then read one document of `collection` (a collection the role uses): an unreachable
    server, a refused login or a database the user may not read is one line naming the server's role
    ("LaunchPad", "results database"), `where` (host:port) and the cause."""
    who = f" of user {username!r}" if username else " without a login (no username given)"
    try:
        client.admin.command("ping")
    except OperationFailure as exc:  # ping needs no privileges: with credentials, this is the login failing
        raise InputError(f"the MongoDB server of the {role} at {where} refused the login{who}: {_reason(exc)}") from exc
    except pymongo.errors.PyMongoError as exc:  # ServerSelectionTimeoutError, AutoReconnect, ...
        timeout = client.options.server_selection_timeout
        raise InputError(
            f"cannot reach the MongoDB server of the {role} at {where}: "
            f"{connection_failure(client) or type(exc).__name__} (gave up after {timeout:g} s)"
        ) from exc
    try:
        collection.find_one({}, {"_id": 1})
    except OperationFailure as exc:  # a server with access control and no (or a too weak) login
        database = collection.database.name
        raise InputError(
            f"the MongoDB server of the {role} at {where} refused access to database {database!r}{who}: {_reason(exc)}"
        ) from exc


def _reason(exc: OperationFailure) -> str:
    return (exc.details or {}).get("errmsg") or str(exc).split(", full error:")[0]


def connection_failure(client: pymongo.MongoClient) -> str | None:
    """The cause pymongo recorded for the servers it could not reach ("Connection refused", "Name or
    service not known", "timed out"), without pymongo's topology dump and timeout settings."""
    causes = []
    for (host, port), description in client.topology_description.server_descriptions().items():
        if description.error is None:
            continue
        text = str(description.error)
        text = re.sub(r"\s*\(configured timeouts:[^)]*\)", "", text)
        text = text.removeprefix(f"{host}:{port}: ")
        text = re.sub(r"^\[Errno -?\d+\]\s*", "", text)
        if text not in causes:
            causes.append(text)
    return "; ".join(causes) or None


def load_launchpad(path: str | Path) -> LaunchPad:
    """FireWorks' LaunchPad from the standard my_launchpad.yaml, checked to answer within seconds.

    A file that is not a LaunchPad file, or a server that cannot be reached, is an InputError; anything
    going wrong inside FireWorks' LaunchPad construction is a bug and propagates as such."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"LaunchPad file not found: {path}")
    try:
        config = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        from dftflow.study import yaml_problem  # (imported only here: it brings pymatgen)

        raise InputError(f"{path}: not a valid FireWorks LaunchPad file: {yaml_problem(exc)}") from exc
    if not isinstance(config, dict):
        raise InputError(f"{path}: not a valid FireWorks LaunchPad file: expected a mapping of host, port, name, ...")
    for key, (kind, description) in LAUNCHPAD_KEYS.items():
        if config.get(key) is not None and not isinstance(config[key], kind):
            shown = "***" if key == "password" else repr(config[key])
            raise InputError(f"{path}: '{key}' must be {description}, not {shown}")
    config["mongoclient_kwargs"] = {
        "serverSelectionTimeoutMS": CONNECT_TIMEOUT_MS,
        "connectTimeoutMS": CONNECT_TIMEOUT_MS,
        **(config.get("mongoclient_kwargs") or {}),
    }
    try:
        lp = LaunchPad.from_dict(config)
    except ConfigurationError as exc:  # pymongo's verdict on the settings: a malformed URI, a bad option
        raise InputError(f"{path}: bad MongoDB connection settings: {exc}") from exc
    where = server_name(lp.host, lp.port)
    username = uri_username(lp.host) if lp.uri_mode else lp.username
    check_reachable(lp.connection, where, "LaunchPad", lp.fireworks, username)
    return lp


def results_database(config: dict):
    """(database, description) of the results database an atomate-style db file describes."""
    if config.get("uri"):
        client = mongo_client(config["uri"])
        where, username = server_name(config["uri"]), uri_username(config["uri"])
    else:
        host, port = config.get("host", "localhost"), config.get("port", 27017)
        if not isinstance(port, int) or isinstance(port, bool):
            raise InputError(f"the db file's port must be an integer, not {port!r}")
        auth = {k: config[k] for k in ("username", "password", "authsource") if config.get(k)}
        client = mongo_client(host, port, **auth)
        where, username = server_name(host, port), config.get("username")
    database = client[config["database"]]
    check_reachable(client, where, "results database", database["tasks"], username)
    return database, f"results database {config['database']} at {where}"
