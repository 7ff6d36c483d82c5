# SPDX-License-Identifier: MIT
"""pytrace_config_set(): filters, depth limit and mode changed while the program runs take effect
at the next event of each thread, frames open across the change stay balanced, and bad options
are -EINVAL with nothing changed."""
import errno

from embedhelp import run_script, seq, tids
from lttngharness import assert_balanced


def test_config_set_while_running(tmp_path):
    t = run_script(tmp_path, """
        import errno
        import threading

        import _pytracehost as host

        def a():
            return 1

        def down(n):
            return 0 if n == 0 else 1 + down(n - 1)

        print("tid main", threading.get_native_id(), flush=True)
        assert host.attach(include="__main__") == 0
        a()
        assert host.config_set(include="nomatch") == 0
        a()  # not recorded
        assert host.config_set(include="__main__", max_depth=3) == 0
        down(3)  # <module> is open: down and one nested down are recorded
        assert host.config_set(include="__main__", mode=1) == 0  # fast mode
        a()
        # bad options: -EINVAL, and the configuration in place stays
        assert host.config_set(include="a,,b") == -errno.EINVAL
        assert host.config_set(mode=7) == -errno.EINVAL
        assert host.config_set(max_depth=2000000) == -errno.EINVAL
        a()
        assert host.detach() == 0
        assert host.config_set() == -errno.ENOENT
    """, logs=("empty pattern", "is not a mode", "larger than"))
    assert_balanced(t.events)
    main = tids(t.stdout)["main"]
    assert seq(t, main) == [
        "active <module>",
        "call a", "return a",
        "call down", "call down", "return down", "return down",
        # mode change: open frames closed in events mode, restated in fast mode
        "detach <module>",
        "active <module>",
        "call a", "return a",
        "call a", "return a",
        "detach <module>",
    ]
