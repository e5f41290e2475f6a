"""What a run records about where it ran: versions, backend, device, code revision."""

import datetime
import hashlib
import os
import platform
import subprocess
import sys
from pathlib import Path

import keras
import numpy as np

from supermask_lib.devices import accelerators  # noqa: F401 (part of what provenance records)


def sha256_file(path, chunk=1 << 20):
    """Hex sha256 of a file's bytes (data files, and every file a run writes)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def backend_version():
    backend = keras.backend.backend()
    module = {"tensorflow": "tensorflow", "jax": "jax", "torch": "torch", "numpy": "numpy"}[backend]
    return __import__(module).__version__


def device_description():
    """Accelerators the backend sees, or the CPU."""
    devices = accelerators()
    if devices:
        return ", ".join(devices)
    return f"CPU ({platform.processor() or platform.machine()}, {os.cpu_count()} cores)"


# The instruction-set extensions that decide which oneDNN and XLA kernels run (and so the last bits of a result).
CPU_EXTENSIONS = ("avx2", "avx512f", "avx512_vnni", "avx512_bf16", "amx_tile")


def cpu_description(cpuinfo="/proc/cpuinfo"):
    """The CPU's model and the kernel-deciding extensions it has: ``"AMD EPYC (avx2, avx512f, ...)"``.

    Two CPUs of one machine kind can round differently (a recomputed first epoch's validation accuracy
    moved by 0.06 from one to the other), so a run names the one it ran on. Without ``/proc/cpuinfo``
    (not Linux), :func:`platform.processor`.
    """
    try:
        text = Path(cpuinfo).read_text(errors="replace")
    except OSError:
        return platform.processor() or platform.machine()
    fields = dict(line.split(":", 1) for line in text.split("\n\n")[0].splitlines() if ":" in line)
    fields = {key.strip(): value.strip() for key, value in fields.items()}
    flags = set(fields.get("flags", "").split())
    model = fields.get("model name") or platform.processor() or platform.machine()
    has = [flag for flag in CPU_EXTENSIONS if flag in flags]
    return f"{model} ({', '.join(has) if has else 'none of ' + ', '.join(CPU_EXTENSIONS)})"


def git_revision():
    """HEAD (with "+dirty" for uncommitted changes); $SUPERMASK_GIT_REVISION, when set, wins.

    The variable is for copies of a committed tree whose ``.git`` is missing
    or not their own (a device machine's working copy): whoever copies the
    tree names the commit it holds.
    """
    if os.environ.get("SUPERMASK_GIT_REVISION"):
        return os.environ["SUPERMASK_GIT_REVISION"]
    root = Path(__file__).resolve().parents[1]
    try:
        rev = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5,
        )
        dirty = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True, text=True, timeout=5,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    if rev.returncode != 0:
        return None
    return rev.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")


NUMERICS_ENV = ("ONEDNN_MAX_CPU_ISA", "TF_ENABLE_ONEDNN_OPTS", "XLA_FLAGS", "OMP_NUM_THREADS")


def onednn_enabled():
    """Whether TensorFlow runs its oneDNN kernels in this process (None on another backend, or unknown)."""
    if keras.backend.backend() != "tensorflow":
        return None
    try:
        from tensorflow.python.util import _pywrap_util_port

        return bool(_pywrap_util_port.IsMklEnabled())
    except (ImportError, AttributeError):  # a description must never stop a run
        return None


def onednn_chooser(environ=None):
    """Who chose TensorFlow's oneDNN setting: the harness (also in a child process), the user, or nobody."""
    environ = os.environ if environ is None else environ
    if "TF_ENABLE_ONEDNN_OPTS" not in environ:
        return "TensorFlow's default"
    # The marker counts only while the value is still the one the harness set (a user may change it later).
    if environ.get("SUPERMASK_ONEDNN_SET_BY") == "supermask_lib" and environ["TF_ENABLE_ONEDNN_OPTS"] == "1":
        return "supermask_lib's default"
    return f"TF_ENABLE_ONEDNN_OPTS={environ['TF_ENABLE_ONEDNN_OPTS']} set by the user"


def engine_description():
    """The kernels a run computes with, for its first lines: on TensorFlow, whether oneDNN is on and who chose."""
    state = onednn_enabled()
    if state is None:
        return keras.backend.backend()
    return f"tensorflow with oneDNN {'on' if state else 'off'} ({onednn_chooser()})"


def installed_lock(prefix=None):
    """The exact lock this environment was installed from (``make`` copies it into the venv), or None.

    ``{"sha256": ..., "matches": "requirements/lock-tf.txt" or None}``: the lock's hash, and which of the
    checkout's lock files it still equals (``lock-torch.txt`` in ``.venv-torch``, PyTorch's own venv).
    """
    path = Path(prefix or sys.prefix) / "supermask-lock.txt"
    if not path.is_file():
        return None
    digest = sha256_file(path)
    here = Path(__file__).resolve().parents[2] / "requirements"
    same = [f"requirements/{lock.name}" for lock in sorted(here.glob("lock-*.txt")) if sha256_file(lock) == digest]
    return {"sha256": digest, "matches": same[0] if same else None}


def environment():
    import supermask_lib

    return {
        "supermask_lib": supermask_lib.__version__,
        "keras": keras.__version__,
        "backend": keras.backend.backend(),
        "backend_version": backend_version(),
        "numpy": np.__version__,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "device": device_description(),
        "cpu": cpu_description(),
        "git_revision": git_revision(),
        # Settings that change which floating-point kernels run (another CPU, in effect).
        "numerics_env": {name: os.environ[name] for name in NUMERICS_ENV if name in os.environ},
        "onednn": onednn_enabled(),  # TensorFlow's oneDNN kernels on or off in the run's process
        "onednn_chosen_by": onednn_chooser() if keras.backend.backend() == "tensorflow" else None,
        "lock": installed_lock(),
        "started": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }
