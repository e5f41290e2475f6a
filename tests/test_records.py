"""Benchmark records: one writer, one reader; "newest" is the time a record holds, not its name."""

import json

import pytest

from supermask_lib.report import records


def test_a_record_round_trips_with_its_time_and_environment_added(tmp_path):
    path = records.write_record(tmp_path, "topk", {"rows": [1, 2]}, )
    assert path.parent == tmp_path and path.name.startswith("topk-") and path.name.endswith("Z.json")
    (record,) = records.records(tmp_path, "topk")
    assert record.path == path and record.payload["rows"] == [1, 2]
    assert record.payload["environment"]["backend"] and record.payload["environment"]["started"]
    # The name's stamp is the recorded time, to the second, in UTC.
    assert path.name == f"topk-{record.recorded:%Y%m%dT%H%M%SZ}.json"
    assert record.recorded.isoformat() == record.payload["recorded"]


def test_a_given_environment_and_time_are_kept(tmp_path):
    environment = {"device": "Some GPU", "started": "2026-01-01T00:00:00+00:00"}
    path = records.write_record(tmp_path, "profile-mnist", {"environment": environment,
                                                            "recorded": "2026-01-02T03:04:05+00:00"})
    assert path.name == "profile-mnist-20260102T030405Z.json"
    assert json.loads(path.read_text())["environment"] == environment
    assert records.newest_record(tmp_path, "profile").path == path  # a kind's prefix finds it
    with pytest.raises(FileExistsError):  # a record never replaces another
        records.write_record(tmp_path, "profile-mnist", {"environment": environment,
                                                         "recorded": "2026-01-02T03:04:05+00:00"})


def test_a_write_leaves_no_temporary_file_and_a_failed_one_no_file_at_all(tmp_path):
    records.write_record(tmp_path, "quick-tensorflow", {"environment": {}, "summary": {}})
    assert [p.name for p in tmp_path.iterdir()] == [next(tmp_path.glob("quick-*.json")).name]
    circular = {"environment": {}}
    circular["self"] = circular
    with pytest.raises(ValueError, match="[Cc]ircular"):
        records.write_record(tmp_path / "new", "quick-tensorflow", circular)
    assert not (tmp_path / "new").exists() or not any((tmp_path / "new").iterdir())
    with pytest.raises(ValueError, match="record kind"):
        records.write_record(tmp_path, "../escape", {"environment": {}})


def test_an_updated_record_keeps_its_file(tmp_path):
    path = records.write_record(tmp_path, "topk", {"environment": {}, "backends": {"jax": 1}})
    again = records.write_record(tmp_path, "topk", {"environment": {}, "backends": {"jax": 1, "torch": 2}}, path=path)
    assert again == path and len(list(tmp_path.iterdir())) == 1
    assert json.loads(path.read_text())["backends"] == {"jax": 1, "torch": 2}


def _write(path, payload):
    path.write_text(json.dumps(payload))
    return path


def test_newest_is_by_the_time_inside_not_the_name(tmp_path):
    # Names sort a < b < c; the times inside sort c < a < b ... and b is the newest.
    _write(tmp_path / "quick-a-20260103T0000.json", {"recorded": "2026-01-02T00:00:00Z"})
    _write(tmp_path / "quick-b-20260101T0000.json", {"environment": {"started": "2026-01-02T12:00:00+00:00"}})
    _write(tmp_path / "quick-c-20260102T0000.json",  # an older file: only its runs' environments hold times
           {"runs": [{"environment": {"started": "2026-01-01T05:00:00+00:00"}},
                     {"environment": {"started": "2026-01-01T06:00:00+00:00"}}]})
    assert [r.path.name[:7] for r in records.records(tmp_path, "quick")] == ["quick-c", "quick-a", "quick-b"]
    assert records.newest_record(tmp_path, "quick").path.name.startswith("quick-b")
    assert str(records.records(tmp_path, "quick")[0].recorded) == "2026-01-01 06:00:00+00:00"  # the latest run


def test_a_summary_takes_its_time_from_the_records_it_names(tmp_path):
    _write(tmp_path / "jax-backends-1.json", {"environment": {"started": "2026-01-05T00:00:00+00:00"}})
    _write(tmp_path / "backends-1.json", {"files": {"jax": "jax-backends-1.json"}, "rows": []})
    _write(tmp_path / "backends-2.json", {"recorded": "2026-01-04T00:00:00+00:00", "rows": []})
    assert records.newest_record(tmp_path, "backends").path.name == "backends-1.json"


@pytest.mark.parametrize("text,problem", [("{not json", "Expecting"), ('{"rows": []}', "holds no time"),
                                          ("[1, 2]", "not a JSON object")])
def test_a_bad_file_is_named_in_the_error(tmp_path, text, problem):
    _write(tmp_path / "topk-good.json", {"recorded": "2026-01-01T00:00:00+00:00"})
    (tmp_path / "topk-bad.json").write_text(text)
    with pytest.raises(ValueError, match=problem) as error:
        records.records(tmp_path, "topk")
    assert str(tmp_path / "topk-bad.json") in str(error.value)


def test_no_record_of_a_kind_is_a_file_not_found_error(tmp_path):
    _write(tmp_path / "topk-1.json", {"recorded": "2026-01-01T00:00:00+00:00"})
    assert records.records(tmp_path, "profile") == []
    with pytest.raises(FileNotFoundError, match="no profile-"):
        records.newest_record(tmp_path, "profile")
