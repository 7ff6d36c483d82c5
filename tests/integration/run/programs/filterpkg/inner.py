# SPDX-License-Identifier: MIT
def leaf(n):
    return n * 2
