# SPDX-License-Identifier: MIT
"""Cases where forwarding must not change what the program prints (test_invisible.py): each
case configures logging its own way, logs DEBUG/INFO/WARNING on several loggers, then resets.
Run traced, untraced and under the official agent (`--lttngust`): stdout, stderr and the exit
code of the first two must be identical; the records of the first and the last must be.

What differs by design (Logger.isEnabledFor is wrapped while a session records) is written to
the file named by $INVISIBLE_SIDE instead of stdout."""
import logging
import os
import sys

AGENT = "--lttngust" in sys.argv
if AGENT:
    import lttngust  # noqa: F401  (the official agent: handler on root, root level NOTSET)

FMT = "%(name)s %(levelname)s %(message)s"
# The official agent sets the root level to NOTSET at import and expects it to stay so: the
# records it gets are those of that level, the level ours assumes whatever the root's is.
ROOT_LEVEL = logging.NOTSET if AGENT else logging.WARNING
root = logging.getLogger()


def side(*args):
    path = os.environ.get("INVISIBLE_SIDE")
    if path:
        with open(path, "a") as f:
            print(*args, file=f)


def reset():
    for h in list(root.handlers):
        if not type(h).__module__.startswith("lttngust"):
            root.removeHandler(h)
    root.setLevel(ROOT_LEVEL)
    logging.disable(logging.NOTSET)
    sys.stdout.flush()
    sys.stderr.flush()


def three(*names):
    for name in names:
        lg = logging.getLogger(name)
        lg.debug("debug from %s", name)
        lg.info("info from %s", name)
        lg.warning("warning from %s", name)


def stdout_handler(level=logging.NOTSET):
    h = logging.StreamHandler(sys.stdout)
    h.setFormatter(logging.Formatter(FMT))
    h.setLevel(level)
    return h


def case_basic_config_default():
    logging.basicConfig(format=FMT)  # stderr, root level untouched (WARNING)
    three("", "c1.app", "c1.app.sub")
    logging.warning("module-level warning")


def case_no_handler():
    three("c2.app")  # the WARNING goes to stderr through logging.lastResort
    logging.getLogger("c2.app").error("error %d", 2)


def case_root_handler_without_level():
    root.addHandler(stdout_handler())
    three("c3.app", "")
    logging.LoggerAdapter(logging.getLogger("c3.adapter"), {}).info("adapter info")
    logging.LoggerAdapter(logging.getLogger("c3.adapter"), {}).warning("adapter warning")
    # a record handed over directly (socket server, queue): it exists untraced too
    rec = logging.LogRecord("c3.remote", logging.DEBUG, __file__, 7, "remote %s", ("debug",),
                            None, func="remote")
    logging.getLogger("c3.remote").handle(rec)
    if not AGENT:  # (the official agent raises the TypeError into the program)
        logging.getLogger("c3.app").debug("bad %d", "x")  # no record untraced: no report


def case_propagate_false():
    root.addHandler(stdout_handler())
    quiet = logging.getLogger("c4.quiet")
    quiet.propagate = False
    quiet.addHandler(stdout_handler())
    three("c4.quiet", "c4.quiet.kid", "c4.loud")


def case_child_own_level():
    root.addHandler(stdout_handler())
    logging.getLogger("c5.parent").setLevel(logging.ERROR)
    logging.getLogger("c5.parent.child").setLevel(logging.INFO)
    logging.getLogger("c5.parent.child.leaf")
    three("c5.parent", "c5.parent.child", "c5.parent.child.leaf", "c5.other")


def case_disable():
    root.addHandler(stdout_handler())
    logging.disable(logging.INFO)
    three("c6.app", "")
    logging.getLogger("c6.app").error("error after disable")


def case_inspect():
    lg = logging.getLogger("c7.app")
    own = logging.getLogger("c7.own")
    own.setLevel(logging.INFO)
    print("root", root.level, root.handlers, root.getEffectiveLevel())
    print("enabled", lg.isEnabledFor(logging.WARNING), own.isEnabledFor(logging.DEBUG),
          own.isEnabledFor(logging.INFO), lg.getEffectiveLevel())
    side("c7.app DEBUG enabled", lg.isEnabledFor(logging.DEBUG))
    logging.basicConfig(stream=sys.stdout, format=FMT)
    print("after basicConfig", len(root.handlers), root.level)
    three("c7.app", "c7.own")


class Sub(logging.Logger):
    NOTICE = 25

    def isEnabledFor(self, level):
        if level == self.NOTICE:
            return False  # this class never creates NOTICE records
        return super().isEnabledFor(level)

    def callHandlers(self, record):
        print("[sub]", record.name, record.levelname, flush=True)
        super().callHandlers(record)


def case_subclass():
    root.addHandler(stdout_handler())
    logging.setLoggerClass(Sub)
    try:
        three("c8.sub", "c8.sub.kid")
        logging.getLogger("c8.sub").log(Sub.NOTICE, "notice never created")
        print("class", type(logging.getLogger("c8.sub")).__name__)
    finally:
        logging.setLoggerClass(logging.Logger)


def case_replace_call_handlers():
    root.addHandler(stdout_handler())
    theirs = logging.Logger.callHandlers

    def mine(self, record):
        print("[mine]", record.name, record.levelname, flush=True)
        theirs(self, record)

    logging.Logger.callHandlers = mine
    try:
        three("c9.app")
        try:
            import _libpytrace  # the switch: its off, then on again, must leave ours alone
        except ImportError:
            _libpytrace = None
        if _libpytrace is not None and _libpytrace.logging_enabled():
            _libpytrace.logging_disable()
            print("kept", logging.Logger.callHandlers is mine)
            _libpytrace.logging_enable()
            print("kept", logging.Logger.callHandlers is mine)
        else:
            print("kept", True)
            print("kept", True)
        three("c9.again")
    finally:
        logging.Logger.callHandlers = theirs


def case_basic_config_info():
    logging.basicConfig(level=logging.INFO, stream=sys.stdout, format=FMT)
    three("", "c10.app", "c10.app.sub")


CASES = [case_basic_config_default, case_no_handler, case_root_handler_without_level,
         case_propagate_false, case_child_own_level, case_disable, case_inspect, case_subclass,
         case_replace_call_handlers, case_basic_config_info]

for case in CASES:
    print("==", case.__name__, flush=True)
    print("==", case.__name__, file=sys.stderr, flush=True)
    case()
    reset()
print("root at exit", root.level, len(root.handlers), logging.Logger.callHandlers.__name__)
sys.exit(5)
