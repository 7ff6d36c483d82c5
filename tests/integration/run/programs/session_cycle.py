# SPDX-License-Identifier: MIT
# Runs idle until told to go, calls `phase` functions, and reports whether libpytrace's hooks
# are installed at each step (they must be only while a session records). Driven by
# test_session.py through stdin/stdout.
import sys
import time


def eval_hooked():
    """3.11: whether a frame evaluation function (PEP 523) replaces CPython's own, as libpytrace's
    fast mode installs while recording on 3.11.4+."""
    import ctypes

    api = ctypes.pythonapi
    api.PyInterpreterState_Get.restype = ctypes.c_void_p
    api._PyInterpreterState_GetEvalFrameFunc.restype = ctypes.c_void_p
    api._PyInterpreterState_GetEvalFrameFunc.argtypes = [ctypes.c_void_p]
    current = api._PyInterpreterState_GetEvalFrameFunc(api.PyInterpreterState_Get())
    return current != ctypes.cast(api._PyEval_EvalFrameDefault, ctypes.c_void_p).value


def hooked():
    if sys.version_info >= (3, 12):
        mon = sys.monitoring
        return any(mon.get_tool(i) == "pytrace" and mon.get_events(i) for i in (3, 4))
    if type(sys.getprofile()).__name__ == "ThreadState":
        return True
    return sys.version_info >= (3, 11) and eval_hooked()


def before(i):
    return i


def during(i):
    return i


def after(i):
    return i


def wait_until(want, limit=10.0, fn=before):
    t0 = time.monotonic()
    i = 0
    while hooked() != want and time.monotonic() - t0 < limit:
        fn(i)
        i += 1
        time.sleep(0.001)
    return hooked() == want


def main():
    for i in range(100):
        before(i)
    print("idle", hooked(), flush=True)
    sys.stdin.readline()  # the session was started
    print("recording", wait_until(True), flush=True)
    for i in range(3):
        during(i)
    print("done", flush=True)
    sys.stdin.readline()  # the session was stopped
    print("stopped", wait_until(False, fn=after), flush=True)


main()
