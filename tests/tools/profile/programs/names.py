# SPDX-License-Identifier: MIT
# Names that folded stacks and XML must escape (test_profile.py): a qualified name with `;`,
# `&`, `<`, `>` and quotes, a non-ASCII one, a file name with the same characters. Each works
# for a while, so that the SVG draws it next to the interpreter's start-up.
import types


def plain():
    return sum(range(200000))


odd = types.FunctionType(plain.__code__.replace(co_qualname='odd;name & <"quoted">',
                                                co_name="odd"), globals())


def café():
    return sum(range(200000))


ns = {"__name__": "__main__"}
exec(compile("def g():\n    return sum(range(200000))\n", "we;ird <&> 'file'.py", "exec"), ns)


def main():
    odd()
    odd()
    café()
    ns["g"]()


main()
