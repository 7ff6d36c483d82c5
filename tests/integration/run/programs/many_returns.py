# One function returning from seven lines, in an order that revisits each: every return must
# carry its own line (3.12+ caches the lines of recent return offsets per code object).
def pick(n):  # @def-pick
    if n == 0:
        return "a"  # @ret-0
    if n == 1:
        return "b"  # @ret-1
    if n == 2:
        return "c"  # @ret-2
    if n == 3:
        return "d"  # @ret-3
    if n == 4:
        return "e"  # @ret-4
    if n == 5:
        return "f"  # @ret-5
    return "g"  # @ret-6


ORDER = [0, 1, 2, 3, 4, 5, 6, 6, 5, 4, 3, 2, 1, 0, 0, 3, 6, 1, 4, 2, 5, 0, 6]
print("".join(pick(n) for n in ORDER))  # @last
