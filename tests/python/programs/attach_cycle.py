# attach()/detach()/tracing() in a program run by plain python3: only what runs while attached
# is recorded, a bad attach records nothing, and no hook is left afterwards (test_sessions.py).
import sys

import pytrace


def hooked():
    if sys.version_info >= (3, 12):
        return any(sys.monitoring.get_tool(i) == "pytrace" for i in (3, 4))
    return sys.getprofile() is not None


def traced():
    return hooked()


def untraced():
    return hooked()


try:
    pytrace.attach(mode="slow")
except ValueError as e:
    print("bad attach:", type(e).__name__)
untraced()
pytrace.attach()
print("hooked", traced())
pytrace.detach()
print("after", untraced())
with pytrace.tracing():
    print("hooked", traced())
print("after", untraced())
