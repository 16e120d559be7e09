"""The exception hierarchy and the status mapping."""
import pytest

import astra
from astra import capi


def test_version():
    assert astra.version() == astra.__version__
    assert astra.version_info() == tuple(int(x) for x in astra.version().split("."))
    assert astra.format_version() >= 1


@pytest.mark.parametrize("code,cls", [
    (astra.Status.ENOTFOUND, astra.NotFoundError),
    (astra.Status.EAUTH, astra.AuthError),
    (astra.Status.ECANCELLED, astra.CancelledError),
    (astra.Status.EPOLICY, astra.PolicyError),
    (astra.Status.ECORRUPT, astra.CorruptError),
    (astra.Status.EPARTIAL, astra.PartialError),
    (astra.Status.EEXISTS, astra.ExistsError),
    (astra.Status.ENOMEM, astra.NoMemoryError),
    (astra.Status.EIO, astra.IoError),
    (astra.Status.ETIMEOUT, astra.TimedOutError),
    (astra.Status.ERROR, astra.Error),
    (-25, astra.Error),
    (-999, astra.CallbackError),
    (-31, astra.CallbackError),
])
def test_error_class_for(code, cls):
    assert astra.error_class_for(code) is cls
    assert issubclass(cls, astra.Error)


def test_builtin_bases():
    assert issubclass(astra.NoMemoryError, MemoryError)
    assert issubclass(astra.IoError, OSError)
    assert issubclass(astra.InvalidError, ValueError)
    assert issubclass(astra.TimedOutError, TimeoutError)
    assert issubclass(astra.NetworkError, ConnectionError)


def test_status_constants_match_the_c_header():
    for s in astra.Status:
        assert getattr(capi, "ASTRA_" + s.name) == s.value
    for k in astra.ErrorClass:
        assert getattr(capi, "ASTRA_ERROR_" + k.name) == k.value


def test_strerror():
    assert astra.strerror(astra.Status.EAUTH)
    assert astra.strerror(0)


def test_error_attributes(tmp_path):
    with pytest.raises(astra.NotFoundError) as ei:
        astra.Vault.open(f"file://{tmp_path}/none", "x")
    e = ei.value
    assert e.code == astra.Status.ENOTFOUND == -3
    assert e.name == "ENOTFOUND"
    assert isinstance(e.klass, int)
    assert "none" in e.message and str(e) == e.message
    assert "NotFoundError" in repr(e)
