# SPDX-License-Identifier: MIT
# math.gcd is called 7 times from gcds() (test_profile.py, with --c-calls).
import math


def gcds():
    return [math.gcd(12, i) for i in range(7)]


gcds()
