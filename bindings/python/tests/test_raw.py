"""The raw SWIG layer (astra.capi): versions, ownership, outputs."""
import pytest

import astra
from astra import capi
from conftest import FAST_KDF, PASSWORD


@pytest.mark.parametrize("cls,version", [
    (capi.astra_vault_options, capi.ASTRA_VAULT_OPTIONS_VERSION),
    (capi.astra_data_backup_options, capi.ASTRA_DATA_BACKUP_OPTIONS_VERSION),
    (capi.astra_data_restore_options, capi.ASTRA_DATA_RESTORE_OPTIONS_VERSION),
    (capi.astra_check_options, capi.ASTRA_CHECK_OPTIONS_VERSION),
    (capi.astra_gc_options, capi.ASTRA_GC_OPTIONS_VERSION),
    (capi.astra_cluster_options, capi.ASTRA_CLUSTER_OPTIONS_VERSION),
    (capi.astra_data_backup_result, capi.ASTRA_DATA_BACKUP_RESULT_VERSION),
    (capi.astra_data_restore_result, capi.ASTRA_DATA_RESTORE_RESULT_VERSION),
])
def test_structs_are_initialised_with_their_version(cls, version):
    o = cls()
    assert o.version == version > 0
    with pytest.raises(AttributeError):
        o.version = 0


def test_options_defaults_come_from_options_init():
    g = capi.astra_gc_options()
    assert (g.grace_seconds, g.repack_threshold) == (3600, 50)


def test_string_members_are_copied():
    o = capi.astra_vault_options()
    s = "".join(["pass", "word"])
    o.password = s
    del s
    assert o.password == "password"
    o.password = None
    assert o.password is None


def test_out_handle_is_owned_and_freed_once(vault_url):
    o = capi.astra_vault_options()
    o.password = PASSWORD
    o.kdf_log2n = FAST_KDF
    v = capi.astra_vault_init(vault_url, o)
    assert isinstance(v, capi.astra_vault)
    assert v.thisown
    capi.astra_vault_free(v)  # %delobject: disowns
    assert not v.thisown
    del v  # no second free (would crash under ASan / glibc checks)
    v = capi.astra_vault_open(vault_url, o)
    assert v.thisown
    del v  # the destructor frees it


def test_failed_open_returns_nothing(vault_url):
    o = capi.astra_vault_options()
    o.password = PASSWORD
    with pytest.raises(astra.NotFoundError):
        capi.astra_vault_open(vault_url, o)


def test_buffers_are_strings(vault):
    s = capi.astra_vault_snapshots(vault._h)
    assert isinstance(s, str) and s.strip().startswith("[")


def test_wrong_handle_type_is_a_type_error(vault):
    with pytest.raises(TypeError):
        capi.astra_vault_info(capi.astra_vault_options())


def test_raw_tags():
    o = capi.astra_data_backup_options()
    assert o.add_tag("a=b") == 0
    assert o.add_tag("c=d") == 0
    o.clear_tags()
    assert o.add_tag("e=f") == 0


def test_cancel_token_raw():
    t = capi.astra_cancel_new()
    assert capi.astra_cancel_requested(t) == 0
    capi.astra_cancel_request(t)
    assert capi.astra_cancel_requested(t) == 1
    capi.astra_cancel_free(t)
    assert not t.thisown


def test_options_init_functions_are_not_exposed():
    # the constructors call them; the list comes from astra/options_list.h
    assert [n for n in dir(capi) if n.endswith("_options_init")] == []


def test_restore_options_carry_the_in_place_timeout():
    from astra._app import _restore_options
    o, _ = _restore_options(None, ("shop", "s1"), None, None, None, None,
                            True, None, 0, None, None, None, 42)
    assert o.version == capi.ASTRA_RESTORE_OPTIONS_VERSION >= 3
    assert (o.snapshot_app, o.snapshot) == ("shop", "s1")
    assert o.flags == capi.ASTRA_RESTORE_F_REPLACE
    assert o.inplace_timeout_s == 42
