# Type stubs for the SWIG-generated raw layer (astra.capi, built from
# bindings/swig/astra.i). Negative statuses raise astra.Error subclasses;
# `T **out` parameters are return values; astra_buf outputs are str and
# astra_strarray outputs list[str]. Prefer the idiomatic API in astra.
from typing import Any, Callable, List, Optional, Tuple

ProgressRaw = Callable[[int, int, int, int, int, int, Optional[str]], Any]

ASTRA_OK: int
ASTRA_ERROR: int
ASTRA_ENOTSUPPORTED: int
ASTRA_ENOTFOUND: int
ASTRA_EEXISTS: int
ASTRA_EINVALID: int
ASTRA_ENOMEM: int
ASTRA_EIO: int
ASTRA_ENET: int
ASTRA_EAUTH: int
ASTRA_ECERTIFICATE: int
ASTRA_EPARSE: int
ASTRA_EPOLICY: int
ASTRA_ECANCELLED: int
ASTRA_ECORRUPT: int
ASTRA_EVERSION: int
ASTRA_ENOSPACE: int
ASTRA_ECONFLICT: int
ASTRA_ETIMEOUT: int
ASTRA_EPARTIAL: int
ASTRA_EBUSY: int
ASTRA_EUSER: int
ASTRA_VAULT_OPTIONS_VERSION: int
ASTRA_DATA_BACKUP_OPTIONS_VERSION: int
ASTRA_DATA_RESTORE_OPTIONS_VERSION: int
ASTRA_CHECK_OPTIONS_VERSION: int
ASTRA_GC_OPTIONS_VERSION: int
ASTRA_CLUSTER_OPTIONS_VERSION: int
ASTRA_DATA_BACKUP_RESULT_VERSION: int
ASTRA_DATA_RESTORE_RESULT_VERSION: int

def __getattr__(name: str) -> Any: ...  # the other constants of the headers

class astra_vault:
    thisown: bool
class astra_cancel:
    thisown: bool
class astra_cluster:
    thisown: bool

class astra_error:
    @property
    def message(self) -> str: ...
    @property
    def klass(self) -> int: ...
    @property
    def code(self) -> int: ...

def astra_version() -> Tuple[int, int, int]: ...
def astra_version_number() -> int: ...
def astra_version_string() -> str: ...
def astra_format_version() -> int: ...
def astra_error_last() -> astra_error: ...
def astra_error_clear() -> None: ...
def astra_strerror(code: int) -> str: ...
def astra_init() -> int: ...
def astra_shutdown() -> int: ...
def astra_py_set_log_handler(fn: Optional[Callable[[int, str], Any]], max_level: int) -> None: ...

def astra_cancel_new() -> astra_cancel: ...
def astra_cancel_request(token: astra_cancel) -> None: ...
def astra_cancel_requested(token: astra_cancel) -> int: ...
def astra_cancel_reset(token: astra_cancel) -> None: ...
def astra_cancel_free(token: astra_cancel) -> None: ...

class astra_vault_options:
    thisown: bool
    @property
    def version(self) -> int: ...
    password: Optional[str]
    password_file: Optional[str]
    flags: int
    kdf_log2n: int
    compression_level: int
    chunk_min: int
    chunk_avg: int
    chunk_max: int
    pack_size: int
    threads: int
    immutable_days: int
    lock_mode: int

class astra_data_backup_options:
    @property
    def version(self) -> int: ...
    parent: Optional[str]
    source: Optional[str]
    flags: int
    cancel: Optional[astra_cancel]
    def set_progress(self, callable: Optional[ProgressRaw]) -> None: ...
    def add_tag(self, tag: str) -> int: ...
    def clear_tags(self) -> None: ...

class astra_data_backup_result:
    @property
    def version(self) -> int: ...
    id: str
    files: int
    dirs: int
    files_unchanged: int
    bytes_total: int
    bytes_read: int
    bytes_new: int
    bytes_stored: int
    errors: int
    duration_s: float

class astra_data_restore_options:
    @property
    def version(self) -> int: ...
    subpath: Optional[str]
    flags: int
    cancel: Optional[astra_cancel]
    def set_progress(self, callable: Optional[ProgressRaw]) -> None: ...

class astra_data_restore_result:
    @property
    def version(self) -> int: ...
    files: int
    dirs: int
    bytes: int
    errors: int
    duration_s: float

class astra_check_options:
    @property
    def version(self) -> int: ...
    flags: int
    cancel: Optional[astra_cancel]
    def set_progress(self, callable: Optional[ProgressRaw]) -> None: ...

class astra_gc_options:
    @property
    def version(self) -> int: ...
    flags: int
    grace_seconds: int
    repack_threshold: int
    cancel: Optional[astra_cancel]
    def set_progress(self, callable: Optional[ProgressRaw]) -> None: ...

class astra_cluster_options:
    @property
    def version(self) -> int: ...
    kubeconfig: Optional[str]
    context: Optional[str]
    timeout_ms: int
    retry_budget_ms: int
    qps: float
    burst: int
    cancel: Optional[astra_cancel]

def astra_vault_init(url: str, opts: Optional[astra_vault_options]) -> astra_vault: ...
def astra_vault_open(url: str, opts: Optional[astra_vault_options]) -> astra_vault: ...
def astra_vault_free(vault: astra_vault) -> None: ...
def astra_vault_change_password(vault: astra_vault, new_secret: astra_vault_options) -> None: ...
def astra_vault_info(vault: astra_vault) -> str: ...
def astra_vault_backup_path(vault: astra_vault, path: str,
                            opts: Optional[astra_data_backup_options],
                            result: Optional[astra_data_backup_result]) -> None: ...
def astra_vault_restore_path(vault: astra_vault, id: str, target: str,
                             opts: Optional[astra_data_restore_options],
                             result: Optional[astra_data_restore_result]) -> Optional[str]: ...
def astra_vault_snapshots(vault: astra_vault) -> str: ...
def astra_vault_forget(vault: astra_vault, id: str) -> None: ...
def astra_vault_check(vault: astra_vault, opts: Optional[astra_check_options]) -> Optional[str]: ...
def astra_vault_gc(vault: astra_vault, opts: Optional[astra_gc_options]) -> Optional[str]: ...

def astra_cluster_open(opts: Optional[astra_cluster_options]) -> astra_cluster: ...
def astra_cluster_free(cluster: astra_cluster) -> None: ...
def astra_cluster_context_name(cluster: astra_cluster) -> str: ...
def astra_cluster_server(cluster: astra_cluster) -> str: ...
def astra_cluster_namespace(cluster: astra_cluster) -> str: ...
def astra_cluster_server_version(cluster: astra_cluster) -> str: ...
def astra_cluster_namespaces(cluster: astra_cluster) -> List[str]: ...
