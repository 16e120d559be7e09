"""Progress callbacks, cancellation and the log handler."""
import sys
import threading
import traceback

import pytest

import astra


class Boom(Exception):
    pass


def test_progress_reports(vault, big_dir):
    seen = []
    res = vault.backup(big_dir, progress=seen.append)
    assert seen, "the callback was never called"
    assert all(isinstance(p, astra.Progress) for p in seen)
    assert all(isinstance(p.stage, astra.Stage) for p in seen)
    done = [p.bytes_done for p in seen]
    assert done == sorted(done)
    assert seen[-1].bytes_done == seen[-1].bytes_total == res.bytes_total
    assert seen[-1].fraction == 1.0
    stages = {p.stage for p in seen}
    assert astra.Stage.BACKING_UP in stages


def test_progress_on_restore_check_gc(vault, data_dir, tmp_path):
    res = vault.backup(data_dir)
    for call in (lambda cb: vault.restore(res.id, tmp_path / "o", progress=cb),
                 lambda cb: vault.check(read_data=True, progress=cb)):
        seen = []
        call(seen.append)
        assert seen
    stages = []
    vault.gc(progress=lambda p: stages.append(p.stage))


def test_true_return_cancels(vault, big_dir):
    calls = []

    def cb(p):
        calls.append(p)
        return True

    with pytest.raises(astra.CancelledError) as ei:
        vault.backup(big_dir, progress=cb)
    assert ei.value.code == astra.Status.ECANCELLED
    assert len(calls) == 1
    assert vault.snapshots() == []  # nothing recorded


def test_false_return_continues(vault, data_dir):
    vault.backup(data_dir, progress=lambda p: False)
    assert len(vault.snapshots()) == 1


def test_exception_in_callback_cancels_and_is_reraised(vault, big_dir):
    calls = []

    def cb(p):
        calls.append(p)
        if p.bytes_done > 0:
            raise Boom("stop here")

    with pytest.raises(Boom) as ei:
        vault.backup(big_dir, progress=cb)
    assert str(ei.value) == "stop here"
    assert not isinstance(ei.value, astra.CancelledError)
    # the traceback reaches into the callback
    assert any(f.name == "cb" for f in traceback.extract_tb(ei.value.__traceback__))
    assert 0 < calls[-1].bytes_done < calls[-1].bytes_total  # midway
    assert vault.snapshots() == []
    # the vault is still usable, and a later backup completes
    vault.backup(big_dir)
    assert len(vault.snapshots()) == 1


def test_exception_in_restore_callback(vault, data_dir, tmp_path):
    res = vault.backup(data_dir)

    def cb(p):
        raise KeyError("restore")

    with pytest.raises(KeyError):
        vault.restore(res.id, tmp_path / "o", progress=cb)


def test_exception_in_check_callback(vault, data_dir):
    vault.backup(data_dir)
    with pytest.raises(ZeroDivisionError):
        vault.check(progress=lambda p: 1 / 0)


def test_non_callable_progress_is_rejected(vault, data_dir):
    with pytest.raises(TypeError):
        vault.backup(data_dir, progress=42)


def test_cancel_token_from_another_thread(vault, big_dir):
    token = astra.Cancel()
    started = threading.Event()

    def cb(p):
        started.set()

    def canceller():
        started.wait(10)
        token.request()

    t = threading.Thread(target=canceller)
    t.start()
    with pytest.raises(astra.CancelledError):
        vault.backup(big_dir, progress=cb, cancel=token)
    t.join()
    assert token.requested
    assert vault.snapshots() == []
    token.reset()
    assert not token.requested
    vault.backup(big_dir, cancel=token)  # reusable after reset
    assert len(vault.snapshots()) == 1


def test_cancel_before_start(vault, data_dir):
    token = astra.Cancel()
    token.cancel()
    with pytest.raises(astra.CancelledError):
        vault.backup(data_dir, cancel=token)


def test_vault_use_from_its_callback_is_refused(vault, data_dir):
    errors = []

    def cb(p):
        try:
            vault.snapshots()
        except RuntimeError as e:
            errors.append(e)

    vault.backup(data_dir, progress=cb)
    assert errors


def test_log_handler(vault, data_dir, tmp_path):
    messages = []
    astra.set_log_handler(lambda lvl, msg: messages.append((lvl, msg)),
                          astra.LogLevel.DEBUG)
    try:
        res = vault.backup(data_dir)
        out = tmp_path / "out"
        out.mkdir()
        (out / "empty").mkdir()  # a directory stays where a file goes
        with pytest.raises(astra.PartialError):
            vault.restore(res.id, out, overwrite=True)
    finally:
        astra.set_log_handler(None)
    assert any(lvl == astra.LogLevel.WARN and "empty" in msg
               for lvl, msg in messages), messages


def test_log_handler_exception_is_unraisable(vault, data_dir, tmp_path):
    hits = []
    old = sys.unraisablehook
    sys.unraisablehook = lambda u: hits.append(u.exc_type)

    def bad(lvl, msg):
        raise RuntimeError("in log handler")

    astra.set_log_handler(bad, astra.LogLevel.WARN)
    try:
        res = vault.backup(data_dir)
        out = tmp_path / "out"
        out.mkdir()
        (out / "empty").mkdir()
        with pytest.raises(astra.PartialError):
            vault.restore(res.id, out, overwrite=True)
    finally:
        astra.set_log_handler(None)
        sys.unraisablehook = old
    assert RuntimeError in hits


def test_log_to_logging(vault, data_dir, tmp_path, caplog):
    import logging
    astra.log_to_logging(level=astra.LogLevel.WARN)
    try:
        with caplog.at_level(logging.WARNING, logger="astra"):
            res = vault.backup(data_dir)
            out = tmp_path / "out"
            out.mkdir()
            (out / "empty").mkdir()
            with pytest.raises(astra.PartialError):
                vault.restore(res.id, out, overwrite=True)
    finally:
        astra.set_log_handler(None)
    assert any(r.name == "astra" for r in caplog.records)
