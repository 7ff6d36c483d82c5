# Two threading.Thread workers, each computing sum(square(i) for i in range(n)) with its own n.
# Each thread reports its native id, so the test knows which tid is which thread.
import os
import threading


def square(x):  # @def-square
    return x * x  # @ret-square


def work(n):  # @def-work
    total = 0
    for i in range(n):
        total += square(i)
    return total  # @ret-work


results = {}


def runner(n):  # @def-runner
    results[f"t{n}"] = (threading.get_native_id(), work(n))  # @ret-runner


def main():  # @def-main
    threads = [threading.Thread(target=runner, args=(n,), name=f"t{n}") for n in (2, 3)]  # @listcomp
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return threads  # @ret-main


main()
print(f"main {os.getpid()} {threading.get_native_id()}")
for name, (tid, total) in sorted(results.items()):  # @for-end
    print(f"{name} {tid} {total}")  # @for-body
