"""Hermetic offline mode, proven: the playbook suite and ``workbench demo`` in a network namespace with no network.

Each step runs in a fresh network namespace (``unshare -n`` as root, else ``unshare -rn`` in an unprivileged user
namespace) whose only interface is the loopback (brought up: Jupyter kernels talk to their runner over
127.0.0.1), so nothing outside the machine can be reached. The Hugging Face offline switches are *removed* from
the environment: the product must stay off the network on its own, not because a test told the libraries to.
Under ``strace`` (when installed; seccomp-filtered, so cheap) every ``connect``/``sendto``/``sendmsg`` is logged,
and any address other than loopback or a Unix socket fails the test: a hub lookup, a telemetry export or a DNS
query would show up there even when the code swallows the error. Each step also has a deadline, so a step that
waits on the network (a stall) fails instead of hanging, and the wall time of each step is printed.

Run it alone with ``make test-offline``. Skipped, with the reason, only where the kernel refuses network
namespaces.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
#: Deadline of each step (s): far above a normal run, far below "waiting for the network forever".
STEP_TIMEOUT_S = 1800
#: Brings the namespace's loopback up, then runs the command (no `ip` binary needed).
_LAUNCH = """
import fcntl, os, socket, struct, sys
with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
    flags = struct.unpack("16sh", fcntl.ioctl(s, 0x8913, struct.pack("16sh", b"lo", 0)))[1]  # SIOCGIFFLAGS
    fcntl.ioctl(s, 0x8914, struct.pack("16sh", b"lo", flags | 1))  # SIOCSIFFLAGS: IFF_UP
os.execvp(sys.argv[1], sys.argv[1:])
"""
_ADDRESS = re.compile(r'inet_addr\("([^"]+)"\)|inet_pton\(AF_INET6, "([^"]+)"')
#: What a network dependency looks like in output, if one slipped past the trace.
_NETWORK_ERRORS = re.compile(
    r"Network is unreachable|Name or service not known|Temporary failure in name resolution|"
    r"ConnectionError|ConnectTimeout|MaxRetryError|OfflineError|huggingface\.co|getaddrinfo",
)


def _namespace() -> list[str]:
    """The command prefix that runs a program in a new network namespace, or skip with the kernel's answer."""
    if shutil.which("unshare") is None:
        pytest.skip("no `unshare` here (util-linux): cannot create a network namespace; see `make test-offline`")
    tried = []
    for prefix in ([["unshare", "-n"]] if os.geteuid() == 0 else []) + [["unshare", "-rn"]]:
        probe = subprocess.run([*prefix, sys.executable, "-c", _LAUNCH, "true"], capture_output=True, text=True)
        if probe.returncode == 0:
            return [*prefix, sys.executable, "-c", _LAUNCH]
        tried.append(f"{' '.join(prefix)}: {probe.stderr.strip()[-200:]}")
    pytest.skip("the kernel refuses network namespaces here (" + "; ".join(tried) + "); run `make test-offline` "
                "on a machine that allows them (CI does)")


def _outbound(trace: Path) -> list[str]:
    """Syscall lines of the trace that address anything but loopback or a Unix socket."""
    bad = []
    for line in trace.read_text(errors="replace").splitlines():
        if not any(call in line for call in ("connect(", "sendto(", "sendmsg(")) or "AF_INET" not in line:
            continue
        for v4, v6 in _ADDRESS.findall(line):
            address = v4 or v6
            if not (address.startswith("127.") or address in ("::1", "::ffff:127.0.0.1")):
                bad.append(line.strip())
    return bad


#: Runs the product under the tracer and writes the product's own exit status to $1 (the tracer's status is not it).
_STATUS = 'status_file=$1; shift; "$@"; echo $? > "$status_file"'
#: How a failure of the tracer itself reads on stderr (e.g. a ptrace race with a process leaving a group-stop).
_TRACER_ERROR = re.compile(r"^strace: (?!Process )", re.MULTILINE)


