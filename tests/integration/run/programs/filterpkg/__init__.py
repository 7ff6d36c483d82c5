# SPDX-License-Identifier: MIT
from filterpkg import inner


def outer(n):
    return inner.leaf(n) + 1
