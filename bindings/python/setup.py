"""Builds the astra extension: runs SWIG on bindings/swig/astra.i and
compiles the wrapper against libastra.

Where the library comes from:
  ASTRA_BUILD_DIR=/path/to/build/dev   a CMake build tree of this repository
                                       (headers from include/ and the tree)
  otherwise                            pkg-config astra (an installed prefix;
                                       set PKG_CONFIG_PATH for a custom one)
The extension gets an RPATH to the library directory, so `import astra`
needs no LD_LIBRARY_PATH, unless ASTRA_RPATH=0 (distribution packages,
whose library is on the system's search path). SWIG is taken from $SWIG or PATH. The extension
is built for the interpreter that runs the build (the one running pip).
"""
import os
import shlex
import shutil
import subprocess
from pathlib import Path

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

HERE = Path(__file__).resolve().parent
SWIG_DIR = HERE.parent / "swig"
REPO = HERE.parent.parent


def _pkg_config(*args):
    pc = os.environ.get("PKG_CONFIG", "pkg-config")
    try:
        out = subprocess.run([pc, *args, "astra"], check=True,
                             capture_output=True, text=True).stdout
    except (OSError, subprocess.CalledProcessError) as e:
        raise SystemExit(
            "libastra not found: set ASTRA_BUILD_DIR to a CMake build tree "
            "or PKG_CONFIG_PATH to an installed prefix's lib/pkgconfig "
            f"({e})")
    return shlex.split(out)


def astra_flags():
    """(include_dirs, library_dirs, libraries, define_macros)."""
    build_dir = os.environ.get("ASTRA_BUILD_DIR")
    if build_dir:
        bd = Path(build_dir).resolve()
        if not (bd / "include" / "astra" / "version.h").exists():
            raise SystemExit(f"ASTRA_BUILD_DIR={bd} is not a built tree")
        return ([str(REPO / "include"), str(bd / "include")],
                [str(bd / "lib")], ["astra"])
    cflags = _pkg_config("--cflags")
    libs = _pkg_config("--libs")
    inc = [f[2:] for f in cflags if f.startswith("-I")]
    libdirs = [f[2:] for f in libs if f.startswith("-L")]
    names = [f[2:] for f in libs if f.startswith("-l")]
    if not libdirs:
        libdirs = _pkg_config("--variable=libdir")
    return inc, libdirs, names


class BuildAstra(build_ext):
    """build_ext that generates the SWIG wrapper first."""

    def build_extension(self, ext):
        inc, libdirs, libs = astra_flags()
        ext.include_dirs += inc
        ext.library_dirs += libdirs
        if os.environ.get("ASTRA_RPATH", "1") != "0":
            ext.runtime_library_dirs += libdirs
        ext.libraries += libs
        swig = os.environ.get("SWIG") or shutil.which("swig") or "swig"
        tmp = Path(self.build_temp)
        tmp.mkdir(parents=True, exist_ok=True)
        wrap = tmp / "astra_wrap.c"
        pkg_out = Path(self.get_ext_fullpath(ext.name)).parent
        pkg_out.mkdir(parents=True, exist_ok=True)
        cmd = [swig, "-python", "-threads", f"-I{SWIG_DIR}",
               *[f"-I{i}" for i in inc],
               "-outdir", str(pkg_out), "-o", str(wrap),
               str(SWIG_DIR / "astra.i")]
        self.announce(" ".join(cmd), level=2)
        subprocess.run(cmd, check=True)
        ext.sources = [str(wrap)]
        super().build_extension(ext)


setup(
    ext_modules=[Extension("astra._capi", sources=[],
                           extra_compile_args=["-Wno-unused-parameter"])],
    cmdclass={"build_ext": BuildAstra},
)
