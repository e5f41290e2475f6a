"""Benchmark records: the one writer and the one reader of ``benchmarks/results``.

A record is a JSON file ``<kind>-<YYYYmmddTHHMMSSZ>.json``, written whole or
not at all, that holds what a benchmark measured and when (``recorded``, a UTC
time) on what (``environment``). The reader orders records by the time they
hold, never by their names: a name's stamp is for people listing a folder.
Files written before this module (no ``recorded``) are read as they are, their
time taken from what they hold: their ``environment``'s ``started``, else the
newest ``started`` of the environments inside them (one per backend or per
variant), else the newest time of the records they name in ``files``.
"""

import dataclasses
import datetime
import json
import os
import re
from pathlib import Path


KIND = re.compile(r"^[A-Za-z0-9_.]+(-[A-Za-z0-9_.]+)*$")


@dataclasses.dataclass(frozen=True)
class Record:
    path: Path
    recorded: datetime.datetime  # UTC
    payload: dict


def _utc(text):
    when = datetime.datetime.fromisoformat(text)
    return when.replace(tzinfo=datetime.timezone.utc) if when.tzinfo is None else when.astimezone(datetime.timezone.utc)


def write_record(directory, kind, payload, *, path=None):
    """Write ``payload`` as a new record of ``kind`` in ``directory``; return its path.

    Adds ``recorded`` (now, UTC) and ``environment``
    (:func:`supermask_lib.experiment.provenance.environment`) where the payload has none.
    The file appears whole or not at all (a temporary file, then a rename), and
    a record never replaces another, except ``path``: the file an earlier call
    of the same benchmark wrote, updated as the benchmark goes (each backend
    kept as it finishes).
    """
    if not KIND.match(str(kind)):
        raise ValueError(f"record kind {kind!r}: use letters, digits, '_', '.' and single '-' between them")
    now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    record = dict(payload)
    record.setdefault("recorded", now.isoformat())
    if "environment" not in record:
        from supermask_lib.experiment.provenance import environment

        record["environment"] = environment()
    directory = Path(directory)
    if path is None:
        path = directory / f"{kind}-{_utc(record['recorded']):%Y%m%dT%H%M%SZ}.json"
        if path.exists():
            raise FileExistsError(f"{path} exists; a record never replaces an earlier one")
    path = Path(path)
    text = json.dumps(record, indent=1, default=str) + "\n"  # fails here, before any file exists
    directory.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        with open(tmp, "w") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def recorded_at(payload, directory=None):
    """The UTC time a record holds (see the module's docstring); ``None`` when it holds none."""
    if payload.get("recorded"):
        return _utc(payload["recorded"])
    environment = payload.get("environment")
    if isinstance(environment, dict) and environment.get("started"):
        return _utc(environment["started"])
    nested = [_utc(started) for started in _nested_starts(payload)]
    if nested:
        return max(nested)
    files = payload.get("files")
    if isinstance(files, dict) and files and directory is not None:
        named = [_read(Path(directory) / name).recorded for name in files.values()]
        return max(named)
    return None


def _nested_starts(value):
    if isinstance(value, dict):
        environment = value.get("environment")
        if isinstance(environment, dict) and environment.get("started"):
            yield environment["started"]
        for item in value.values():
            yield from _nested_starts(item)
    elif isinstance(value, list):
        for item in value:
            yield from _nested_starts(item)


def _read(path):
    try:
        payload = json.loads(Path(path).read_text())
        if not isinstance(payload, dict):
            raise ValueError(f"holds a {type(payload).__name__}, not a JSON object")
        when = recorded_at(payload, Path(path).parent)
    except (OSError, ValueError, TypeError) as error:  # JSONDecodeError is a ValueError
        raise ValueError(f"benchmark record {path}: {error}") from error
    if when is None:
        raise ValueError(f"benchmark record {path}: holds no time (no 'recorded', no environment 'started')")
    return Record(Path(path), when, payload)


def records(directory, kind=None):
    """Every record in ``directory`` (of ``kind``: files named ``<kind>-*.json``), oldest first by recorded time."""
    pattern = "*.json" if kind is None else f"{kind}-*.json"
    found = [_read(path) for path in sorted(Path(directory).glob(pattern)) if path.is_file()]
    return sorted(found, key=lambda record: record.recorded)  # stable: equal times keep name order


def newest_record(directory, kind):
    """The record of ``kind`` with the latest recorded time; FileNotFoundError when there is none."""
    found = records(directory, kind)
    if not found:
        raise FileNotFoundError(f"no {kind}-*.json in {directory}")
    return found[-1]


def newest_or_say(directory, kind, script):
    """The newest record of ``kind``; where there is none, the error names the benchmark ``script`` that writes it."""
    try:
        return newest_record(directory, kind)
    except FileNotFoundError as error:
        raise FileNotFoundError(f"{error}; run benchmarks/{script}") from None


def newest_per_device_class(directory, kind, script):
    """``{"cpu" | "gpu": record}``: the newest record of ``kind`` whose runs were on a CPU, and on a GPU."""
    newest = {}
    for record in records(directory, kind):  # oldest first: the newest of each class wins
        device = record.payload["results"][0]["environment"]["device"]
        newest["cpu" if device.startswith("CPU") else "gpu"] = record
    if not newest:
        newest_or_say(directory, kind, script)  # raises, naming the script to run
    return newest
