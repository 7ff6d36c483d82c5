# SPDX-License-Identifier: MIT
# Names that folded stacks and XML must escape (test_profile.py): a qualified name with `;`,
# `&`, `<`, `>` and quotes, a non-ASCII one, a file name with the same characters.
import types


def plain():
    return 1


odd = types.FunctionType(plain.__code__.replace(co_qualname='odd;name & <"quoted">',
                                                co_name="odd"), globals())


def café():
    return 2


ns = {"__name__": "__main__"}
exec(compile("def g():\n    return 3\n", "we;ird <&> 'file'.py", "exec"), ns)


def main():
    odd()
    odd()
    café()
    ns["g"]()


main()