def _run_offline(name: str, args: list[str], tmp: Path) -> tuple[subprocess.CompletedProcess[str], float, list[str]]:
    """Run ``workbench ARGS`` in a network namespace under strace; (result, wall seconds, outbound syscalls).

    The result's ``returncode`` is the product's own exit status. When the tracer itself fails (strace can lose a
    race with a process leaving a group-stop: ``ptrace(PTRACE_LISTEN, ...): Input/output error``), its trace is
    incomplete, so the step runs again; after two such failures it runs in the namespace alone, which still
    proves nothing outside the machine was reached, and says so.
    """
    # CI too: libraries skip their usage pings under CI (TRL's trainers do), so a user's machine is not CI.
    env = {k: v for k, v in os.environ.items() if k not in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "CI",
                                                             "HF_HUB_DISABLE_TELEMETRY", "WORKBENCH_DEFAULT_MODEL")}
    env.update(WORKBENCH_DATA_DIR=str(tmp / f"{name}-data"), PYTHONPATH=os.pathsep.join(
        [str(ROOT), os.environ.get("PYTHONPATH", "")]))  # fmt: skip
    for attempt, traced in enumerate([True, True, False] if shutil.which("strace") else [False], start=1):
        trace, status = tmp / f"{name}-{attempt}.strace", tmp / f"{name}-{attempt}.status"
        tracer = ["strace", "--seccomp-bpf", "-f", "-qq", "-e", "trace=connect,sendto,sendmsg", "-o", str(trace)]
        command = [*_namespace(), *(tracer if traced else []), "sh", "-c", _STATUS, "sh", str(status),
                   sys.executable, "-m", "workbench.cli", *args]  # fmt: skip
        started = time.monotonic()
        try:
            done = subprocess.run(command, env=env, cwd=tmp, capture_output=True, text=True, timeout=STEP_TIMEOUT_S)
        except subprocess.TimeoutExpired as exc:
            pytest.fail(f"`workbench {' '.join(args)}` was still running after {STEP_TIMEOUT_S} s offline (a stall?): "
                        f"{str(exc.stderr or '')[-2000:]}")
        seconds = time.monotonic() - started
        product = int(status.read_text().strip()) if status.exists() else None
        if traced and (product is None or _TRACER_ERROR.search(done.stderr)):
            said = "; ".join(ln for ln in done.stderr.splitlines() if ln.startswith("strace:"))
            print(f"\noffline `workbench {' '.join(args)}`: the tracer failed (attempt {attempt}, product exit "
                  f"{product}): {said[:300]}")
            continue
        assert product is not None, f"`workbench {' '.join(args)}` left no exit status: {done.stderr[-2000:]}"
        outbound = _outbound(trace) if traced else []
        print(f"\noffline `workbench {' '.join(args)}`: exit {product} in {seconds:.1f} s "
              f"({'strace: ' + str(len(outbound)) + ' outbound syscalls' if traced else 'namespace only, no trace'})")
        return subprocess.CompletedProcess(done.args, product, done.stdout, done.stderr), seconds, outbound
    pytest.fail(f"`workbench {' '.join(args)}` left no exit status in any attempt")


@pytest.mark.slow
@pytest.mark.offline
@pytest.mark.timeout(3600)
def test_playbook_suite_and_demo_run_with_no_network(tmp_path: Path) -> None:
    suite, suite_s, suite_out = _run_offline("playbook-test", ["playbook", "test", "--json"], tmp_path)
    demo, demo_s, demo_out = _run_offline("demo", ["demo", "--learners", "2", "--json"], tmp_path)
    print(f"offline run: playbook suite {suite_s:.1f} s + demo {demo_s:.1f} s = {suite_s + demo_s:.1f} s wall")

    assert not suite_out and not demo_out, f"network attempts: {(suite_out + demo_out)[:10]}"
    for done in (suite, demo):
        assert not _NETWORK_ERRORS.search(done.stdout + done.stderr), (done.stdout + done.stderr)[-3000:]
    assert demo.returncode == 0, demo.stderr[-3000:]
    assert json.loads(demo.stdout)
    # Offline, every playbook must run to a verdict, none cut off by a deadline (what a wait on the network
    # looks like). Whether a playbook's content passes is the suite's own business (`workbench playbook test`).
    playbooks = json.loads(suite.stdout)["playbooks"]
    assert playbooks, suite.stderr[-3000:]
    for result in playbooks:
        run = result["run"] or {}
        print(f"  {result['playbook']}: {result['status']}" + (f" ({run.get('error_type')})" if not result["ok"] else ""))
        assert "timeout" not in str(run.get("error_type", "")).lower(), result
